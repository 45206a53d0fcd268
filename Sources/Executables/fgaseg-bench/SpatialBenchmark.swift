import Foundation
import Model
import Tensor

/// `fgaseg-bench spatial`: one spatial-aggregation layer (two guided Swin blocks, ViT-B/16 widths:
/// C = 128, guidance 128, 4 heads, 24² grid, window 12) on a 16-class chunk, forward + backward, on
/// 1 thread and on all threads: GEMM GFLOP/s against `cblas_sgemm` at the same thread count, and
/// the 1→N-thread speed-up. The quick loop for the section that dominates a training step.
enum SpatialBenchmark {
    static func run(classes: Int = 16) -> [BenchmarkRow] {
        var generator = RandomGenerator(seed: 3)
        let layer = SpatialAggregation(width: 128, guidanceWidth: 128, resolution: (24, 24), heads: 4, window: 12,
                                       generator: &generator)
        let cost = Tensor.normal([1, 128, classes, 24, 24], using: &generator)
        let guidance = Tensor.normal([1, 128, 24, 24], using: &generator)
        let upstream = Tensor.normal(cost.shape, using: &generator)
        cost.requiresGrad = true
        func step() {
            cost.grad = nil
            for (_, parameter) in layer.trainableParameters() { parameter.grad = nil }
            Profiler.section("spatial aggregation") { layer(cost, guidance: guidance) }.backward(gradient: upstream)
        }
        // GEMM FLOPs of one step, as the profiler counts them.
        Profiler.start()
        step()
        let flops = Profiler.stop().reduce(0) { $0 + $1.flops }
        let threads = Parallel.threadCount
        let a = Tensor.normal([1024, 1024], using: &generator), c = Tensor(repeating: 0, shape: [1024, 1024])
        var rows: [BenchmarkRow] = []
        var seconds: [Int: Double] = [:]
        for count in Set([1, threads]).sorted() {
            let (gemm, stepSeconds) = withThreads(count) {
                (medianSeconds { BLAS.gemm(m: 1024, n: 1024, k: 1024, a: a.pointer, lda: 1024, b: a.pointer, ldb: 1024, c: c.pointer, ldc: 1024) },
                 medianSeconds(warmup: 1, repetitions: 5, step))
            }
            seconds[count] = stepSeconds
            rows.append(BenchmarkRow(suite: "spatial", name: "spatial_fwd_bwd_T\(classes)_\(count)_thread", ours: seconds[count]!,
                                     baselineName: "sgemm_1024 at its rate", baseline: flops / (2 * pow(1024.0, 3) / gemm),
                                     flops: flops))
        }
        // Forward only, at inference's T = 150: the fused unrecorded path (evaluation, and the
        // first forward of the classes that training recomputes) against the recorded operations.
        let inferenceCost = Tensor.normal([1, 128, 150, 24, 24], using: &generator)
        let unrecorded = medianSeconds(warmup: 1, repetitions: 5) { _ = noGrad { layer(inferenceCost, guidance: guidance) } }
        inferenceCost.requiresGrad = true
        let recorded = medianSeconds(warmup: 1, repetitions: 5) { _ = layer(inferenceCost, guidance: guidance) }
        rows.append(BenchmarkRow(suite: "spatial", name: "spatial_forward_T150_unrecorded", ours: unrecorded,
                                 baselineName: "recorded operations", baseline: recorded))
        // The shifted block's token reordering, both ways, against the roll + partition + reverse
        // + roll chain it replaces (forward only; backward repeats the same copies).
        let maps = Tensor.normal([classes, 24, 24, 128], using: &generator)
        let order = TokenPermutation.windows(height: 24, width: 24, size: 12, shift: 6)
        let inverse = order.inverse
        let tokenRows = maps.reshaped([classes, 576, 128])
        let fused = medianSeconds { _ = noGrad { tokenRows.adding(tokenRows.permutingTokens(order), permutedBy: inverse) } }
        let composed = medianSeconds {
            _ = noGrad {
                let windows = maps.rolled(-6, along: 1).rolled(-6, along: 2).windowPartition(size: 12)
                return maps + windows.windowReverse(size: 12, height: 24, width: 24).rolled(6, along: 1).rolled(6, along: 2)
            }
        }
        rows.append(BenchmarkRow(suite: "spatial", name: "shifted_windows_there_and_back_T\(classes)", ours: fused,
                                 baselineName: "roll+partition+reverse+roll", baseline: composed))
        if threads > 1, let one = seconds[1], let many = seconds[threads] {
            rows.append(BenchmarkRow(suite: "spatial", name: "spatial_\(threads)_threads_vs_1", ours: many,
                                     baselineName: "same, 1 thread", baseline: one))
        }
        return rows
    }
}
