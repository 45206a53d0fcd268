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

    /// Loads a checkpoint file (`.h5`), an exported folder, or a PyTorch checkpoint (`torch.save`
    /// ZIP: the official FGA-seg `model_final.pth`, or our names) with `configuration` giving the
    /// architecture and CLIP folder; the model is in evaluation mode.
    public static func load(_ path: String, configuration pyTorchConfiguration: TrainingConfiguration? = nil) throws -> Loaded {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw IOError(path, "no such checkpoint or model folder") }
        let loaded: Loaded
        if isFolder.boolValue {
            loaded = try loadExport(path)
        } else {
            let configuration: TrainingConfiguration
            if isPyTorchCheckpoint(path) {
                guard let pyTorchConfiguration else {
                    throw IOError(path, "a PyTorch checkpoint carries no configuration; give the model's config (--config, e.g. Configs/fgaseg_vitb16_coco-stuff.yaml) whose model.clip folder has the CLIP config.json and tokenizer")
                }
                configuration = pyTorchConfiguration
            } else {
                configuration = try ConfigurationLoader.decode(yaml: try Checkpoint.state(at: path).configuration, source: "\(path): saved config")
            }
            let (model, tokenizer) = try ModelBuilder.model(configuration, loadCLIPWeights: false)
            try loadWeights(from: path, into: model)
            loaded = Loaded(model: model, tokenizer: tokenizer, configuration: configuration)
        }
        loaded.model.eval()
        return loaded
    }

    /// Writes the model of `checkpoint` (anything ``load(_:configuration:)`` reads) as an export folder.
    public static func export(checkpoint: String, configuration: TrainingConfiguration? = nil, to folder: String) throws {
        let loaded = try load(checkpoint, configuration: configuration)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var configuration = loaded.configuration
        if configuration.model.clip != "tiny" {
            let clipFolder = folder + "/clip"
            try FileManager.default.createDirectory(atPath: clipFolder, withIntermediateDirectories: true)
            let tokenizerFiles = ["vocab.json", "merges.txt", "tokenizer.json", "bpe_simple_vocab_16e6.txt.gz"]
                .filter { FileManager.default.fileExists(atPath: configuration.model.clip + "/" + $0) }
            for name in ["config.json"] + tokenizerFiles {
                let target = clipFolder + "/" + name
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: configuration.model.clip + "/" + name, toPath: target)
            }
            configuration.model.clip = "clip"
        }
        var tensors = [String: Tensor]()
        for (name, tensor) in loaded.model.namedParameters() + loaded.model.namedBuffers() { tensors[name] = tensor }
        try Safetensors.write(tensors, metadata: ["format": "fgaseg-export-1", "iteration": String(try iteration(of: checkpoint))],
                              to: folder + "/model.safetensors")
        try AtomicFile.write(Array(try ConfigurationLoader.yaml(configuration).utf8), to: folder + "/config.yaml")
    }

    /// Writes the model of `checkpoint` under the official FGA-seg names (``OfficialFGAsegLayout``)
    /// as one safetensors file, for the official code: `model.load_state_dict(safetensors.torch.load_file(path))`.
    public static func exportOfficial(checkpoint: String, configuration: TrainingConfiguration? = nil, to path: String) throws {
        let loaded = try load(checkpoint, configuration: configuration)
        try Safetensors.write(OfficialFGAsegLayout.official(model: loaded.model),
                              metadata: ["format": "fgaseg-official-1", "iteration": String(try iteration(of: checkpoint))], to: path)
    }

    /// Writes an export folder, or a PyTorch checkpoint read with `configuration`, as a checkpoint
    /// (no optimiser state) at `checkpoint`.
    public static func importModel(_ source: String, configuration: TrainingConfiguration? = nil, to checkpoint: String) throws {
        let loaded = try load(source, configuration: configuration)
        let state = CheckpointState(iteration: try iteration(of: source), optimizerStep: 0, skippedSteps: 0, worldSize: 1,
                                    configuration: try ConfigurationLoader.yaml(loaded.configuration))
        // Only the named file: a training folder's last_checkpoint and checkpoints stay as they were.
        try Checkpoint.write(model: loaded.model, optimizer: nil, state: state, to: checkpoint)
    }

    /// The training iteration a checkpoint records: the HDF5 state, an export's metadata, or
    /// detectron2's `iteration` (0 when a PyTorch file has none).
    public static func iteration(of path: String) throws -> Int {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            return Int(try Safetensors.read(path: path + "/model.safetensors").metadata["iteration"] ?? "0") ?? 0
        }
        if isPyTorchCheckpoint(path) {
            if case .int(let iteration) = try PyTorchCheckpoint(path: path).scalars["iteration"] { return iteration }
            return 0
        }
        return try Checkpoint.state(at: path).iteration
    }

    /// Whether `path` holds a PyTorch checkpoint (a ZIP archive, or a `.pth`/`.pt`/`.bin` file
    /// that the reader will then explain).
    public static func isPyTorchCheckpoint(_ path: String) -> Bool {
        if [".pth", ".pt", ".bin", ".ckpt"].contains(where: { path.lowercased().hasSuffix($0) }) { return true }
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)) == Data([0x50, 0x4B, 0x03, 0x04])
    }

    /// Copies every weight of a checkpoint file (HDF5 written by fgaseg-train, or a PyTorch
    /// checkpoint) into `model`, whose architecture must match.
    public static func loadWeights(from path: String, into model: FGAsegModel) throws {
        if isPyTorchCheckpoint(path) {
            try loadPyTorchWeights(path, into: model)
        } else {
            try Checkpoint.restore(model, optimizer: nil, from: path)
        }
    }

    /// Copies the tensors of a PyTorch checkpoint into `model`: detectron2's `{"model": …}`
    /// wrapper is unwrapped, the official FGA-seg names are translated
    /// (``OfficialFGAsegLayout``), and every unknown, missing or mis-shaped tensor is reported
    /// in one error.
    private static func loadPyTorchWeights(_ path: String, into model: FGAsegModel) throws {
        let checkpoint = try PyTorchCheckpoint(path: path)
        let wrapped = checkpoint.tensors.keys.contains { $0.hasPrefix("model.") }
        var tensors: [String: Tensor] = [:]
        for (name, view) in checkpoint.tensors where !wrapped || name.hasPrefix("model.") {
            // Integer buffers (BatchNorm's counters) carry nothing this package uses.
            guard view.storage.dtype.isFloatingPoint else { continue }
            tensors[wrapped ? String(name.dropFirst("model.".count)) : name] = try checkpoint.tensor(name)
        }
        var unknown: [String] = []
        if tensors.keys.contains(where: { $0.hasPrefix("sem_seg_head.predictor.") }) {
            (tensors, unknown) = OfficialFGAsegLayout.ours(from: tensors)
        }
        let problems = unknown.map { "unexpected \($0) (no counterpart in this package)" } + model.copyNamedTensors(tensors, includeBuffers: true)
        guard problems.isEmpty else {
            throw IOError(path, "does not match the configured model (\(problems.count) problem(s)):\n  " + problems.joined(separator: "\n  "))
        }
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
