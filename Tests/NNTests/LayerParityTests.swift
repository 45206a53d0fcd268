import Foundation
import IO
import NN
import Testing
import Tensor

/// One case of Fixtures/layers.safetensors (see make_layers_fixture.py).
struct LayerCase: Decodable, CustomTestStringConvertible, Sendable {
    let name: String
    let layer: String
    let args: [String: Double]
    let inputs: [String]
    var testDescription: String { name }
    func int(_ key: String) -> Int { Int(args[key]!) }
}

enum LayersFixture {
    static let contents: Safetensors.Contents = {
        let url = Bundle.module.url(forResource: "layers", withExtension: "safetensors", subdirectory: "Fixtures")!
        return try! Safetensors.read(path: url.path)
    }()
    static let cases: [LayerCase] = try! JSONDecoder().decode([LayerCase].self, from: Data(contents.metadata["cases"]!.utf8))
}

@Suite struct LayerParityTests {
    /// Builds the layer of `c` and returns it with its forward function.
    func build(_ c: LayerCase) -> (Module, ([String: Tensor]) -> Tensor) {
        var generator = RandomGenerator(seed: 3)
        switch c.layer {
        case "linear":
            let layer = Linear(c.int("in"), c.int("out"), generator: &generator)
            return (layer, { layer($0["x"]!) })
        case "mlp":
            let layer = MLP(c.int("in"), hidden: c.int("hidden"), c.int("out"), activation: { $0.gelu() }, generator: &generator)
            return (layer, { layer($0["x"]!) })
        case "conv2d":
            let layer = Conv2d(c.int("in"), c.int("out"), kernel: c.int("kernel"), stride: c.int("stride"),
                               padding: c.int("padding"), groups: c.int("groups"), generator: &generator)
            return (layer, { layer($0["x"]!) })
        case "conv_transpose2d":
            let layer = ConvTranspose2d(c.int("in"), c.int("out"), kernel: c.int("kernel"), stride: c.int("stride"), generator: &generator)
            return (layer, { layer($0["x"]!) })
        case "layer_norm":
            let layer = LayerNorm(c.int("features"))
            return (layer, { layer($0["x"]!) })
        case "group_norm":
            let layer = GroupNorm(groups: c.int("groups"), channels: c.int("channels"))
            return (layer, { layer($0["x"]!) })
        case "batch_norm":
            let layer = BatchNorm2d(c.int("channels"))
            if c.args["training"] == 0 {
                layer.eval()
                let stored = LayersFixture.contents.tensors
                layer.runningMean.pointer.update(from: stored["\(c.name)/buffer/running_mean"]!.pointer, count: c.int("channels"))
                layer.runningVariance.pointer.update(from: stored["\(c.name)/buffer/running_var"]!.pointer, count: c.int("channels"))
            }
            return (layer, { layer($0["x"]!) })
        case "mha":
            let layer = MultiheadAttention(embedDim: c.int("embed"), heads: c.int("heads"), generator: &generator)
            let mask = LayersFixture.contents.tensors["\(c.name)/mask"]
            return (layer, { x in
                let query = x["query"] ?? x["x"]!
                return layer(query: query, key: x["key"] ?? query, value: x["value"] ?? query, mask: mask)
            })
        default:
            fatalError("no Swift layer for fixture layer \(c.layer)")
        }
    }

    @Test func everyLayerIsCovered() {
        #expect(Set(LayersFixture.cases.map(\.layer)) ==
                ["linear", "mlp", "conv2d", "conv_transpose2d", "layer_norm", "group_norm", "batch_norm", "mha"])
    }

    @Test(arguments: LayersFixture.cases)
    func matchesPyTorch(_ c: LayerCase) {
        let stored = LayersFixture.contents.tensors
        let (layer, forward) = build(c)
        let parameters = layer.namedParameters()
        #expect(Set(parameters.map(\.name)) == Set(stored.keys.filter { $0.hasPrefix("\(c.name)/param/") }.map {
            String($0.dropFirst("\(c.name)/param/".count)) }), "\(c.name): parameter names differ from PyTorch's")
        for (name, tensor) in parameters {
            let value = stored["\(c.name)/param/\(name)"]!
            #expect(value.shape == tensor.shape, "\(c.name): \(name) is \(tensor.shape), PyTorch \(value.shape)")
            tensor.pointer.update(from: value.pointer, count: tensor.count)
        }
        var inputs: [String: Tensor] = [:]
        for name in c.inputs {
            let value = stored["\(c.name)/in/\(name)"]!
            inputs[name] = Tensor(value.scalars, shape: value.shape, requiresGrad: true)
        }
        let output = forward(inputs)
        let expected = stored["\(c.name)/out"]!
        #expect(output.shape == expected.shape)
        #expect(worstExcess(output, expected) <= 0, "\(c.name): output")
        (output * stored["\(c.name)/w"]!).sum().backward()
        for name in c.inputs {
            #expect(worstExcess(inputs[name]!.grad!, stored["\(c.name)/grad/in/\(name)"]!) <= 0, "\(c.name): gradient of input \(name)")
        }
        for (name, tensor) in parameters {
            #expect(worstExcess(tensor.grad!, stored["\(c.name)/grad/param/\(name)"]!) <= 0, "\(c.name): gradient of \(name)")
        }
        if let mean = stored["\(c.name)/after/running_mean"], let bn = layer as? BatchNorm2d {
            #expect(worstExcess(bn.runningMean, mean) <= 0 && worstExcess(bn.runningVariance, stored["\(c.name)/after/running_var"]!) <= 0,
                    "\(c.name): running statistics")
        }
    }

    /// Largest violation of |a − b| ≤ 1e-5 + 1e-4·|b|.
    func worstExcess(_ actual: Tensor, _ expected: Tensor) -> Float {
        precondition(actual.count == expected.count)
        return (0..<expected.count).map { abs(actual.pointer[$0] - expected.pointer[$0]) - (1e-5 + 1e-4 * abs(expected.pointer[$0])) }.max() ?? 0
    }
}
