import Distributed
import Foundation
import IO
import Testing
@testable import Training

@Suite(.serialized) struct TrainingLoopTests {
    /// Train 12 iterations straight; train with a stop request during iteration 7, then resume
    /// to 12: the final parameters and optimiser state are bit-identical.
    @Test func stoppedAndResumedRunEqualsAStraightRun() throws {
        let overrides = ["solver.max_iter=12", "test.eval_period=0", "checkpoint.period=100", "data.train.count=24", "solver.ims_per_batch=2", "solver.ims_per_rank=1"]
        let straightFolder = temporaryFolder("straight"), resumedFolder = temporaryFolder("resumed")
        let straight = try Trainer(configuration: try demoConfiguration(output: straightFolder, overrides: overrides),
                                   world: SingleProcessCommunicator(), resume: false, log: { _ in })
        try straight.run()

        let stop = StopRequest(signals: [])
        let first = try Trainer(configuration: try demoConfiguration(output: resumedFolder, overrides: overrides),
                                world: SingleProcessCommunicator(), resume: false, stopRequest: stop,
                                log: { line in if line.hasPrefix("iter 6/") { stop.request("test") } })
        try first.run()
        #expect(first.iteration == 7)
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
        #expect(throws: IOError.self) {
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
        let evaluation = try String(contentsOfFile: folder + "/eval/150.json", encoding: .utf8)
        #expect(evaluation.contains("\"mIoU\""))
        #expect(Checkpoint.latest(in: folder)?.hasSuffix("model_0000150.h5") == true)
    }
}

/// The mIoU the demo training must reach on the demo validation split.
let demoMIoUThreshold = 50.0
