import CLIP
import Data
import Distributed
import Foundation
import Model
import NN
import Tensor

/// `fgaseg-bench overlap --model DIR` (under mpirun, e.g. through `ci/bench/two-hosts`): how much
/// of the gradient communication a real FGAseg training step hides behind its backward. Every
/// rank runs the paper configuration's chunked training step (384² image, the first `classes`
/// COCO-Stuff classes, the per-class decoder in chunks of `classChunk`, the spatial aggregation
/// recomputed for every class, so its parameters get their gradients from nested backward passes)
/// with the full set of trainable parameters, so the gradient has its real size while the step is
/// shorter than with 171 classes.
///
/// Three reducers, each for `steps` measured steps after the step in which it learns the bucket
/// schedule: overlap off (the hierarchical shared-memory reduction after backward, the default on
/// one host), overlap on with the hierarchical transport (buckets summed on the host and sent
/// across hosts during backward, the default across hosts), and overlap on with bucketed MPI
/// messages. The cycle of three repeats `cycles` times so that the modes see the same minutes of
/// this machine. The communication left after backward is how much longer the step takes than the
/// slowest rank's backward (both after a barrier, so a rank that waits in
/// ``GradientReducer/finish()`` for a slower one's backward does not count); the hidden share is
/// 1 − (left with overlap) / (left without), per cycle, and the median over the cycles is
/// reported, with the step times.
enum OverlapBenchmark {
    struct Options {
        var classes: Int
        var classChunk: Int
        var steps: Int
        var cycles: Int
        var bucketBytes: Int
    }

    /// One measured mode.
    private struct Mode {
        let name: String
        let overlap: GradientReducer.OverlapPolicy
        let transport: GradientReducer.Transport
    }

    /// Medians over one mode's measured steps: the step and the backward of the slowest rank, and
    /// the difference.
    private struct Timing {
        var step: Double
        var backward: Double
        var afterBackward: Double
        var bucketsDuringBackward: Int
        var buckets: Int
    }

    static func run(world: any Communicator, folder: String, options: Options) throws -> [BenchmarkRow] {
        let clip = try CLIPModel.load(folder: folder)
        let tokenizer = CLIPTokenizer(vocabulary: try TokenizerVocabulary.huggingFace(folder: folder))
        let model = FGAsegModel(clip: clip, configuration: FGAsegModel.Configuration())
        model.train()
        let flat = FlatParameters(model)
        let names = Array(ClassNames.names(.cocoStuff171).prefix(options.classes))
        let prompts = names.map { tokenizer.encode(Prompts.prompt(for: $0)).ids }
        var generator = RandomGenerator(seed: UInt64(world.rank))
        let image = Tensor.normal([1, 3, 384, 384], using: &generator)
        let labels = (0..<(384 * 384)).map { _ in Int32(generator.next() % UInt64(names.count)) }
        if world.isMain {
            print(String(format: "  %d ranks, %d threads each; %d classes in chunks of %d; gradient %.1f M floats (%.0f MB) in buckets of %d MB",
                         world.size, Parallel.threadCount, names.count, options.classChunk, Double(flat.count) / 1e6,
                         Double(flat.count * 4) / 1e6, options.bucketBytes / 1_000_000))
        }

        /// One training step; the slowest rank's step and backward seconds.
        func step(_ reducer: GradientReducer) throws -> (step: Double, backward: Double) {
            try world.barrier()
            let start = DispatchTime.now().uptimeNanoseconds
            flat.zeroGradients()
            reducer.prepareForBackward()
            _ = model.chunkedTrainingStep(image, classes: model.classEmbeddings(prompts), labels: labels, size: 384,
                                          classChunk: options.classChunk)
            let backwardEnd = DispatchTime.now().uptimeNanoseconds
            try reducer.finish()
            let end = DispatchTime.now().uptimeNanoseconds
            var times = [Double(end - start), Double(backwardEnd - start)].map { $0 / 1e9 }
            try times.withUnsafeMutableBufferPointer { try world.allReduce($0, .max) }
            return (times[0], times[1])
        }

        let modes = [Mode(name: "overlap off, shared memory", overlap: .off, transport: .shared),
                     Mode(name: "overlap on, shared memory", overlap: .on, transport: .shared),
                     Mode(name: "overlap on, MPI messages", overlap: .on, transport: .mpi)]
        var timings = [[Timing]](repeating: [], count: modes.count)
        for cycle in 0..<options.cycles {
            for (index, mode) in modes.enumerated() {
                // A new reducer per cycle: its transport is fixed at creation (the shared-memory
                // ones move the gradient buffer into their window).
                let reducer = try GradientReducer(parameters: flat, communicator: world, bucketBytes: options.bucketBytes,
                                                  overlap: mode.overlap, transport: mode.transport)
                _ = try step(reducer)  // learns the schedule
                let measured = try (0..<options.steps).map { _ in try step(reducer) }
                let timing = Timing(step: median(measured.map(\.step)), backward: median(measured.map(\.backward)),
                                    afterBackward: median(measured.map { $0.step - $0.backward }),
                                    bucketsDuringBackward: reducer.lastBucketsStartedDuringBackward, buckets: reducer.buckets.count)
                timings[index].append(timing)
                if world.isMain {
                    print(String(format: "  cycle %d, %@: step %.2f s = slowest backward %.2f s + %.3f s of communication left after it; %d of %d buckets started during backward",
                                 cycle + 1, mode.name as NSString, timing.step, timing.backward, timing.afterBackward,
                                 timing.bucketsDuringBackward, timing.buckets))
                }
            }
        }
        var rows: [BenchmarkRow] = []
        let label = "T\(names.count)_chunk\(options.classChunk)_n\(world.size)"
        for index in 1..<modes.count {
            let hidden = zip(timings[index], timings[0]).map { 1 - $0.afterBackward / max($1.afterBackward, 1e-9) }
            let stepRatios = zip(timings[index], timings[0]).map { $0.step / $1.step }
            if world.isMain {
                print(String(format: "  %@: median share of the after-backward communication hidden %.0f%% (per cycle: %@); step time / overlap off: median %.3f",
                             modes[index].name as NSString, median(hidden) * 100,
                             hidden.map { String(format: "%.0f%%", $0 * 100) }.joined(separator: ", ") as NSString,
                             median(stepRatios)))
            }
            rows.append(BenchmarkRow(suite: "overlap", name: "step_\(modes[index].transport == .shared ? "shared" : "mpi")_overlap_\(label)",
                                     ours: median(timings[index].map(\.step)), baselineName: "overlap off",
                                     baseline: median(timings[0].map(\.step))))
        }
        return rows
    }
}
