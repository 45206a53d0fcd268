import CAVX512Kernels

// Per-row kernels that operations run inside their own parallel loops, public so that fused
// inference paths (e.g. the guided Swin block's) compute exactly what the operations compute.

extension Kernels {
    /// Layer normalisation of one row of `n` floats: `normalized = (x − mean) · r` and
    /// `y = normalized · weight + bias` (either may be nil), with the biased variance summed in
    /// order. `normalized` may be `y` (then `y` holds the affine result). Returns r = 1/√(var + eps).
    @inlinable
    public static func layerNormRow(_ x: UnsafePointer<Float>, normalized: UnsafeMutablePointer<Float>,
                                    _ y: UnsafeMutablePointer<Float>, _ n: Int, weight: UnsafePointer<Float>?,
                                    bias: UnsafePointer<Float>?, eps: Float) -> Float {
        let mean = Kernels.sum(x, n) / Float(n)
        // Summed in order: the rounding of this sum steers training trajectories.
        var variance: Float = 0
        for i in 0..<n { let d = x[i] - mean; variance += d * d }
        let r = 1 / (variance / Float(n) + eps).squareRoot()
        // x̂, then the affine step over the row while it is in cache.
        for i in 0..<n { normalized[i] = (x[i] - mean) * r }
        switch (weight, bias) {
        case let (w?, b?): for i in 0..<n { y[i] = normalized[i] * w[i] + b[i] }
        case let (w?, nil): for i in 0..<n { y[i] = normalized[i] * w[i] }
        case let (nil, b?): for i in 0..<n { y[i] = normalized[i] + b[i] }
        case (nil, nil): break
        }
        return r
    }

    /// Row-wise softmax of `x` [rows, columns] in place, after adding `mask` [rows, columns] (or
    /// none), by `kernel` (the AVX-512 one sums in 16 lanes with fused multiply-adds, so the two
    /// differ by a few ulps).
    @inlinable
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, mask: UnsafePointer<Float>?,
                                   kernel: SIMDKernel = .fastest) {
        kernel.requireSupported(by: "softmaxRows")
        if kernel == .avx512 { return fgaseg_softmax_rows_avx512(x, rows, columns, mask) }
        for row in 0..<rows {
            let line = x + row * columns
            if let mask {
                let bias = mask + row * columns
                for j in 0..<columns { line[j] += bias[j] }
            }
            let scale = 1 / Kernels.shiftedExponentials(line, line, columns).total
            for j in 0..<columns { line[j] *= scale }
        }
    }

    /// GELU with the exact erf, `y[i] = x[i] · Φ(x[i])`, on one thread (as ``Tensor/gelu()``). `y` may be `x`.
    public static func gelu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        GELUFunction().apply(x, y, count: count)
    }

    /// `x[i] = elu(x[i]) + 1` in place on one thread (as ``Tensor/eluPlusOne()``).
    public static func eluPlusOneInPlace(_ x: UnsafeMutablePointer<Float>, _ count: Int) {
        let f = ELUPlusOneFunction()
        for i in 0..<count { x[i] = f(x[i]) }
    }
}
