import Foundation
import IO
import NN
import Testing
import Tensor
import TestSupport
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
            let m = ClassAggregation(width: a["width"]!, guidanceWidth: a["guidance"]!, heads: a["heads"]!,
                                     padLength: a["pad"]!, generator: &generator)
            return (m, { m($0["x"]!, guidance: $0["guidance"]!, pooling: a["pooling"]!) })
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
            return (m, { m(image: $0["image"]!, text: $0["text"]!, decoderGuidance: [$0["g1"]!, $0["g2"]!], classPooling: a["pooling"]!).logits })
        default:
            fatalError("no Swift module for fixture module \(c.module)")
        }
    }

    @Test func everyModuleKindIsCovered() {
        #expect(Set(ModuleFixture.cases.map(\.module)) == ["p2tformer", "lcs", "swin", "class", "up", "decoder"])
    }

    @Test(arguments: ModuleFixture.cases)
    func matchesTheReference(_ c: ModuleCase) {
        let (module, forward) = build(c)
        let failures = compareWithReference(module, forward: forward, fixture: ModuleFixture.contents.tensors, case: c.name,
                                            inputs: c.inputs, tolerance: tolerance)
        #expect(failures.isEmpty, "\(c.name): \(failures.joined(separator: "; "))")
    }

    /// The fused inference paths (``GuidedSwinBlock/unrecordedForward(_:guidance:)``,
    /// ``ClassAggregation/unrecordedTokenPass(_:guidance:)``) against the same reference outputs.
    @Test(arguments: ["swin", "class"])
    func withoutRecordingMatchesTheReference(module kind: String) {
        let cases = ModuleFixture.cases.filter { $0.module == kind }
        #expect(!cases.isEmpty)
        let fixture = ModuleFixture.contents.tensors
        for c in cases {
            let (module, forward) = build(c)
            #expect(module.loadReferenceParameters(fixture, prefix: "\(c.name)/param/").isEmpty)
            let inputs = Dictionary(uniqueKeysWithValues: c.inputs.map { name in (name, fixture["\(c.name)/in/\(name)"]!) })
            let output = noGrad { forward(inputs) }
            let (excess, index) = tolerance.worstExcess(output, fixture["\(c.name)/out"]!)
            #expect(excess <= 0, "\(c.name): element \(index) is \(output.pointer[index]) without recording")
        }
    }

    /// The fused inference paths against the recorded operations at the ViT-B/16 widths (C = 128,
    /// 24² maps, window 12, 4 heads), two images: spatial aggregation on 3 classes, class
    /// aggregation with padding (20 classes padded to 256) and without (T = pad length), pooling 1 and 2.
    @Test func fusedInferencePathsMatchTheRecordedOperationsAtRealWidths() {
        var generator = RandomGenerator(seed: 9)
        func randomize(_ module: Module) {
            for (_, parameter) in module.namedParameters() {
                parameter.pointer.update(from: Tensor.normal(parameter.shape, std: 0.1, using: &generator).pointer, count: parameter.count)
            }
        }
        func compare(_ name: String, _ x: Tensor, _ forward: (Tensor) -> Tensor) {
            x.requiresGrad = true
            let recorded = forward(x), unrecorded = noGrad { forward(x) }
            let largest = recorded.scalars.map(abs).max()!
            let difference = zip(recorded.scalars, unrecorded.scalars).map { abs($0 - $1) }.max()!
            #expect(difference <= 1e-5 * largest, "\(name): max |difference| \(difference), largest |value| \(largest)")
        }
        let spatial = SpatialAggregation(width: 128, guidanceWidth: 128, resolution: (24, 24), heads: 4, window: 12, generator: &generator)
        randomize(spatial)
        let appearance = Tensor.normal([2, 128, 24, 24], using: &generator)
        compare("spatial aggregation", Tensor.normal([2, 128, 3, 24, 24], using: &generator)) { spatial($0, guidance: appearance) }
        for (classes, pooling) in [(20, 1), (20, 2), (256, 1)] {
            let layer = ClassAggregation(width: 128, guidanceWidth: 128, heads: 4, padLength: 256, generator: &generator)
            randomize(layer)
            let text = Tensor.normal([2, classes, 128], using: &generator)
            compare("class aggregation, T = \(classes), pooling \(pooling)", Tensor.normal([2, 128, classes, 6, 6], using: &generator)) {
                layer($0, guidance: text, pooling: pooling)
            }
        }
    }

    /// |a − b| ≤ 1e-5 + 1e-4·max|b|: relative to the tensor's scale, since gradients that sum over
    /// thousands of positions (convolution weights of the per-class decoder) carry rounding noise
    /// near their small elements.
    let tolerance = Tolerance(absolute: 1e-5, relative: 1e-4, relativeToLargest: true)
}
