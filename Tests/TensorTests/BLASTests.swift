import Testing
@testable import Tensor

/// Deterministic pseudo-random values in [-1, 1) for test inputs.
func testValues(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 2_000_001) / 1_000_000 - 1
    }
}

@Suite struct BLASTests {
    /// Naive row-major product in Double: C[m,n] = op(A)·op(B).
    func naive(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, ta: Bool, tb: Bool) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let x = ta ? a[p * m + i] : a[i * k + p]
                    let y = tb ? b[j * k + p] : b[p * n + j]
                    sum += Double(x) * Double(y)
                }
                c[i * n + j] = sum
            }
        }
        return c
    }

    // The last two are split over threads: by rows, and by columns (n > 4m).
    @Test(arguments: [(1, 1, 1), (7, 5, 3), (33, 65, 17), (64, 64, 128), (3, 200, 1), (150, 100, 200), (20, 400, 300)])
    func gemmMatchesNaiveProduct(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = testValues(m * k, seed: 1), b = testValues(k * n, seed: 2)
            var c = testValues(m * n, seed: 3)
            let initial = c
            BLAS.gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: ta ? m : k,
                      b: b, ldb: tb ? k : n, beta: 2, c: &c, ldc: n)
            let reference = naive(a, b, m: m, n: n, k: k, ta: ta, tb: tb)
            let worst = (0..<m * n).map { abs(Double(c[$0]) - (0.5 * reference[$0] + 2 * Double(initial[$0]))) }.max()!
            #expect(worst < 1e-4 * Double(k), "m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb): max error \(worst)")
        }
    }

    @Test func emptyInnerDimensionScalesC() {
        var c: [Float] = [1, 2, 3, 4]
        BLAS.gemm(m: 2, n: 2, k: 0, a: [], lda: 1, b: [], ldb: 2, beta: 3, c: &c, ldc: 2)
        #expect(c == [3, 6, 9, 12])
    }

    @Test func blocksAreAlignedAndCoverTheRange() {
        #expect(BLAS.blockBounds(577, parts: 2, alignment: 16) == [0, 288, 577])
        #expect(BLAS.blockBounds(20, parts: 4, alignment: 16) == [0, 16, 20])
        #expect(BLAS.blockBounds(5, parts: 3, alignment: 16) == [0, 5])
        #expect(BLAS.configuration.contains("OpenBLAS"))
    }

    @Test(.enabled(if: Parallel.threadCount > 1, "needs more than one kernel thread"))
    func nestedParallelLoopsRunInline() {
        #expect(!Parallel.isInsideParallelRegion)
        let inner = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        defer { inner.deallocate() }
        inner.initialize(repeating: -1, count: 2)
        Parallel.forEach(2, grain: 1) { range in
            for i in range {
                // A nested loop must not hand work to other threads: one call covering everything.
                var calls = 0
                Parallel.forEach(100_000, grain: 1) { nested in
                    calls += 1
                    if nested != 0..<100_000 { calls += 1000 }
                }
                inner[i] = Parallel.isInsideParallelRegion ? calls : -2
            }
        }
        #expect(inner[0] == 1 && inner[1] == 1)
        #expect(!Parallel.isInsideParallelRegion)
    }
}
