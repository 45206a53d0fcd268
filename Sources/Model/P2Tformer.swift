import Foundation
import NN
import Tensor

/// One P2Tformer layer (spec §3.5): the class embeddings attend to the image's pixels,
/// `E ← LayerNorm(E + shortcut(MHA(E, X + PE, X)))`.
public final class PixelToTextLayer: Module {
    public let attention: MultiheadAttention
    public let shortcut: Linear
    public let norm: LayerNorm

    public init(width: Int, heads: Int, generator: inout RandomGenerator) {
        attention = MultiheadAttention(embedDim: width, heads: heads, generator: &generator)
        // The reference re-initialises every matrix of the attention xavier-uniform.
        let outWeight = Initializer.xavierUniform([width, width], fanIn: width, fanOut: width, using: &generator)
        attention.outProj.weight.pointer.update(from: outWeight.pointer, count: outWeight.count)
        shortcut = Linear(width, width, generator: &generator)
        norm = LayerNorm(width)
        super.init()
        child("multihead_attn", attention)
        child("MLP", shortcut)
        child("norm", norm)
    }

    /// `text` [B, T, C], `pixels` [B, HW, C], `positions` [HW, C] → [B, T, C].
    public func callAsFunction(_ text: Tensor, pixels: Tensor, positions: Tensor) -> Tensor {
        let attended = attention(query: text, key: pixels + positions, value: pixels)
        return norm(text + shortcut(attended))
    }
}

/// The P2Tformer (spec §3.5): makes the CLIP class embeddings image-conditioned,
/// `Ẽ = E + γ ⊙ E_N`, with N ``PixelToTextLayer``s and a per-channel γ initialised to 0.1.
public final class P2Tformer: Module {
    public let layers: ModuleList<PixelToTextLayer>
    public let gamma: Tensor

    public init(width: Int, heads: Int, layerCount: Int = 1, generator: inout RandomGenerator) {
        layers = ModuleList((0..<layerCount).map { _ in PixelToTextLayer(width: width, heads: heads, generator: &generator) })
        gamma = Tensor(repeating: 0.1, shape: [width])
        super.init()
        child("cross_atten_text", layers)
        parameter("gamma_text", gamma)
    }

    /// `image` [B, C, H, W] (raw CLIP features), `text` [T, C] (normalised class embeddings,
    /// shared by the batch) → image-conditioned class embeddings [B, T, C].
    public func callAsFunction(image: Tensor, text: Tensor) -> Tensor {
        let (b, c, h, w) = (image.shape[0], image.shape[1], image.shape[2], image.shape[3])
        let positions = sinePositionalEncoding(height: h, width: w, featuresPerAxis: c / 2)
        let pixels = image.reshaped([b, c, h * w]).transposed(1, 2)
        let initial = text.reshaped([1, text.shape[0], c]).broadcast(to: [b, text.shape[0], c])
        var current = initial
        for layer in layers.elements { current = layer(current, pixels: pixels, positions: positions) }
        return initial + current * gamma
    }
}
