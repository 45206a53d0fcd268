import Foundation
import IO
import NN
import Testing
import Tensor
import TestSupport

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
            let layer = MLP(c.int("in"), hidden: c.int("hidden"), c.int("out"), activation: .gelu, generator: &generator)
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
        let failures = compareWithReference(layer, forward: forward, fixture: stored, case: c.name, inputs: c.inputs, tolerance: tolerance)
        #expect(failures.isEmpty, "\(c.name): \(failures.joined(separator: "; "))")
        if let mean = stored["\(c.name)/after/running_mean"], let bn = layer as? BatchNorm2d {
            #expect(tolerance.accepts(bn.runningMean, mean) && tolerance.accepts(bn.runningVariance, stored["\(c.name)/after/running_var"]!),
                    "\(c.name): running statistics")
        }
    }

    /// |a − b| ≤ 1e-5 + 1e-4·|b| element by element.
    let tolerance = Tolerance(absolute: 1e-5, relative: 1e-4)
}
