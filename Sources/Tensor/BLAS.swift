import CBLAS
import COpenBLASKernel

/// Matrix products on OpenBLAS, the one place the engine calls `cblas_sgemm`.
///
/// OpenBLAS always runs single-threaded; large products are split into row (or column) blocks
/// over the engine's own ``Parallel`` threads. One thread pool for every kernel means OpenBLAS's
/// worker threads never spin (with `sched_yield`, for up to 2²⁸ cycles after each product)
/// against the threads running the elementwise kernels in between, which cost 10–20% of a
/// ViT forward+backward on two cores. Measured on this machine, row blocks on single-threaded
/// OpenBLAS run the ViT-B/16 shapes as fast as OpenBLAS's own threading.
public enum BLAS {
    /// `C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C`, row-major, where `op` transposes
    /// when asked. `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored. Runs on all
    /// ``Parallel`` threads when the product is large and the caller is not itself one of them.
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
        _ = singleThreaded
        let threads = Parallel.threadCount
        guard threads > 1, 2 * m * n * k >= splitFlops, !Parallel.isInsideParallelRegion else {
            sgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        // Split the longer side of C, but rows unless the columns are much longer: a row block
        // re-packs B, a column block re-packs A, and rows suit the kernel's 16-row micro-tiles.
        if n > 4 * m {
            let blocks = blockBounds(n, parts: threads, alignment: 16)
            Parallel.forEach(blocks.count - 1, grain: 1) { range in
                for block in range {
                    let (start, end) = (blocks[block], blocks[block + 1])
                    sgemm(transposeA, transposeB, m, end - start, k, alpha, a, lda,
                          transposeB ? b + start * ldb : b + start, ldb, beta, c + start, ldc)
                }
            }
        } else {
            let blocks = blockBounds(m, parts: threads, alignment: 16)
            Parallel.forEach(blocks.count - 1, grain: 1) { range in
                for block in range {
                    let (start, end) = (blocks[block], blocks[block + 1])
                    sgemm(transposeA, transposeB, end - start, n, k, alpha, transposeA ? a + start : a + start * lda, lda,
                          b, ldb, beta, c + start * ldc, ldc)
                }
            }
        }
    }

    /// Runs `body(i)` for the `count` entries of a batched product. Entries run one per core
    /// (each GEMM on one thread) when they are small (splitting a GEMM of a few MFLOP over threads
    /// costs more than it saves) or when they divide evenly over the cores; otherwise in order,
    /// each GEMM split over all threads. Each entry's GEMM sums in the same order either way.
    public static func forEachBatchEntry(_ count: Int, flopsPerEntry: Int, _ body: (Int) -> Void) {
        forEachBatchRange(count, flopsPerEntry: flopsPerEntry) { range in
            for i in range { body(i) }
        }
    }

    /// As ``forEachBatchEntry(_:flopsPerEntry:_:)``, but hands each worker its whole range of
    /// entries at once, so it can allocate per-worker scratch memory once.
    public static func forEachBatchRange(_ count: Int, flopsPerEntry: Int, _ body: (Range<Int>) -> Void) {
        let threads = Parallel.threadCount
        let balanced = count % threads == 0 || count >= 4 * threads
        guard count > 1, threads > 1, flopsPerEntry <= smallProductFlops || balanced else {
            if count > 0 { body(0..<count) }
            return
        }
        Parallel.forEach(count, grain: 1, body)
    }

    /// The largest GEMM (in FLOPs) that ``forEachBatchEntry(_:flopsPerEntry:_:)`` always runs one per core.
    static let smallProductFlops = 64_000_000

    /// The smallest GEMM (in FLOPs) that ``gemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``
    /// splits over threads (below it, handing out the blocks costs more than they save).
    static let splitFlops = 4_000_000

    /// OpenBLAS's build configuration and the kernel in use (e.g. "... (core: Cooperlake)"), with
    /// the kernel OpenBLAS had chosen when it was replaced (``replacedKernel``).
    public static var configuration: String {
        let replaced = replacedKernel.map { ", replacing OpenBLAS's own choice \($0) for this CPU" } ?? ""
        return String(cString: openblas_get_config()) + " (core: " + kernel + replaced + ")"
    }

    /// The OpenBLAS kernel family in use (e.g. "SkylakeX").
    public static var kernel: String { String(cString: openblas_get_corename()) }

    /// The kernel OpenBLAS chose at load time when it was replaced before `main`: OpenBLAS falls
    /// back to its SSE3 kernel ("Prescott", about 6× slower) on CPUs newer than its release, and
    /// then, unless OPENBLAS_CORETYPE is set, OpenBLAS selects again for the CPU's widest vector
    /// extension (`Sources/COpenBLASKernel`). nil when OpenBLAS's own choice is in use.
    public static var replacedKernel: String? { fgaseg_openblas_replaced_core().map { String(cString: $0) } }

    /// Sets OpenBLAS to one thread, once, before the first product.
    private static let singleThreaded: Void = openblas_set_num_threads(1)

    /// `parts` + 1 increasing bounds that cut `0..<count` into near-equal blocks whose starts are
    /// multiples of `alignment` (fewer blocks when `count` is small).
    static func blockBounds(_ count: Int, parts: Int, alignment: Int) -> [Int] {
        let units = (count + alignment - 1) / alignment
        let blocks = Swift.max(1, Swift.min(parts, units))
        return (0...blocks).map { Swift.min(count, units * $0 / blocks * alignment) }
    }

    @inline(__always)
    private static func sgemm(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                              _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
                              _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
