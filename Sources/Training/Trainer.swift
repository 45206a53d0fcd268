import CLIP
import CLISupport
import Data
import Distributed
import Foundation
import IO
import Inference
import Model
import NN
import Tensor

/// The training loop of DESIGN.md §6 on every rank: fetch → forward → losses → backward (bucketed
/// all-reduce) → average → clip → AdamW → schedule, with non-finite-loss handling and
/// pre-emption; after every iteration its hooks run in order: ``ReplicaCheck``,
/// ``PeriodicWriter`` (log line, metrics.jsonl, TensorBoard; rank 0), ``PeriodicEvaluation`` and
/// ``PeriodicCheckpointer``.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let world: any Communicator
    public let model: FGAsegModel
    public let tokenizer: CLIPTokenizer
    public let flat: FlatParameters
    public let optimizer: AdamW
    public let schedule: LearningRateSchedule
    /// Micro-batches per iteration (gradient accumulation).
    public let accumulateSteps: Int
    public let stopRequest: StopRequest
    /// Guards every collective of training and evaluation.
    public let watchdog: CollectiveWatchdog
    /// Iterations completed.
    public private(set) var iteration = 0
    /// Why ``run()`` stopped before `solver.max_iter` (the signal of the rank that asked), or nil.
    public private(set) var stopReason: String?
    public private(set) var skippedSteps = 0
    /// Classes whose spatial-aggregation activations a chunked step keeps (``planSpatialMemory(prompts:)``).
    public private(set) var keptSpatialClasses = 0
    private let log: (String) -> Void

    /// Builds the model and optimiser; with `resume`, restores the newest checkpoint of the output
    /// folder (if any) or the checkpoint at `resumeFrom`. A fresh run (neither) applies
    /// `previousRun` to a previous run's files in the output folder (``PreviousRun``).
    public init(configuration: TrainingConfiguration, world: any Communicator, resume: Bool, resumeFrom: String? = nil,
                previousRun: PreviousRun.Policy = .refuse,
                stopRequest: StopRequest = StopRequest(), log: @escaping (String) -> Void = { print($0) }) throws {
        self.configuration = configuration
        self.world = world
        self.stopRequest = stopRequest
        self.log = log
        let solver = configuration.solver
        let perIteration = world.size * solver.imsPerRank
        guard solver.imsPerBatch % perIteration == 0 else {
            throw ConfigurationError(key: "solver.ims_per_batch", source: "configuration with \(world.size) rank(s)",
                                     "\(solver.imsPerBatch) is not a multiple of world size \(world.size) × solver.ims_per_rank \(solver.imsPerRank)")
        }
        accumulateSteps = solver.imsPerBatch / perIteration
        (model, tokenizer) = try ModelBuilder.model(configuration)
        flat = FlatParameters(model)
        let norms = Self.normalizationParameterNames(model)
        optimizer = AdamW(flat, beta1: Float(solver.betas.first ?? 0.9), beta2: Float(solver.betas.last ?? 0.999), eps: Float(solver.eps)) { name in
            AdamW.Group(learningRateScale: name.hasPrefix("clip.") ? Float(solver.clipLrMultiplier) : 1,
                        weightDecay: Float(norms.contains(name) ? solver.weightDecayNorm : solver.weightDecay))
        }
        schedule = try Self.schedule(solver)
        watchdog = try CollectiveWatchdog(communicator: world, timeout: configuration.distributed.watchdogTimeout)
        if let resumeFrom {
            try restore(from: [resumeFrom])
        } else if resume {
            try restore(from: Checkpoint.resumeCandidates(in: configuration.outputDir))
        } else if world.isMain {
            // The other ranks write nothing before the broadcast below, which waits for this.
            try PreviousRun.clear(configuration.outputDir, policy: previousRun)
        }
        try watchdog.guarding("initial weight broadcast", step: iteration) { try Replicas.broadcastFromRoot(model, communicator: world) }
        try watchdog.guarding("initial replica check", step: iteration) { try Replicas.verify(model, communicator: world, step: iteration) }
    }

    /// Restores the first of `candidates` (newest first) that loads and passes its checksums. A
    /// damaged one is skipped with a warning that names it and the problem; when none loads, the
    /// newest one's error is thrown. No candidates: a fresh start.
    private func restore(from candidates: [String]) throws {
        var firstError: Error?
        for path in candidates {
            do {
                let state = try Checkpoint.restore(model, optimizer: optimizer, from: path)
                (iteration, skippedSteps) = (state.iteration, state.skippedSteps)
                if world.isMain { log("resumed from \(path) at iteration \(iteration)") }
                return
            } catch let error as IOError where candidates.count > 1 {
                if world.isMain { log("warning: cannot resume from \(path): \(error.message); trying the previous checkpoint") }
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }

    /// The learning-rate schedule of the solver section.
    public static func schedule(_ solver: TrainingConfiguration.SolverSection) throws -> LearningRateSchedule {
        let shape: LearningRateSchedule.Shape
        switch solver.lrScheduler {
        case "cosine": shape = .cosine
        case "poly": shape = .poly(power: solver.polyPower)
        case "constant": shape = .constant
        default: throw ConfigurationError(key: "solver.lr_scheduler", source: "configuration", "'\(solver.lrScheduler)' is not cosine, poly or constant")
        }
        return LearningRateSchedule(base: solver.baseLr, maxIterations: solver.maxIter, shape: shape,
                                    warmupIterations: solver.warmupIters, warmupFactor: solver.warmupFactor)
    }

    /// The learning rate of every optimiser group at `iteration`: (parameter name, rate).
    public func learningRates(at iteration: Int) -> [(name: String, rate: Double)] {
        let base = schedule.learningRate(at: iteration)
        return zip(flat.entries, optimizer.segments).map { ($0.name, base * Double($1.group.learningRateScale)) }
    }

    /// Dotted names of the parameters of normalisation layers (weight decay `weight_decay_norm`).
    static func normalizationParameterNames(_ module: Module, prefix: String = "") -> Set<String> {
        var names = Set<String>()
        if module is LayerNorm || module is GroupNorm || module is BatchNorm2d {
            for (name, _) in module.ownParameters { names.insert(prefix + name) }
        }
        for (name, child) in module.children { names.formUnion(normalizationParameterNames(child, prefix: prefix + name + ".")) }
        return names
    }

    /// Runs from the current iteration to `solver.max_iter` (or until a stop request), with
    /// `extraHooks` called after the built-in ones. Returns the metrics of the last evaluation, if any.
    @discardableResult
    public func run(extraHooks: [any TrainingHook] = []) throws -> SegmentationMetrics? {
        let c = configuration
        let output = c.outputDir
        if world.isMain {
            try FileManager.default.createDirectory(atPath: output + "/eval", withIntermediateDirectories: true)
            let abandoned = AtomicFile.removeAbandonedTemporaries(in: output)
            if !abandoned.isEmpty { log("removed \(abandoned.count) unfinished file(s) of a killed run: \(abandoned.sorted().joined(separator: ", "))") }
            try AtomicFile.write(Array(try ConfigurationLoader.yaml(c).utf8), to: output + "/config.yaml")
        }
        let trainSource = try DataSources.open(c.data.train, demoSplit: .train, seed: UInt64(c.seed), toleratingBadSamples: c.data.skipBadSamples)
        let trainCount = DataSources.usedCount(trainSource, c.data.train)
        let prompts = ModelBuilder.prompts(trainSource.classNames, tokenizer: tokenizer, template: c.model.promptTemplate) { [world, log] in
            if world.isMain { log("warning: \($0)") }
        }
        // Before the loader's threads start, so that nothing else allocates during the probe.
        planSpatialMemory(prompts: prompts)
        let batches = try TrainingBatches(
            source: trainSource, indices: TrainingBatches.shard(count: trainCount, rank: world.rank, worldSize: world.size),
            batchSize: c.solver.imsPerRank,
            augmentation: TrainingAugmentation(shortEdge: c.data.shortEdge, maxSize: c.data.maxSize, cropSize: c.data.cropSize,
                                               colorJitter: c.data.colorJitter ? ColorJitter() : nil, flip: c.data.flip),
            seed: UInt64(c.seed), rank: world.rank, skipBadSamples: c.data.skipBadSamples)
        let loader = TrainingLoader(batches, start: iteration * accumulateSteps, workers: c.data.workers, prefetch: c.data.prefetch)
        guard let overlap = GradientReducer.OverlapPolicy(rawValue: c.distributed.overlap) else {
            throw ConfigurationError(key: "distributed.overlap", source: "configuration", "'\(c.distributed.overlap)' is not auto, on or off")
        }
        guard let transport = GradientReducer.Transport(rawValue: c.distributed.transport) else {
            throw ConfigurationError(key: "distributed.transport", source: "configuration", "'\(c.distributed.transport)' is not auto, shared or mpi")
        }
        let reducer = try GradientReducer(parameters: flat, communicator: world, bucketBytes: c.distributed.bucketMb * 1_000_000,
                                          overlap: overlap, transport: transport, accumulationSteps: accumulateSteps,
                                          maxGradientNorm: Float(c.solver.clipGradNorm))
        let metricsLog = world.isMain ? try MetricsLog(path: output + "/metrics.jsonl") : nil
        let events = world.isMain ? try TensorBoardWriter(folder: output) : nil
        events?.add(text: "```yaml\n" + (try ConfigurationLoader.yaml(c)) + "```", tag: "config", step: iteration)
        let evaluation = PeriodicEvaluation(period: c.test.evalPeriod, metricsLog: metricsLog, events: events)
        let hooks: [any TrainingHook] = [ReplicaCheck(period: c.distributed.verifyEvery),
                                         PeriodicWriter(period: c.logPeriod, metricsLog: metricsLog, events: events, log: log),
                                         evaluation, PeriodicCheckpointer(period: c.checkpoint.period)] + extraHooks
        if world.isMain {
            log("training \(trainCount) images on \(world.size) rank(s): global batch \(c.solver.imsPerBatch) = \(world.size) × \(c.solver.imsPerRank) × \(accumulateSteps) accumulation, \(flat.count) trainable parameters, iterations \(iteration)..<\(c.solver.maxIter)")
        }
        model.train()
        for hook in hooks { try hook.beforeTraining(self) }
        while iteration < c.solver.maxIter {
            let record = try runIteration(loader: loader, prompts: prompts, reducer: reducer)
            for hook in hooks { try hook.afterIteration(record, trainer: self) }
            if record.stopping {
                stopReason = stopRequest.reason ?? "another rank's request"
                if world.isMain { log("stop requested (\(stopReason!)): checkpoint written at iteration \(iteration); exiting") }
                break
            }
        }
        let skipped = batches.skippedSamples
        if !skipped.isEmpty { log("rank \(world.rank) skipped \(skipped.count) bad sample(s): \(skipped.joined(separator: "; "))") }
        return evaluation.latest
    }

    /// One iteration: the micro-batches' forward and backward, the gradient all-reduce, one
    /// all-reduce that agrees on the losses and on whether any rank saw a non-finite loss or was
    /// asked to stop, then AdamW (or a skipped step). The gradient all-reduce also averages over
    /// ranks and micro-batches and clips, through the gradient scale.
    private func runIteration(loader: TrainingLoader, prompts: [[Int32]], reducer: GradientReducer) throws -> IterationRecord {
        let c = configuration
        let it = iteration, stepStart = Date(), waitBefore = loader.waitSeconds
        var phases = PhaseSeconds(), mark = Date()
        func phaseEnded() -> Double {
            let now = Date()
            defer { mark = now }
            return now.timeIntervalSince(mark)
        }
        flat.zeroGradients()
        var losses = StepLosses(), nonFinite = false
        for micro in 0..<accumulateSteps {
            let batch = try loader.next()
            reducer.isSynchronizing = micro == accumulateSteps - 1
            reducer.prepareForBackward()
            let values = step(batch, prompts: prompts, reducer: reducer)
            losses = losses + StepLosses(segmentation: Double(values.segmentation), textToPixel: Double(values.textToPixel),
                                         total: Double(values.total)) / Double(accumulateSteps)
            if !values.total.isFinite { nonFinite = true }
        }
        watchdog.observe(stepSeconds: Date().timeIntervalSince(stepStart))
        phases.compute = phaseEnded()
        let learnsSchedule = reducer.schedule == nil
        try watchdog.guarding("gradient all-reduce", step: it) { try reducer.finish() }
        if learnsSchedule && world.isMain && !reducer.unusedParameters.isEmpty {
            let names = reducer.unusedParameters
            log("gradient reducer: \(names.count) trainable parameter(s) got no gradient in the first iteration and must stay without one: \(names.prefix(8).joined(separator: ", "))\(names.count > 8 ? ", …" : "")")
        }
        // One all-reduce for the rank-summed losses, ranks with a non-finite loss, ranks asked to stop.
        var agreed = [losses.segmentation, losses.textToPixel, losses.total, nonFinite ? 1 : 0, stopRequest.reason == nil ? 0 : 1]
        try watchdog.guarding("loss all-reduce", step: it) { try agreed.withUnsafeMutableBufferPointer { try world.allReduce($0, .sum) } }
        phases.communication = phaseEnded()
        let learningRate = schedule.learningRate(at: it)
        if agreed[3] > 0 {
            skippedSteps += 1
            if world.isMain { log("iteration \(it): non-finite loss on \(Int(agreed[3])) rank(s); step skipped (\(skippedSteps) so far)") }
            guard skippedSteps <= c.solver.maxNonfiniteSteps else {
                throw DivergedRunError(skippedSteps: skippedSteps, limit: c.solver.maxNonfiniteSteps)
            }
        } else {
            optimizer.update(learningRate: Float(learningRate))
        }
        phases.optimizer = phaseEnded()
        iteration = it + 1
        return IterationRecord(iteration: iteration,
                               losses: StepLosses(segmentation: agreed[0], textToPixel: agreed[1], total: agreed[2]) / Double(world.size),
                               learningRate: learningRate, phases: phases, dataWaitSeconds: loader.waitSeconds - waitBefore,
                               stopping: agreed[4] > 0, isLast: iteration == c.solver.maxIter)
    }

    /// Chooses ``keptSpatialClasses`` from `model.memory_budget_gb` with one probe step on a
    /// batch of the training shape (``FGAsegModel/spatialClassesWithin(budgetBytes:images:classes:labels:size:classChunk:)``),
    /// and logs the choice. Every process start makes the same choice for the same configuration,
    /// so a resumed run computes what an uninterrupted one would.
    private func planSpatialMemory(prompts: [[Int32]]) {
        let c = configuration
        guard c.model.classChunk > 0, c.model.memoryBudgetGb > 0 else { return }
        let size = c.data.cropSize
        model.train()
        let images = Tensor(repeating: 0, shape: [c.solver.imsPerRank, 3, size, size])
        let labels = [Int32](repeating: 0, count: c.solver.imsPerRank * size * size)
        let plan = model.spatialClassesWithin(budgetBytes: Int(c.model.memoryBudgetGb * 1e9), images: images,
                                              classes: model.classEmbeddings(prompts), labels: labels, size: size,
                                              classChunk: c.model.classChunk)
        flat.zeroGradients()
        keptSpatialClasses = plan.kept
        if world.isMain {
            log(String(format: "memory plan: a step that recomputes the spatial aggregation peaks at %.2f GB of tensors; keeping the activations of %d of %d classes (≈ %.2f GB) fits model.memory_budget_gb = %g",
                       Double(plan.probePeakBytes) / 1e9, plan.kept, prompts.count, Double(plan.kept * plan.bytesPerClass) / 1e9,
                       c.model.memoryBudgetGb))
        }
    }

    /// One micro-batch forward and backward; returns the loss values.
    private func step(_ batch: TrainingBatch, prompts: [[Int32]], reducer: GradientReducer)
        -> (segmentation: Float, textToPixel: Float, total: Float) {
        let classes = model.classEmbeddings(prompts)
        let size = configuration.data.cropSize
        if configuration.model.classChunk > 0 {
            return model.chunkedTrainingStep(batch.images, classes: classes, labels: batch.labels, size: size,
                                             classChunk: configuration.model.classChunk, keptSpatialClasses: keptSpatialClasses)
        }
        let losses = model.losses(model(batch.images, classes: classes), labels: batch.labels, size: size)
        let values = (losses.segmentation.item, losses.textToPixel.item, losses.total.item)
        losses.total.backward()
        return values
    }

    /// Evaluates on the test source (`test.sliding_window`; the quick path keeps the training's
    /// class pooling) and writes `eval/<iter>.json`, an `eval/…` row of `metrics.jsonl` and
    /// TensorBoard scalars. The log line names the protocol and says when it is not `fgaseg-eval`'s.
    public func evaluate(events: TensorBoardWriter? = nil, metricsLog: MetricsLog? = nil) throws -> SegmentationMetrics {
        let c = configuration
        let source = try DataSources.open(c.data.test, demoSplit: .validation, seed: UInt64(c.seed))
        var count = DataSources.usedCount(source, c.data.test)
        if c.test.maxImages > 0 { count = min(count, c.test.maxImages) }
        let prompts = ModelBuilder.prompts(source.classNames, tokenizer: tokenizer, template: c.model.promptTemplate)
        let used = EvaluationProtocol(classPooling: c.test.slidingWindow ? 1 : c.model.architecture.decoder.pooling,
                                      slidingWindow: c.test.slidingWindow, inputSize: c.data.cropSize, classes: source.classNames.count)
        let classes = noGrad { model.classEmbeddings(prompts) }
        let start = Date()
        let matrix = try Evaluator.evaluate(model: model, classes: classes, source: source, count: count, inputSize: c.data.cropSize,
                                            slidingWindow: c.test.slidingWindow, classPooling: used.classPooling, world: world,
                                            watchdog: watchdog, predicted: { index, sample, labels in
            // The first validation image, at every evaluation: input | ground truth | prediction.
            guard index == 0, let events else { return }
            let panel = SegmentationRendering.comparison(sample.image, groundTruth: sample.labels.samples.map { Int32($0) },
                                                         prediction: labels, classCount: source.classNames.count)
            try events.add(image: panel, tag: "eval/sample_0", step: iteration)
        })
        let metrics = matrix.metrics
        if world.isMain {
            let record = Evaluator.record(metrics, classNames: source.classNames, iteration: iteration,
                                          dataset: c.data.test.kind == "folder" ? c.data.test.dataset : c.data.test.kind, images: count,
                                          protocol: used)
            let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .prettyPrinted])
            try AtomicFile.write(Array(data), to: c.outputDir + "/eval/\(iteration).json")
            try metricsLog?.write(["iteration": iteration, "eval/mIoU": metrics.mIoU, "eval/fwIoU": metrics.fwIoU,
                                   "eval/mACC": metrics.mACC, "eval/pACC": metrics.pACC, "eval/images": count])
            let standard = EvaluationProtocol.standard(inputSize: used.inputSize, classes: used.classes)
            log(String(format: "eval @ %d: mIoU %.2f  fwIoU %.2f  mACC %.2f  pACC %.2f  (%d images, %.1f s; %@%@)",
                       iteration, metrics.mIoU, metrics.fwIoU, metrics.mACC, metrics.pACC, count, Date().timeIntervalSince(start),
                       used.description, used == standard ? "" : "; fgaseg-eval's default protocol differs: \(standard)"))
            events?.add(scalars: [("eval/mIoU", metrics.mIoU), ("eval/fwIoU", metrics.fwIoU), ("eval/mACC", metrics.mACC),
                                  ("eval/pACC", metrics.pACC)], step: iteration)
        }
        return metrics
    }

    /// Rank 0 writes the checkpoint; the others wait for it (so none can run ahead and be killed
    /// while the file is incomplete).
    func saveCheckpoint() throws {
        if world.isMain {
            let state = CheckpointState(iteration: iteration, optimizerStep: optimizer.step, skippedSteps: skippedSteps,
                                        worldSize: world.size, configuration: try ConfigurationLoader.yaml(configuration))
            let path = try Checkpoint.save(model: model, optimizer: optimizer, state: state, folder: configuration.outputDir, keep: configuration.checkpoint.keep)
            log("checkpoint: \(path)")
        }
        try watchdog.guarding("checkpoint barrier", step: iteration) { try world.barrier() }
    }
}
