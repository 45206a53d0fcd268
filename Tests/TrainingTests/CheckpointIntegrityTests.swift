import Distributed
import Foundation
import IO
import Testing
@testable import Training
@testable import Inference

@Suite(.serialized) struct CheckpointIntegrityTests {
    /// `bytes` with the first occurrence of `needle` found and its byte `at` xored with `mask`.
    func flipping(_ bytes: [UInt8], needle: [UInt8], at: Int, mask: UInt8 = 0x10) throws -> [UInt8] {
        let offset = try #require((0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle })
        var flipped = bytes
        flipped[offset + at] ^= mask
        return flipped
    }

    /// A flipped byte in a weight, in an optimizer moment or in the state attributes is detected
    /// on load and names what is damaged and the file.
    @Test func flippedBytesAreDetectedAndNamed() throws {
        let folder = temporaryFolder("integrity")
        let trainer = try Trainer(configuration: try demoConfiguration(output: folder), world: SingleProcessCommunicator(), resume: false, log: { _ in })
        trainer.optimizer.firstMoment.pointer.update(repeating: 0.25, count: trainer.optimizer.firstMoment.count)
        let state = CheckpointState(iteration: 3, optimizerStep: 3, skippedSteps: 0, worldSize: 1, configuration: "seed: 12345\n")
        let path = try Checkpoint.save(model: trainer.model, optimizer: trainer.optimizer, state: state, folder: folder, keep: 0)
        try Checkpoint.verify(path)
        let pristine = [UInt8](FileManager.default.contents(atPath: path)!)
        let (name, weight) = trainer.model.namedParameters().first { $0.1.count >= 64 }!
        let weightBytes = Array(UnsafeRawBufferPointer(start: weight.pointer, count: 64))
        let cases: [([UInt8], String)] = [
            (try flipping(pristine, needle: weightBytes, at: 37), "checksum mismatch in model/\(name)"),
            (try flipping(pristine, needle: [Float](repeating: 0.25, count: 4).withUnsafeBytes { Array($0) }, at: 2),
             "checksum mismatch in optimizer/first_moment"),
            // The attributes live in the root group's header, which HDF5 itself checksums (1.8 format).
            (try flipping(pristine, needle: Array("seed: 12345".utf8), at: 8, mask: 0x01), "incorrect metadata checksum"),
        ]
        for (bytes, fragment) in cases {
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            let error = #expect(throws: IOError.self) { try Checkpoint.restore(trainer.model, optimizer: trainer.optimizer, from: path) }
            #expect(error?.description.contains(fragment) == true && error?.description.contains(path) == true, "\(String(describing: error))")
            #expect(throws: IOError.self) { try Checkpoint.verify(path) }
        }
    }

    /// `--resume` with a damaged newest checkpoint resumes from the previous one with a warning.
    @Test func resumeFallsBackToTheLastIntactCheckpoint() throws {
        let overrides = ["solver.max_iter=4", "test.eval_period=0", "checkpoint.period=2", "checkpoint.keep=3", "data.train.count=8",
                         "solver.ims_per_batch=1", "solver.ims_per_rank=1"]
        let folder = temporaryFolder("fallback")
        let first = try Trainer(configuration: try demoConfiguration(output: folder, overrides: overrides),
                                world: SingleProcessCommunicator(), resume: false, log: { _ in })
        try first.run()
        let newest = try #require(Checkpoint.latest(in: folder))
        #expect(newest.hasSuffix(Checkpoint.fileName(iteration: 4)))
        var bytes = [UInt8](FileManager.default.contents(atPath: newest)!)
        let weight = first.model.namedParameters().first { $0.1.count >= 64 }!.1
        bytes = try flipping(bytes, needle: Array(UnsafeRawBufferPointer(start: weight.pointer, count: 64)), at: 21)
        #expect(FileManager.default.createFile(atPath: newest, contents: Data(bytes)))

        final class Lines: @unchecked Sendable { var all: [String] = [] }
        let lines = Lines()
        let resumed = try Trainer(configuration: try demoConfiguration(output: folder, overrides: overrides),
                                  world: SingleProcessCommunicator(), resume: true, log: { lines.all.append($0) })
        #expect(resumed.iteration == 2)
        #expect(lines.all.contains { $0.contains("warning: cannot resume from \(newest)") && $0.contains("checksum mismatch") }, "\(lines.all)")
        // An explicit --resume-from of the damaged file is an error, not a fallback.
        #expect(throws: IOError.self) {
            try Trainer(configuration: try demoConfiguration(output: folder, overrides: overrides), world: SingleProcessCommunicator(),
                        resume: false, resumeFrom: newest, log: { _ in })
        }
    }

    /// A fresh run into a folder that holds a previous run is refused (naming its files) unless
    /// told to replace it; `--resume` continues it; unrelated files are never touched.
    @Test func aPreviousRunIsNeitherOverwrittenNorAppendedTo() throws {
        let overrides = ["solver.max_iter=2", "test.eval_period=0", "checkpoint.period=2", "data.train.count=4",
                         "solver.ims_per_batch=1", "solver.ims_per_rank=1"]
        let folder = temporaryFolder("previous-run")
        func trainer(resume: Bool = false, previousRun: PreviousRun.Policy = .refuse) throws -> Trainer {
            try Trainer(configuration: try demoConfiguration(output: folder, overrides: overrides), world: SingleProcessCommunicator(),
                        resume: resume, previousRun: previousRun, log: { _ in })
        }
        try trainer().run()
        #expect(FileManager.default.createFile(atPath: folder + "/notes.txt", contents: Data("mine".utf8)))
        let before = PreviousRun.files(in: folder)
        #expect(before.contains("last_checkpoint") && before.contains("metrics.jsonl") && before.contains("model_0000002.h5") && before.contains("eval"))
        #expect(!before.contains("notes.txt"))
        do {
            _ = try trainer()
            Issue.record("a fresh run into \(folder) started although it holds a previous run")
        } catch let error as ConfigurationError {
            #expect(error.problems.first?.key == "output_dir" && "\(error)".contains("metrics.jsonl") && "\(error)".contains("--force"), "\(error)")
        }
        #expect(PreviousRun.files(in: folder) == before)
        #expect(try trainer(resume: true).iteration == 2)
        _ = try trainer(previousRun: .replace)
        #expect(PreviousRun.files(in: folder).isEmpty)
        #expect(FileManager.default.fileExists(atPath: folder + "/notes.txt"))
    }
}
