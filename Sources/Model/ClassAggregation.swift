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

    /// The padding of the class axis: `count` identical tokens (already normalised, [C]) with
    /// their guidance [G], acting as keys and values only.
    public struct Padding {
        public var token: Tensor
        public var guidance: Tensor
        public var count: Int
    }

    /// Linear attention over the classes at every position of B images.
    ///
    /// Two exact savings over attending the padded sequence (DESIGN §7): the text guidance is the
    /// same at every position of an image, so its half of q and k is computed once per image
    /// (``Linear/guided(_:sharedGuidance:images:)``); and
    /// the padding tokens are identical constants, so their keys and values enter the sums as
    /// `count` × one token's term, and their queries (whose outputs are discarded) are skipped.
    /// - Parameters:
    ///   - x: normalised tokens [B·P, t, C] of the t real classes at the P positions of every image.
    ///   - guidance: text guidance [B, t, G], shared by an image's positions.
    ///   - padding: the padding tokens, or nil.
    /// - Returns: [B·P, t, C], the attention output of the real classes.
    public func callAsFunction(_ x: Tensor, guidance: Tensor, padding: Padding?) -> Tensor {
        let (n, l, c) = (x.shape[0], x.shape[1], x.shape[2])
        let (g, d) = (guidance.shape[2], c / heads)
        func split(_ t: Tensor) -> Tensor { t.reshaped([-1, t.shape[1], heads, d]).permuted([0, 2, 1, 3]) }  // [N, H, L, D]
        let q = split(query.guided(x, sharedGuidance: guidance, images: guidance.shape[0])).eluPlusOne()
        let k = split(key.guided(x, sharedGuidance: guidance, images: guidance.shape[0])).eluPlusOne()
        let v = split(value(x))
        var keyValues = Tensor.matmul(k, v, transposeA: true)                   // [N, H, D, D]
        var keySum = k.sum(axes: [2], keepDims: true)                             // [N, H, 1, D]
        if let padding, padding.count > 0 {
            let token = padding.token.reshaped([1, 1, c])
            let paddingKey = split(key(Tensor.concat([token, padding.guidance.reshaped([1, 1, g])], along: 2))).eluPlusOne()
            let paddingValue = split(value(token))                                // [1, H, 1, D]
            keyValues = keyValues + Tensor.matmul(paddingKey, paddingValue, transposeA: true) * Float(padding.count)
            keySum = keySum + paddingKey * Float(padding.count)
        }
        let normaliser = (q * keySum).sum(axes: [3], keepDims: true) + 1e-6
        let out = Tensor.matmul(q, keyValues) / normaliser                        // [N, H, L, D]
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

    public init(width: Int, guidanceWidth: Int, heads: Int, padLength: Int, generator: inout RandomGenerator) {
        attention = GuidedLinearAttention(width: width, guidanceWidth: guidanceWidth, heads: heads, generator: &generator)
        mlp = MLP(width, hidden: 4 * width, width, activation: .relu, generator: &generator)
        norm1 = LayerNorm(width)
        norm2 = LayerNorm(width)
        paddingTokens = Tensor(repeating: 0, shape: [width])
        paddingGuidance = Tensor(repeating: 0, shape: [guidanceWidth])
        self.padLength = padLength
        super.init()
        child("attention", attention)
        child("MLP", mlp)
        child("norm1", norm1)
        child("norm2", norm2)
        parameter("padding_tokens", paddingTokens)
        parameter("padding_guidance", paddingGuidance)
    }

    /// `x` [B, C, T, H, W], `guidance` [B, T, G] (text) → [B, C, T, H, W], with every class map
    /// average-pooled by `pooling` (FGAseg: 2 in training, 1 for the evaluation protocol) before the
    /// attention and up-sampled back after it.
    ///
    /// The class axis is padded to `padLength` as in the reference, but the padding tokens are
    /// not materialised: they only act as keys and values (``GuidedLinearAttention``), and their
    /// outputs, which the reference discards, are never computed. Pooling and up-sampling work on
    /// each (channel, class) plane, so they run in the input's layout, and one permutation each
    /// way takes the planes to tokens [B·P, T, C] and back. When nothing is recorded, the fused
    /// ``unrecordedTokenPass(_:guidance:)`` runs the attention and MLP.
    public func callAsFunction(_ x: Tensor, guidance: Tensor, pooling: Int) -> Tensor {
        let (b, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let pooled = x.reshaped([b, c * t, h, w]).avgPool2d(kernel: pooling)
        let (ph, pw) = (pooled.shape[2], pooled.shape[3])
        var tokens = pooled.reshaped([b, c, t, ph * pw]).permuted([0, 3, 2, 1]).reshaped([b * ph * pw, t, c])
        if GradientMode.isEnabled {
            let padding = t < padLength
                ? GuidedLinearAttention.Padding(token: norm1(paddingTokens), guidance: paddingGuidance, count: padLength - t) : nil
            tokens = tokens + attention(norm1(tokens), guidance: guidance, padding: padding)
            tokens = tokens + mlp(norm2(tokens))
        } else {
            tokens = unrecordedTokenPass(tokens, guidance: guidance)
        }
        let maps = tokens.reshaped([b, ph * pw, t, c]).permuted([0, 3, 2, 1]).reshaped([b, c * t, ph, pw])
        return x + maps.bilinearResized(to: (h, w), alignCorners: true).reshaped(x.shape)
    }
}
