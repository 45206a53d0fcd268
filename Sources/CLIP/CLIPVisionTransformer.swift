import NN
import Tensor

/// CLIP's vision tower (Hugging Face `vision_model`): patch embedding, class token, position
/// embedding (bicubically resized to the input grid), `pre_layrnorm`, pre-LN blocks, `post_layernorm`.
public final class CLIPVisionTransformer: Module {
    /// What the tower returns.
    public struct Output {
        /// Outputs of the requested blocks (0-based index → [B, 1 + g², width], CLS first).
        public var taps: [Int: Tensor] = [:]
        /// `post_layernorm` of the CLS token [B, width] (the ordinary CLIP path).
        public var pooled: Tensor?
        /// FGAseg's dense features before projection: last block in value-path mode, then
        /// `post_layernorm` on every token [B, 1 + g², width].
        public var dense: Tensor?
    }

    public let configuration: CLIPConfiguration.Vision
    public let classEmbedding: Tensor
    public let patchEmbedding: Conv2d
    public let positionEmbedding: Embedding
    public let preLayerNorm: LayerNorm, postLayerNorm: LayerNorm
    public let layers: ModuleList<CLIPEncoderLayer>

    public init(_ configuration: CLIPConfiguration.Vision, generator: inout RandomGenerator) {
        self.configuration = configuration
        let c = configuration
        classEmbedding = Tensor.normal([c.hiddenSize], using: &generator)
        patchEmbedding = Conv2d(3, c.hiddenSize, kernel: c.patchSize, stride: c.patchSize, bias: false, generator: &generator)
        positionEmbedding = Embedding(c.grid * c.grid + 1, c.hiddenSize, generator: &generator)
        preLayerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        layers = CLIPEncoderLayer.stack(c.numHiddenLayers, width: c.hiddenSize, intermediate: c.intermediateSize,
                                        heads: c.numAttentionHeads, eps: c.layerNormEps, activation: c.hiddenAct, generator: &generator)
        postLayerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        super.init()
        let embeddings = Module()
        embeddings.parameter("class_embedding", classEmbedding)
        embeddings.child("patch_embedding", patchEmbedding)
        embeddings.child("position_embedding", positionEmbedding)
        child("embeddings", embeddings)
        child("pre_layrnorm", preLayerNorm)  // sic: Hugging Face's name
        let encoder = Module()
        encoder.child("layers", layers)
        child("encoder", encoder)
        child("post_layernorm", postLayerNorm)
    }

    /// The position table for a `grid × grid` input: CLS row kept, the patch rows resized
    /// bicubically (a = −0.75, align_corners false) when the grid differs → [1 + grid², width].
    public func positions(grid: Int) -> Tensor {
        let table = positionEmbedding.weight
        let trained = configuration.grid
        if grid == trained { return table }
        let width = configuration.hiddenSize
        let patches = table.narrowed(0, start: 1, length: trained * trained)
            .reshaped([1, trained, trained, width]).permuted([0, 3, 1, 2])
            .bicubicResized(to: (grid, grid))
            .permuted([0, 2, 3, 1]).reshaped([grid * grid, width])
        return Tensor.concat([table.narrowed(0, start: 0, length: 1), patches], along: 0)
    }

    /// Runs the tower on CLIP-normalised `pixels` [B, 3, H, W] (H, W multiples of the patch size).
    /// - Parameters:
    ///   - taps: 0-based blocks whose outputs to return.
    ///   - dense: run the last block in value-path mode and return dense features instead of
    ///     the pooled CLS feature.
    public func callAsFunction(_ pixels: Tensor, taps: Set<Int> = [], dense: Bool = false) -> Output {
        let (b, h, w) = (pixels.shape[0], pixels.shape[2], pixels.shape[3])
        let p = configuration.patchSize, width = configuration.hiddenSize
        precondition(h == w && h % p == 0, "vision encoder: input \(pixels.shape) must be square with a side divisible by \(p)")
        let grid = h / p
        let patches = patchEmbedding(pixels).reshaped([b, width, grid * grid]).transposed(1, 2)
        let cls = classEmbedding.reshaped([1, 1, width]).broadcast(to: [b, 1, width])
        var x = preLayerNorm(Tensor.concat([cls, patches], along: 1) + positions(grid: grid))
        var output = Output()
        let last = layers.elements.count - 1
        for (index, layer) in layers.elements.enumerated() {
            x = dense && index == last ? layer.valuePath(x) : layer(x)
            if taps.contains(index) { output.taps[index] = x }
        }
        if dense {
            output.dense = postLayerNorm(x)
        } else {
            output.pooled = postLayerNorm(x.narrowed(1, start: 0, length: 1).reshaped([b, width]))
        }
        return output
    }
}
