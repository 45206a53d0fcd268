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
/// and the state as root attributes. The root attribute `checksums` holds a JSON object with the
/// CRC-32 of every dataset's bytes and of the state attributes (`@state`); they are checked after
/// writing and on every load, so a flipped byte is an error naming the dataset, never a silently
/// different model. Files are written atomically (temporary file, verified, fsync, rename);
/// `last_checkpoint` in the same folder names the newest and is replaced last.
public enum Checkpoint {
    public static let format = "fgaseg-checkpoint-2"
    /// The format before checksums; such files still load, unverified.
    static let formatWithoutChecksums = "fgaseg-checkpoint-1"
    public static let pointerFile = "last_checkpoint"
    /// The root attributes that ``CheckpointState`` and the optimizer read, covered by the `@state` checksum.
    static let stateAttributes = ["iteration", "optimizer_step", "skipped_steps", "world_size", "config", "optimizer_parameters"]
    static let stateChecksumKey = "@state"

    /// `model_0001234.h5`.
    public static func fileName(iteration: Int) -> String { String(format: "model_%07d.h5", iteration) }

    /// Writes a checkpoint of `model` (and `optimizer`) into `folder`, points `last_checkpoint`
    /// at it and deletes all but the newest `keep` checkpoints. Returns its path.
    @discardableResult
    public static func save(model: Module, optimizer: AdamW?, state: CheckpointState, folder: String, keep: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let name = fileName(iteration: state.iteration)
        let path = (folder as NSString).appendingPathComponent(name)
        try write(model: model, optimizer: optimizer, state: state, to: path)
        try AtomicFile.write(Array((name + "\n").utf8), to: (folder as NSString).appendingPathComponent(pointerFile))
        try prune(folder: folder, keep: keep, current: name)
        return path
    }

    /// Writes a checkpoint of `model` (and `optimizer`) to `path` atomically and verifies it;
    /// touches nothing else in its folder (no `last_checkpoint`, no pruning).
    public static func write(model: Module, optimizer: AdamW?, state: CheckpointState, to path: String) throws {
        try AtomicFile.write(to: path) { temporary in
            let file = try HDF5File(path: temporary, mode: .create)
            var attributes = ["iteration": String(state.iteration), "optimizer_step": String(state.optimizerStep),
                              "skipped_steps": String(state.skippedSteps), "world_size": String(state.worldSize),
                              "config": state.configuration]
            var checksums = [String: String]()
            func write(_ key: String, _ values: UnsafeBufferPointer<Float>, shape: [Int]) throws {
                try file.write(key, values, shape: shape)
                checksums[key] = checksumText(UnsafeRawBufferPointer(values))
            }
            for (name, tensor) in model.namedParameters() + model.namedBuffers() {
                try write("model/\(name)", UnsafeBufferPointer(start: tensor.pointer, count: tensor.count), shape: tensor.shape)
            }
            if let optimizer {
                let count = optimizer.parameters.count
                try write("optimizer/first_moment", UnsafeBufferPointer(start: optimizer.firstMoment.pointer, count: count), shape: [count])
                try write("optimizer/second_moment", UnsafeBufferPointer(start: optimizer.secondMoment.pointer, count: count), shape: [count])
                attributes["optimizer_parameters"] = optimizer.parameters.entries.map(\.name).joined(separator: "\n")
            }
            try file.setAttribute("format", format)
            for (key, value) in attributes.sorted(by: { $0.key < $1.key }) { try file.setAttribute(key, value) }
            checksums[stateChecksumKey] = stateChecksum(attributes)
            let json = try JSONSerialization.data(withJSONObject: checksums, options: [.sortedKeys])
            try file.setAttribute("checksums", String(decoding: json, as: UTF8.self))
            try file.close()
            try verify(temporary)
        }
    }

    /// The checkpoint `last_checkpoint` in `folder` names, or nil when there is none.
    public static func latest(in folder: String) -> String? {
        let pointer = (folder as NSString).appendingPathComponent(pointerFile)
        guard let text = try? String(contentsOfFile: pointer, encoding: .utf8) else { return nil }
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return name.isEmpty ? nil : (folder as NSString).appendingPathComponent(name)
    }

    /// The checkpoints of `folder` to resume from, newest first: the one `last_checkpoint` names,
    /// then every other `model_*.h5` by descending iteration (the fallbacks when it is damaged).
    public static func resumeCandidates(in folder: String) -> [String] {
        let latest = latest(in: folder)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasPrefix("model_") && $0.hasSuffix(".h5") }.sorted(by: >)
        let others = names.map { (folder as NSString).appendingPathComponent($0) }.filter { $0 != latest }
        return (latest.map { [$0] } ?? []) + others
    }

    /// Reads the state attributes of the checkpoint at `path`, checked against their checksum.
    public static func state(at path: String) throws -> CheckpointState {
        let file = try HDF5File(path: path, mode: .read)
        let checksums = try self.checksums(file)
        if let checksums {
            var attributes = [String: String]()
            for key in stateAttributes { attributes[key] = try file.attribute(key) }
            guard checksums[stateChecksumKey] == stateChecksum(attributes) else {
                throw IOError(path, "checksum mismatch in the state attributes (\(stateAttributes.joined(separator: ", "))): the file is corrupt")
            }
        }
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
    /// Every dataset read is checked against its checksum first; a mismatch names the dataset.
    @discardableResult
    public static func restore(_ model: Module, optimizer: AdamW?, from path: String) throws -> CheckpointState {
        let state = try state(at: path)
        let file = try HDF5File(path: path, mode: .read)
        let checksums = try self.checksums(file)
        func read(_ key: String) throws -> (values: [Float], shape: [Int]) {
            let (values, shape) = try file.read(key, as: Float.self)
            if let checksums {
                guard let expected = checksums[key] else { throw IOError(path, "\(key) has no checksum: the file is corrupt") }
                guard values.withUnsafeBytes({ checksumText($0) }) == expected else {
                    throw IOError(path, "checksum mismatch in \(key): the file is corrupt")
                }
            }
            return (values, shape)
        }
        var problems = [String]()
        for (name, tensor) in model.namedParameters() + model.namedBuffers() {
            let key = "model/\(name)"
            guard file.contains(key) else { problems.append("missing \(name)"); continue }
            let (values, shape) = try read(key)
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
                let values = try read(key).values
                guard values.count == moment.count else { throw IOError(path, "\(key) holds \(values.count) values, expected \(moment.count)") }
                values.withUnsafeBufferPointer { moment.pointer.update(from: $0.baseAddress!, count: values.count) }
            }
            optimizer.restore(step: state.optimizerStep)
        }
        return state
    }

    /// Re-reads every dataset and attribute of the checkpoint at `path` and checks them against
    /// its checksums (throws naming the first mismatch). Files of the older format pass unchecked.
    public static func verify(_ path: String) throws {
        _ = try state(at: path)
        let file = try HDF5File(path: path, mode: .read)
        guard let checksums = try self.checksums(file) else { return }
        for (key, expected) in checksums.sorted(by: { $0.key < $1.key }) where key != stateChecksumKey {
            guard file.contains(key) else { throw IOError(path, "\(key) is listed in the checksums but missing: the file is corrupt") }
            let values = try file.read(key, as: Float.self).values
            guard values.withUnsafeBytes({ checksumText($0) }) == expected else {
                throw IOError(path, "checksum mismatch in \(key): the file is corrupt")
            }
        }
    }

    /// The checksums of a file in the current format, nil for the older format without them;
    /// any other format is an error.
    static func checksums(_ file: HDF5File) throws -> [String: String]? {
        switch try file.attribute("format") {
        case format?:
            guard let text = try file.attribute("checksums"),
                  let table = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: String] else {
                throw IOError(file.path, "the checksums attribute is missing or unreadable: the file is corrupt")
            }
            return table
        case formatWithoutChecksums?: return nil
        default: throw IOError(file.path, "not an \(format) file")
        }
    }

    /// CRC-32 of `bytes` as 8 hexadecimal digits.
    static func checksumText(_ bytes: UnsafeRawBufferPointer) -> String { String(format: "%08x", crc32(bytes)) }

    /// CRC-32 of the state attributes (key, NUL, value, NUL in ``stateAttributes`` order; absent ones skipped).
    static func stateChecksum(_ attributes: [String: String]) -> String {
        var bytes = [UInt8]()
        for key in stateAttributes {
            guard let value = attributes[key] else { continue }
            bytes += Array(key.utf8) + [0] + Array(value.utf8) + [0]
        }
        return bytes.withUnsafeBytes { checksumText($0) }
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
