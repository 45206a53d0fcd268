import Foundation
import Tensor

/// Wall-clock seconds of `body`, the median of `repetitions` runs after `warmup` runs.
func medianSeconds(warmup: Int = 2, repetitions: Int = 7, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    return median((0..<repetitions).map { _ in seconds(body) })
}

/// The median of `values` (the mean of the middle two for an even count); `values` is not empty.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// `body` with the engine's kernels on `count` threads; the configured count is restored afterwards.
func withThreads<Result>(_ count: Int, _ body: () throws -> Result) rethrows -> Result {
    let configured = Parallel.threadCount
    Parallel.threadCount = count
    defer { Parallel.threadCount = configured }
    return try body()
}

/// Median seconds of copying `x`'s floats with memcpy: the baseline of memory-bound kernels.
func memcpySeconds(_ x: Tensor) -> Double {
    let destination = Tensor(uninitializedShape: x.shape)
    return medianSeconds { destination.pointer.update(from: x.pointer, count: x.count) }
}

/// Wall-clock seconds of `first` and of `second`, run in alternation (so both see the same
/// minutes of this machine): the median of each over `repetitions` pairs after `warmup` pairs.
func alternatingMedianSeconds(warmup: Int = 2, repetitions: Int = 7, _ first: () -> Void, _ second: () -> Void) -> (Double, Double) {
    for _ in 0..<warmup { first(); second() }
    var times: ([Double], [Double]) = ([], [])
    for _ in 0..<repetitions {
        times.0.append(seconds(first))
        times.1.append(seconds(second))
    }
    return (median(times.0), median(times.1))
}

/// Wall-clock seconds of one run of `body`.
private func seconds(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Peak resident memory of this process in MB.
func peakResidentMegabytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss / 1024
}

/// A profiler section's name for a table: its last path component, indented two spaces per
/// level of nesting ("per-class decoder/up-1" → "  up-1").
func indentedSectionName(_ entry: Profiler.Entry) -> String {
    let parts = entry.name.split(separator: "/")
    return String(repeating: "  ", count: parts.count - 1) + (parts.last.map(String.init) ?? entry.name)
}

/// Minor page faults of this process so far (each one a first touch of a fresh page).
func minorPageFaults() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_minflt
}

/// One benchmark result: our time next to a baseline measured in the same run.
struct BenchmarkRow {
    let suite: String
    let name: String
    let ours: Double
    let baselineName: String
    let baseline: Double
    /// Work per run for a throughput column: FLOPs or bytes.
    var flops: Double? = nil
    var bytes: Double? = nil

    var speedup: Double { baseline / ours }

    func printed(json: Bool) -> String {
        if json {
            var fields: [String: Any] = ["suite": suite, "name": name, "ours_s": ours, "baseline": baselineName,
                                         "baseline_s": baseline, "speedup": (speedup * 1000).rounded() / 1000,
                                         "peak_rss_mb": peakResidentMegabytes()]
            if let flops { fields["gflops"] = (flops / ours / 1e9 * 10).rounded() / 10 }
            if let bytes { fields["gbps"] = (bytes / ours / 1e9 * 10).rounded() / 10 }
            let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
        var rate = ""
        if let flops { rate = String(format: "%7.1f GFLOP/s (baseline %7.1f)", flops / ours / 1e9, flops / baseline / 1e9) }
        if let bytes { rate = String(format: "%7.1f GB/s (baseline %7.1f)", bytes / ours / 1e9, bytes / baseline / 1e9) }
        return String(format: "%-34@ %10.3f ms  %-22@ %10.3f ms  ratio %5.2f  %@",
                      name as NSString, ours * 1e3, baselineName as NSString, baseline * 1e3, speedup, rate as NSString)
    }
}
