import Distributed
import Foundation
import IO
import Data
import Tensor
import Testing
@testable import Training
@testable import Inference

@Suite(.serialized) struct TrainingLoopTests {
    /// Train 12 iterations straight; train with a stop request during iteration 7, then resume
    /// to 12: the final parameters and optimiser state are bit-identical. Also with the chunked
    /// step, whose memory-plan probe runs at every start, keeping none or all of the spatial
    /// aggregation's classes.
    @Test(arguments: [[], ["model.class_chunk=2", "model.memory_budget_gb=1e-9"], ["model.class_chunk=2", "model.memory_budget_gb=1000"]])
    func stoppedAndResumedRunEqualsAStraightRun(step: [String]) throws {
        let overrides = step + ["solver.max_iter=12", "test.eval_period=0", "checkpoint.period=100", "data.train.count=24", "solver.ims_per_batch=2", "solver.ims_per_rank=1"]
        let straightFolder = temporaryFolder("straight"), resumedFolder = temporaryFolder("resumed")
        let straight = try Trainer(configuration: try demoConfiguration(output: straightFolder, overrides: overrides),
                                   world: SingleProcessCommunicator(), resume: false, log: { _ in })
        let straightRecords = RecordingHook()
        try straight.run(extraHooks: [straightRecords])
        #expect(straightRecords.records.map(\.iteration) == Array(1...12))
        #expect(straightRecords.records.map(\.isLast) == Array(repeating: false, count: 11) + [true])
        #expect(straightRecords.records.allSatisfy { !$0.stopping && $0.losses.total.isFinite && $0.losses.total > 0 })
        #expect(straightRecords.records.allSatisfy { $0.phases.compute > 0 && $0.dataWaitSeconds <= $0.phases.compute })

        let stop = StopRequest(signals: [])
        let first = try Trainer(configuration: try demoConfiguration(output: resumedFolder, overrides: overrides),
                                world: SingleProcessCommunicator(), resume: false, stopRequest: stop,
                                log: { line in if line.hasPrefix("iter 6/") { stop.request("test") } })
        let firstRecords = RecordingHook()
        try first.run(extraHooks: [firstRecords])
        #expect(first.iteration == 7)
        // The hooks saw the stopping iteration (the checkpointer wrote it) and nothing after it.
        #expect(firstRecords.records.map(\.stopping) == Array(repeating: false, count: 6) + [true])
        #expect(firstRecords.records.map(\.losses) == straightRecords.records.prefix(7).map(\.losses))
        let saved = try #require(Checkpoint.latest(in: resumedFolder))
        #expect(try Checkpoint.state(at: saved).iteration == 7)
        let resumed = try Trainer(configuration: try demoConfiguration(output: resumedFolder, overrides: overrides),
                                  world: SingleProcessCommunicator(), resume: true, log: { _ in })
        #expect(resumed.iteration == 7)
        try resumed.run()
        #expect(resumed.iteration == 12)
        for (a, b) in [(straight.flat.values, resumed.flat.values), (straight.optimizer.firstMoment, resumed.optimizer.firstMoment),
                       (straight.optimizer.secondMoment, resumed.optimizer.secondMoment)] {
            let identical = (0..<a.count).allSatisfy { a.pointer[$0].bitPattern == b.pointer[$0].bitPattern }
            #expect(identical)
        }
        #expect(straight.optimizer.step == resumed.optimizer.step)
        let log = try String(contentsOfFile: straightFolder + "/metrics.jsonl", encoding: .utf8)
        #expect(log.split(separator: "\n").count == 12)
    }

    /// A checkpoint write that fails midway leaves the previous checkpoint and the pointer intact;
    /// restoring into a model of another shape names the offending tensors.
    @Test func checkpointsAreAtomicAndValidated() throws {
        let folder = temporaryFolder("checkpoints")
        let trainer = try Trainer(configuration: try demoConfiguration(output: folder), world: SingleProcessCommunicator(), resume: false, log: { _ in })
        let state = CheckpointState(iteration: 3, optimizerStep: 3, skippedSteps: 0, worldSize: 1, configuration: "x: 1\n")
        let first = try Checkpoint.save(model: trainer.model, optimizer: trainer.optimizer, state: state, folder: folder, keep: 2)
        struct Interrupted: Error {}
        #expect(throws: Interrupted.self) {
            try AtomicFile.write(to: folder + "/" + Checkpoint.fileName(iteration: 4)) { temporary in
                try HDF5File(path: temporary, mode: .create).write("partial", [Float(1)], shape: [1])
                throw Interrupted()
            }
        }
        #expect(Checkpoint.latest(in: folder) == first)
        #expect(!FileManager.default.fileExists(atPath: folder + "/" + Checkpoint.fileName(iteration: 4)))
        #expect(try Checkpoint.restore(trainer.model, optimizer: trainer.optimizer, from: first) == state)
        // keep = 2 prunes the oldest.
        for iteration in [5, 6] {
            var next = state
            next.iteration = iteration
            try Checkpoint.save(model: trainer.model, optimizer: nil, state: next, folder: folder, keep: 2)
        }
        #expect(!FileManager.default.fileExists(atPath: first) && Checkpoint.latest(in: folder)!.hasSuffix("model_0000006.h5"))
        // An invalid width is a configuration error, not a crash; a model with a different decoder
        // width does not load.
        #expect(throws: ConfigurationError.self) {
            try Trainer(configuration: try demoConfiguration(output: temporaryFolder("bad"), overrides: ["model.architecture.decoder.hidden=24"]),
                        world: SingleProcessCommunicator(), resume: false, log: { _ in })
        }
        let other = try Trainer(configuration: try demoConfiguration(output: temporaryFolder("other"), overrides: ["model.architecture.decoder.hidden=64"]),
                                world: SingleProcessCommunicator(), resume: false, log: { _ in })
        do {
            try Checkpoint.restore(other.model, optimizer: nil, from: Checkpoint.latest(in: folder)!)
            Issue.record("a mismatched checkpoint must not load")
        } catch {
            #expect("\(error)".contains("shape") && "\(error)".contains("decoder."), "\(error)")
        }
    }

    /// A NaN in a frozen CLIP weight makes every loss non-finite: each step is skipped (logged,
    /// no parameter or optimiser change), and the step after `solver.max_nonfinite_steps` of
    /// them stops the run with an error that says why. metrics.jsonl stays valid JSON.
    @Test func nonFiniteLossesSkipStepsThenStopTheRun() throws {
        final class Lines: @unchecked Sendable { var all: [String] = [] }
        let lines = Lines()
        let overrides = ["solver.max_iter=10", "test.eval_period=0", "checkpoint.period=100", "data.train.count=8",
                         "solver.ims_per_batch=1", "solver.ims_per_rank=1", "solver.max_nonfinite_steps=2"]
        let folder = temporaryFolder("nonfinite")
        let trainer = try Trainer(configuration: try demoConfiguration(output: folder, overrides: overrides),
                                  world: SingleProcessCommunicator(), resume: false, log: { lines.all.append($0) })
        trainer.model.clip.visionModel.postLayerNorm.bias.pointer[0] = .nan
        let before = Array(UnsafeBufferPointer(start: trainer.flat.values.pointer, count: trainer.flat.count))
        let error = #expect(throws: DivergedRunError.self) { try trainer.run() }
        #expect(error == DivergedRunError(skippedSteps: 3, limit: 2), "\(String(describing: error))")
        #expect(error?.description.hasPrefix("3 steps with a non-finite loss (solver.max_nonfinite_steps = 2)") == true)
        let skipped = lines.all.filter { $0.contains("non-finite loss on 1 rank(s); step skipped") }
        #expect(skipped.count == 3, "\(lines.all)")
        #expect(trainer.optimizer.step == 0)
        let after = UnsafeBufferPointer(start: trainer.flat.values.pointer, count: trainer.flat.count)
        #expect(zip(before, after).allSatisfy { $0.bitPattern == $1.bitPattern })
        // JSON has no NaN: the skipped steps' losses are logged as null.
        let metrics = try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(metrics.count == 2 && metrics.allSatisfy { $0.contains("\"loss\":null") }, "\(metrics)")
    }
}

/// The number written for `key` in a JSON text, parsed exactly. Foundation's JSON reader on Linux
/// rounds some 17-digit numbers by an ulp (it reads 61.754141606070526 as 61.75414160607054), so
/// it cannot show that a file holds a value exactly.
func exactJSONNumber(_ key: String, in text: String) -> Double? {
    for written in ["\"\(key)\"", "\"\(key.replacingOccurrences(of: "/", with: "\\/"))\""] {
        guard let start = text.range(of: written)?.upperBound else { continue }
        let number = text[start...].drop { $0 == ":" || $0 == " " }.prefix { "+-.0123456789eE".contains($0) }
        return Double(String(number))
    }
    return nil
}

@Suite struct DemoTrainingTests {
    /// The demo recipe on one rank (accumulating the 2 × 4-image global batch), shortened to 150
    /// iterations, reaches the demo mIoU threshold on the demo validation scenes.
    @Test func demoTrainingReachesTheDemoThreshold() throws {
        let folder = temporaryFolder("demo")
        let configuration = try demoConfiguration(output: folder, overrides: [
            "solver.max_iter=150", "test.eval_period=150", "checkpoint.period=150", "log_period=50"])
        let trainer = try Trainer(configuration: configuration, world: SingleProcessCommunicator(), resume: false, log: { _ in })
        let metrics = try #require(try trainer.run())
        #expect(metrics.mIoU >= demoMIoUThreshold, "demo mIoU \(metrics.mIoU)")
        // The evaluation JSON records its protocol; metrics.jsonl has the evaluation row and timestamps.
        let evaluationText = try String(contentsOfFile: folder + "/eval/150.json", encoding: .utf8)
        let evaluation = try #require(try JSONSerialization.jsonObject(with: Data(evaluationText.utf8)) as? [String: Any])
        #expect(exactJSONNumber("mIoU", in: evaluationText) == metrics.mIoU)
        let used = try #require(evaluation["protocol"] as? [String: Any])
        #expect(used["sliding_window"] as? Bool == configuration.test.slidingWindow
                && used["class_pooling"] as? Int == (configuration.test.slidingWindow ? 1 : configuration.model.architecture.decoder.pooling)
                && used["classes"] as? Int == DemoScenes.classNames.count && used["input_size"] as? Int == configuration.data.cropSize, "\(used)")
        let logged = try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").map { line in
            (text: String(line), row: try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        let rows = logged.compactMap(\.row)
        #expect(rows.allSatisfy { ($0["time"] as? Double).map { abs($0 - Date().timeIntervalSince1970) < 3600 } == true })
        #expect(logged.contains { $0.row?["iteration"] as? Int == 150 && exactJSONNumber("eval/mIoU", in: $0.text) == metrics.mIoU })
        // Every logged window splits its time into phases that fit in it, and reports its peak memory.
        let windows = rows.filter { $0["loss"] != nil }
        #expect(!windows.isEmpty && windows.allSatisfy { row in
            guard let total = row["seconds_per_iteration"] as? Double, let compute = row["seconds_compute"] as? Double,
                  let communication = row["seconds_communication"] as? Double, let optimizer = row["seconds_optimizer"] as? Double,
                  let peak = row["peak_tensor_gb"] as? Double else { return false }
            return compute > 0 && communication >= 0 && optimizer > 0 && compute + communication + optimizer <= total * 1.001 + 1e-4 && peak > 0
        }, "\(windows.first ?? [:])")
        // TensorBoard: the resolved config as text, and at the evaluation the first validation
        // scene as image | ground truth | prediction.
        let eventFile = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasPrefix("events.out.tfevents.") })
        let values = try EventFile.summaryValues(at: folder + "/" + eventFile)
        let config = try #require(values.first { $0.tag == "config" })
        let tensor = try #require(try EventFile.bytes(config.value, 8).first)
        let text = String(decoding: try #require(try EventFile.bytes(tensor, 8).first), as: UTF8.self)
        #expect(text == "```yaml\n" + (try ConfigurationLoader.yaml(configuration)) + "```")
        let sample = try #require(values.first { $0.tag == "eval/sample_0" })
        #expect(sample.step == 150)
        let picture = try #require(try EventFile.bytes(sample.value, 4).first)
        let panel = try PNG.decode(try #require(try EventFile.bytes(picture, 4).first))
        let scene = DemoScenes(split: .validation, count: 1).render(0)
        #expect(panel.width == 3 * scene.image.width && panel.height == scene.image.height)
        let truth = scene.labels.samples.map { Int32($0) }
        #expect((0..<scene.image.width).allSatisfy { x in panel[5, x, 0] == scene.image[5, x, 0] })
        #expect((0..<scene.image.width).allSatisfy { x in
            let expected = SegmentationRendering.color(Int(truth[5 * scene.image.width + x]))
            return (panel[5, scene.image.width + x, 0], panel[5, scene.image.width + x, 1]) == (expected.0, expected.1)
        })
        let checkpoint = try #require(Checkpoint.latest(in: folder))
        #expect(checkpoint.hasSuffix("model_0000150.h5"))
        try segmentsDemoScenes(checkpoint: checkpoint)
        try exportRoundTripKeepsLogits(checkpoint: checkpoint)
    }

    /// fgaseg-segment's path on the demo checkpoint: demo validation scenes segmented with the
    /// demo class names reach the threshold, and the overlay's legend shows the present classes.
    func segmentsDemoScenes(checkpoint: String) throws {
        let segmenter = try Segmenter(checkpoint: checkpoint)
        let names = DemoScenes.classNames
        let vocabulary = try segmenter.vocabulary(names)
        let scenes = DemoScenes(split: .validation, count: 12)
        var matrix = ConfusionMatrix(classCount: names.count)
        for index in 0..<scenes.count {
            let scene = scenes.render(index)
            let labels = try segmenter.segment(scene.image, vocabulary: vocabulary, options: Segmenter.Options(slidingWindow: index % 2 == 1)).labels
            matrix.add(predicted: labels, labels: scene.labels.samples.map { Int32($0) })
            guard index == 0 else { continue }
            let overlay = try PNG.decode(try PNG.encode(SegmentationRendering.overlay(scene.image, labels: labels, classNames: names)))
            let present = SegmentationRendering.fractions(labels, classCount: names.count)
            let layout = SegmentationRendering.LegendLayout(imageHeight: scene.image.height)
            #expect(overlay.width > scene.image.width && overlay.height >= scene.image.height)
            for (row, entry) in present.enumerated() {
                let (y, x) = (layout.top + row * layout.rowHeight + 1, scene.image.width + layout.margin + 1)
                let expected = SegmentationRendering.color(entry.id)
                #expect(overlay[y, x, 0] == expected.0 && overlay[y, x, 1] == expected.1 && overlay[y, x, 2] == expected.2, "legend row \(row)")
            }
        }
        #expect(matrix.metrics.mIoU >= demoMIoUThreshold, "segmentation of demo scenes: mIoU \(matrix.metrics.mIoU)")
    }

    /// Export → import gives a checkpoint with identical logits, and touches nothing else.
    func exportRoundTripKeepsLogits(checkpoint: String) throws {
        let folder = temporaryFolder("export")
        try ModelStore.export(checkpoint: checkpoint, to: folder + "/model")
        try ModelStore.importModel(folder + "/model", to: folder + "/imported.h5")
        let original = try ModelStore.load(checkpoint), exported = try ModelStore.load(folder + "/model"), imported = try ModelStore.load(folder + "/imported.h5")
        let image = SegmentationPredictor.normalized(DemoScenes(split: .validation, count: 1, size: 64).render(0).image)
        func logits(_ loaded: ModelStore.Loaded) -> [Float] {
            noGrad {
                let classes = loaded.model.classEmbeddings(ModelBuilder.prompts(DemoScenes.classNames, tokenizer: loaded.tokenizer, template: loaded.configuration.model.promptTemplate))
                let out = loaded.model(image, classes: classes).logits
                return Array(UnsafeBufferPointer(start: out.pointer, count: out.count))
            }
        }
        let reference = logits(original)
        #expect(logits(exported) == reference && logits(imported) == reference)
        #expect(FileManager.default.fileExists(atPath: folder + "/model/model.safetensors"))
        // The import writes only the named file: no last_checkpoint pointing elsewhere, no model_*.h5.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["imported.h5", "model"])
    }
}

/// The mIoU the demo training must reach on the demo validation split.
let demoMIoUThreshold = 50.0

/// Keeps every record the training loop hands to its hooks.
private final class RecordingHook: TrainingHook {
    var records: [IterationRecord] = []
    func afterIteration(_ record: IterationRecord, trainer: Trainer) throws { records.append(record) }
}
