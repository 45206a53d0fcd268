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
    /// running at the true prompt length equals running at the full 77-token context.
    @Test func trueLengthPromptsEqualFullContext() throws {
        let model = try CLIPModel.load(folder: CLIPFixture.folder)
        let prompts = CLIPFixture.prompts
        let short = noGrad { model.encodeText(prompts) }
        let full = noGrad { model.encodeText(prompts.map { $0 + [Int32](repeating: 999, count: 77 - $0.count) }) }
        #expect(prompts.map(\.count).max()! < 77)
        #expect((0..<short.count).allSatisfy { abs(short.pointer[$0] - full.pointer[$0]) <= 1e-5 * max(1, abs(full.pointer[$0])) })
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
