import NN
import Tensor

/// The guided Swin block's inference path: the whole block — layer norm, window gather, q/k/v,
/// masked attention, projection, residual, layer norm, MLP, residual, scatter back — runs one
/// class map at a time on one core, with every intermediate in that core's scratch (4.5 MB at
/// C = 128 on a 24² map, in the last-level cache; GEMMs of 576 rows, which run faster than
/// per-window ones of 144). Each map is read once and written once; the recorded path instead
/// makes about a dozen passes over all maps between its GEMMs, and hands every operation to all
/// cores and back (a fork–join per operation).
///
/// It computes what the recorded path computes, operation for operation (the same row kernels,
/// the same GEMM operands and summation order per product); only the GEMMs' blocking differs,
/// which may move the last bit. Used when nothing is recorded (evaluation, and the forward pass
/// of the classes that `Tensor.checkpointed` recomputes in training).
extension GuidedSwinBlock {
    /// `x` [B·T, H·W, C], `guidance` [B, H·W, G] → [B·T, H·W, C], as ``callAsFunction(_:guidance:)``.
    func unrecordedForward(_ x: Tensor, guidance: Tensor) -> Tensor {
        let (maps, rows, c) = (x.shape[0], x.shape[1], x.shape[2])
        let (images, g) = (guidance.shape[0], guidance.shape[2])
        // The guidance halves of q and k, once per image, in window order: [B, H·W, C].
        let guidanceWindows = guidance.permutingTokens(windowOrder)
        let sharedQuery = Tensor.linear(guidanceWindows, weight: attention.query.weight.narrowed(1, start: c, length: g),
                                        bias: attention.query.bias)
        let sharedKey = Tensor.linear(guidanceWindows, weight: attention.key.weight.narrowed(1, start: c, length: g),
                                      bias: attention.key.bias)
        let out = Tensor(uninitializedShape: x.shape)
        let geometry = UnrecordedGeometry(block: self, rows: rows, channels: c, guidanceWidth: g)
        // One scratch block per worker, from the tensor cache (fresh pages would cost more than the work).
        let workers = Swift.min(Parallel.threadCount, maps)
        let scratch = Tensor(uninitializedShape: [workers, geometry.scratchCount])
        let weights = UnrecordedWeights(self)
        let (input, output, queryShared, keyShared) = (x.pointer, out.pointer, sharedQuery.pointer, sharedKey.pointer)
        windowOrder.source.withUnsafeBufferPointer { order in
            Parallel.forEach(workers, grain: 1) { range in
                for worker in range {
                    for map in (worker * maps / workers)..<((worker + 1) * maps / workers) {
                        let shared = (map / (maps / images)) * rows * c
                        geometry.forward(input + map * rows * c, into: output + map * rows * c, order: order.baseAddress!,
                                         sharedQuery: queryShared + shared, sharedKey: keyShared + shared, weights: weights,
                                         scratch: scratch.pointer + worker * geometry.scratchCount)
                    }
                }
            }
        }
        return withExtendedLifetime((sharedQuery, sharedKey, scratch)) { out }
    }
}

/// The sizes of one map's pass through a guided Swin block, and the pass itself.
private struct UnrecordedGeometry {
    let rows: Int, channels: Int, guidanceWidth: Int, hidden: Int
    let heads: Int, windowTokens: Int, scale: Float
    let mask: UnsafePointer<Float>?

    init(block: GuidedSwinBlock, rows: Int, channels: Int, guidanceWidth: Int) {
        (self.rows, self.channels, self.guidanceWidth) = (rows, channels, guidanceWidth)
        (hidden, heads) = (block.mlp.fc1.weight.shape[0], block.attention.heads)
        windowTokens = block.window * block.window
        scale = Float(1 / Double(channels / heads).squareRoot())
        mask = block.mask.map { UnsafePointer($0.pointer) }
    }

    /// Floats of scratch one worker needs: seven [rows, C] buffers, one window's probabilities
    /// [N, N], and the MLP's hidden layer before and after GELU [rows, 4C] (apart, so that the GELU
    /// loop vectorises).
    var scratchCount: Int { 7 * rows * channels + windowTokens * windowTokens + 2 * rows * hidden }

    /// One map: `input` [rows, C] (raster order) → `output` [rows, C]; `order` is the block's
    /// window order, `sharedQuery`/`sharedKey` the map's image's guidance halves [rows, C] in window order.
    func forward(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, order: UnsafePointer<Int32>,
                 sharedQuery: UnsafePointer<Float>, sharedKey: UnsafePointer<Float>, weights: UnrecordedWeights,
                 scratch: UnsafeMutablePointer<Float>) {
        let (c, n, d, block) = (channels, windowTokens, channels / heads, rows * channels)
        let (tokens, q, k, v) = (scratch, scratch + block, scratch + 2 * block, scratch + 3 * block)
        let (attended, h, normalized) = (scratch + 4 * block, scratch + 5 * block, scratch + 6 * block)
        let probabilities = scratch + 7 * block
        let (preActivations, activations) = (probabilities + n * n, probabilities + n * n + rows * hidden)
        // Layer norm of the map's rows, gathered into window order.
        for i in 0..<rows {
            weights.norm1.apply(input + Int(order[i]) * c, into: tokens + i * c, c)
        }
        // q, k: the tokens' half, plus the image's guidance half.
        func guided(_ projection: UnsafePointer<Float>, _ sharedHalf: UnsafePointer<Float>, into result: UnsafeMutablePointer<Float>) {
            BLAS.gemm(transposeB: true, m: rows, n: c, k: c, a: tokens, lda: c, b: projection, ldb: c + guidanceWidth, c: result, ldc: c)
            for i in 0..<block { result[i] += sharedHalf[i] }
        }
        guided(weights.query, sharedQuery, into: q)
        guided(weights.key, sharedKey, into: k)
        weights.value.apply(tokens, rows: rows, into: v)
        for w in 0..<(rows / n) {
            for head in 0..<heads {
                let column = w * n * c + head * d
                BLAS.gemm(transposeB: true, m: n, n: n, k: d, alpha: scale, a: q + column, lda: c, b: k + column, ldb: c,
                          c: probabilities, ldc: n)
                Kernels.softmaxRows(probabilities, rows: n, columns: n, mask: mask.map { $0 + w * n * n })
                BLAS.gemm(m: n, n: d, k: n, a: probabilities, lda: n, b: v + column, ldb: c, c: attended + column, ldc: c)
            }
        }
        weights.projection.apply(attended, rows: rows, into: tokens)
        for i in 0..<rows {
            let (residual, branch, sum) = (input + Int(order[i]) * c, tokens + i * c, h + i * c)
            for j in 0..<c { sum[j] = residual[j] + branch[j] }
            weights.norm2.apply(sum, into: normalized + i * c, c)
        }
        weights.fc1.apply(normalized, rows: rows, into: preActivations)
        Kernels.gelu(preActivations, activations, rows * hidden)
        weights.fc2.apply(activations, rows: rows, into: tokens)
        for i in 0..<rows {
            let (sum, branch, result) = (h + i * c, tokens + i * c, output + Int(order[i]) * c)
            for j in 0..<c { result[j] = sum[j] + branch[j] }
        }
    }
}

/// Raw views of a guided Swin block's parameters for ``GuidedSwinBlock/unrecordedForward(_:guidance:)``.
private struct UnrecordedWeights {
    let norm1: RowLayerNorm, norm2: RowLayerNorm
    /// The token halves of q and k ([C, C + G], read with a row stride of C + G).
    let query: UnsafePointer<Float>, key: UnsafePointer<Float>
    let value: RowAffine, projection: RowAffine, fc1: RowAffine, fc2: RowAffine

    init(_ block: GuidedSwinBlock) {
        (norm1, norm2) = (RowLayerNorm(block.norm1), RowLayerNorm(block.norm2))
        (query, key) = (UnsafePointer(block.attention.query.weight.pointer), UnsafePointer(block.attention.key.weight.pointer))
        (value, projection) = (RowAffine(block.attention.value), RowAffine(block.attention.projection))
        (fc1, fc2) = (RowAffine(block.mlp.fc1), RowAffine(block.mlp.fc2))
    }
}
