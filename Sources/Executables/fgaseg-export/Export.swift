import ArgumentParser
import CLISupport
import Foundation
import Training

@main
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fgaseg-export",
        abstract: "Export a checkpoint as safetensors + config for PyTorch users, or import such a folder back as a checkpoint.",
        discussion: """
        An export folder holds model.safetensors (every parameter and buffer, float32, under the
        reference implementation's module names), config.yaml and, for a Hugging Face CLIP backbone,
        clip/ with its config.json, vocab.json and merges.txt. fgaseg-segment reads it directly.

        Examples:
          fgaseg-export output/model_0080000.h5 --out exported/fgaseg-vitb16
          fgaseg-export --import exported/fgaseg-vitb16 --out model_imported.h5
        """)

    @Argument(help: "The checkpoint to export.")
    var checkpoint: String?

    @Option(name: .customLong("import"), help: "An export folder to convert into a checkpoint.")
    var importFolder: String?

    @Option(help: "The export folder, or with --import the checkpoint file to write.")
    var out: String

    func run() throws {
        useLineBufferedOutput()
        switch (checkpoint, importFolder) {
        case (let checkpoint?, nil):
            try ModelStore.export(checkpoint: checkpoint, to: out)
            print("exported \(checkpoint) to \(out)/")
        case (nil, let folder?):
            try ModelStore.importModel(folder: folder, to: out)
            print("imported \(folder) as \(out)")
        default:
            throw ValidationError("give a checkpoint to export, or --import FOLDER")
        }
    }
}
