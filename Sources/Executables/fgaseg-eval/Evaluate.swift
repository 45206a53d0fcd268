import ArgumentParser
import CLISupport
import Data
import Distributed
import Foundation
import IO
import Inference
import Model
import Tensor
import Training

@main
struct Evaluate: Tool {
    static let configuration = CommandConfiguration(
        commandName: "fgaseg-eval",
        abstract: "Evaluate a checkpoint on a segmentation dataset (spec §8), distributed over the ranks of mpirun.",
        discussion: """
        The model configuration comes from the checkpoint (or --config). Datasets in detectron2's
        layout: \(DatasetName.allCases.map(\.rawValue).joined(separator: ", ")); or --shards DIR; or --demo.

        Examples:
          mpirun -n 4 fgaseg-eval --checkpoint output/model_0080000.h5 --dataset ade20k-150
          fgaseg-eval --checkpoint output/demo/model_0000600.h5 --demo --no-sliding-window
        """,
        version: BuildDescription.text)

    @Option(help: "Checkpoint (HDF5) written by fgaseg-train, or a PyTorch checkpoint such as the official FGA-seg model_final.pth (needs --config).")
    var checkpoint: String

    @Option(help: "YAML config to use instead of the one saved in the checkpoint (required for a PyTorch checkpoint).")
    var config: String?

    @Option(help: "Dataset to evaluate on.")
    var dataset: String?

    @Option(help: "Datasets root (default: $DETECTRON2_DATASETS, else ./datasets).")
    var root: String = DatasetName.defaultRoot

    @Option(help: "A shard folder (fgaseg-prepare) instead of --dataset.")
    var shards: String?

    @Flag(help: "Evaluate on the demo validation scenes.")
    var demo = false

    @Flag(inversion: .prefixedNo, help: "The sliding-window protocol of spec §8 (default on).")
    var slidingWindow = true

    @Option(help: "The class aggregation's pooling window: 1 is the evaluation protocol (spec §8); the training-time evaluation of the paper configs uses 2 with --no-sliding-window.")
    var classPooling = 1

    @Option(help: "Evaluate only the first N images (0 = all).")
    var maxImages = 0

    @Option(help: "Write the metrics and per-class IoU as JSON here.")
    var out: String?

    @Option(help: "Seconds a rank may wait in an evaluation collective before the job ends, naming the rank that did not arrive (default: the config's distributed.watchdog_seconds; 0 = automatic, at least 300 s).")
    var watchdogSeconds: Double?

    func validate() throws {
        if let watchdogSeconds, !(watchdogSeconds >= 0 && watchdogSeconds.isFinite) {
            throw ValidationError("--watchdog-seconds must be a finite number ≥ 0, got \(watchdogSeconds)")
        }
        if maxImages < 0 { throw ValidationError("--max-images must be ≥ 0, got \(maxImages)") }
        if classPooling < 1 { throw ValidationError("--class-pooling must be ≥ 1, got \(classPooling)") }
    }

    func run() throws {
        let world = try makeWorldCommunicator()
        world.abortingOnError {
            var configuration: TrainingConfiguration
            if let config {
                configuration = try ConfigurationLoader.load(path: config)
            } else if ModelStore.isPyTorchCheckpoint(checkpoint) {
                throw ValidationError("\(checkpoint) is a PyTorch checkpoint, which carries no configuration: give --config")
            } else {
                configuration = try ConfigurationLoader.decode(yaml: try Checkpoint.state(at: checkpoint).configuration, source: "\(checkpoint): saved config")
            }
            if let watchdogSeconds { configuration.distributed.watchdogSeconds = watchdogSeconds }
            _ = ThreadBudget.apply(configured: configuration.threads)
            var section = TrainingConfiguration.SourceSection()
            switch (dataset, shards, demo) {
            case (let name?, nil, false): (section.kind, section.dataset, section.root) = ("folder", name, root)
            case (nil, let path?, false): (section.kind, section.path) = ("shards", path)
            case (nil, nil, true): section = configuration.data.test
            default: throw ValidationError("give exactly one of --dataset, --shards or --demo")
            }
            configuration.data.test = section
            guard classPooling <= configuration.model.architecture.decoder.resolution else {
                throw ValidationError("--class-pooling \(classPooling) is larger than the model's \(configuration.model.architecture.decoder.resolution)² class maps")
            }
            // Every weight, CLIP's included, comes from the checkpoint.
            let (model, tokenizer) = try ModelBuilder.model(configuration, loadCLIPWeights: false)
            try ModelStore.loadWeights(from: checkpoint, into: model)
            let source = try DataSources.open(section, demoSplit: .validation, seed: UInt64(configuration.seed))
            var count = DataSources.usedCount(source, section)
            if maxImages > 0 { count = min(count, maxImages) }
            let prompts = ModelBuilder.prompts(source.classNames, tokenizer: tokenizer, template: configuration.model.promptTemplate) {
                if world.isMain { printToolWarning($0) }
            }
            let classes = noGrad { model.classEmbeddings(prompts) }
            let watchdog = try CollectiveWatchdog(communicator: world, timeout: configuration.distributed.watchdogTimeout)
            let bar = world.isMain ? ProgressBar(total: (count + world.size - 1) / world.size, label: "evaluating (rank 0)") : nil
            let matrix = try Evaluator.evaluate(model: model, classes: classes, source: source, count: count,
                                                inputSize: configuration.data.cropSize, slidingWindow: slidingWindow,
                                                classPooling: classPooling, world: world, watchdog: watchdog) { done, _ in
                bar?.update(done)
            }
            guard world.isMain else { return }
            let metrics = matrix.metrics
            let name = dataset ?? shards ?? "demo"
            let used = EvaluationProtocol(classPooling: classPooling, slidingWindow: slidingWindow,
                                          inputSize: configuration.data.cropSize, classes: source.classNames.count)
            print("\n\(name): \(count) images, \(used)")
            print(String(format: "  mIoU %6.2f   fwIoU %6.2f   mACC %6.2f   pACC %6.2f", metrics.mIoU, metrics.fwIoU, metrics.mACC, metrics.pACC))
            let ranked = zip(source.classNames, metrics.perClassIoU).compactMap { n, v in v.map { (n, $0) } }.sorted { $0.1 > $1.1 }
            print("  per-class IoU (best and worst):")
            for (n, v) in ranked.prefix(5) + (ranked.count > 10 ? ranked.suffix(5) : []) { print(String(format: "    %-28@ %6.2f", n as NSString, v)) }
            if let out {
                let record = Evaluator.record(metrics, classNames: source.classNames, iteration: try ModelStore.iteration(of: checkpoint), dataset: name, images: count,
                                              protocol: used)
                try AtomicFile.write(Array(try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .prettyPrinted])), to: out)
            }
        }
        try world.finalize()
    }
}
