import Foundation
import Inference

/// The files a training run leaves in its output folder, and what a new run (not `--resume`)
/// does when it finds them: by default it refuses to start, because it would overwrite the
/// checkpoints and append to the old run's logs; with `--force` it deletes them first.
public enum PreviousRun {
    /// How a new run treats a previous run's files in its output folder.
    public enum Policy: Sendable {
        /// Refuse to start (the default).
        case refuse
        /// Delete them, then start (`--force`).
        case replace
    }

    /// The previous run's files in `folder` (names relative to it, sorted): `last_checkpoint`,
    /// `model_*.h5`, `metrics.jsonl`, TensorBoard's `events.out.tfevents.*`, `config.yaml` and `eval/`.
    public static func files(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { name in
            name == Checkpoint.pointerFile || name == "metrics.jsonl" || name == "config.yaml" || name == "eval"
                || (name.hasPrefix("model_") && name.hasSuffix(".h5")) || name.hasPrefix("events.out.tfevents.")
        }.sorted()
    }

    /// Applies `policy` to `folder` before a fresh run starts in it.
    /// - Throws: ``ConfigurationError`` for `output_dir` naming the files found, under `.refuse`.
    public static func clear(_ folder: String, policy: Policy) throws {
        let found = files(in: folder)
        guard !found.isEmpty else { return }
        switch policy {
        case .refuse:
            throw ConfigurationError(key: "output_dir", source: folder,
                                     "already holds a training run (\(found.joined(separator: ", "))): continue it with --resume, write elsewhere with --output-dir, or delete it and start over with --force")
        case .replace:
            for name in found { try FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name)) }
        }
    }
}
