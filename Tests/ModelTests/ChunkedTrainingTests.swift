import CLIP
import NN
import Testing
import Tensor
import TestSupport
@testable import Model

@Suite struct ChunkedTrainingTests {
    /// Running the per-class decoder in chunks of classes, with none, some or all of the spatial
    /// aggregation's classes kept instead of recomputed, gives the gradients and losses of the
    /// whole-vocabulary step.
    /// `catSeg`: CAT-Seg's configuration (no P2Tformer, no T2P branch, no local cost).
    @Test(arguments: [(false, 0, false), (true, 0, false), (false, 4, false), (true, 7, false), (false, 3, true)])
    func chunkedStepEqualsTheFullStep(fast: Bool, keptSpatialClasses: Int, catSeg: Bool) throws {
        var configuration = tinyModelConfiguration()
        configuration.decoder.fast = fast
        if catSeg {
            (configuration.p2tLayers, configuration.t2pWeight, configuration.decoder.fusion) = (0, 0, .none)
        }
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
        let values = chunked.chunkedTrainingStep(images, classes: chunked.classEmbeddings(prompts), labels: labels, size: 64,
                                                 classChunk: 3, keptSpatialClasses: keptSpatialClasses)
        #expect(abs(values.segmentation - fullLosses.segmentation.item) <= 1e-5)
        #expect(abs(values.textToPixel - fullLosses.textToPixel.item) <= 1e-5)
        #expect(catSeg == (chunked.p2tformer == nil && chunked.projector == nil && chunked.decoder.localCost == nil))
        #expect(abs(values.total - fullLosses.total.item) <= 1e-5 * max(1, fullLosses.total.item))
        let tolerance = Tolerance(absolute: 1e-6, relative: 1e-4, relativeToLargest: true)
        let reference = Dictionary(uniqueKeysWithValues: full.trainableParameters().map { ($0.name, $0.tensor) })
        for (name, tensor) in chunked.trainableParameters() {
            let expected = reference[name]!.grad ?? Tensor(repeating: 0, shape: tensor.shape)
            #expect(tolerance.accepts(tensor.grad ?? Tensor(repeating: 0, shape: tensor.shape), expected), "gradient of \(name)")
        }
    }

    /// The memory plan's probe: its choice is a multiple of the chunk (or all classes), grows with
    /// the budget, and the probe leaves the model's buffers (batch-norm running statistics) as
    /// they were.
    @Test func memoryPlanFillsTheBudgetInWholeChunks() throws {
        let model = FGAsegModel(clip: try CLIPModel.load(folder: tinyCLIPFolder), configuration: tinyModelConfiguration(), seed: 11)
        model.train()
        var generator = RandomGenerator(seed: 13)
        let images = Tensor.normal([1, 3, 64, 64], using: &generator)
        let labels = [Int32](repeating: 1, count: 64 * 64)
        let prompts: [[Int32]] = (0..<10).map { [998, Int32(5 * $0 + 1), 999] }
        let buffers = model.namedBuffers().map { ($0.name, $0.tensor.scalars) }
        func plan(_ budget: Int) -> (kept: Int, probePeakBytes: Int, bytesPerClass: Int) {
            model.spatialClassesWithin(budgetBytes: budget, images: images, classes: model.classEmbeddings(prompts), labels: labels,
                                       size: 64, classChunk: 3)
        }
        let none = plan(0)
        #expect(none.kept == 0 && none.probePeakBytes > 0 && none.bytesPerClass > 0)
        // Room for 7 classes above the probe's peak keeps two chunks of 3. (The peak is measured
        // again by every probe: tests running in parallel may change it between calls.)
        let budget = none.probePeakBytes + 7 * none.bytesPerClass
        let some = plan(budget)
        #expect(some.kept == min(10, max(0, budget - some.probePeakBytes) / some.bytesPerClass / 3 * 3))
        #expect(some.probePeakBytes != none.probePeakBytes || some.kept == 6)
        #expect(plan(Int.max / 2).kept == 10)
        for ((name, before), (_, tensor)) in zip(buffers, model.namedBuffers()) {
            #expect(before == tensor.scalars, "buffer \(name) changed")
        }
    }

    /// The estimate of a kept class's activations against the bytes the allocator really holds
    /// after a recorded forward of one spatial-aggregation layer at the ViT-B/16 widths (C 128,
    /// 24² maps, windows of 12, 4 heads).
    @Test func keptActivationEstimateMatchesTheAllocator() {
        var generator = RandomGenerator(seed: 14)
        let layer = SpatialAggregation(width: 128, guidanceWidth: 128, resolution: (24, 24), heads: 4, window: 12, generator: &generator)
        let classes = 6
        let x = Tensor.normal([1, 128, classes, 24, 24], using: &generator), guidance = Tensor.normal([1, 128, 24, 24], using: &generator)
        x.requiresGrad = true
        let allocator = CachingAllocator.shared
        allocator.emptyCache()
        let before = allocator.liveBytes
        let out = layer(x, guidance: guidance)
        let measured = Double(allocator.liveBytes - before - out.count * 4) / Double(classes)
        let estimate = Double(layer.keptBytesPerClass)
        #expect(measured <= estimate && measured >= 0.7 * estimate, "measured \(measured) bytes per class, estimated \(estimate)")
        withExtendedLifetime(out) {}
    }

    /// Inference with the per-class decoder in chunks gives the logits of decoding every class at
    /// once (with and without the fast decoder's heads, in evaluation and training mode).
    @Test(arguments: [false, true])
    func decoderClassChunksKeepTheLogits(fast: Bool) throws {
        var configuration = tinyModelConfiguration()
        configuration.decoder.fast = fast
        let model = FGAsegModel(clip: try CLIPModel.load(folder: tinyCLIPFolder), configuration: configuration, seed: 15)
        var generator = RandomGenerator(seed: 16)
        let images = Tensor.normal([2, 3, 64, 64], using: &generator)
        let classes = noGrad { model.classEmbeddings((0..<7).map { [998, Int32(3 * $0 + 2), 999] }) }
        for training in [false, true] {
            model.train(training)
            let whole = noGrad { model(images, classes: classes) }, chunked = noGrad { model(images, classes: classes, decoderClassChunk: 3) }
            let tolerance = Tolerance(absolute: 1e-6, relative: 1e-5, relativeToLargest: true)
            #expect(whole.logits.shape == chunked.logits.shape && tolerance.accepts(chunked.logits, whole.logits))
            #expect(whole.auxiliary.count == chunked.auxiliary.count)
            for (a, b) in zip(whole.auxiliary, chunked.auxiliary) { #expect(a.shape == b.shape && tolerance.accepts(b, a)) }
        }
    }
}
