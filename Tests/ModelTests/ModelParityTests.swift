import CLIP
import Foundation
import IO
import NN
import Testing
import Tensor
import TestSupport
@testable import Model

/// The tiny configuration of the model fixture (make_model_fixture.py).
func tinyModelConfiguration() -> FGAsegModel.Configuration {
    var configuration = FGAsegModel.Configuration()
    configuration.guidanceChannels = [24, 12]
    configuration.p2tHeads = 4
    var d = CostAggregationDecoder.Configuration()
    (d.textWidth, d.imageChannels, d.hidden, d.textGuidance, d.appearanceGuidance) = (16, 16, 32, 16, 16)
    (d.decoderDims, d.decoderGuidanceDims, d.decoderGuidanceProjections) = ([16, 16], [24, 12], [8, 4])
    (d.layers, d.heads, d.resolution, d.window, d.pooling, d.padLength, d.localKernel) = (2, 4, 4, 2, 2, 256, 3)
    configuration.decoder = d
    return configuration
}

let tinyCLIPFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../CLIPTests/Fixtures/tiny-clip").standardized.path

@Suite struct ModelParityTests {
    static let fixture: [String: Tensor] = {
        let url = Bundle.module.url(forResource: "model", withExtension: "safetensors", subdirectory: "Fixtures")!
        return try! Safetensors.read(path: url.path).tensors
    }()

    func makeModel(fast: Bool) throws -> FGAsegModel {
        var configuration = tinyModelConfiguration()
        configuration.decoder.fast = fast
        let model = FGAsegModel(clip: try CLIPModel.load(folder: tinyCLIPFolder), configuration: configuration)
        let prefix = fast ? "fast_param/" : "param/"
        let problems = model.loadReferenceParameters(Self.fixture, prefix: prefix) { !$0.hasPrefix("clip.") }
        #expect(problems.isEmpty, "\(problems)")
        let swiftNames = Set(model.namedParameters().map(\.name).filter { !$0.hasPrefix("clip.") })
        let referenceNames = Set(Self.fixture.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) })
        #expect(swiftNames == referenceNames, "parameter names differ: \(swiftNames.symmetricDifference(referenceNames).sorted())")
        return model
    }

    /// |a − b| ≤ 1e-5 + 1e-4·max|b| everywhere (relative to the tensor's scale).
    func close(_ actual: Tensor, _ expected: Tensor) -> Bool {
        Tolerance(absolute: 1e-5, relative: 1e-4, relativeToLargest: true).accepts(actual, expected)
    }

    /// T5 and T300 (top-256 of 300 classes) with the standard decoder; T5_fast with the fast
    /// decoder's rejection heads and auxiliary losses.
    @Test(arguments: ["T5", "T300", "T5_fast"])
    func logitsLossesAndGradientsMatchTheReference(_ name: String) throws {
        let model = try makeModel(fast: name.hasSuffix("fast"))
        let f = Self.fixture
        let ids = f["\(name)/ids"]!
        let prompts = (0..<ids.shape[0]).map { row in
            (0..<ids.shape[1]).map { ids.pointer[row * ids.shape[1] + $0] }.filter { $0 >= 0 }.map { Int32($0) }
        }
        let pixels = f["\(name)/pixels"]!
        let labels = f["\(name)/labels"]!.scalars.map { Int32($0) }
        // Ignored pixels carry the product's ignore value (Data's `ignoreLabel`); with more than
        // 255 classes, 255 is a class like any other.
        #expect(labels.contains(65535) && labels.contains(255) == (name == "T300"))
        model.train()
        let classes = model.classEmbeddings(prompts)
        let output = model(pixels, classes: classes)
        #expect(output.logits.shape == f["\(name)/train_logits"]!.shape)
        #expect(close(output.logits, f["\(name)/train_logits"]!), "\(name): training logits")
        let losses = model.losses(output, labels: labels, size: pixels.shape[2])
        for (part, value) in [("seg", losses.segmentation), ("t2p", losses.textToPixel), ("total", losses.total)] {
            let expected = f["\(name)/loss_\(part)"]!.item
            #expect(abs(value.item - expected) <= 1e-4 * abs(expected) + 1e-6, "\(name): loss \(part) \(value.item) vs \(expected)")
        }
        losses.total.backward()
        let trainable = model.trainableParameters()
        #expect(trainable.count == f.keys.filter { $0.hasPrefix("\(name)/grad/") }.count)
        for (parameter, tensor) in trainable {
            let expected = try #require(f["\(name)/grad/\(parameter)"], "no reference gradient for \(parameter)")
            #expect(close(tensor.grad ?? Tensor(repeating: 0, shape: tensor.shape), expected), "\(name): gradient of \(parameter)")
        }
        model.eval()
        let evaluation = noGrad { model(pixels, classes: model.classEmbeddings(prompts)) }
        #expect(evaluation.textToPixel == nil)
        #expect(close(evaluation.logits, f["\(name)/eval_logits"]!), "\(name): evaluation logits (pooling 1)")
    }
}
