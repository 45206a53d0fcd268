import CLIP
import NN
import Testing
import Tensor
import TestSupport
@testable import Model

@Suite struct ChunkedTrainingTests {
    /// Running the per-class decoder in chunks of classes gives the gradients and losses of the
    /// whole-vocabulary step.
    @Test(arguments: [false, true])
    func chunkedStepEqualsTheFullStep(fast: Bool) throws {
        var configuration = tinyModelConfiguration()
        configuration.decoder.fast = fast
        func makeModel() throws -> FGAsegModel {
            FGAsegModel(clip: try CLIPModel.load(folder: tinyCLIPFolder), configuration: configuration, seed: 11)
        }
        var generator = RandomGenerator(seed: 12)
        let images = Tensor.normal([2, 3, 64, 64], using: &generator)
        let labels: [Int32] = (0..<(2 * 64 * 64)).map { (i: Int) -> Int32 in
            i % 97 == 0 ? 255 : Int32((i / 64 + i % 64) % 7)
        }
        let prompts: [[Int32]] = (0..<7).map { (k: Int) -> [Int32] in
            let words: [Int32] = (0..<(2 + k % 3)).map { Int32(10 * k + $0) }
            return [998] + words + [999]
        }

        let full = try makeModel()
        full.train()
        let fullLosses = full.losses(full(images, classes: full.classEmbeddings(prompts)), labels: labels, size: 64)
        fullLosses.total.backward()

        let chunked = try makeModel()
        chunked.train()
        // A parameter is reported at most once, when its gradient is final (the gradient all-reduce
        // starts its bucket then): a copy taken at the report must equal the final gradient.
        // Only parameters inside the checkpointed spatial aggregation (their gradients come from
        // the recomputation) and unused ones go unreported; the reducer sends them at finish().
        var reported: [ObjectIdentifier: [Float]] = [:]
        var duplicates = 0
        let values = chunked.chunkedTrainingStep(images, classes: chunked.classEmbeddings(prompts), labels: labels, size: 64,
                                                 classChunk: 3) { tensor in
            if reported.updateValue(tensor.grad?.scalars ?? [], forKey: ObjectIdentifier(tensor)) != nil { duplicates += 1 }
        }
        #expect(duplicates == 0)
        for (name, tensor) in chunked.trainableParameters() {
            let used = tensor.grad?.scalars.contains { $0 != 0 } ?? false
            guard let atReport = reported[ObjectIdentifier(tensor)] else {
                #expect(name.contains(".swin_block.") || !used, "\(name) was never reported ready")
                continue
            }
            #expect(atReport == (tensor.grad?.scalars ?? []), "\(name) changed after it was reported ready")
        }

        #expect(abs(values.segmentation - fullLosses.segmentation.item) <= 1e-5)
        #expect(abs(values.textToPixel - fullLosses.textToPixel.item) <= 1e-5)
        #expect(abs(values.total - fullLosses.total.item) <= 1e-5 * max(1, fullLosses.total.item))
        let tolerance = Tolerance(absolute: 1e-6, relative: 1e-4, relativeToLargest: true)
        let reference = Dictionary(uniqueKeysWithValues: full.trainableParameters().map { ($0.name, $0.tensor) })
        for (name, tensor) in chunked.trainableParameters() {
            let expected = reference[name]!.grad ?? Tensor(repeating: 0, shape: tensor.shape)
            #expect(tolerance.accepts(tensor.grad ?? Tensor(repeating: 0, shape: tensor.shape), expected), "gradient of \(name)")
        }
    }
}
