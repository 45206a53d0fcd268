import CLIP
import Data
import Distributed
import Foundation
import Model
import NN
import Tensor

/// `fgaseg-bench step --model DIR`: one full FGAseg training step (CLIP from a Hugging Face
/// folder, 384² image, the 171 COCO-Stuff classes, random labels): forward, losses, backward and
/// AdamW. A first (cold) step warms the tensor cache; the second is profiled: per-section forward
/// and backward time, GEMM GFLOP and peak live memory, the achieved GFLOP/s against the machine's
/// `cblas_sgemm` rate measured in the same run, and the process's peak RSS.
enum StepBenchmark {
    /// `classChunk` > 0 runs the per-class decoder in chunks of that many classes.
    ///
    /// With `scalingPairs` > 0 and more than one thread, that many pairs of profiled steps run
    /// alternately on one thread and on all of them (this VM's speed drifts between minutes, so
    /// only steps side by side are compared): every pair's speed-up is printed with their median,
    /// and the table shows the last pair's times with every section's median speed-up. The warm
    /// step reported is then the median of the multi-thread steps.
    ///
    /// With `classChunk` > 0 and `memoryBudgetGB` > 0, a probe step first picks how many classes keep
    /// their spatial-aggregation activations (as `fgaseg-train` does for `model.memory_budget_gb`).
    static func run(folder: String, classChunk: Int, memoryBudgetGB: Double, scalingPairs: Int) throws -> [BenchmarkRow] {
        let clip = try CLIPModel.load(folder: folder)
        let tokenizer = CLIPTokenizer(vocabulary: try TokenizerVocabulary.huggingFace(folder: folder))
        let model = FGAsegModel(clip: clip, configuration: FGAsegModel.Configuration())
        let flat = FlatParameters(model)
        let optimizer = AdamW(flat) { name in
            AdamW.Group(learningRateScale: name.hasPrefix("clip.") ? 0.01 : 1,
                        weightDecay: name.contains("norm") ? 0 : 1e-4)
        }
        let prompts = ClassNames.names(.cocoStuff171).map { tokenizer.encode(Prompts.prompt(for: $0)).ids }
        var generator = RandomGenerator(seed: 0)
        let image = Tensor.normal([1, 3, 384, 384], using: &generator)
        let labels = (0..<(384 * 384)).map { _ in Int32(generator.next() % 172) }.map { $0 == 171 ? Int32(255) : $0 }
        model.train()
        var kept = 0
        if classChunk > 0 && memoryBudgetGB > 0 {
            let plan = model.spatialClassesWithin(budgetBytes: Int(memoryBudgetGB * 1e9), images: image,
                                                  classes: model.classEmbeddings(prompts), labels: labels, size: 384, classChunk: classChunk)
            kept = plan.kept
            print(String(format: "  memory plan: the probe step peaked at %.2f GB; keeping the spatial-aggregation activations of %d of %d classes (estimated %.1f MB each) within %g GB",
                         Double(plan.probePeakBytes) / 1e9, plan.kept, prompts.count, Double(plan.bytesPerClass) / 1e6, memoryBudgetGB))
        }

        // As in the trainer: the reducer (of one rank here) reports readiness and clips.
        let reducer = try GradientReducer(parameters: flat, communicator: SingleProcessCommunicator(), maxGradientNorm: 0.01)

        /// One step; returns its wall time and loss parts.
        func step() throws -> (seconds: Double, loss: (total: Float, segmentation: Float, textToPixel: Float)) {
            let start = DispatchTime.now().uptimeNanoseconds
            flat.zeroGradients()
            reducer.prepareForBackward()
            let classes = model.classEmbeddings(prompts)
            let values: (total: Float, segmentation: Float, textToPixel: Float)
            if classChunk > 0 {
                let result = model.chunkedTrainingStep(image, classes: classes, labels: labels, size: 384, classChunk: classChunk,
                                                       keptSpatialClasses: kept)
                values = (result.total, result.segmentation, result.textToPixel)
            } else {
                let output = model(image, classes: classes)
                let losses = Profiler.section("losses") { model.losses(output, labels: labels, size: 384) }
                losses.total.backward()
                values = (losses.total.item, losses.segmentation.item, losses.textToPixel.item)
            }
            try Profiler.section("clip-grad + AdamW") {
                try reducer.finish()
                optimizer.update(learningRate: 2e-4)
            }
            return (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, values)
        }
        let cold = try step()
        /// One warm, profiled step on `threads` threads.
        func profiledStep(threads: Int) throws -> (seconds: Double, loss: (total: Float, segmentation: Float, textToPixel: Float), sections: [Profiler.Entry]) {
            let configured = Parallel.threadCount
            return try withThreads(threads) {
                Profiler.start()
                let faults = minorPageFaults()
                let result = try step()
                if threads == configured {
                    let touched = minorPageFaults() - faults
                    print(String(format: "  page faults in the %d-thread step: %d (%.2f GB of fresh memory touched)", threads,
                                 touched, Double(touched) * 4096 / 1e9))
                }
                return (result.seconds, result.loss, Profiler.stop())
            }
        }
        let threads = Parallel.threadCount
        // In each pair the single-thread step runs first, so the step of interest comes last (its
        // peak memory and cache numbers are the ones printed).
        var pairs: [(single: Double, multi: Double)] = []
        var sectionSpeedUps: [String: [Double]] = [:]
        var singleSeconds: [String: Double] = [:]
        let pairCount = threads > 1 ? scalingPairs : 0
        var last = pairCount == 0 ? try profiledStep(threads: threads) : nil
        for _ in 0..<pairCount {
            let single = try profiledStep(threads: 1), multi = try profiledStep(threads: threads)
            pairs.append((single.seconds, multi.seconds))
            singleSeconds = Dictionary(uniqueKeysWithValues: single.sections.map { ($0.name, $0.forwardSeconds + $0.backwardSeconds) })
            for entry in multi.sections {
                let seconds = entry.forwardSeconds + entry.backwardSeconds
                if let one = singleSeconds[entry.name], seconds > 0 { sectionSpeedUps[entry.name, default: []].append(one / seconds) }
            }
            last = multi
        }
        guard let last else { preconditionFailure("step: no profiled step ran") }
        let sections = last.sections
        // The pair with the median speed-up (the lower middle one for an even count), printed and
        // returned as the speed-up, and the median multi-thread step.
        func speedUp(_ pair: (single: Double, multi: Double)) -> Double { pair.single / pair.multi }
        let medianPair = pairs.sorted { speedUp($0) < speedUp($1) }.dropFirst((pairs.count - 1) / 2).first
        let warm = (seconds: pairs.isEmpty ? last.seconds : median(pairs.map(\.multi)), loss: last.loss)

        // The machine's GEMM rate, measured now, for scale.
        let a = Tensor.normal([1024, 1024], using: &generator), c = Tensor(repeating: 0, shape: [1024, 1024])
        let gemm = medianSeconds { BLAS.gemm(m: 1024, n: 1024, k: 1024, a: a.pointer, lda: 1024, b: a.pointer, ldb: 1024, c: c.pointer, ldc: 1024) }
        let gemmRate = 2 * pow(1024.0, 3) / gemm
        let totalFlops = sections.reduce(0) { $0 + $1.flops }
        func padded(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        let scalingHeader = pairs.isEmpty ? "" : String(format: "  1-thread s  %d-thread speed-up", threads)
        print("  " + padded("section (forward includes nested sections)", 46) + "     fwd s     bwd s    GFLOP   GFLOP/s   peak MB" + scalingHeader)
        for entry in sections {
            let label = indentedSectionName(entry)
            let seconds = entry.forwardSeconds + entry.backwardSeconds
            let rate = entry.flops > 0 && seconds > 0 ? String(format: "%9.1f", entry.flops / seconds / 1e9) : String(repeating: " ", count: 9)
            let scalingColumns = singleSeconds[entry.name].map { String(format: " %11.2f %18.2f", $0, median(sectionSpeedUps[entry.name] ?? [0])) } ?? ""
            print("  " + padded(label, 46) + String(format: " %9.2f %9.2f %8.1f %@ %9d", entry.forwardSeconds, entry.backwardSeconds,
                         entry.flops / 1e9, rate as NSString, entry.peakLiveBytes / 1_000_000) + scalingColumns)
        }
        print(String(format: "  cold step %.2f s, warm step %.2f s%@: %.0f GFLOP of GEMMs, %.1f GFLOP/s = %.0f%% of sgemm's %.1f GFLOP/s",
                     cold.seconds, warm.seconds, (pairs.count > 1 ? " (median of \(pairs.count))" : "") as NSString, totalFlops / 1e9,
                     totalFlops / warm.seconds / 1e9, 100 * totalFlops / warm.seconds / gemmRate, gemmRate / 1e9))
        if let medianPair {
            let listed = pairs.map { String(format: "%.2f/%.2f = %.2f", $0.single, $0.multi, speedUp($0)) }.joined(separator: ", ")
            print(String(format: "  whole step, 1 thread / %d threads, alternating pairs: %@ → median speed-up %.2f×", threads,
                         listed as NSString, speedUp(medianPair)))
        }
        let allocator = CachingAllocator.shared
        print(String(format: "  loss %.4f (segmentation %.4f, T2P %.4f); peak RSS %d MB; peak live tensors %d MB; tensor cache holds %d MB",
                     warm.loss.total, warm.loss.segmentation, warm.loss.textToPixel, peakResidentMegabytes(),
                     Profiler.peakLiveBytes / 1_000_000, (allocator.liveBytes + allocator.cachedBytes) / 1_000_000))
        var rows = [BenchmarkRow(suite: "step", name: "fgaseg_vitb16_384_T171_train_step_chunk\(classChunk)_kept\(kept)", ours: warm.seconds,
                                 baselineName: "14 s target", baseline: 14, flops: totalFlops),
                    BenchmarkRow(suite: "step", name: "sgemm_1024", ours: gemm, baselineName: "-", baseline: gemm, flops: 2 * pow(1024.0, 3))]
        if let medianPair {
            rows.append(BenchmarkRow(suite: "step", name: "train_step_\(threads)_threads_vs_1", ours: medianPair.multi,
                                     baselineName: "same step, 1 thread", baseline: medianPair.single))
        }
        return rows
    }
}
