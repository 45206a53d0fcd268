import Foundation
import IO
import NN
import Testing
import Tensor
@testable import Model

/// One case of Fixtures/modules.safetensors (see make_module_fixtures.py).
struct ModuleCase: Decodable, CustomTestStringConvertible, Sendable {
    let name: String
    let module: String
    let args: [String: Int]
    let inputs: [String]
    var testDescription: String { name }
}

enum ModuleFixture {
    static let contents: Safetensors.Contents = {
        let url = Bundle.module.url(forResource: "modules", withExtension: "safetensors", subdirectory: "Fixtures")!
        return try! Safetensors.read(path: url.path)
    }()
    static let cases = try! JSONDecoder().decode([ModuleCase].self, from: Data(contents.metadata["cases"]!.utf8))
}

/// Every FGAseg module against the PyTorch reference written from the spec, so that a mismatch
/// is located in one module: outputs, input gradients and every parameter gradient.
@Suite struct ModuleParityTests {
    func build(_ c: ModuleCase) -> (Module, ([String: Tensor]) -> Tensor) {
        var generator = RandomGenerator(seed: 1)
        let a = c.args
        switch c.module {
        case "p2tformer":
            let m = P2Tformer(width: a["width"]!, heads: a["heads"]!, layerCount: a["layers"]!, generator: &generator)
            return (m, { m(image: $0["image"]!, text: $0["text"]!) })
        case "lcs":
            let m = LocalCategoryCost(textWidth: a["text_width"]!, imageChannels: a["channels"]!, kernelSize: a["kernel"]!, generator: &generator)
            return (m, { m(image: $0["image"]!, text: $0["text"]!) })
        case "swin":
            let m = SpatialAggregation(width: a["width"]!, guidanceWidth: a["guidance"]!, resolution: (a["height"]!, a["width_px"]!),
                                       heads: a["heads"]!, window: a["window"]!, generator: &generator)
            return (m, { m($0["x"]!, guidance: $0["guidance"]!) })
        case "class":
            let m = ClassAggregation(width: a["width"]!, guidanceWidth: a["guidance"]!, heads: a["heads"]!, pooling: a["pooling"]!,
                                     padLength: a["pad"]!, generator: &generator)
            return (m, { m($0["x"]!, guidance: $0["guidance"]!) })
        case "up":
            let m = UpStage(a["in"]!, a["out"]!, guidanceChannels: a["guidance"]!, generator: &generator)
            return (m, { m($0["x"]!, guidance: $0["guidance"]!) })
        case "decoder":
            var configuration = CostAggregationDecoder.Configuration()
            (configuration.textWidth, configuration.imageChannels, configuration.hidden) = (32, 32, 32)
            (configuration.textGuidance, configuration.appearanceGuidance) = (16, 16)
            (configuration.decoderDims, configuration.decoderGuidanceDims, configuration.decoderGuidanceProjections) = ([16, 16], [24, 12], [8, 4])
            (configuration.resolution, configuration.window, configuration.padLength) = (12, 6, 8)
            configuration.pooling = a["pooling"]!
            configuration.fusion = a["cat"]! == 1 ? .cat : .add
            let m = CostAggregationDecoder(configuration, generator: &generator)
            return (m, { m(image: $0["image"]!, text: $0["text"]!, decoderGuidance: [$0["g1"]!, $0["g2"]!]) })
        default:
            fatalError("no Swift module for fixture module \(c.module)")
        }
    }

    @Test func everyModuleKindIsCovered() {
        #expect(Set(ModuleFixture.cases.map(\.module)) == ["p2tformer", "lcs", "swin", "class", "up", "decoder"])
    }

    @Test(arguments: ModuleFixture.cases)
    func matchesTheReference(_ c: ModuleCase) {
        let stored = ModuleFixture.contents.tensors
        let (module, forward) = build(c)
        let parameters = module.namedParameters()
        let expectedNames = Set(stored.keys.filter { $0.hasPrefix("\(c.name)/param/") }.map { String($0.dropFirst("\(c.name)/param/".count)) })
        #expect(Set(parameters.map(\.name)) == expectedNames, "\(c.name): parameter names")
        for (name, tensor) in parameters {
            guard let value = stored["\(c.name)/param/\(name)"], value.count == tensor.count else {
                Issue.record("\(c.name): parameter \(name) \(tensor.shape) has no counterpart of that size")
                continue
            }
            tensor.pointer.update(from: value.pointer, count: tensor.count)
        }
        var inputs: [String: Tensor] = [:]
        for name in c.inputs {
            let value = stored["\(c.name)/in/\(name)"]!
            inputs[name] = Tensor(value.scalars, shape: value.shape, requiresGrad: true)
        }
        let output = forward(inputs)
        let expected = stored["\(c.name)/out"]!
        #expect(output.shape == expected.shape, "\(c.name): output \(output.shape) vs \(expected.shape)")
        guard output.shape == expected.shape else { return }
        #expect(excess(output, expected) <= 0, "\(c.name): output")
        (output * stored["\(c.name)/w"]!).sum().backward()
        for name in c.inputs {
            #expect(excess(inputs[name]!.grad!, stored["\(c.name)/grad/in/\(name)"]!) <= 0, "\(c.name): gradient of input \(name)")
        }
        for (name, tensor) in parameters {
            let reference = stored["\(c.name)/grad/param/\(name)"]!
            let gradient = tensor.grad ?? Tensor(repeating: 0, shape: tensor.shape)
            #expect(excess(gradient, reference) <= 0, "\(c.name): gradient of \(name)")
        }
    }

    /// Largest violation of |a − b| ≤ 1e-5 + 1e-4·max|b|: relative to the tensor's scale, since
    /// gradients that sum over thousands of positions (convolution weights of the per-class
    /// decoder) carry rounding noise near their small elements.
    func excess(_ actual: Tensor, _ expected: Tensor) -> Float {
        let scale = (0..<expected.count).map { abs(expected.pointer[$0]) }.max() ?? 0
        return (0..<expected.count).map { abs(actual.pointer[$0] - expected.pointer[$0]) - (1e-5 + 1e-4 * scale) }.max() ?? 0
    }
}
