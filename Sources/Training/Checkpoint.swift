import Foundation
import IO
import NN
import Tensor

/// Training state beyond the tensors.
public struct CheckpointState: Equatable, Sendable {
    /// Iterations completed (the resumed run starts at this iteration).
    public var iteration: Int
    /// AdamW's step counter.
    public var optimizerStep: Int
    /// Steps skipped for a non-finite loss so far.
    public var skippedSteps: Int
    /// The ranks of the run that wrote it.
    public var worldSize: Int
    /// The resolved configuration (YAML).
    public var configuration: String

    public init(iteration: Int, optimizerStep: Int, skippedSteps: Int, worldSize: Int, configuration: String) {
        (self.iteration, self.optimizerStep, self.skippedSteps, self.worldSize, self.configuration) =
            (iteration, optimizerStep, skippedSteps, worldSize, configuration)
    }
}

/// HDF5 checkpoints (DESIGN.md §6): every parameter and buffer under `model/<name>`, AdamW's
/// moments under `optimizer/` (flat, in ``FlatParameters`` order, whose names are recorded),
/// and the state as root attributes. Files are written atomically (temporary file, fsync,
/// rename); `last_checkpoint` in the same folder names the newest and is replaced last.
public enum Checkpoint {
    public static let format = "fgaseg-checkpoint-1"
    public static let pointerFile = "last_checkpoint"

    /// `model_0001234.h5`.
    public static func fileName(iteration: Int) -> String { String(format: "model_%07d.h5", iteration) }

    /// Writes a checkpoint of `model` (and `optimizer`) into `folder`, points `last_checkpoint`
    /// at it and deletes all but the newest `keep` checkpoints. Returns its path.
    @discardableResult
    public static func save(model: Module, optimizer: AdamW?, state: CheckpointState, folder: String, keep: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let name = fileName(iteration: state.iteration)
        let path = (folder as NSString).appendingPathComponent(name)
        try AtomicFile.write(to: path) { temporary in
            let file = try HDF5File(path: temporary, mode: .create)
            try file.setAttribute("format", format)
            try file.setAttribute("iteration", String(state.iteration))
            try file.setAttribute("optimizer_step", String(state.optimizerStep))
            try file.setAttribute("skipped_steps", String(state.skippedSteps))
            try file.setAttribute("world_size", String(state.worldSize))
            try file.setAttribute("config", state.configuration)
            for (name, tensor) in model.namedParameters() + model.namedBuffers() {
                try file.write("model/\(name)", UnsafeBufferPointer(start: tensor.pointer, count: tensor.count), shape: tensor.shape)
            }
            if let optimizer {
                let count = optimizer.parameters.count
                try file.write("optimizer/first_moment", UnsafeBufferPointer(start: optimizer.firstMoment.pointer, count: count), shape: [count])
                try file.write("optimizer/second_moment", UnsafeBufferPointer(start: optimizer.secondMoment.pointer, count: count), shape: [count])
                try file.setAttribute("optimizer_parameters", optimizer.parameters.entries.map(\.name).joined(separator: "\n"))
            }
            try file.close()
        }
        try AtomicFile.write(Array((name + "\n").utf8), to: (folder as NSString).appendingPathComponent(pointerFile))
        try prune(folder: folder, keep: keep, current: name)
        return path
    }

    /// The checkpoint `last_checkpoint` in `folder` names, or nil when there is none.
    public static func latest(in folder: String) -> String? {
        let pointer = (folder as NSString).appendingPathComponent(pointerFile)
        guard let text = try? String(contentsOfFile: pointer, encoding: .utf8) else { return nil }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return name.isEmpty ? nil : (folder as NSString).appendingPathComponent(name)
    }

    /// Reads the state attributes of the checkpoint at `path`.
    public static func state(at path: String) throws -> CheckpointState {
        let file = try HDF5File(path: path, mode: .read)
        guard try file.attribute("format") == format else { throw IOError(path, "not an \(format) file") }
        func integer(_ key: String) throws -> Int {
            guard let text = try file.attribute(key), let value = Int(text) else { throw IOError(path, "attribute \(key) is missing or not an integer") }
            return value
        }
        return CheckpointState(iteration: try integer("iteration"), optimizerStep: try integer("optimizer_step"),
                               skippedSteps: try integer("skipped_steps"), worldSize: try integer("world_size"),
                               configuration: try file.attribute("config") ?? "")
    }

    /// Loads parameters and buffers into `model` (and the moments into `optimizer`). Every tensor
    /// of the model must be present with its shape; a missing, unexpected or mis-shaped tensor is
    /// an error listing every offending name.
    @discardableResult
    public static func restore(_ model: Module, optimizer: AdamW?, from path: String) throws -> CheckpointState {
        let state = try state(at: path)
        let file = try HDF5File(path: path, mode: .read)
        var problems = [String]()
        for (name, tensor) in model.namedParameters() + model.namedBuffers() {
            let key = "model/\(name)"
            guard file.contains(key) else { problems.append("missing \(name)"); continue }
            let (values, shape) = try file.read(key, as: Float.self)
            guard shape == tensor.shape else { problems.append("\(name): shape \(shape) in the checkpoint, \(tensor.shape) in the model"); continue }
            values.withUnsafeBufferPointer { tensor.pointer.update(from: $0.baseAddress!, count: values.count) }
        }
        guard problems.isEmpty else {
            throw IOError(path, "the checkpoint does not match the model (\(problems.count) problem(s)): \(problems.joined(separator: "; "))")
        }
        if let optimizer {
            let names = optimizer.parameters.entries.map(\.name).joined(separator: "\n")
            guard try file.attribute("optimizer_parameters") == names else {
                throw IOError(path, "the optimizer state was saved for a different set of trainable parameters")
            }
            for (key, moment) in [("optimizer/first_moment", optimizer.firstMoment), ("optimizer/second_moment", optimizer.secondMoment)] {
                let values = try file.read(key, as: Float.self).values
                guard values.count == moment.count else { throw IOError(path, "\(key) holds \(values.count) values, expected \(moment.count)") }
                values.withUnsafeBufferPointer { moment.pointer.update(from: $0.baseAddress!, count: values.count) }
            }
            optimizer.restore(step: state.optimizerStep)
        }
        return state
    }

    /// Deletes `model_*.h5` files beyond the newest `keep` (never `current`).
    static func prune(folder: String, keep: Int, current: String) throws {
        guard keep > 0, let files = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        let checkpoints = files.filter { $0.hasPrefix("model_") && $0.hasSuffix(".h5") }.sorted()
        for old in checkpoints.dropLast(keep) where old != current {
            try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(old))
        }
    }
}
