import Foundation
import NN
import Tensor

/// How the global (GCS) and local (LCS) costs are fused (spec §3.8, §10 #9), or that there is no
/// local cost at all.
public enum CostFusion: String, Sendable, Codable {
    /// Concatenate and project (paper default, best).
    case cat
    /// Add.
    case add
    /// No local cost: CAT-Seg's decoder (the cosine cost embedded, aggregated and up-sampled; no
    /// LCS, no fusion, no re-injection).
    case none
}

/// FGAseg's cost-aggregation decoder (the reference's `Decoder`, spec §3.6–3.10 and §3.13): costs,
/// their embeddings and fusion, the aggregation layers, the up-sampling decoder with the local
/// cost re-injected, and the head. Runs on [B, T] class maps; more than `padLength` classes keeps
/// the top `padLength` by their best cosine cost and gives the others −100.
public final class CostAggregationDecoder: Module {
    public struct Configuration: Sendable, Codable, Equatable {
        public var textWidth = 512           // CLIP joint embedding (text guidance input)
        public var imageChannels = 512       // dense CLIP features
        public var hidden = 128
        public var textGuidance = 128
        public var appearanceGuidance = 128
        public var decoderDims = [64, 32]
        public var decoderGuidanceDims = [256, 128]
        public var decoderGuidanceProjections = [32, 16]
        public var layers = 2
        public var heads = 4
        public var resolution = 24
        public var window = 12
        public var pooling = 2
        public var padLength = 256
        public var localKernel = 3
        public var fusion = CostFusion.cat
        /// SED-style early-rejection heads (spec §3.12): auxiliary logits in training, top-K class
        /// survival at inference.
        public var fast = false
        /// Classes kept per pixel by each rejection head at inference (the reference hard-codes 16).
        public var topK = 16
        public init() {}
    }

    public let configuration: Configuration
    public let costEmbedding: Conv2d
    /// The local cost's parts (nil with fusion `none`).
    public let localCostEmbedding: Conv2d?, localCost: LocalCategoryCost?
    public let localUp: ConvTranspose2d?, localConv: DoubleConv?
    public let fuse: Linear?, fuseStage1: Linear?, fuseStage2: Linear?
    public let appearanceProjection: Conv2d, textProjection: Linear
    public let decoderGuidanceProjections: [Conv2d]
    public let up1: UpStage, up2: UpStage
    public let head: Conv2d
    public let spatialLayers: [SpatialAggregation], classLayers: [ClassAggregation]
    /// The three rejection heads of the fast decoder (before aggregation, before Up-1, before Up-2).
    public let rejectionHeads: [Conv2d]

    /// The decoder's outputs: logits [B, T, 4H, 4W] and, for the fast decoder, the rejection
    /// heads' logits [B, T, H, W], [B, T, H, W], [B, T, 2H, 2W] (all before any up-sampling).
    public struct Output {
        public var logits: Tensor
        public var auxiliary: [Tensor] = []
    }

    public init(_ c: Configuration, generator: inout RandomGenerator) {
        configuration = c
        let local = c.fusion != .none, cat = c.fusion == .cat
        costEmbedding = Conv2d(1, c.hidden, kernel: 7, padding: 3, generator: &generator)
        localCostEmbedding = local ? Conv2d(1, c.hidden, kernel: 7, padding: 3, generator: &generator) : nil
        fuse = cat ? Linear(2 * c.hidden, c.hidden, generator: &generator) : nil
        fuseStage1 = cat ? Linear(2 * c.hidden, c.hidden, generator: &generator) : nil
        fuseStage2 = cat ? Linear(c.hidden, c.hidden / 2, generator: &generator) : nil
        localUp = local ? ConvTranspose2d(c.hidden, c.hidden / 2, kernel: 2, stride: 2, generator: &generator) : nil
        localConv = local ? DoubleConv(c.hidden / 2, c.hidden / 2, generator: &generator) : nil
        appearanceProjection = Conv2d(c.imageChannels, c.appearanceGuidance, kernel: 3, padding: 1, generator: &generator)
        textProjection = Linear(c.textWidth, c.textGuidance, generator: &generator)
        decoderGuidanceProjections = zip(c.decoderGuidanceDims, c.decoderGuidanceProjections).map {
            Conv2d($0, $1, kernel: 3, padding: 1, generator: &generator)
        }
        up1 = UpStage(c.hidden, c.decoderDims[0], guidanceChannels: c.decoderGuidanceProjections[0], generator: &generator)
        up2 = UpStage(c.decoderDims[0], c.decoderDims[1], guidanceChannels: c.decoderGuidanceProjections[1], generator: &generator)
        head = Conv2d(c.decoderDims[1], 1, kernel: 3, padding: 1, generator: &generator)
        localCost = local ? LocalCategoryCost(textWidth: c.textWidth, imageChannels: c.imageChannels, kernelSize: c.localKernel, generator: &generator) : nil
        var spatial: [SpatialAggregation] = [], classes: [ClassAggregation] = []
        for _ in 0..<c.layers {
            spatial.append(SpatialAggregation(width: c.hidden, guidanceWidth: c.appearanceGuidance, resolution: (c.resolution, c.resolution),
                                              heads: c.heads, window: c.window, generator: &generator))
            classes.append(ClassAggregation(width: c.hidden, guidanceWidth: c.textGuidance, heads: c.heads,
                                            padLength: c.padLength, generator: &generator))
        }
        (spatialLayers, classLayers) = (spatial, classes)
        rejectionHeads = c.fast ? [c.hidden, c.hidden, c.hidden / 2].map { Conv2d($0, 1, kernel: 3, padding: 1, generator: &generator) } : []
        super.init()
        child("conv1", costEmbedding)
        if let localCostEmbedding { child("conv2", localCostEmbedding) }
        if let fuse, let fuseStage1, let fuseStage2 {
            child("conv_cat", fuse)
            child("conv_cat_decoder_1", fuseStage1)
            child("conv_cat_decoder_2", fuseStage2)
        }
        if let localUp, let localConv {
            let localProjection = Module()
            localProjection.child("0", localUp)
            localProjection.child("1", localConv)
            child("corr_local_decoder_projection", localProjection)
        }
        let guidance = Module()
        guidance.child("0", appearanceProjection)
        child("guidance_projection", guidance)
        let textGuidance = Module()
        textGuidance.child("0", textProjection)
        child("text_guidance_projection", textGuidance)
        child("decoder_guidance_projection", ModuleList(decoderGuidanceProjections.map { projection -> Module in
            let wrapper = Module()
            wrapper.child("0", projection)
            return wrapper
        }))
        child("decoder1", up1)
        child("decoder2", up2)
        child("head", head)
        if let localCost { child("Local_align", localCost) }
        for (index, head) in rejectionHeads.enumerated() { child("head_auxi_\(index)", head) }
        child("layers", ModuleList(zip(spatial, classes).map { swin, attention -> Module in
            let layer = Module()
            layer.child("swin_block", swin)
            layer.child("attention", attention)
            return layer
        }))
    }

    /// Fast inference (spec §3.12, SED's category early rejection): after each rejection head a
    /// class survives if it is among the `topK` highest logits at any pixel of any image; only
    /// survivors go through the following stages. Returns probabilities [B, T, 4H, 4W]: σ(logit)
    /// for the classes that survive all three heads, 0 for rejected ones (the reference applies σ
    /// twice; this does not). Call under `noGrad`; needs a decoder built with `fast`.
    public func fastProbabilities(image: Tensor, text: Tensor, decoderGuidance: [Tensor], topK: Int, classPooling: Int) -> Tensor {
        precondition(rejectionHeads.count == 3, "fast inference needs a decoder configured with fast = true")
        let (b, totalClasses) = (text.shape[0], text.shape[1])
        let prepared = prepare(image: image, text: text, decoderGuidance: decoderGuidance)
        let (h, w) = (prepared.cost.shape[3], prepared.cost.shape[4])
        func selectMaps(_ maps: Tensor, _ count: Int, _ survivors: [Int]) -> Tensor {
            maps.reshaped([b, count] + Array(maps.shape.dropFirst())).indexSelect(1, survivors)
                .reshaped([b * survivors.count] + Array(maps.shape.dropFirst()))
        }
        func heads(_ index: Int, _ maps: Tensor, _ count: Int) -> [Int] {
            let logits = rejectionHeads[index](maps).reshaped([b, count, maps.shape[2], maps.shape[3]])
            return Self.survivors(logits, topK: topK)
        }
        // Head 0 on the fused cost, before aggregation.
        let survivors0 = heads(0, perClassMaps(prepared.cost), prepared.cost.shape[2])
        let cost = aggregationLayers(prepared.cost.indexSelect(2, survivors0), appearance: prepared.appearance,
                                     textGuidance: prepared.textGuidance.indexSelect(1, survivors0), classPooling: classPooling)
        // Head 1 before Up-1, head 2 before Up-2.
        var (maps, local) = decoderInput(cost: cost, local: prepared.local?.indexSelect(2, survivors0))
        let survivors1 = heads(1, maps, survivors0.count)
        (maps, local) = (selectMaps(maps, survivors0.count, survivors1), local.map { selectMaps($0, survivors0.count, survivors1) })
        let shared = sharedTerms(guides: prepared.guides)
        maps = upsampledOnce(maps, local: local, shared: shared)
        let survivors2 = heads(2, maps, survivors1.count)
        let logits = upsampledTwiceLogits(selectMaps(maps, survivors1.count, survivors2), shared: shared)
        let probabilities = logits.reshaped([b, survivors2.count, 4 * h, 4 * w]).sigmoid()
        // Back to the full class list: survivors' probabilities, 0 elsewhere.
        let finalIndices = survivors2.map { survivors0[survivors1[$0]] }
        let out = Tensor(repeating: 0, shape: [b, totalClasses, 4 * h, 4 * w])
        let plane = 16 * h * w
        for image in 0..<b {
            for (slot, index) in finalIndices.enumerated() {
                let target: Int = prepared.kept.map { $0[image][index] } ?? index
                let destination = out.pointer + (image * totalClasses + target) * plane
                let source = probabilities.pointer + (image * finalIndices.count + slot) * plane
                destination.update(from: source, count: plane)
            }
        }
        return out
    }

    /// Sorted indices of the classes that are among the `topK` largest logits [B, T, H, W] at
    /// any pixel of any image.
    static func survivors(_ logits: Tensor, topK: Int) -> [Int] {
        let (b, t, plane) = (logits.shape[0], logits.shape[1], logits.shape[2] * logits.shape[3])
        if topK >= t { return Array(0..<t) }
        var alive = [Bool](repeating: false, count: t)
        var column = [(Float, Int)](repeating: (0, 0), count: t)
        for image in 0..<b {
            for position in 0..<plane {
                for k in 0..<t { column[k] = (logits.pointer[(image * t + k) * plane + position], k) }
                column.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
                for k in 0..<topK { alive[column[k].1] = true }
            }
        }
        return alive.indices.filter { alive[$0] }
    }

    /// With more classes than the padding length, the classes kept per image: those whose best
    /// cosine cost over the map is highest (spec §3.13), in ascending order; nil otherwise.
    private func selectClasses(image: Tensor, text: Tensor) -> [[Int]]? {
        let (b, total) = (text.shape[0], text.shape[1])
        guard configuration.padLength > 0 && total > configuration.padLength else { return nil }
        let best = noGrad { cosineCost(image: image, text: text).reshaped([b, total, -1]).max(axis: 2) }
        return (0..<b).map { row in
            Array((0..<total).sorted { best.pointer[row * total + $0] > best.pointer[row * total + $1] }
                .prefix(configuration.padLength)).sorted()
        }
    }

    /// `text` [B, T, D] restricted per image to the classes `kept[b]` → [B, kept, D].
    private func gather(_ text: Tensor, _ kept: [[Int]]) -> Tensor {
        Tensor.concat(kept.enumerated().map { row, indices in text.narrowed(0, start: row, length: 1).indexSelect(1, indices) }, along: 0)
    }


    /// Applies a 1-input-channel 7×7 embedding to every class map: [B, T, H, W] → [B, C, T, H, W].
    private func embed(_ cost: Tensor, _ conv: Conv2d) -> Tensor {
        let (b, t, h, w) = (cost.shape[0], cost.shape[1], cost.shape[2], cost.shape[3])
        return conv(cost.reshaped([b * t, 1, h, w])).reshaped([b, t, configuration.hidden, h, w]).permuted([0, 2, 1, 3, 4])
    }

    /// `a` fused with the local term `b` (cat: concatenate and project; add); `a` itself without a local cost.
    private func fused(_ layer: Linear?, _ a: Tensor, _ b: Tensor?) -> Tensor {
        guard let b else { return a }
        guard let layer else { return a + b }
        return channelLinear(layer, Tensor.concat([a, b], along: 1))
    }

    /// The embedded local cost [B, C, T, H, W] of `text` [B, T, D] on `image` (nil without a local cost).
    private func localCostEmbedding(_ text: Tensor, image: Tensor) -> Tensor? {
        guard let localCost, let localCostEmbedding else { return nil }
        return embed(localCost(image: image, text: text), localCostEmbedding)
    }

    /// The per-class local maps [B·T, C, h, w] up-sampled for their re-injection before Up-2 (nil without a local cost).
    private func reinjected(_ local: Tensor?, _ shared: SharedUpsamplingTerms?) -> Tensor? {
        guard let local, let shared, let localConv else { return nil }
        return localConv.afterFirstConvolution(upsampledConvolution(local, shared)).relu()
    }

    /// - Parameters:
    ///   - image: dense CLIP features x [B, C, H, W] (also the appearance guidance).
    ///   - text: image-conditioned class embeddings Ẽ [B, T, D].
    ///   - decoderGuidance: up-sampled block taps [B, 256, 2H, 2W] and [B, 128, 4H, 4W].
    ///   - classChunk: classes the per-class decoder runs at a time (0: all at once). The logits
    ///     are the same; chunks keep its [B·chunk, 32, 4H, 4W] maps in cache instead of streaming
    ///     [B·T, …] ones through memory (inference of 150 classes: 2× faster).
    ///   - classPooling: the class aggregation's pooling window (``ClassAggregation``).
    /// - Returns: logits [B, T, 4H, 4W] and, with fast heads, their auxiliary logits.
    public func callAsFunction(image: Tensor, text: Tensor, decoderGuidance: [Tensor], classChunk: Int = 0, classPooling: Int) -> Output {
        let aggregated = aggregate(image: image, text: text, decoderGuidance: decoderGuidance, classPooling: classPooling)
        let t = aggregated.cost.shape[2]
        let decoded: Output
        if classChunk > 0 && classChunk < t {
            let shared = sharedTerms(guides: aggregated.guides)
            let pieces = stride(from: 0, to: t, by: classChunk).map { start in
                let count = min(classChunk, t - start)
                return decodeClasses(cost: aggregated.cost.narrowed(2, start: start, length: count),
                                     local: aggregated.local?.narrowed(2, start: start, length: count), shared: shared)
            }
            decoded = Output(logits: Tensor.concat(pieces.map(\.logits), along: 1),
                             auxiliary: pieces[0].auxiliary.indices.map { head in Tensor.concat(pieces.map { $0.auxiliary[head] }, along: 1) })
        } else {
            decoded = decodeClasses(cost: aggregated.cost, local: aggregated.local, shared: sharedTerms(guides: aggregated.guides))
        }
        let logits = aggregated.kept.map { scatter(decoded.logits, kept: $0, totalClasses: text.shape[1]) } ?? decoded.logits
        return Output(logits: logits, auxiliary: aggregated.auxiliary + decoded.auxiliary)
    }

    /// The class-coupled part of the decoder: costs, fusion and the aggregation layers.
    public struct Aggregated {
        /// Aggregated cost [B, C, T', h, w] and embedded local cost [B, C, T', h, w] (T' = kept
        /// classes; no local cost with fusion `none`).
        public var cost: Tensor
        public var local: Tensor?
        /// Projected decoder guidance [B, g1, 2h, 2w], [B, g2, 4h, 4w].
        public var guides: [Tensor]
        /// Classes kept per image when there are more than the padding length.
        public var kept: [[Int]]?
        /// The first rejection head's logits [B, T', h, w] (fast decoder only).
        public var auxiliary: [Tensor]
    }

    /// Runs everything up to the per-class up-sampling decoder, the class aggregation pooled by
    /// `classPooling`; `spatialRecomputation` (training) bounds the activations the spatial
    /// aggregation keeps for backward.
    public func aggregate(image: Tensor, text: Tensor, decoderGuidance: [Tensor], classPooling: Int,
                          spatialRecomputation: SpatialRecomputation? = nil) -> Aggregated {
        let prepared = prepare(image: image, text: text, decoderGuidance: decoderGuidance)
        let (b, t) = (prepared.cost.shape[0], prepared.cost.shape[2])
        let auxiliary = rejectionHeads.first.map { first in
            [first(perClassMaps(prepared.cost)).reshaped([b, t, prepared.cost.shape[3], prepared.cost.shape[4]])]
        } ?? []
        let cost = aggregationLayers(prepared.cost, appearance: prepared.appearance, textGuidance: prepared.textGuidance,
                                     classPooling: classPooling, spatialRecomputation: spatialRecomputation)
        return Aggregated(cost: cost, local: prepared.local, guides: prepared.guides, kept: prepared.kept, auxiliary: auxiliary)
    }

    /// What the aggregation layers start from, for the classes kept of `text` [B, T, D].
    private struct Prepared {
        /// Classes kept per image when there are more than the padding length.
        var kept: [[Int]]?
        /// The fused cost [B, C, T', h, w] and the embedded local cost [B, C, T', h, w] (nil with fusion `none`).
        var cost: Tensor, local: Tensor?
        /// Appearance guidance [B, 128, h, w] and text guidance [B, T', 128].
        var appearance: Tensor, textGuidance: Tensor
        /// Projected decoder guidance [B, g1, 2h, 2w], [B, g2, 4h, 4w].
        var guides: [Tensor]
    }

    /// Costs, their embeddings and fusion, and the guidance projections (spec §3.6–3.9).
    private func prepare(image: Tensor, text: Tensor, decoderGuidance: [Tensor]) -> Prepared {
        let kept = selectClasses(image: image, text: text)
        let classText = kept.map { gather(text, $0) } ?? text
        let globalEmbedding = Profiler.section("GCS cost + embedding") { embed(cosineCost(image: image, text: classText), costEmbedding) }
        let localEmbedding = Profiler.section("LCS cost + embedding") { localCostEmbedding(classText, image: image) }
        let (appearance, textGuidance, decoderGuides) = Profiler.section("guidance projections") {
            (appearanceProjection(image).relu(), textProjection(classText.l2Normalized(dim: -1)).relu(),
             zip(decoderGuidanceProjections, decoderGuidance).map { $0($1).relu() })
        }
        let cost = Profiler.section("fusion") { fused(fuse, globalEmbedding, localEmbedding) }
        return Prepared(kept: kept, cost: cost, local: localEmbedding, appearance: appearance, textGuidance: textGuidance,
                        guides: decoderGuides)
    }

    /// The spatial and class aggregation layers on `cost` [B, C, T, h, w] (spec §3.9).
    private func aggregationLayers(_ cost: Tensor, appearance: Tensor, textGuidance: Tensor, classPooling: Int,
                                   spatialRecomputation: SpatialRecomputation? = nil) -> Tensor {
        var cost = cost
        for (index, (spatial, classes)) in zip(spatialLayers, classLayers).enumerated() {
            cost = Profiler.section("spatial aggregation \(index)") {
                spatial(cost, guidance: appearance, recomputation: spatialRecomputation)
            }
            cost = Profiler.section("class aggregation \(index)") { classes(cost, guidance: textGuidance, pooling: classPooling) }
        }
        return cost
    }

    /// Class maps [B, C, T, h, w] → one map per class [B·T, C, h, w].
    private func perClassMaps(_ x: Tensor) -> Tensor {
        x.permuted([0, 2, 1, 3, 4]).reshaped([-1, x.shape[1], x.shape[3], x.shape[4]])
    }

    /// The up-sampling decoder's input: per-class maps [B·t, C, h, w] of `cost` [B, C, t, h, w],
    /// fused with those of the local cost, which are returned too for their re-injection.
    private func decoderInput(cost: Tensor, local: Tensor?) -> (maps: Tensor, local: Tensor?) {
        let localMaps = local.map(perClassMaps)
        return (fused(fuseStage1, perClassMaps(cost), localMaps), localMaps)
    }

    /// Up-1 with the local cost re-injected: [B·t, C, h, w] → [B·t, 64, 2h, 2w].
    private func upsampledOnce(_ maps: Tensor, local: Tensor?, shared: SharedDecoderTerms) -> Tensor {
        let upsampled = Profiler.section("up-1") { up1(maps, shared: shared.up1) }
        guard local != nil else { return upsampled }
        return Profiler.section("local re-injection") { fused(fuseStage2, upsampled, reinjected(local, shared.reinjection)) }
    }

    /// Up-2 and the head: [B·t, 64, 2h, 2w] → logits [B·t, 1, 4h, 4w].
    private func upsampledTwiceLogits(_ maps: Tensor, shared: SharedDecoderTerms) -> Tensor {
        let upsampled = Profiler.section("up-2") { up2(maps, shared: shared.up2) }
        return Profiler.section("head") { head(upsampled) }
    }

    /// What every class of ``decodeClasses(cost:local:shared:)`` shares: the up-sampling
    /// stages' composite kernels and per-image addends (``SharedUpsamplingTerms``). They depend on
    /// the weights and the projected decoder guidance only, so they are built once per forward
    /// and serve every class chunk.
    public struct SharedDecoderTerms {
        public var up1: SharedUpsamplingTerms, up2: SharedUpsamplingTerms
        /// The local cost's re-injection (nil without a local cost).
        public var reinjection: SharedUpsamplingTerms?

        /// Every tensor, in a fixed order (``replacingTensors(_:)`` takes them back).
        public var tensors: [Tensor] { up1.tensors + up2.tensors + (reinjection?.tensors ?? []) }

        /// The same terms made of `replacements` (as many as ``tensors``, in its order), e.g. detached copies.
        public func replacingTensors(_ replacements: [Tensor]) -> SharedDecoderTerms {
            precondition(replacements.count == tensors.count, "SharedDecoderTerms: \(replacements.count) tensors for \(tensors.count)")
            var rest = replacements[...]
            func take(_ terms: SharedUpsamplingTerms) -> SharedUpsamplingTerms {
                defer { rest = rest.dropFirst(terms.tensors.count) }
                return terms.replacingTensors(Array(rest.prefix(terms.tensors.count)))
            }
            return SharedDecoderTerms(up1: take(up1), up2: take(up2), reinjection: reinjection.map(take))
        }
    }

    /// The shared terms for the projected decoder guidance `guides` ([B, g1, 2h, 2w], [B, g2, 4h, 4w]).
    public func sharedTerms(guides: [Tensor]) -> SharedDecoderTerms {
        precondition(guides.count == 2, "sharedTerms: \(guides.count) decoder guidance maps, expected 2")
        return Profiler.section("per-class decoder") {
            let reinjection = localUp.flatMap { up in
                localConv.map { SharedUpsamplingTerms(up: up, weight: $0.conv1.weight, height: guides[0].shape[2], width: guides[0].shape[3]) }
            }
            return SharedDecoderTerms(up1: up1.sharedTerms(guidance: guides[0]), up2: up2.sharedTerms(guidance: guides[1]),
                                      reinjection: reinjection)
        }
    }

    /// The per-class up-sampling decoder (independent across classes, so it can run on any subset):
    /// `cost`, `local` [B, C, t, h, w] (no local with fusion `none`) → logits [B, t, 4h, 4w] and
    /// the fast decoder's second and third rejection-head logits. `shared` comes from
    /// ``sharedTerms(guides:)``.
    public func decodeClasses(cost: Tensor, local localEmbedding: Tensor?, shared: SharedDecoderTerms) -> Output {
        let (b, t, h, w) = (cost.shape[0], cost.shape[2], cost.shape[3], cost.shape[4])
        var auxiliary: [Tensor] = []
        func reject(_ index: Int, _ maps: Tensor) {
            guard rejectionHeads.indices.contains(index) else { return }
            auxiliary.append(rejectionHeads[index](maps).reshaped([b, t, maps.shape[2], maps.shape[3]]))
        }
        // Up-sampling decoder on B·t maps, with the local cost re-injected at both stages.
        return Profiler.section("per-class decoder") {
            let (input, local) = decoderInput(cost: cost, local: localEmbedding)
            reject(1, input)
            let once = upsampledOnce(input, local: local, shared: shared)
            reject(2, once)
            let logits = upsampledTwiceLogits(once, shared: shared)
            return Output(logits: logits.reshaped([b, t, 4 * h, 4 * w]), auxiliary: auxiliary)
        }
    }

    /// Logits of the kept classes [B, kept, H, W] placed among `totalClasses`, the others −100.
    func scatter(_ logits: Tensor, kept: [[Int]], totalClasses: Int) -> Tensor {
        let (b, oh, ow) = (logits.shape[0], logits.shape[2], logits.shape[3])
        let rows = (0..<b).map { row -> Tensor in
            var pieces: [Tensor] = []
            var next = 0
            let filler = Tensor(repeating: -100, shape: [1, 1, oh, ow])
            let imageLogits = logits.narrowed(0, start: row, length: 1)
            for index in 0..<totalClasses {
                if next < kept[row].count && kept[row][next] == index {
                    pieces.append(imageLogits.narrowed(1, start: next, length: 1))
                    next += 1
                } else {
                    pieces.append(filler)
                }
            }
            return Tensor.concat(pieces, along: 1)
        }
        return Tensor.concat(rows, along: 0)
    }
}
