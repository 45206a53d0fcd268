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

    /// Runs `body(i)` for the `count` entries of a batched product. Small products run one per
    /// core with single-threaded BLAS (a multi-threaded GEMM of a few MFLOP spends more time
    /// handing work to its threads than computing); large ones run in order, each on all of
    /// BLAS's threads. Each entry's GEMM sums in the same order either way.
    public static func forEachBatchEntry(_ count: Int, flopsPerEntry: Int, _ body: (Int) -> Void) {
        let threads = threadCount
        guard count > 1, threads > 1, flopsPerEntry <= smallProductFlops, Parallel.threadCount > 1 else {
            for i in 0..<count { body(i) }
            return
        }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(threads)) }
        Parallel.forEach(count, grain: 1) { range in
            for i in range { body(i) }
        }
    }

    /// The largest GEMM (in FLOPs) that ``forEachBatchEntry(_:flopsPerEntry:_:)`` runs single-threaded.
    static let smallProductFlops = 64_000_000

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
