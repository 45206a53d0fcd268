import Tensor

/// Multi-head scaled dot-product attention with separate q/k/v projections (each [E, E] with a
/// bias) and an output projection, batch-first. Initialised as PyTorch's nn.MultiheadAttention:
/// the q/k/v weights as one xavier-uniform [3E, E] matrix, zero in-projection and output biases,
/// the output weight as a default Linear.
public final class MultiheadAttention: Module {
    public let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    public let heads: Int

    public init(embedDim: Int, heads: Int, generator: inout RandomGenerator) {
        precondition(embedDim % heads == 0, "MultiheadAttention: \(embedDim) is not divisible by \(heads) heads")
        self.heads = heads
        func projection(inProjection: Bool) -> Linear {
            let layer = Linear(embedDim, embedDim, generator: &generator)
            if inProjection {
                let fresh = Initializer.xavierUniform([embedDim, embedDim], fanIn: embedDim, fanOut: 3 * embedDim, using: &generator)
                layer.weight.pointer.update(from: fresh.pointer, count: fresh.count)
            }
            layer.bias!.pointer.initialize(repeating: 0, count: embedDim)
            return layer
        }
        qProj = projection(inProjection: true)
        kProj = projection(inProjection: true)
        vProj = projection(inProjection: true)
        outProj = projection(inProjection: false)
        super.init()
        child("q_proj", qProj)
        child("k_proj", kProj)
        child("v_proj", vProj)
        child("out_proj", outProj)
    }

    /// `query` [B, L, E], `key`/`value` [B, S, E], optional additive `mask` [L, S] (e.g. −∞ above
    /// the diagonal for causal attention) → [B, L, E].
    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil) -> Tensor {
        let attended = Tensor.attention(query: qProj(query), key: kProj(key), value: vProj(value), heads: heads, mask: mask)
        return outProj(attended)
    }
}
