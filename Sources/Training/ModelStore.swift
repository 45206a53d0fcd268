import CLIP
import Foundation
import IO
import Model
import NN
import Tensor

/// Trained models on disk: training checkpoints (HDF5) and exported models — a folder with
/// `model.safetensors` (every parameter and buffer under the reference implementation's names,
/// float32), `config.yaml` and, for a Hugging Face CLIP, `clip/` with its `config.json`,
/// `vocab.json` and `merges.txt`, so PyTorch users can load the weights directly.
public enum ModelStore {
    /// A model ready for inference.
    public struct Loaded {
        public var model: FGAsegModel
        public var tokenizer: CLIPTokenizer
        public var configuration: TrainingConfiguration
    }

    /// Loads a checkpoint file (`.h5`) or an exported folder; the model is in evaluation mode.
    public static func load(_ path: String) throws -> Loaded {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw IOError(path, "no such checkpoint or model folder") }
        let loaded: Loaded
        if isFolder.boolValue {
            loaded = try loadExport(path)
        } else {
            let state = try Checkpoint.state(at: path)
            let configuration = try ConfigurationLoader.decode(yaml: state.configuration, source: "\(path): saved config")
            let (model, tokenizer) = try ModelBuilder.model(configuration, loadCLIPWeights: false)
            try Checkpoint.restore(model, optimizer: nil, from: path)
            loaded = Loaded(model: model, tokenizer: tokenizer, configuration: configuration)
        }
        loaded.model.eval()
        return loaded
    }

    /// Writes the model of `checkpoint` as an export folder.
    public static func export(checkpoint: String, to folder: String) throws {
        let loaded = try load(checkpoint)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var configuration = loaded.configuration
        if configuration.model.clip != "tiny" {
            let clipFolder = folder + "/clip"
            try FileManager.default.createDirectory(atPath: clipFolder, withIntermediateDirectories: true)
            for name in ["config.json", "vocab.json", "merges.txt"] {
                let target = clipFolder + "/" + name
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: configuration.model.clip + "/" + name, toPath: target)
            }
            configuration.model.clip = "clip"
        }
        var tensors = [String: Tensor]()
        for (name, tensor) in loaded.model.namedParameters() + loaded.model.namedBuffers() { tensors[name] = tensor }
        try Safetensors.write(tensors, metadata: ["format": "fgaseg-export-1", "iteration": String(try Checkpoint.state(at: checkpoint).iteration)],
                              to: folder + "/model.safetensors")
        try AtomicFile.write(Array(try ConfigurationLoader.yaml(configuration).utf8), to: folder + "/config.yaml")
    }

    /// Writes an export folder back as a checkpoint (no optimiser state) at `checkpoint`.
    public static func importModel(folder: String, to checkpoint: String) throws {
        let loaded = try loadExport(folder)
        let iteration = Int(try Safetensors.read(path: folder + "/model.safetensors").metadata["iteration"] ?? "0") ?? 0
        let state = CheckpointState(iteration: iteration, optimizerStep: 0, skippedSteps: 0, worldSize: 1,
                                    configuration: try ConfigurationLoader.yaml(loaded.configuration))
        // Only the named file: a training folder's last_checkpoint and checkpoints stay as they were.
        try Checkpoint.write(model: loaded.model, optimizer: nil, state: state, to: checkpoint)
    }

    private static func loadExport(_ folder: String) throws -> Loaded {
        var configuration = try ConfigurationLoader.load(path: folder + "/config.yaml")
        if configuration.model.clip != "tiny" && !configuration.model.clip.hasPrefix("/") {
            configuration.model.clip = folder + "/" + configuration.model.clip
        }
        let (model, tokenizer) = try ModelBuilder.model(configuration, loadCLIPWeights: false)
        let path = folder + "/model.safetensors"
        let problems = model.copyNamedTensors(try Safetensors.read(path: path).tensors, includeBuffers: true)
        guard problems.isEmpty else { throw IOError(path, "does not match config.yaml's model (\(problems.count) problem(s)):\n  " + problems.joined(separator: "\n  ")) }
        return Loaded(model: model, tokenizer: tokenizer, configuration: configuration)
    }
}
