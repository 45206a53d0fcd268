import ArgumentParser
import CLISupport
import Foundation
import Inference

@main
struct Export: Tool {
    static let configuration = CommandConfiguration(
        commandName: "fgaseg-export",
        abstract: "Export a checkpoint for PyTorch users, or import an export folder or a PyTorch checkpoint as a checkpoint.",
        discussion: """
        An export folder holds model.safetensors (every parameter and buffer, float32, under the
        reference implementation's module names), config.yaml and, for a Hugging Face CLIP backbone,
        clip/ with its config.json and tokenizer files. fgaseg-segment reads it directly.
        --official writes one safetensors file under the official FGA-seg code's names instead
        (the official FGASeg module loads it with load_state_dict).

        PyTorch checkpoints (torch.save files such as the official FGA-seg model_final.pth) carry
        no configuration: give --config with the model's architecture and its CLIP folder
        (config.json and a tokenizer: vocab.json + merges.txt, tokenizer.json, or OpenAI's
        bpe_simple_vocab_16e6.txt.gz).

        Examples:
          fgaseg-export output/model_0080000.h5 --out exported/fgaseg-vitb16
          fgaseg-export output/model_0080000.h5 --official --out fgaseg_official.safetensors
          fgaseg-export --import exported/fgaseg-vitb16 --out model_imported.h5
          fgaseg-export --import model_final.pth --config Configs/fgaseg_vitb16_coco-stuff.yaml --out model_final.h5
        """,
        version: BuildDescription.text)

    @Argument(help: "The checkpoint to export (.h5, an export folder, or a PyTorch .pth with --config).")
    var checkpoint: String?

    @Option(name: .customLong("import"), help: "An export folder or a PyTorch checkpoint (with --config) to convert into a checkpoint.")
    var importSource: String?

    @Option(help: "YAML config of the model in a PyTorch checkpoint (architecture and CLIP folder).")
    var config: String?

    @Flag(help: "Write one safetensors file under the official FGA-seg names instead of an export folder.")
    var official = false

    @Option(help: "The export folder (with --official: the safetensors file), or with --import the checkpoint file to write.")
    var out: String

    func run() throws {
        let configuration = try config.map { try ConfigurationLoader.load(path: $0) }
        switch (checkpoint, importSource) {
        case (let checkpoint?, nil) where official:
            try ModelStore.exportOfficial(checkpoint: checkpoint, configuration: configuration, to: out)
            print("exported \(checkpoint) under the official FGA-seg names to \(out)")
        case (let checkpoint?, nil):
            try ModelStore.export(checkpoint: checkpoint, configuration: configuration, to: out)
            print("exported \(checkpoint) to \(out)/")
        case (nil, let source?) where !official:
            try ModelStore.importModel(source, configuration: configuration, to: out)
            print("imported \(source) as \(out)")
        default:
            throw ValidationError("give a checkpoint to export (optionally with --official), or --import SOURCE")
        }
    }
}
