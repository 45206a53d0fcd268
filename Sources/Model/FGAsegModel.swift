import CLIP
import Foundation
import NN
import Tensor

/// FGAseg (spec §2): CLIP features → P2Tformer → GCS/LCS costs → aggregation → up-sampling
/// decoder, plus the T2P branch in training. With `p2tLayers` 0, `t2pWeight` 0 and decoder fusion
/// `none` it is CAT-Seg (the model FGAseg extends): no P2Tformer, no T2P branch, no local cost.
public final class FGAsegModel: Module {
    public struct Configuration: Sendable, Codable, Equatable {
        /// 0-based CLIP blocks whose outputs guide the decoder (3, 7 for ViT-B/16; 7, 15 for ViT-L/14).
        public var guidanceBlocks = [3, 7]
        /// Channels of the up-sampled block taps (decoder guidance inputs).
        public var guidanceChannels = [256, 128]
        public var p2tHeads = 8
        /// P2Tformer layers; 0: no P2Tformer (the class embeddings go to the decoder as they are).
        public var p2tLayers = 1
        public var decoder = CostAggregationDecoder.Configuration()
        /// Loss weight of the T2P branch (LAMBDA_ALIGN); 0: no T2P branch.
        public var t2pWeight: Float = 0.02
        /// Loss weights of the fast decoder's three rejection heads (LAMBDA_AUXI on the first).
        public var auxiliaryWeights: [Float] = [0.2, 1, 1]
        public init() {}
    }

    /// The loss parts of one training step.
    public struct Losses {
        public var segmentation: Tensor
        public var textToPixel: Tensor
        /// The fast decoder's rejection-head losses (empty without it).
        public var auxiliary: [Tensor]
        public var total: Tensor
    }

    /// A forward pass: segmentation logits, the T2P logits (training) and the fast decoder's
    /// auxiliary logits (training, fast decoder only).
    public struct Output {
        public var logits: Tensor
        public var textToPixel: Tensor?
        public var auxiliary: [Tensor]
    }

    public let configuration: Configuration
    public let clip: CLIPModel
    public let upsample1: ConvTranspose2d, upsample2: ConvTranspose2d
    /// nil with `p2tLayers` 0.
    public let p2tformer: P2Tformer?
    public let decoder: CostAggregationDecoder
    /// The T2P branch; nil with `t2pWeight` 0.
    public let projector: TextToPixelProjector?

    public init(clip: CLIPModel, configuration: Configuration, seed: UInt64 = 0) {
        self.clip = clip
        self.configuration = configuration
        var generator = RandomGenerator(seed: seed)
        let width = clip.configuration.visionConfig.hiddenSize, embedding = clip.configuration.projectionDim
        upsample1 = ConvTranspose2d(width, configuration.guidanceChannels[0], kernel: 2, stride: 2, generator: &generator)
        upsample2 = ConvTranspose2d(width, configuration.guidanceChannels[1], kernel: 4, stride: 4, generator: &generator)
        p2tformer = configuration.p2tLayers > 0
            ? P2Tformer(width: embedding, heads: configuration.p2tHeads, layerCount: configuration.p2tLayers, generator: &generator) : nil
        decoder = CostAggregationDecoder(configuration.decoder, generator: &generator)
        projector = configuration.t2pWeight > 0 ? TextToPixelProjector(imageChannels: embedding, textWidth: embedding, generator: &generator) : nil
        super.init()
        child("clip", clip)
        child("upsample1", upsample1)
        child("upsample2", upsample2)
        if let p2tformer { child("p2tformer", p2tformer) }
        child("decoder", decoder)
        if let projector { child("projector", projector) }
        clip.trainOnlyAttentionQueryAndValueWeights()
    }

    /// Normalised CLIP text embeddings [T, D] of tokenised prompts.
    public func classEmbeddings(_ prompts: [[Int32]]) -> Tensor {
        Profiler.section("text tower") { clip.encodeText(prompts).l2Normalized(dim: -1) }
    }

    /// The CLIP image path and the P2Tformer: dense features x [B, D, g, g], the up-sampled block
    /// taps [B, 256, 2g, 2g] and [B, 128, 4g, 4g], and the image-conditioned class embeddings [B, T, D].
    private func imagePath(_ images: Tensor, classes: Tensor) -> (image: Tensor, guidance: [Tensor], text: Tensor) {
        let blocks = configuration.guidanceBlocks
        let (dense, taps) = Profiler.section("image tower") { clip.denseImageFeatures(images, taps: Set(blocks)) }
        let (b, tokens) = (dense.shape[0], dense.shape[1])
        let grid = Int(Double(tokens - 1).squareRoot())
        func map(_ x: Tensor) -> Tensor {
            x.narrowed(1, start: 1, length: grid * grid).transposed(1, 2).reshaped([b, x.shape[2], grid, grid])
        }
        let image = map(dense)
        let guidance = Profiler.section("guidance up-samplers") {
            [upsample1(map(taps[blocks[0]]!)), upsample2(map(taps[blocks[1]]!))]
        }
        guard let p2tformer else {
            let (t, d) = (classes.shape[0], classes.shape[1])
            return (image, guidance, classes.reshaped([1, t, d]).broadcast(to: [b, t, d]))
        }
        return (image, guidance, Profiler.section("P2Tformer") { p2tformer(image: image, text: classes) })
    }

    /// - Parameters:
    ///   - images: CLIP-normalised images [B, 3, S, S].
    ///   - classes: normalised class embeddings [T, D] (``classEmbeddings(_:)``).
    ///   - decoderClassChunk: classes the per-class up-sampling decoder runs at a time (0: all at
    ///     once; same logits, see ``CostAggregationDecoder/callAsFunction(image:text:decoderGuidance:classChunk:classPooling:)``).
    ///   - classPooling: the class aggregation's pooling window; nil: the configured one
    ///     (`decoder.pooling`, 2) in training, 1 (the evaluation protocol, spec §8) in evaluation
    ///     mode. The quick validation during training passes the training value (spec §7).
    /// - Returns: segmentation logits [B, T, 4g, 4g] (g = S / patch) and, in training, the T2P
    ///   logits and the fast decoder's auxiliary logits.
    public func callAsFunction(_ images: Tensor, classes: Tensor, decoderClassChunk: Int = 0, classPooling: Int? = nil) -> Output {
        let (image, guidance, text) = imagePath(images, classes: classes)
        let decoded = decoder(image: image, text: text, decoderGuidance: guidance, classChunk: decoderClassChunk,
                              classPooling: classPooling ?? (isTraining ? configuration.decoder.pooling : 1))
        let textToPixel = isTraining ? projector.map { projector in Profiler.section("T2P branch") { projector(image: image, text: text) } } : nil
        return Output(logits: decoded.logits, textToPixel: textToPixel,
                      auxiliary: isTraining ? decoded.auxiliary : [])
    }

    /// Fast inference (spec §3.12): class probabilities [B, T, 4g, 4g], 0 for the classes the
    /// rejection heads drop (fewer than `topK` best at every pixel). Needs `decoder.fast`; call
    /// under `noGrad` in evaluation mode; `classPooling` as in ``callAsFunction(_:classes:decoderClassChunk:classPooling:)``
    /// in evaluation mode.
    public func fastProbabilities(_ images: Tensor, classes: Tensor, topK: Int, classPooling: Int = 1) -> Tensor {
        let (image, guidance, text) = imagePath(images, classes: classes)
        return decoder.fastProbabilities(image: image, text: text, decoderGuidance: guidance, topK: topK, classPooling: classPooling)
    }

    /// One training forward and backward with the per-class up-sampling decoder and its losses run
    /// `classChunk` classes at a time (spec §4 losses; the same gradients as ``losses(_:labels:size:)``
    /// followed by `backward()`, up to summation order). Only one chunk's decoder activations are
    /// alive at a time, and the spatial aggregation keeps no activations but recomputes them in
    /// backward chunk by chunk, except for the first `keptSpatialClasses` classes, whose activations are
    /// kept (``spatialClassesWithin(budgetBytes:images:classes:labels:size:classChunk:)`` picks how many
    /// fit a memory budget); this bounds the memory of large vocabularies. Gradients accumulate into
    /// the parameters' `.grad`; returns the loss values. The step runs one backward pass per chunk,
    /// one for everything upstream, and one nested pass per recomputed slice of the spatial
    /// aggregation: a parameter's ``Tensor/gradientAccumulatedHook`` runs once per pass that reaches it.
    public func chunkedTrainingStep(_ images: Tensor, classes: Tensor, labels: [Int32], size: Int, classChunk: Int,
                                    keptSpatialClasses: Int = 0)
        -> (segmentation: Float, textToPixel: Float, total: Float) {
        precondition(isTraining, "chunkedTrainingStep needs training mode")
        let (image, guidance, text) = imagePath(images, classes: classes)
        let recomputation = SpatialRecomputation(classChunk: classChunk, keptClasses: keptSpatialClasses)
        let aggregated = decoder.aggregate(image: image, text: text, decoderGuidance: guidance, classPooling: configuration.decoder.pooling,
                                           spatialRecomputation: recomputation)
        precondition(aggregated.kept == nil, "chunked training supports vocabularies up to the padding length")
        let t = aggregated.cost.shape[2]
        // The per-class part runs on detached copies; their gradients are carried upstream below.
        // So do the decoder's class-independent terms, built once for all chunks.
        let sharedTerms = decoder.sharedTerms(guides: aggregated.guides)
        let cost = aggregated.cost.detached(), local = aggregated.local?.detached()
        let shared = sharedTerms.replacingTensors(sharedTerms.tensors.map { $0.detached() })
        let upstreamLeaves = [aggregated.cost] + (aggregated.local.map { [$0] } ?? []) + sharedTerms.tensors
        let leaves = [cost] + (local.map { [$0] } ?? []) + shared.tensors
        for leaf in leaves { leaf.requiresGrad = true }
        var segmentation: Float = 0, total: Float = 0
        var start = 0
        while start < t {
            let count = min(classChunk, t - start)
            let share = Float(count) / Float(t)  // each chunk's mean covers count of the t classes
            let decoded = decoder.decodeClasses(cost: cost.narrowed(2, start: start, length: count),
                                                local: local?.narrowed(2, start: start, length: count), shared: shared)
            let (chunkSegmentation, chunkTotal) = Profiler.section("losses") {
                let segmentation = SegmentationLosses.segmentation(decoded.logits, labels: labels, firstClass: start, height: size, width: size) * share
                var total = segmentation
                for (head, weight) in zip(decoded.auxiliary, configuration.auxiliaryWeights.dropFirst()) {
                    total = total + SegmentationLosses.segmentation(head, labels: labels, firstClass: start, height: size, width: size) * (weight * share)
                }
                return (segmentation, total)
            }
            segmentation += chunkSegmentation.item
            total += chunkTotal.item
            chunkTotal.backward()
            start += count
        }
        // Everything upstream of the per-class decoder: the T2P and first rejection-head losses, plus
        // the gradients the chunks left on the detached tensors (Σ x ⊙ ∂L/∂x has the same gradient).
        let t2p = projector.map { projector in
            let textToPixel = Profiler.section("T2P branch") { projector(image: image, text: text) }
            return Profiler.section("losses") { SegmentationLosses.textToPixel(textToPixel, labels: labels, height: size, width: size) }
        }
        var upstream = (t2p ?? Tensor(scalar: 0)) * configuration.t2pWeight
        if let first = aggregated.auxiliary.first {
            upstream = upstream + Profiler.section("losses") {
                SegmentationLosses.segmentation(first, labels: labels, height: size, width: size) * configuration.auxiliaryWeights[0]
            }
        }
        let carriedTotal = upstream.item
        for (original, leaf) in zip(upstreamLeaves, leaves) {
            if let gradient = leaf.grad { upstream = upstream + (original * gradient).sum() }
        }
        upstream.backward()
        return (segmentation, t2p?.item ?? 0, total + carriedTotal)
    }

    /// How many classes' spatial-aggregation activations a ``chunkedTrainingStep(_:classes:labels:size:classChunk:keptSpatialClasses:)``
    /// can keep within `budgetBytes` of live tensor memory: a multiple of `classChunk` (so that small
    /// differences in the measured peak do not change it), at most T.
    ///
    /// Runs one probe step that keeps none (its peak is what every other tensor of the step needs,
    /// measured by ``CachingAllocator``) and fills the room left with the estimated
    /// ``SpatialAggregation/keptBytesPerClass`` of every layer. The probe's gradients stay in the
    /// parameters' `.grad` (clear them before the next step); buffers it changed (batch-norm
    /// running statistics) are restored, so the probe leaves no trace in training.
    /// - Parameters:
    ///   - images: a batch of the training input shape [B, 3, S, S] (values do not matter).
    ///   - classes: the training vocabulary's class embeddings [T, D].
    /// - Returns: the classes to keep, the probe's peak, and the estimated bytes per kept class.
    public func spatialClassesWithin(budgetBytes: Int, images: Tensor, classes: Tensor, labels: [Int32], size: Int, classChunk: Int)
        -> (kept: Int, probePeakBytes: Int, bytesPerClass: Int) {
        let saved = namedBuffers().map { ($0.tensor, $0.tensor.scalars) }
        defer { for (tensor, values) in saved { values.withUnsafeBufferPointer { tensor.pointer.update(from: $0.baseAddress!, count: values.count) } } }
        let allocator = CachingAllocator.shared
        // Start from an empty cache, so that the peak does not depend on what ran before (a resumed
        // run must choose what an uninterrupted one chose).
        allocator.emptyCache()
        allocator.resetPeak()
        _ = chunkedTrainingStep(images, classes: classes, labels: labels, size: size, classChunk: classChunk)
        let peak = allocator.peakLiveBytes
        let perClass = images.shape[0] * decoder.spatialLayers.reduce(0) { $0 + $1.keptBytesPerClass }
        let t = classes.shape[0]
        let fitting = max(0, budgetBytes - peak) / max(perClass, 1)
        return (min(t, fitting / classChunk * classChunk), peak, perClass)
    }

    /// Training losses (spec §4) of a training-mode `output` for `labels` [B·S·S] (class ids, 255
    /// ignored) of the S×S input images.
    public func losses(_ output: Output, labels: [Int32], size: Int) -> Losses {
        let segmentation = SegmentationLosses.segmentation(output.logits, labels: labels, height: size, width: size)
        precondition(projector == nil || output.textToPixel != nil, "losses: the output has no T2P logits (evaluation mode?)")
        // Without a T2P branch (CAT-Seg) its loss is 0.
        let t2p = output.textToPixel.map { SegmentationLosses.textToPixel($0, labels: labels, height: size, width: size) } ?? Tensor(scalar: 0)
        let auxiliary = output.auxiliary.map { SegmentationLosses.segmentation($0, labels: labels, height: size, width: size) }
        var total = segmentation + t2p * configuration.t2pWeight
        for (loss, weight) in zip(auxiliary, configuration.auxiliaryWeights) { total = total + loss * weight }
        return Losses(segmentation: segmentation, textToPixel: t2p, auxiliary: auxiliary, total: total)
    }
}
