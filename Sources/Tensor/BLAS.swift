import CBLAS

/// Matrix products on OpenBLAS, the one place the engine calls `cblas_sgemm`.
public enum BLAS {
    /// `C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C`, row-major, where `op` transposes
    /// when asked. `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored.
    @inlinable
    public static func gemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if Profiler.isEnabled { Profiler.addGEMM(m: m, n: n, k: k) }
        guard k > 0 else {
            // An empty sum: C = beta · C, which BLAS implementations disagree about for k = 0.
            for row in 0..<m {
                let line = c + row * ldc
                for column in 0..<n { line[column] = beta == 0 ? 0 : beta * line[column] }
            }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// OpenBLAS's worker-thread count. Set it to 1 in every rank when ranks fill the cores.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// OpenBLAS's build configuration and the kernel it selected (e.g. "... Cooperlake").
    public static var configuration: String {
        String(cString: openblas_get_config()) + " (core: " + String(cString: openblas_get_corename()) + ")"
    }
}
