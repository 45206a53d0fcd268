import Foundation
import NN
import Tensor

/// Window attention whose queries and keys also see an appearance guidance (CAT-Seg's modified
/// Swin attention, spec §3.9): q, k from [tokens; guidance], v from tokens, no relative position bias.
public final class GuidedWindowAttention: Module {
    public let query: Linear, key: Linear, value: Linear, projection: Linear
    public let heads: Int

    public init(width: Int, guidanceWidth: Int, heads: Int, generator: inout RandomGenerator) {
        query = Linear(width + guidanceWidth, width, generator: &generator)
        key = Linear(width + guidanceWidth, width, generator: &generator)
        value = Linear(width, width, generator: &generator)
        projection = Linear(width, width, generator: &generator)
        self.heads = heads
        super.init()
        child("q", query)
        child("k", key)
        child("v", value)
        child("proj", projection)
    }

    /// Window attention over the class maps of B images.
    ///
    /// q and k see [tokens; guidance], but the guidance is the same for every class map of an
    /// image, so its half of each projection is computed once per image; q, k and v come out of
    /// one GEMM, packed side by side (``packedProjections(_:guided:plain:sharedGuidance:images:)``,
    /// ``Tensor/attention(packed:heads:scale:mask:)``).
    /// - Parameters:
    ///   - tokens: [B·T·nW, N, C], the nW windows of every class map (ordered image, class, window).
    ///   - guidance: [B·nW, N, G], the same windows of each image's guidance.
    ///   - windowsPerMap: nW.
    ///   - mask: additive [nW, N, N], or nil.
    /// - Returns: [B·T·nW, N, C].
    public func callAsFunction(tokens: Tensor, guidance: Tensor, windowsPerMap: Int, mask: Tensor?) -> Tensor {
        let images = guidance.shape[0] / windowsPerMap
        let packed = packedProjections(tokens, guided: [query, key], plain: [value], sharedGuidance: guidance, images: images)
        // Windows are ordered (image, class, window), so window w uses mask[w % nW].
        return projection(Tensor.attention(packed: packed, heads: heads, mask: mask))
    }
}

/// A Swin block with appearance guidance (spec §3.9): (shifted) window attention and an MLP,
/// both pre-LN residual. With `shift` > 0 the map is rolled by −shift before partitioning and
/// cross-region logits get −100 (the standard Swin mask).
public final class GuidedSwinBlock: Module {
    public let norm1: LayerNorm, norm2: LayerNorm
    public let attention: GuidedWindowAttention
    public let mlp: MLP
    public let window: Int, shift: Int
    public let height: Int, width: Int
    /// The Swin mask of a shifted block (``shiftMask(height:width:window:shift:)``), nil without a shift.
    public let mask: Tensor?
    /// A map's token rows in window order after the roll by −shift, and the way back.
    let windowOrder: TokenPermutation, rasterOrder: TokenPermutation

    public init(width channels: Int, guidanceWidth: Int, resolution: (Int, Int), heads: Int, window: Int, shift: Int,
                generator: inout RandomGenerator) {
        (height, width) = resolution
        // As in Swin: a window as large as the map means no partition and no shift.
        let fits = min(resolution.0, resolution.1) <= window
        self.window = fits ? min(resolution.0, resolution.1) : window
        self.shift = fits ? 0 : shift
        norm1 = LayerNorm(channels)
        attention = GuidedWindowAttention(width: channels, guidanceWidth: guidanceWidth, heads: heads, generator: &generator)
        norm2 = LayerNorm(channels)
        mlp = MLP(channels, hidden: 4 * channels, channels, activation: .gelu, generator: &generator)
        mask = self.shift > 0 ? Self.shiftMask(height: resolution.0, width: resolution.1, window: self.window, shift: self.shift) : nil
        windowOrder = TokenPermutation.windows(height: resolution.0, width: resolution.1, size: self.window, shift: self.shift)
        rasterOrder = windowOrder.inverse
        super.init()
        child("norm1", norm1)
        child("attn", attention)
        child("norm2", norm2)
        child("mlp", mlp)
    }

    /// The Swin mask [windows, window², window²]: 0 within a region, −100 across regions.
    static func shiftMask(height: Int, width: Int, window: Int, shift: Int) -> Tensor {
        func region(_ i: Int, _ size: Int) -> Int { i < size - window ? 0 : (i < size - shift ? 1 : 2) }
        let labels = Tensor(uninitializedShape: [1, height, width, 1])
        for y in 0..<height { for x in 0..<width { labels.pointer[y * width + x] = Float(region(y, height) * 3 + region(x, width)) } }
        let windows = labels.windowPartition(size: window).reshaped([-1, window * window])  // [nW, N]
        let (count, n) = (windows.shape[0], window * window)
        let mask = Tensor(repeating: 0, shape: [count, n, n])
        for w in 0..<count {
            for i in 0..<n {
                for j in 0..<n where windows.pointer[w * n + i] != windows.pointer[w * n + j] {
                    mask.pointer[(w * n + i) * n + j] = -100
                }
            }
        }
        return mask
    }

    /// `x` [B·T, H·W, C] (the T class maps of B images), `guidance` [B, H·W, G] (already
    /// normalised, shared by an image's class maps) → [B·T, H·W, C].
    ///
    /// The roll and window partition are one reordering of each map's token rows
    /// (``windowOrder``), and the way back is folded into the residual sum, so the block copies
    /// its tokens once each way instead of through two rolls, a partition and their inverses.
    /// When nothing is recorded, the fused ``unrecordedForward(_:guidance:)`` runs instead.
    public func callAsFunction(_ x: Tensor, guidance: Tensor) -> Tensor {
        if !GradientMode.isEnabled { return unrecordedForward(x, guidance: guidance) }
        let (n, c) = (x.shape[0], x.shape[2])
        let g = guidance.shape[2]
        let tokens = norm1(x).permutingTokens(windowOrder).reshaped([-1, window * window, c])
        let guidanceWindows = guidance.permutingTokens(windowOrder).reshaped([-1, window * window, g])
        let windowsPerMap = (height / window) * (width / window)
        let attended = attention(tokens: tokens, guidance: guidanceWindows, windowsPerMap: windowsPerMap, mask: mask)
        let h = x.adding(attended.reshaped([n, height * width, c]), permutedBy: rasterOrder)
        return h + mlp(norm2(h))
    }
}

/// How the spatial aggregation trades compute for memory in training (``Tensor/checkpointed``):
/// the first `keptClasses` classes keep their activations for backward, the others keep none and
/// are recomputed in backward `classChunk` classes at a time. The gradients are the same either
/// way, up to float summation order.
public struct SpatialRecomputation: Sendable, Equatable {
    /// Classes recomputed together in backward (≥ 1).
    public var classChunk: Int
    /// Classes (the first ones) whose activations are kept.
    public var keptClasses: Int

    public init(classChunk: Int, keptClasses: Int = 0) {
        precondition(classChunk >= 1 && keptClasses >= 0, "SpatialRecomputation: chunk \(classChunk), kept \(keptClasses)")
        (self.classChunk, self.keptClasses) = (classChunk, keptClasses)
    }
}

/// Spatial aggregation (CAT-Seg's `SwinTransformerBlockWrapper`): a plain and a shifted guided
/// Swin block applied to every class's cost map independently.
public final class SpatialAggregation: Module {
    public let block1: GuidedSwinBlock, block2: GuidedSwinBlock
    public let guidanceNorm: LayerNorm

    public init(width: Int, guidanceWidth: Int, resolution: (Int, Int), heads: Int, window: Int, generator: inout RandomGenerator) {
        block1 = GuidedSwinBlock(width: width, guidanceWidth: guidanceWidth, resolution: resolution, heads: heads, window: window,
                                 shift: 0, generator: &generator)
        block2 = GuidedSwinBlock(width: width, guidanceWidth: guidanceWidth, resolution: resolution, heads: heads, window: window,
                                 shift: window / 2, generator: &generator)
        guidanceNorm = LayerNorm(guidanceWidth)
        super.init()
        child("block_1", block1)
        child("block_2", block2)
        child("guidance_norm", guidanceNorm)
    }

    /// An estimate of the bytes that one class map of one image keeps alive for backward when
    /// its activations are kept: per token and block, 8·C floats of width-C tensors (both layer
    /// norms' x̂, the window tokens, q|k|v, the attention output and the second layer norm's
    /// output), the MLP's hidden pre-activation (its activation is recomputed in backward,
    /// ``Tensor/linear(_:activation:weight:bias:)``) and heads·window² attention probabilities;
    /// plus a quarter for the allocator's size rounding and reuse of larger buffers. Calibrated
    /// against the allocator's measured live bytes at the ViT-B/16 shapes
    /// (`ChunkedTrainingTests`' `keptActivationEstimateMatchesTheAllocator`: 11.2 MB measured vs
    /// 12.2 MB estimated per class and layer).
    public var keptBytesPerClass: Int {
        [block1, block2].reduce(0) { total, block in
            let c = block.norm1.weight.count
            let perToken = 8 * c + block.mlp.fc1.weight.shape[0] + block.attention.heads * block.window * block.window
            return total + block.height * block.width * perToken * MemoryLayout<Float>.stride * 5 / 4
        }
    }

    /// `x` [B, C, T, H, W] (cost embedding), `guidance` [B, G, H, W] (appearance) → [B, C, T, H, W].
    /// With `recomputation` (training), only the kept classes' activations stay alive for backward.
    public func callAsFunction(_ x: Tensor, guidance: Tensor, recomputation: SpatialRecomputation? = nil) -> Tensor {
        let (b, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let g = guidance.shape[1]
        let tokens = x.permuted([0, 2, 3, 4, 1]).reshaped([b, t, h * w, c])
        let normalized = guidanceNorm(guidance.reshaped([b, 1, g, h * w]).transposed(2, 3))   // [B, 1, HW, G]
        // Every class map of an image sees the same guidance: [B, n, HW, C] → [B, n, HW, C].
        let blocks = { [block1, block2] (classes: Tensor, shared: [Tensor]) -> Tensor in
            let n = classes.shape[1]
            let guide = shared[0].reshaped([b, h * w, g])
            return block2(block1(classes.reshaped([b * n, h * w, c]), guidance: guide), guidance: guide).reshaped([b, n, h * w, c])
        }
        let out = recomputation.map {
            Tensor.checkpointed(tokens, shared: [normalized], along: 1, sliceLength: $0.classChunk, keeping: $0.keptClasses, blocks)
        } ?? blocks(tokens, [normalized])
        return out.reshaped([b, t, h, w, c]).permuted([0, 4, 1, 2, 3])
    }
}
