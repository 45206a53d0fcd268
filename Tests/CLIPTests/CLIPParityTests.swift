import Foundation
import IO
import NN
import Testing
import Tensor
import TestSupport
@testable import CLIP

enum CLIPFixture {
    static let folder = Bundle.module.url(forResource: "tiny-clip", withExtension: nil, subdirectory: "Fixtures")!.path
    static let outputs: [String: Tensor] = {
        let url = Bundle.module.url(forResource: "clip_outputs", withExtension: "safetensors", subdirectory: "Fixtures")!
        return try! Safetensors.read(path: url.path).tensors
    }()

    static var prompts: [[Int32]] {
        let ids = outputs["text/ids"]!
        return (0..<ids.shape[0]).map { row in
            (0..<ids.shape[1]).map { ids.pointer[row * ids.shape[1] + $0] }.filter { $0 >= 0 }.map { Int32($0) }
        }
    }
}

/// |a − b| ≤ 1e-5 + 1e-4·|b| element by element.
let clipTolerance = Tolerance(absolute: 1e-5, relative: 1e-4)

@Suite struct CLIPParityTests {
    @Test func configurationIsReadFromTheFolder() throws {
        let configuration = try CLIPConfiguration.load(folder: CLIPFixture.folder)
        #expect(configuration.visionConfig.numHiddenLayers == 12 && configuration.visionConfig.patchSize == 16)
        #expect(configuration.textConfig.vocabSize == 1000 && configuration.textConfig.eosTokenId == 999)
        #expect(configuration.projectionDim == 16)
    }

    @Test(arguments: [224, 384])
    func imageFeaturesMatchTransformers(size: Int) throws {
        let model = try CLIPModel.load(folder: CLIPFixture.folder)
        let pixels = CLIPFixture.outputs["image/\(size)/pixels"]!
        let embeds = noGrad { model.encodeImage(pixels) }
        #expect(clipTolerance.accepts(embeds, CLIPFixture.outputs["image/\(size)/embeds"]!), "image embeddings at \(size)")
        let (dense, taps) = noGrad { model.denseImageFeatures(pixels, taps: [3, 7]) }
        #expect(dense.shape == CLIPFixture.outputs["image/\(size)/dense"]!.shape)
        #expect(clipTolerance.accepts(dense, CLIPFixture.outputs["image/\(size)/dense"]!), "dense features at \(size)")
        #expect(clipTolerance.accepts(taps[3]!, CLIPFixture.outputs["image/\(size)/tap3"]!), "block-3 tap at \(size)")
        #expect(clipTolerance.accepts(taps[7]!, CLIPFixture.outputs["image/\(size)/tap7"]!), "block-7 tap at \(size)")
    }

    @Test func textFeaturesMatchTransformers() throws {
        let model = try CLIPModel.load(folder: CLIPFixture.folder)
        let embeds = noGrad { model.encodeText(CLIPFixture.prompts) }
        #expect(clipTolerance.accepts(embeds, CLIPFixture.outputs["text/embeds"]!))
    }

    @Test func queryAndValueGradientsMatchTransformers() throws {
        let model = try CLIPModel.load(folder: CLIPFixture.folder)
        model.trainOnlyAttentionQueryAndValueWeights()
        let trainable = model.trainableParameters()
        #expect(trainable.count == 2 * (12 + 4))
        #expect(trainable.allSatisfy { $0.name.hasSuffix("q_proj.weight") || $0.name.hasSuffix("v_proj.weight") })
        let o = CLIPFixture.outputs
        var loss = (model.encodeText(CLIPFixture.prompts) * o["text/w"]!).sum()
        for size in [224, 384] {
            let pixels = o["image/\(size)/pixels"]!
            loss = loss + (model.encodeImage(pixels) * o["image/\(size)/w_embeds"]!).sum()
            loss = loss + (model.denseImageFeatures(pixels, taps: []).dense * o["image/\(size)/w_dense"]!).sum()
        }
        loss.backward()
        // Each gradient element sums thousands of products whose order differs from PyTorch's
        // (and with BLAS's threading), so small elements are judged against the tensor's scale.
        let gradientTolerance = Tolerance(absolute: 1e-5, relative: 1e-4, relativeToLargest: true)
        for (name, tensor) in trainable {
            #expect(gradientTolerance.accepts(tensor.grad!, o["grad/\(name)"]!), "gradient of \(name)")
        }
    }

    /// With the causal mask the end-of-text feature does not depend on later positions, so
    /// running each group of equal-length prompts at its own length equals running the whole
    /// batch at the full 77-token context, features and gradients, in the prompts' order.
    @Test func lengthGroupedPromptsEqualFullContext() throws {
        let model = try CLIPModel.load(folder: CLIPFixture.folder)
        model.trainOnlyAttentionQueryAndValueWeights()
        // Reversed and with one prompt repeated, so the groups interleave in the batch.
        let prompts = (CLIPFixture.prompts + [CLIPFixture.prompts[0]]).reversed().map { $0 }
        #expect(Set(prompts.map(\.count)).count >= 2, "the fixture needs prompts of several lengths")
        var generator = RandomGenerator(seed: 7)
        let weights = Tensor.normal([prompts.count, model.configuration.textConfig.hiddenSize], using: &generator)

        func run(_ encode: () -> Tensor) -> (features: Tensor, gradients: [Tensor]) {
            for (_, tensor) in model.trainableParameters() { tensor.grad = nil }
            let features = encode()
            (features * weights).sum().backward()
            return (features.detached(), model.textModel.trainableParameters().map { $0.tensor.grad! })
        }
        let grouped = run { model.textModel(prompts) }
        let full = run { model.textModel.pooledFeatures(prompts, length: 77) }
        let tolerance = Tolerance(absolute: 1e-5, relative: 1e-4, relativeToLargest: true)
        #expect(clipTolerance.accepts(grouped.features, full.features))
        #expect(grouped.gradients.count == 2 * model.configuration.textConfig.numHiddenLayers)
        for (a, b) in zip(grouped.gradients, full.gradients) { #expect(tolerance.accepts(a, b)) }
    }

    @Test func mismatchedCheckpointListsEveryOffendingTensor() throws {
        let model = try CLIPModel.load(folder: CLIPFixture.folder)
        var tensors = try Safetensors.read(path: CLIPFixture.folder + "/model.safetensors").tensors
        tensors.removeValue(forKey: "text_projection.weight")
        tensors["vision_model.post_layernorm.weight"] = Tensor(repeating: 1, shape: [7])
        tensors["extra.weight"] = Tensor(repeating: 0, shape: [2])
        let error = #expect(throws: IOError.self) { try model.loadWeights(tensors, source: "checkpoint") }
        let text = error?.description ?? ""
        #expect(text.contains("missing text_projection.weight"))
        #expect(text.contains("vision_model.post_layernorm.weight: checkpoint shape [7], model expects [32]"))
        #expect(text.contains("unexpected extra.weight"))
    }
}
