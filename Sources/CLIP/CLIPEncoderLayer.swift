import NN
import Tensor

/// One pre-LN transformer block of CLIP (Hugging Face names: `self_attn`, `layer_norm1`, `mlp.fc1`,
/// `mlp.fc2`, `layer_norm2`).
public final class CLIPEncoderLayer: Module {
    public let selfAttention: MultiheadAttention
    public let layerNorm1: LayerNorm, layerNorm2: LayerNorm
    public let mlp: MLP

    public init(width: Int, intermediate: Int, heads: Int, eps: Float, activation: String, generator: inout RandomGenerator) {
        selfAttention = MultiheadAttention(embedDim: width, heads: heads, generator: &generator)
        layerNorm1 = LayerNorm(width, eps: eps)
        mlp = MLP(width, hidden: intermediate, width, activation: activation == "gelu" ? .gelu : .quickGelu,
                  generator: &generator)
        layerNorm2 = LayerNorm(width, eps: eps)
        super.init()
        child("self_attn", selfAttention)
        child("layer_norm1", layerNorm1)
        child("mlp", mlp)
        child("layer_norm2", layerNorm2)
    }

    /// `count` blocks of the same size, named "0", "1", … (the `encoder.layers` of both towers).
    static func stack(_ count: Int, width: Int, intermediate: Int, heads: Int, eps: Float, activation: String,
                      generator: inout RandomGenerator) -> ModuleList<CLIPEncoderLayer> {
        ModuleList((0..<count).map { _ in
            CLIPEncoderLayer(width: width, intermediate: intermediate, heads: heads, eps: eps, activation: activation, generator: &generator)
        })
    }

    /// `x` [B, L, W] → [B, L, W]; `mask` [L, L] additive (causal for text).
    public func callAsFunction(_ x: Tensor, mask: Tensor? = nil) -> Tensor {
        let normalized = layerNorm1(x)
        let h = x + selfAttention(query: normalized, key: normalized, value: normalized, mask: mask)
        return h + mlp(layerNorm2(h))
    }

    /// The dense "value path" of FGAseg/CAT-Seg's last block (spec §3.2): attention is skipped,
    /// every token gets `out_proj(v_proj(LN1(z)))` plus the CLS token's input as residual, then
    /// the MLP block. `x` [B, L, W] with CLS at position 0 → [B, L, W].
    public func valuePath(_ x: Tensor) -> Tensor {
        let values = selfAttention.outProj(selfAttention.vProj(layerNorm1(x)))
        let u = values + x.narrowed(1, start: 0, length: 1)
        return u + mlp(layerNorm2(u))
    }
}
