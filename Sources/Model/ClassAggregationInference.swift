import NN
import Tensor

/// Class aggregation's inference path, as ``GuidedSwinBlock``'s: layer norm, the guided linear
/// attention over the classes (padding included as `count` × one token's term), the residual,
/// layer norm, MLP and residual run a few positions at a time on one core, with every
/// intermediate in that core's scratch, instead of as a dozen passes over all positions with a
/// fork–join per operation. Same operations and operands as the recorded path; only GEMM
/// blocking and the order of the key sums differ (last-bit differences). Used when nothing is
/// recorded (evaluation).
extension ClassAggregation {
    /// Positions handled together, so that the projections and the MLP run as GEMMs of
    /// `positionsPerGroup`·T rows.
    static let positionsPerGroup = 4

    /// `tokens` [B·P, T, C] (the T classes at each of the P positions of B images), `guidance`
    /// [B, T, G] → [B·P, T, C]: `tokens + attention(norm1(tokens))`, then `+ mlp(norm2(·))`.
    func unrecordedTokenPass(_ tokens: Tensor, guidance: Tensor) -> Tensor {
        let (positions, t, c) = (tokens.shape[0], tokens.shape[1], tokens.shape[2])
        let (images, g) = (guidance.shape[0], guidance.shape[2])
        let attention = self.attention
        // The text-guidance halves of q and k, once per image: [B, T, C].
        let sharedQuery = Tensor.linear(guidance, weight: attention.query.weight.narrowed(1, start: c, length: g), bias: attention.query.bias)
        let sharedKey = Tensor.linear(guidance, weight: attention.key.weight.narrowed(1, start: c, length: g), bias: attention.key.bias)
        // The padding tokens' key φ(k) and value [C], and how many there are.
        let paddingCount = Swift.max(0, padLength - t)
        let paddingToken = norm1(paddingTokens).reshaped([1, c])
        let paddingKey = attention.key(Tensor.concat([paddingToken, paddingGuidance.reshaped([1, g])], along: 1)).eluPlusOne()
        let paddingValue = attention.value(paddingToken)
        let pass = UnrecordedClassPass(layer: self, classes: t, channels: c, guidanceWidth: g, paddingCount: paddingCount,
                                       paddingKey: paddingKey.pointer, paddingValue: paddingValue.pointer)
        let out = Tensor(uninitializedShape: tokens.shape)
        let groups = (positions + Self.positionsPerGroup - 1) / Self.positionsPerGroup
        let workers = Swift.min(Parallel.threadCount, groups)
        let scratch = Tensor(uninitializedShape: [workers, pass.scratchCount])
        let (input, output, queryShared, keyShared) = (tokens.pointer, out.pointer, sharedQuery.pointer, sharedKey.pointer)
        let positionsPerImage = positions / images
        Parallel.forEach(workers, grain: 1) { range in
            for worker in range {
                for group in (worker * groups / workers)..<((worker + 1) * groups / workers) {
                    let first = group * Self.positionsPerGroup
                    let count = Swift.min(Self.positionsPerGroup, positions - first)
                    // A group never straddles two images' guidance: split it where an image ends.
                    var start = first
                    while start < first + count {
                        let image = start / positionsPerImage
                        let end = Swift.min(first + count, (image + 1) * positionsPerImage)
                        pass.forward(input + start * t * c, into: output + start * t * c, positions: end - start,
                                     sharedQuery: queryShared + image * t * c, sharedKey: keyShared + image * t * c,
                                     scratch: scratch.pointer + worker * pass.scratchCount)
                        start = end
                    }
                }
            }
        }
        return withExtendedLifetime((sharedQuery, sharedKey, paddingKey, paddingValue, scratch)) { out }
    }
}

/// Sizes and raw parameter views of one class-aggregation layer, and its pass over a few positions.
private struct UnrecordedClassPass {
    let classes: Int, channels: Int, guidanceWidth: Int, heads: Int, hidden: Int
    let paddingCount: Int
    let paddingKey: UnsafePointer<Float>, paddingValue: UnsafePointer<Float>
    let norm1: RowLayerNorm, norm2: RowLayerNorm
    let query: UnsafePointer<Float>, key: UnsafePointer<Float>
    let value: RowAffine, fc1: RowAffine, fc2: RowAffine

    init(layer: ClassAggregation, classes: Int, channels: Int, guidanceWidth: Int, paddingCount: Int,
         paddingKey: UnsafeMutablePointer<Float>, paddingValue: UnsafeMutablePointer<Float>) {
        (self.classes, self.channels, self.guidanceWidth, self.paddingCount) = (classes, channels, guidanceWidth, paddingCount)
        (heads, hidden) = (layer.attention.heads, layer.mlp.fc1.weight.shape[0])
        (self.paddingKey, self.paddingValue) = (UnsafePointer(paddingKey), UnsafePointer(paddingValue))
        (norm1, norm2) = (RowLayerNorm(layer.norm1), RowLayerNorm(layer.norm2))
        (query, key) = (UnsafePointer(layer.attention.query.weight.pointer), UnsafePointer(layer.attention.key.weight.pointer))
        (value, fc1, fc2) = (RowAffine(layer.attention.value), RowAffine(layer.mlp.fc1), RowAffine(layer.mlp.fc2))
    }

    /// Floats of scratch per worker: six [rows, C] buffers and the MLP's hidden layer [rows, 4C]
    /// for the largest group, and one head's key-value product [D, D] and key sum [D].
    var scratchCount: Int {
        let rows = ClassAggregation.positionsPerGroup * classes, d = channels / heads
        return 6 * rows * channels + rows * hidden + d * d + d
    }

    /// `positions` positions of one image: `input` [positions, T, C] → `output`; `sharedQuery`,
    /// `sharedKey` [T, C] are that image's text-guidance halves (bias included).
    func forward(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, positions: Int,
                 sharedQuery: UnsafePointer<Float>, sharedKey: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let (t, c, d) = (classes, channels, channels / heads)
        let rows = positions * t, block = ClassAggregation.positionsPerGroup * t * c
        let (normalized, q, k, v) = (scratch, scratch + block, scratch + 2 * block, scratch + 3 * block)
        let (attended, residual) = (scratch + 4 * block, scratch + 5 * block)
        let activations = scratch + 6 * block
        let (keyValues, keySum) = (activations + ClassAggregation.positionsPerGroup * t * hidden,
                                   activations + ClassAggregation.positionsPerGroup * t * hidden + d * d)
        for row in 0..<rows {
            norm1.apply(input + row * c, into: normalized + row * c, c)
        }
        // φ(q), φ(k): the tokens' half plus the image's guidance half, then elu + 1.
        func guided(_ projection: UnsafePointer<Float>, _ shared: UnsafePointer<Float>, into result: UnsafeMutablePointer<Float>) {
            BLAS.gemm(transposeB: true, m: rows, n: c, k: c, a: normalized, lda: c, b: projection, ldb: c + guidanceWidth, c: result, ldc: c)
            for position in 0..<positions {
                let line = result + position * t * c
                for i in 0..<(t * c) { line[i] += shared[i] }
            }
            Kernels.eluPlusOneInPlace(result, rows * c)
        }
        guided(query, sharedQuery, into: q)
        guided(key, sharedKey, into: k)
        value.apply(normalized, rows: rows, into: v)
        let padding = Float(paddingCount)
        for position in 0..<positions {
            let offset = position * t * c
            for head in 0..<heads {
                let column = offset + head * d
                // Σ_s φ(k_s) v_sᵀ [D, D] and Σ_s φ(k_s) [D], padding included.
                BLAS.gemm(transposeA: true, m: d, n: d, k: t, a: k + column, lda: c, b: v + column, ldb: c, c: keyValues, ldc: d)
                for j in 0..<d {
                    var total: Float = 0
                    for s in 0..<t { total += k[column + s * c + j] }
                    keySum[j] = total + paddingKey[head * d + j] * padding
                    for i in 0..<d { keyValues[j * d + i] += paddingKey[head * d + j] * paddingValue[head * d + i] * padding }
                }
                // out_l = φ(q_l)ᵀ KV / (φ(q_l)ᵀ Σ φ(k) + 1e-6).
                BLAS.gemm(m: t, n: d, k: d, a: q + column, lda: c, b: keyValues, ldb: d, c: attended + column, ldc: c)
                for l in 0..<t {
                    let (queryRow, outRow) = (q + column + l * c, attended + column + l * c)
                    let normaliser = Kernels.dot(queryRow, keySum, d) + 1e-6
                    for i in 0..<d { outRow[i] /= normaliser }
                }
            }
        }
        for row in 0..<rows {
            let (x, a, sum) = (input + row * c, attended + row * c, residual + row * c)
            for j in 0..<c { sum[j] = x[j] + a[j] }
            norm2.apply(sum, into: normalized + row * c, c)
        }
        fc1.apply(normalized, rows: rows, into: activations)
        for i in 0..<(rows * hidden) { activations[i] = Swift.max(activations[i], 0) }
        fc2.apply(activations, rows: rows, into: attended)
        for i in 0..<(rows * c) { output[i] = residual[i] + attended[i] }
    }
}
