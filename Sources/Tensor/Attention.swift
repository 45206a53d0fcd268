// Fused multi-head scaled dot-product attention.

extension Tensor {
    /// Multi-head attention on head-interleaved projections, as one operation:
    /// `out_h = softmax(scale · q_h k_hᵀ + mask) v_h` for every head h, where head h owns the
    /// columns `h·D ..< (h+1)·D` of each projection (PyTorch's `scaled_dot_product_attention`
    /// after `view(B, L, H, D).transpose(1, 2)`, without the transposes).
    ///
    /// Each (batch entry, head) pair runs on one core: its score matrix [L, S] is computed,
    /// masked, soft-maxed and multiplied by v while it is still in cache, and the per-head
    /// products read and write the [B, L, H·D] tensors in place through their row strides, so no
    /// head-split copies, no separate scaling pass and no full-size softmax pass exist.
    /// Backward keeps only the probabilities [B, H, L, S].
    ///
    /// - Parameters:
    ///   - query: [B, L, H·D].
    ///   - key: [B, S, H·D].
    ///   - value: [B, S, H·D].
    ///   - heads: H.
    ///   - scale: the logit scale, by default 1/√D.
    ///   - mask: additive [M, L, S] (or [L, S] for M = 1), never differentiated; batch entry b
    ///     uses `mask[b % M]` (the per-window masks of shifted windows repeat with period M).
    /// - Returns: [B, L, H·D].
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, scale: Float? = nil,
                                 mask: Tensor? = nil) -> Tensor {
        precondition(query.rank == 3 && key.rank == 3 && value.rank == 3,
                     "attention: query, key and value must be [B, L, H·D], got \(query.shape), \(key.shape), \(value.shape)")
        let (batch, l, width) = (query.shape[0], query.shape[1], query.shape[2])
        let s = key.shape[1]
        precondition(key.shape == [batch, s, width] && value.shape == key.shape,
                     "attention: key \(key.shape) and value \(value.shape) do not match query \(query.shape)")
        precondition(heads > 0 && width % heads == 0, "attention: width \(width) is not divisible by \(heads) heads")
        let d = width / heads
        let logitScale = scale ?? Float(1 / Double(d).squareRoot())
        let maskPeriod = mask.map { $0.count / Swift.max(l * s, 1) } ?? 0
        if let mask {
            precondition(mask.count == maskPeriod * l * s && maskPeriod > 0 && batch % maskPeriod == 0,
                         "attention: mask \(mask.shape) is not [M, \(l), \(s)] with M dividing the batch \(batch)")
        }
        let recording = GradientMode.isEnabled && (query.requiresGrad || key.requiresGrad || value.requiresGrad)
        let out = Tensor(uninitializedShape: [batch, l, width])
        // Probabilities of every (entry, head) when backward needs them, else one scratch per worker.
        let probabilities: Tensor? = recording ? Tensor(uninitializedShape: [batch, heads, l, s]) : nil
        let (q, k, v, o) = (query.pointer, key.pointer, value.pointer, out.pointer)
        let m = mask?.pointer
        BLAS.forEachBatchRange(batch * heads, flopsPerEntry: 4 * l * s * d) { range in
            let scratch = probabilities == nil ? UnsafeMutablePointer<Float>.allocate(capacity: l * s) : nil
            defer { scratch?.deallocate() }
            for pair in range {
                let (b, h) = pair.quotientAndRemainder(dividingBy: heads)
                let p = probabilities.map { $0.pointer + pair * l * s } ?? scratch!
                let column = h * d
                BLAS.gemm(transposeB: true, m: l, n: s, k: d, alpha: logitScale, a: q + b * l * width + column, lda: width,
                          b: k + b * s * width + column, ldb: width, c: p, ldc: s)
                Kernels.softmaxRows(p, rows: l, columns: s, mask: m.map { $0 + (b % maskPeriod) * l * s })
                BLAS.gemm(m: l, n: d, k: s, a: p, lda: s, b: v + b * s * width + column, ldb: width,
                          c: o + b * l * width + column, ldc: width)
            }
        }
        guard let probabilities else { return out }
        let (queryValue, keyValue, valueValue) = (query.detached(), key.detached(), value.detached())
        let needsScores = query.requiresGrad || key.requiresGrad
        return record("attention", inputs: [query, key, value], output: out) { g in
            let dq = query.requiresGrad ? Tensor(uninitializedShape: query.shape) : nil
            let dk = key.requiresGrad ? Tensor(uninitializedShape: key.shape) : nil
            let dv = value.requiresGrad ? Tensor(uninitializedShape: value.shape) : nil
            let (q, k, v, gp) = (queryValue.pointer, keyValue.pointer, valueValue.pointer, g.pointer)
            BLAS.forEachBatchRange(batch * heads, flopsPerEntry: 8 * l * s * d) { range in
                let scores = needsScores ? UnsafeMutablePointer<Float>.allocate(capacity: l * s) : nil
                defer { scores?.deallocate() }
                for pair in range {
                    let (b, h) = pair.quotientAndRemainder(dividingBy: heads)
                    let p = probabilities.pointer + pair * l * s
                    let column = h * d
                    let (gRows, qRows) = (gp + b * l * width + column, q + b * l * width + column)
                    let (kRows, vRows) = (k + b * s * width + column, v + b * s * width + column)
                    if let dv {
                        // dV_h = Pᵀ · dO_h
                        BLAS.gemm(transposeA: true, m: s, n: d, k: l, a: p, lda: s, b: gRows, ldb: width,
                                  c: dv.pointer + b * s * width + column, ldc: width)
                    }
                    guard let scores else { continue }
                    // dP = dO_h · V_hᵀ, then the softmax chain rule dS = P ⊙ (dP − Σ_j dP⊙P) in place.
                    BLAS.gemm(transposeB: true, m: l, n: s, k: d, a: gRows, lda: width, b: vRows, ldb: width, c: scores, ldc: s)
                    for row in 0..<l { Kernels.softmaxGradient(p + row * s, scores + row * s, scores + row * s, s) }
                    if let dq {
                        // dQ_h = scale · dS · K_h
                        BLAS.gemm(m: l, n: d, k: s, alpha: logitScale, a: scores, lda: s, b: kRows, ldb: width,
                                  c: dq.pointer + b * l * width + column, ldc: width)
                    }
                    if let dk {
                        // dK_h = scale · dSᵀ · Q_h
                        BLAS.gemm(transposeA: true, m: s, n: d, k: l, alpha: logitScale, a: scores, lda: s, b: qRows, ldb: width,
                                  c: dk.pointer + b * s * width + column, ldc: width)
                    }
                }
            }
            return [dq, dk, dv]
        }
    }
}
