// fgaseg-bench: release-build benchmarks that print our time next to a baseline measured in the
// same run (DESIGN.md §7). `speedup` = baseline / ours: 1.0 is parity, higher is better.
import ArgumentParser
import CLISupport
import Distributed
import Foundation
import Tensor

struct Bench: Tool {
    static let configuration = CommandConfiguration(
        commandName: "fgaseg-bench",
        abstract: "Benchmarks of FGASeg.swift against baselines measured in the same run.",
        discussion: """
            Suites: ops (tensor kernels vs cblas_sgemm and memcpy); allreduce (run under mpirun: the \
            bucketed gradient all-reduce vs one MPI_Allreduce, and overlap with a simulated backward); \
            overlap (--model DIR, under mpirun, e.g. through ci/bench/two-hosts: the share of gradient communication \
            that the paper configuration's chunked training step hides behind its backward, and its step time, \
            with overlap on against off); \
            clip (--model DIR: a Hugging Face CLIP folder; compare with ci/bench/clip_torch.py); \
            step (--model DIR: one full FGAseg training step at 384 px with the 171 COCO-Stuff classes); \
            spatial (one spatial-aggregation layer on a 16-class chunk, forward + backward, on 1 thread and \
            all threads, vs sgemm at the same thread count); \
            loader (decode + augmentation throughput of the training loader vs JPEG decoding alone, and its \
            share of a training step of --step-seconds); segment (--model DIR: images/s of fgaseg-segment at \
            384 px with 20 classes, full and fast decoder, vs the CLIP image tower alone). \
            Build with `swift build -c release`.
            """,
        version: BuildDescription.text)

    @Argument(help: "The suite to run: ops, allreduce, overlap, clip, step, spatial, loader or segment.")
    var suite: String

    @Option(help: "clip, step, overlap, segment: a Hugging Face CLIP folder (config.json, model.safetensors, vocab.json, merges.txt).")
    var model: String?

    @Flag(help: "clip: time only the vision tower (ci/bench/clip_pairs.py alternates it with PyTorch).")
    var visionOnly = false

    @Option(help: "step, overlap: classes per chunk of the per-class decoder (step: 0 for all at once).")
    var classChunk = 16

    @Option(help: "step: live tensor memory (GB) the step may use; the spatial aggregation keeps as many classes' activations as fit (0: recompute every class). As model.memory_budget_gb in fgaseg-train.")
    var memoryBudgetGb = 7.0

    @Flag(inversion: .prefixedNo, help: "step: also profile steps on a single thread, alternating with steps on --threads, and print the whole step's and every section's speed-up (medians over the pairs).")
    var scaling = true

    @Option(help: "step: pairs of single-thread and --threads steps for the speed-up (with --scaling).")
    var scalingPairs = 3

    @Flag(inversion: .prefixedNo, help: "segment: also time the sliding-window protocol with 150 classes (the longest row).")
    var slidingWindow = true

    @Option(help: "allreduce: gradient sizes in millions of floats.")
    var millions: [Int] = [34, 86]

    @Option(help: "overlap: the first this many COCO-Stuff classes (the gradient keeps its full size).")
    var classes = 32

    @Option(help: "overlap: measured steps per mode and cycle (after one that learns the bucket schedule).")
    var steps = 2

    @Option(help: "overlap: cycles through the three modes (overlap off; on, shared memory; on, MPI messages).")
    var cycles = 2

    @Option(help: "allreduce, overlap: bucket size in MB.")
    var bucketMegabytes = 25

    @Option(help: "loader: the training-step time to compare with (seconds; `fgaseg-bench step` measures it).")
    var stepSeconds = 40.0

    @Flag(help: "Print one JSON object per measurement.")
    var json = false

    @Option(help: "Threads for the engine's kernels and GEMMs (default: all cores).")
    var threads: Int?

    func run() throws {
        if let threads { Parallel.threadCount = threads }
        let world = try makeWorldCommunicator()
        let rows: [BenchmarkRow]
        switch suite {
        case "ops": rows = OpsBenchmark.run()
        case "allreduce":
            rows = try AllReduceBenchmark.run(world: world, floatCounts: millions.map { $0 * 1_000_000 },
                                              bucketBytes: bucketMegabytes * 1_000_000)
        case "overlap":
            guard let model else { throw ValidationError("the overlap suite needs --model DIR (ci/bench/make_random_clip.py writes one)") }
            guard classChunk > 0, classes > 0, steps > 0, cycles > 0 else {
                throw ValidationError("overlap: --class-chunk, --classes, --steps and --cycles must be positive")
            }
            rows = try OverlapBenchmark.run(world: world, folder: model,
                                            options: .init(classes: min(classes, 171), classChunk: classChunk, steps: steps, cycles: cycles,
                                                           bucketBytes: bucketMegabytes * 1_000_000))
        case "clip":
            guard let model else { throw ValidationError("the clip suite needs --model DIR (ci/bench/make_random_clip.py writes one)") }
            rows = try CLIPBenchmark.run(folder: model, visionOnly: visionOnly)
        case "step":
            guard let model else { throw ValidationError("the step suite needs --model DIR (ci/bench/make_random_clip.py writes one)") }
            guard scalingPairs > 0 else { throw ValidationError("step: --scaling-pairs must be positive (use --no-scaling for none)") }
            rows = try StepBenchmark.run(folder: model, classChunk: classChunk, memoryBudgetGB: memoryBudgetGb,
                                         scalingPairs: scaling ? scalingPairs : 0)
        case "spatial": rows = SpatialBenchmark.run()
        case "loader": rows = try LoaderBenchmark.run(stepSeconds: stepSeconds)
        case "segment":
            guard let model else { throw ValidationError("the segment suite needs --model DIR (ci/bench/make_random_clip.py writes one)") }
            rows = try SegmentBenchmark.run(folder: model, images: 6, slidingWindow: slidingWindow)
        default: throw ValidationError("unknown suite '\(suite)'; available: ops, allreduce, overlap, clip, step, spatial, loader, segment")
        }
        if world.isMain {
            if !json {
                print("fgaseg-bench \(suite): \(world.size) rank(s), \(Parallel.threadCount) threads, \(BLAS.configuration)")
            }
            rows.forEach { print($0.printed(json: json)) }
        }
        try world.finalize()
    }
}

Bench.main()
