import Foundation
import NN
import Tensor

/// Linear attention over classes with text guidance in queries and keys (CAT-Seg's
/// `AttentionLayer` with `LinearAttention`, spec §3.9): φ(u) = elu(u) + 1,
/// out_l = φ(q_l)ᵀ Σ_s φ(k_s) v_sᵀ / (φ(q_l)ᵀ Σ_s φ(k_s) + 1e-6); no output projection.
public final class GuidedLinearAttention: Module {
    public let query: Linear, key: Linear, value: Linear
    public let heads: Int

    public init(width: Int, guidanceWidth: Int, heads: Int, generator: inout RandomGenerator) {
        query = Linear(width + guidanceWidth, width, generator: &generator)
        key = Linear(width + guidanceWidth, width, generator: &generator)
        value = Linear(width, width, generator: &generator)
        self.heads = heads
        super.init()
        child("q", query)
        child("k", key)
        child("v", value)
    }

    /// `x` [N, L, C], `guidance` [N, L, G] → [N, L, C].
    public func callAsFunction(_ x: Tensor, guidance: Tensor) -> Tensor {
        let (n, l, c) = (x.shape[0], x.shape[1], x.shape[2])
        let d = c / heads
        let guided = Tensor.concat([x, guidance], along: 2)
        func split(_ t: Tensor) -> Tensor { t.reshaped([n, l, heads, d]).permuted([0, 2, 1, 3]) }  // [N, H, L, D]
        let q = split(query(guided)).eluPlusOne()
        let k = split(key(guided)).eluPlusOne()
        let v = split(value(x))
        let keyValues = Tensor.matmul(k, v, transposeA: true)                  // [N, H, D, D]
        let normaliser = (q * k.sum(axes: [2], keepDims: true)).sum(axes: [3], keepDims: true) + 1e-6
        let out = Tensor.matmul(q, keyValues) / normaliser                       // [N, H, L, D]
        return out.permuted([0, 2, 1, 3]).reshaped([n, l, c])
    }
}

/// Class aggregation (CAT-Seg's `ClassTransformerLayer`, spec §3.9): optional average pooling of
/// every class map, padding of the class axis to `padLength` with learnable tokens, linear
/// attention over classes and an MLP at every (pooled) position, bilinear up-sampling back, and a
/// residual that adds the result (which still contains the pooled input) to the input.
public final class ClassAggregation: Module {
    public let attention: GuidedLinearAttention
    public let mlp: MLP
    public let norm1: LayerNorm, norm2: LayerNorm
    public let paddingTokens: Tensor, paddingGuidance: Tensor
    public let padLength: Int
    /// Average-pooling window (2 in training, 1 at evaluation in FGAseg).
    public var pooling: Int

    public init(width: Int, guidanceWidth: Int, heads: Int, pooling: Int, padLength: Int, generator: inout RandomGenerator) {
        attention = GuidedLinearAttention(width: width, guidanceWidth: guidanceWidth, heads: heads, generator: &generator)
        mlp = MLP(width, hidden: 4 * width, width, activation: { $0.relu() }, generator: &generator)
        norm1 = LayerNorm(width)
        norm2 = LayerNorm(width)
        paddingTokens = Tensor(repeating: 0, shape: [width])
        paddingGuidance = Tensor(repeating: 0, shape: [guidanceWidth])
        (self.padLength, self.pooling) = (padLength, pooling)
        super.init()
        child("attention", attention)
        child("MLP", mlp)
        child("norm1", norm1)
        child("norm2", norm2)
        parameter("padding_tokens", paddingTokens)
        parameter("padding_guidance", paddingGuidance)
    }

    /// `x` [B, C, T, H, W], `guidance` [B, T, G] (text) → [B, C, T, H, W].
    public func callAsFunction(_ x: Tensor, guidance: Tensor) -> Tensor {
        let (b, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let g = guidance.shape[2]
        let pooled = x.permuted([0, 2, 1, 3, 4]).reshaped([b * t, c, h, w]).avgPool2d(kernel: pooling)
        let (ph, pw) = (pooled.shape[2], pooled.shape[3])
        var classes = pooled.reshaped([b, t, c, ph, pw])
        var textGuidance = guidance
        let padded = max(t, padLength)
        if t < padLength {
            classes = Tensor.concat([classes, paddingTokens.reshaped([1, 1, c, 1, 1]).broadcast(to: [b, padLength - t, c, ph, pw])], along: 1)
            textGuidance = Tensor.concat([guidance, paddingGuidance.reshaped([1, 1, g]).broadcast(to: [b, padLength - t, g])], along: 1)
        }
        var tokens = classes.permuted([0, 3, 4, 1, 2]).reshaped([b * ph * pw, padded, c])
        let repeatedGuidance = textGuidance.reshaped([b, 1, padded, g]).broadcast(to: [b, ph * pw, padded, g])
            .reshaped([b * ph * pw, padded, g])
        tokens = tokens + attention(norm1(tokens), guidance: repeatedGuidance)
        tokens = tokens + mlp(norm2(tokens))
        let maps = tokens.reshaped([b, ph, pw, padded, c]).permuted([0, 3, 4, 1, 2]).reshaped([b * padded, c, ph, pw])
        let upsampled = maps.bilinearResized(to: (h, w), alignCorners: true).reshaped([b, padded, c, h, w])
            .narrowed(1, start: 0, length: t)
        return x + upsampled.permuted([0, 2, 1, 3, 4])
    }
}
