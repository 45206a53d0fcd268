import Foundation
import NN
import Tensor

/// How the global (GCS) and local (LCS) costs are fused (spec §3.8, §10 #9).
public enum CostFusion: String, Sendable, Codable {
    /// Concatenate and project (paper default, best).
    case cat
    /// Add.
    case add
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
        public init() {}
    }

    public let configuration: Configuration
    public let costEmbedding: Conv2d, localCostEmbedding: Conv2d
    public let fuse: Linear?, fuseStage1: Linear?, fuseStage2: Linear?
    public let localUp: ConvTranspose2d, localConv: DoubleConv
    public let appearanceProjection: Conv2d, textProjection: Linear
    public let decoderGuidanceProjections: [Conv2d]
    public let up1: UpStage, up2: UpStage
    public let head: Conv2d
    public let localCost: LocalCategoryCost
    public let spatialLayers: [SpatialAggregation], classLayers: [ClassAggregation]

    public init(_ c: Configuration, generator: inout RandomGenerator) {
        configuration = c
        costEmbedding = Conv2d(1, c.hidden, kernel: 7, padding: 3, generator: &generator)
        localCostEmbedding = Conv2d(1, c.hidden, kernel: 7, padding: 3, generator: &generator)
        let cat = c.fusion == .cat
        fuse = cat ? Linear(2 * c.hidden, c.hidden, generator: &generator) : nil
        fuseStage1 = cat ? Linear(2 * c.hidden, c.hidden, generator: &generator) : nil
        fuseStage2 = cat ? Linear(c.hidden, c.hidden / 2, generator: &generator) : nil
        localUp = ConvTranspose2d(c.hidden, c.hidden / 2, kernel: 2, stride: 2, generator: &generator)
        localConv = DoubleConv(c.hidden / 2, c.hidden / 2, generator: &generator)
        appearanceProjection = Conv2d(c.imageChannels, c.appearanceGuidance, kernel: 3, padding: 1, generator: &generator)
        textProjection = Linear(c.textWidth, c.textGuidance, generator: &generator)
        decoderGuidanceProjections = zip(c.decoderGuidanceDims, c.decoderGuidanceProjections).map {
            Conv2d($0, $1, kernel: 3, padding: 1, generator: &generator)
        }
        up1 = UpStage(c.hidden, c.decoderDims[0], guidanceChannels: c.decoderGuidanceProjections[0], generator: &generator)
        up2 = UpStage(c.decoderDims[0], c.decoderDims[1], guidanceChannels: c.decoderGuidanceProjections[1], generator: &generator)
        head = Conv2d(c.decoderDims[1], 1, kernel: 3, padding: 1, generator: &generator)
        localCost = LocalCategoryCost(textWidth: c.textWidth, imageChannels: c.imageChannels, kernelSize: c.localKernel, generator: &generator)
        var spatial: [SpatialAggregation] = [], classes: [ClassAggregation] = []
        for _ in 0..<c.layers {
            spatial.append(SpatialAggregation(width: c.hidden, guidanceWidth: c.appearanceGuidance, resolution: (c.resolution, c.resolution),
                                              heads: c.heads, window: c.window, generator: &generator))
            classes.append(ClassAggregation(width: c.hidden, guidanceWidth: c.textGuidance, heads: c.heads, pooling: c.pooling,
                                            padLength: c.padLength, generator: &generator))
        }
        (spatialLayers, classLayers) = (spatial, classes)
        super.init()
        child("conv1", costEmbedding)
        child("conv2", localCostEmbedding)
        if let fuse, let fuseStage1, let fuseStage2 {
            child("conv_cat", fuse)
            child("conv_cat_decoder_1", fuseStage1)
            child("conv_cat_decoder_2", fuseStage2)
        }
        let localProjection = Module()
        localProjection.child("0", localUp)
        localProjection.child("1", localConv)
        child("corr_local_decoder_projection", localProjection)
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
        child("Local_align", localCost)
        child("layers", ModuleList(zip(spatial, classes).map { swin, attention -> Module in
            let layer = Module()
            layer.child("swin_block", swin)
            layer.child("attention", attention)
            return layer
        }))
    }

    /// Sets the class-aggregation pooling (2 for training, 1 for evaluation).
    public func setPooling(_ pooling: Int) { classLayers.forEach { $0.pooling = pooling } }

    /// Applies a 1-input-channel 7×7 embedding to every class map: [B, T, H, W] → [B, C, T, H, W].
    private func embed(_ cost: Tensor, _ conv: Conv2d) -> Tensor {
        let (b, t, h, w) = (cost.shape[0], cost.shape[1], cost.shape[2], cost.shape[3])
        return conv(cost.reshaped([b * t, 1, h, w])).reshaped([b, t, configuration.hidden, h, w]).permuted([0, 2, 1, 3, 4])
    }

    private func fused(_ layer: Linear?, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard let layer else { return a + b }
        return channelLinear(layer, Tensor.concat([a, b], along: 1))
    }

    /// - Parameters:
    ///   - image: dense CLIP features x [B, C, H, W] (also the appearance guidance).
    ///   - text: image-conditioned class embeddings Ẽ [B, T, D].
    ///   - decoderGuidance: up-sampled block taps [B, 256, 2H, 2W] and [B, 128, 4H, 4W].
    /// - Returns: logits [B, T, 4H, 4W].
    public func callAsFunction(image: Tensor, text: Tensor, decoderGuidance: [Tensor]) -> Tensor {
        let (b, totalClasses) = (text.shape[0], text.shape[1])
        var classText = text
        var kept: [[Int]]? = nil
        if configuration.padLength > 0 && totalClasses > configuration.padLength {
            // Keep, per image, the classes whose best cosine cost is highest (spec §3.13).
            let best = noGrad { cosineCost(image: image, text: text).reshaped([b, totalClasses, -1]).max(axis: 2) }
            kept = (0..<b).map { row in
                Array((0..<totalClasses).sorted { best.pointer[row * totalClasses + $0] > best.pointer[row * totalClasses + $1] }
                    .prefix(configuration.padLength)).sorted()
            }
            classText = Tensor.concat((0..<b).map { row in
                text.narrowed(0, start: row, length: 1).indexSelect(1, kept![row])
            }, along: 0)
        }
        let t = classText.shape[1]
        let globalEmbedding = embed(cosineCost(image: image, text: classText), costEmbedding)
        let localEmbedding = embed(localCost(image: image, text: classText), localCostEmbedding)
        let appearance = appearanceProjection(image).relu()
        let textGuidance = textProjection(classText.l2Normalized(dim: -1)).relu()
        let decoderGuides = zip(decoderGuidanceProjections, decoderGuidance).map { $0($1).relu() }
        var cost = fused(fuse, globalEmbedding, localEmbedding)
        for (spatial, classes) in zip(spatialLayers, classLayers) {
            cost = classes(spatial(cost, guidance: appearance), guidance: textGuidance)
        }
        // Up-sampling decoder on B·T maps, with the local cost re-injected at both stages.
        let (c, h, w) = (configuration.hidden, cost.shape[3], cost.shape[4])
        let perClass = { (x: Tensor) in x.permuted([0, 2, 1, 3, 4]).reshaped([b * t, c, h, w]) }
        let local = perClass(localEmbedding)
        var maps = fused(fuseStage1, perClass(cost), local)
        maps = up1(maps, guidance: decoderGuides[0])
        maps = fused(fuseStage2, maps, localConv(localUp(local)).relu())
        maps = up2(maps, guidance: decoderGuides[1])
        let logits = head(maps).reshaped([b, t, 4 * h, 4 * w])
        guard let kept else { return logits }
        // Scatter the kept classes back; the others get −100.
        let (oh, ow) = (4 * h, 4 * w)
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
