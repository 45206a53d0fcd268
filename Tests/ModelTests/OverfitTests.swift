import CLIP
import Foundation
import NN
import Testing
import Tensor
@testable import Model

@Suite struct OverfitTests {
    /// A tiny CLIP-shaped model (random weights, byte-level vocabulary) and decoder.
    static func tinyModel() -> (FGAsegModel, CLIPTokenizer) {
        let clip = CLIPModel(CLIPConfiguration(
            textConfig: .init(vocabSize: 514, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, eosTokenId: 513),
            visionConfig: .init(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 8, numAttentionHeads: 4, imageSize: 64, patchSize: 8),
            projectionDim: 16), seed: 3)
        var configuration = tinyModelConfiguration()
        configuration.decoder.resolution = 8
        configuration.decoder.window = 4
        return (FGAsegModel(clip: clip, configuration: configuration, seed: 4), CLIPTokenizer(vocabulary: .byteLevel()))
    }

    /// Four 64×64 scenes of three classes (distinct colours with noise) and their labels; region
    /// borders lie on the 8-pixel patch grid.
    static func scenes() -> (images: Tensor, labels: [Int32]) {
        var generator = RandomGenerator(seed: 9)
        let colours: [[Float]] = [[1.2, -0.8, -0.5], [-1.0, 1.1, -0.3], [-0.2, -0.6, 1.4]]
        var pixels = [Float](repeating: 0, count: 4 * 3 * 64 * 64), labels = [Int32](repeating: 0, count: 4 * 64 * 64)
        for image in 0..<4 {
            let split = 16 + 8 * image
            for y in 0..<64 {
                for x in 0..<64 {
                    var label: Int32 = x < split ? 0 : 1
                    let (left, top) = (32 + 8 * (image % 2), 8 + 8 * image)
                    if x >= left && x < left + 16 && y >= top && y < top + 16 { label = 2 }
                    labels[(image * 64 + y) * 64 + x] = label
                    for c in 0..<3 {
                        pixels[((image * 3 + c) * 64 + y) * 64 + x] = colours[Int(label)][c] + 0.3 * generator.nextNormal()
                    }
                }
            }
        }
        return (Tensor(pixels, shape: [4, 3, 64, 64]), labels)
    }

    @Test func tinyModelOverfitsAHandfulOfScenes() {
        let (model, tokenizer) = Self.tinyModel()
        let prompts = ["red thing", "green thing", "blue square"].map { tokenizer.encode(Prompts.prompt(for: $0)).ids }
        let (images, labels) = Self.scenes()
        let flat = FlatParameters(model)
        let optimizer = AdamW(flat) { name in AdamW.Group(learningRateScale: name.hasPrefix("clip.") ? 0.1 : 1, weightDecay: 0) }
        func accuracy() -> Double {
            model.eval()
            defer { model.train() }
            let logits = noGrad { model(images, classes: model.classEmbeddings(prompts)).logits.bilinearResized(to: (64, 64), alignCorners: false) }
            let predicted = logits.argmax(axis: 1)
            return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
        }
        let before = accuracy()
        model.train()
        let steps = 400
        var losses: [Float] = []
        for step in 0..<steps {
            flat.zeroGradients()
            let loss = model.losses(model(images, classes: model.classEmbeddings(prompts)), labels: labels, size: 64).total
            losses.append(loss.item)
            loss.backward()
            // The paper's cosine schedule: at a constant rate this tiny model wanders around 0.93–0.95
            // (which end depends on float rounding); annealing lets it settle.
            optimizer.update(learningRate: 8e-3 * Float(0.5 * (1 + cos(Double.pi * Double(step) / Double(steps)))))
        }
        // Where it settles between 0.945 and 0.975 depends on float rounding (kernel changes have
        // moved it within that range), so the bounds leave room for that, not for a model that
        // does not learn: chance is 1/3, and the loss must fall by 60% or more. The loss is the
        // more rounding-sensitive of the two: the trajectory reaches a plateau near 0.3 around
        // step 150, which some roundings leave for ≈ 0.01 within 30 steps and others keep to the
        // end (0.28; the q, k and v projections packed into one GEMM moved it from the first to
        // the second, with both runs equal to 7 digits for the first steps).
        let after = accuracy()
        #expect(after >= 0.93, "pixel accuracy \(before) → \(after) after \(steps) steps")
        let settled = losses.suffix(20).reduce(0, +) / Float(min(20, losses.count))
        #expect(settled <= 0.4 * losses[0], "loss \(losses[0]) → \(settled) after \(steps) steps")
    }
}
