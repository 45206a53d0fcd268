// fgaseg-bench: release-build benchmarks that print our time next to a baseline measured in the
// same run (DESIGN.md §7). `speedup` = baseline / ours: 1.0 is parity, higher is better.
import ArgumentParser
import Foundation
import Tensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fgaseg-bench",
        abstract: "Benchmarks of FGASeg.swift against baselines measured in the same run.",
        discussion: "Suites: ops (tensor kernels vs cblas_sgemm and memcpy). Build with `swift build -c release`.")

    @Argument(help: "The suite to run: ops.")
    var suite: String

    @Flag(help: "Print one JSON object per measurement.")
    var json = false

    @Option(help: "Threads for OpenBLAS and the engine's kernels (default: all cores).")
    var threads: Int?

    func run() throws {
        if let threads {
            BLAS.threadCount = threads
            Parallel.threadCount = threads
        }
        let rows: [BenchmarkRow]
        switch suite {
        case "ops": rows = OpsBenchmark.run()
        default: throw ValidationError("unknown suite '\(suite)'; available: ops")
        }
        if !json {
            print("fgaseg-bench \(suite): \(Parallel.threadCount) kernel threads, \(BLAS.threadCount) BLAS threads, \(BLAS.configuration)")
        }
        rows.forEach { print($0.printed(json: json)) }
    }
}

Bench.main()
