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
        let layout = AttentionLayout(batch: batch, queries: l, keys: s, width: width, heads: heads, scale: scale, mask: mask,
                                     rowStride: (width, width), columns: (0, 0, 0))
        let operands = (query.detached(), key.detached(), value.detached())
        let recording = GradientMode.isEnabled && (query.requiresGrad || key.requiresGrad || value.requiresGrad)
        let (out, probabilities) = layout.forward(query: query.pointer, key: key.pointer, value: value.pointer, keepingProbabilities: recording)
        guard let probabilities else { return out }
        return record("attention", inputs: [query, key, value], output: out) { g in
            let dq = query.requiresGrad ? Tensor(uninitializedShape: query.shape) : nil
            let dk = key.requiresGrad ? Tensor(uninitializedShape: key.shape) : nil
            let dv = value.requiresGrad ? Tensor(uninitializedShape: value.shape) : nil
            layout.backward(g.pointer, probabilities: probabilities.pointer,
                            query: operands.0.pointer, key: operands.1.pointer, value: operands.2.pointer,
                            queryGradient: dq?.pointer, keyGradient: dk?.pointer, valueGradient: dv?.pointer)
            return [dq, dk, dv]
        }
    }

    /// Self-attention as ``attention(query:key:value:heads:scale:mask:)`` on the three
    /// projections packed side by side in one tensor, `[q | k | v]` along the last axis — the
    /// output of one Linear with the three weights stacked (PyTorch's `in_proj_weight`), so the
    /// projections cost one GEMM forward and one per gradient, and the input's gradient needs no
    /// sum of three. The heads read q, k and v through a row stride of 3·H·D; backward writes the
    /// gradient in the same packed layout.
    /// - Parameters:
    ///   - packed: [B, L, 3·H·D].
    ///   - heads: H.
    ///   - scale: the logit scale, by default 1/√D.
    ///   - mask: additive [M, L, L] (or [L, L]), as for the unpacked form.
    /// - Returns: [B, L, H·D].
    public static func attention(packed: Tensor, heads: Int, scale: Float? = nil, mask: Tensor? = nil) -> Tensor {
        precondition(packed.rank == 3 && packed.shape[2] % 3 == 0,
                     "attention: packed projections must be [B, L, 3·H·D], got \(packed.shape)")
        let (batch, l, width) = (packed.shape[0], packed.shape[1], packed.shape[2] / 3)
        let layout = AttentionLayout(batch: batch, queries: l, keys: l, width: width, heads: heads, scale: scale, mask: mask,
                                     rowStride: (3 * width, 3 * width), columns: (0, width, 2 * width))
        let operands = packed.detached()
        let recording = GradientMode.isEnabled && packed.requiresGrad
        let (out, probabilities) = layout.forward(query: packed.pointer, key: packed.pointer, value: packed.pointer,
                                                  keepingProbabilities: recording)
        guard let probabilities else { return out }
        return record("attention", inputs: [packed], output: out) { g in
            let gradient = Tensor(uninitializedShape: packed.shape)
            let (p, d) = (operands.pointer, gradient.pointer)
            layout.backward(g.pointer, probabilities: probabilities.pointer, query: p, key: p, value: p,
                            queryGradient: d, keyGradient: d, valueGradient: d)
            return [gradient]
        }
    }
}

/// Where the heads of q, k and v sit in memory, and the attention kernels over that layout.
/// Row r of q starts at `query + r·rowStride.query + columns.query` (likewise k and v from
/// their base pointers); the output and its gradient are always [B, L, H·D].
private struct AttentionLayout {
    let batch: Int, queries: Int, keys: Int, width: Int, heads: Int, headWidth: Int
    let logitScale: Float
    let mask: Tensor?, maskPeriod: Int
    /// Row strides of q (and its gradient), and of k and v (and theirs).
    let rowStride: (query: Int, keyValue: Int)
    /// First column of q, k and v within their rows.
    let columns: (query: Int, key: Int, value: Int)

    init(batch: Int, queries: Int, keys: Int, width: Int, heads: Int, scale: Float?, mask: Tensor?,
         rowStride: (Int, Int), columns: (Int, Int, Int)) {
        precondition(heads > 0 && width % heads == 0, "attention: width \(width) is not divisible by \(heads) heads")
        (self.batch, self.queries, self.keys, self.width, self.heads) = (batch, queries, keys, width, heads)
        headWidth = width / heads
        logitScale = scale ?? Float(1 / Double(headWidth).squareRoot())
        maskPeriod = mask.map { $0.count / Swift.max(queries * keys, 1) } ?? 0
        if let mask {
            precondition(mask.count == maskPeriod * queries * keys && maskPeriod > 0 && batch % maskPeriod == 0,
                         "attention: mask \(mask.shape) is not [M, \(queries), \(keys)] with M dividing the batch \(batch)")
        }
        self.mask = mask
        self.rowStride = (query: rowStride.0, keyValue: rowStride.1)
        self.columns = (query: columns.0, key: columns.1, value: columns.2)
    }

    /// Offsets of head h of batch entry b in q, in k/v, and in the output.
    private func offsets(_ b: Int, _ h: Int) -> (query: Int, keyValue: Int, output: Int) {
        let column = h * headWidth
        return (b * queries * rowStride.query + column, b * keys * rowStride.keyValue + column, b * queries * width + column)
    }

    /// The output [B, L, H·D], and the probabilities [B, H, L, S] when backward needs them.
    func forward(query q: UnsafePointer<Float>, key k: UnsafePointer<Float>, value v: UnsafePointer<Float>,
                 keepingProbabilities: Bool) -> (Tensor, Tensor?) {
        let (l, s, d) = (queries, keys, headWidth)
        let out = Tensor(uninitializedShape: [batch, l, width])
        // Probabilities of every (entry, head) when backward needs them, else one scratch per worker.
        let probabilities: Tensor? = keepingProbabilities ? Tensor(uninitializedShape: [batch, heads, l, s]) : nil
        let o = out.pointer
        let m = mask?.pointer
        BLAS.forEachBatchRange(batch * heads, flopsPerEntry: 4 * l * s * d) { range in
            let scratch = probabilities == nil ? UnsafeMutablePointer<Float>.allocate(capacity: l * s) : nil
            defer { scratch?.deallocate() }
            for pair in range {
                let (b, h) = pair.quotientAndRemainder(dividingBy: heads)
                let p = probabilities.map { $0.pointer + pair * l * s } ?? scratch!
                let at = offsets(b, h)
                BLAS.gemm(transposeB: true, m: l, n: s, k: d, alpha: logitScale, a: q + at.query + columns.query, lda: rowStride.query,
                          b: k + at.keyValue + columns.key, ldb: rowStride.keyValue, c: p, ldc: s)
                Kernels.softmaxRows(p, rows: l, columns: s, mask: m.map { $0 + (b % maskPeriod) * l * s })
                BLAS.gemm(m: l, n: d, k: s, a: p, lda: s, b: v + at.keyValue + columns.value, ldb: rowStride.keyValue,
                          c: o + at.output, ldc: width)
            }
        }
        return (out, probabilities)
    }

    /// Writes the gradients of q, k and v (those not nil) for the output's gradient `g` [B, L, H·D].
    func backward(_ g: UnsafePointer<Float>, probabilities: UnsafePointer<Float>,
                  query q: UnsafePointer<Float>, key k: UnsafePointer<Float>, value v: UnsafePointer<Float>,
                  queryGradient dq: UnsafeMutablePointer<Float>?, keyGradient dk: UnsafeMutablePointer<Float>?,
                  valueGradient dv: UnsafeMutablePointer<Float>?) {
        let (l, s, d) = (queries, keys, headWidth)
        let needsScores = dq != nil || dk != nil
        BLAS.forEachBatchRange(batch * heads, flopsPerEntry: 8 * l * s * d) { range in
            let scores = needsScores ? UnsafeMutablePointer<Float>.allocate(capacity: l * s) : nil
            defer { scores?.deallocate() }
            for pair in range {
                let (b, h) = pair.quotientAndRemainder(dividingBy: heads)
                let p = probabilities + pair * l * s
                let at = offsets(b, h)
                let gRows = g + at.output
                if let dv {
                    // dV_h = Pᵀ · dO_h
                    BLAS.gemm(transposeA: true, m: s, n: d, k: l, a: p, lda: s, b: gRows, ldb: width,
                              c: dv + at.keyValue + columns.value, ldc: rowStride.keyValue)
                }
                guard let scores else { continue }
                // dP = dO_h · V_hᵀ, then the softmax chain rule dS = P ⊙ (dP − Σ_j dP⊙P) in place.
                BLAS.gemm(transposeB: true, m: l, n: s, k: d, a: gRows, lda: width, b: v + at.keyValue + columns.value,
                          ldb: rowStride.keyValue, c: scores, ldc: s)
                for row in 0..<l { Kernels.softmaxGradient(p + row * s, scores + row * s, scores + row * s, s) }
                if let dq {
                    // dQ_h = scale · dS · K_h
                    BLAS.gemm(m: l, n: d, k: s, alpha: logitScale, a: scores, lda: s, b: k + at.keyValue + columns.key,
                              ldb: rowStride.keyValue, c: dq + at.query + columns.query, ldc: rowStride.query)
                }
                if let dk {
                    // dK_h = scale · dSᵀ · Q_h
                    BLAS.gemm(transposeA: true, m: s, n: d, k: l, alpha: logitScale, a: scores, lda: s, b: q + at.query + columns.query,
                              ldb: rowStride.query, c: dk + at.keyValue + columns.key, ldc: rowStride.keyValue)
                }
            }
        }
    }
}
