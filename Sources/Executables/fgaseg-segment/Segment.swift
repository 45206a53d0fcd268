import ArgumentParser
import CLISupport
import Data
import Foundation
import Inference
import IO

@main
struct Segment: Tool {
    static let configuration = CommandConfiguration(
        commandName: "fgaseg-segment",
        abstract: "Open-vocabulary segmentation of any images with any class names.",
        discussion: """
        Writes, per image, into --out: NAME_labels.png (class index per pixel, as a palette image;
        a 16-bit NAME_labels.tif above 256 classes), NAME_overlay.png (colours blended over the
        image, with a legend of the classes present) and NAME.json (pixel fraction of each class).
        The class names are encoded once for all images.

        Examples:
          fgaseg-segment photo.jpg --classes "cat, sofa, wooden floor" --checkpoint output/model_0080000.h5
          fgaseg-segment images/*.jpg --dataset-classes ade20k-150 --checkpoint exported/ --sliding-window
          fgaseg-segment photo.jpg --classes "cat, sofa" --checkpoint model_final.pth --config Configs/fgaseg_vitb16_coco-stuff.yaml
        """,
        version: BuildDescription.text)

    @Argument(help: "JPEG or PNG images.")
    var images: [String]

    @Option(help: "Comma-separated class names, e.g. \"cat, sofa, wooden floor\".")
    var classes: String?

    @Option(help: "A file with one class name per line.")
    var classesFile: String?

    @Option(help: "A built-in class list: \(ClassNames.Vocabulary.allCases.map(\.commandLineName).joined(separator: ", ")).")
    var datasetClasses: String?

    @Option(help: "A training checkpoint (.h5), an exported model folder (fgaseg-export), or a PyTorch checkpoint such as the official FGA-seg model_final.pth (with --config).")
    var checkpoint: String

    @Option(help: "YAML config of the model in a PyTorch checkpoint: its architecture and CLIP folder (config.json and tokenizer).")
    var config: String?

    @Option(help: "Quick path: pad the image to a multiple of this before resizing, as the official code does (32); 1 resizes the image itself.")
    var sizeDivisibility = 1

    @Option(help: "Output folder.")
    var out = "segmentation"

    @Flag(help: "The sliding-window protocol of spec §8 (slower, better on large images).")
    var slidingWindow = false

    @Flag(help: "The fast decoder: classes outside every pixel's top K are rejected early (model trained with decoder.fast).")
    var fast = false

    @Option(help: "With --fast: classes kept per pixel by each rejection head.")
    var topK = 16

    @Option(help: "Largest image accepted, in pixels (width × height, as the file's header states); larger files are refused before decoding.")
    var maxImagePixels = ImageLimits.default.maxPixels

    func validate() throws {
        guard maxImagePixels > 0 else { throw ValidationError("--max-image-pixels must be positive, got \(maxImagePixels)") }
        guard topK > 0 else { throw ValidationError("--top-k must be positive, got \(topK)") }
        guard (1...1024).contains(sizeDivisibility) else { throw ValidationError("--size-divisibility must be in 1...1024, got \(sizeDivisibility)") }
    }

    func run() throws {
        let names = try classNames()
        let segmenter = try Segmenter(checkpoint: checkpoint, configuration: try config.map { try ConfigurationLoader.load(path: $0) })
        _ = ThreadBudget.apply(configured: 0)
        let options = Segmenter.Options(slidingWindow: slidingWindow, fastTopK: fast ? topK : nil, sizeDivisibility: sizeDivisibility)
        do {
            try segmenter.validate(options)
        } catch let error as ConfigurationError {
            throw ValidationError("\(checkpoint): \(error.problems.map(\.message).joined(separator: "; "))")
        }
        let vocabulary = try segmenter.vocabulary(names)
        for warning in vocabulary.warnings { printToolWarning(warning) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var failures = 0
        for path in images {
            do {
                try segment(path, segmenter: segmenter, vocabulary: vocabulary, options: options)
            } catch {
                printToolError("\(error)")
                failures += 1
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// The class list from exactly one of the three options.
    func classNames() throws -> [String] {
        let names: [String]
        switch (classes, classesFile, datasetClasses) {
        case (let list?, nil, nil): names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        case (nil, let file?, nil):
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw IOError(file, "cannot read the class-name file") }
            names = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        case (nil, nil, let dataset?):
            guard let vocabulary = ClassNames.Vocabulary.allCases.first(where: { $0.commandLineName == dataset }) else {
                throw ValidationError("unknown --dataset-classes '\(dataset)'; choose one of \(ClassNames.Vocabulary.allCases.map(\.commandLineName).joined(separator: ", "))")
            }
            names = ClassNames.names(vocabulary)
        default: throw ValidationError("give exactly one of --classes, --classes-file or --dataset-classes")
        }
        let cleaned = names.filter { !$0.isEmpty }
        guard !cleaned.isEmpty else { throw ValidationError("the class list is empty") }
        return cleaned
    }

    func segment(_ path: String, segmenter: Segmenter, vocabulary: Segmenter.Vocabulary, options: Segmenter.Options) throws {
        let image = try Segmenter.readImage(at: path, limits: ImageLimits(maxPixels: maxImagePixels))
        let start = Date()
        let result = try segmenter.segment(image, vocabulary: vocabulary, options: options)
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let base = (out as NSString).appendingPathComponent(stem)
        try result.writeLabelMap(base: base)
        try AtomicFile.write(try PNG.encode(result.overlay(on: image)), to: base + "_overlay.png")
        let record = result.record(image: path)
        try AtomicFile.write(Array(try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .prettyPrinted])), to: base + ".json")
        let present = result.classFractions.prefix(5).map { "\($0.name) \(Int(($0.fraction * 100).rounded()))%" }.joined(separator: ", ")
        print(String(format: "%@: %dx%d in %.2f s → %@_overlay.png  [%@]", path as NSString, image.width, image.height,
                     Date().timeIntervalSince(start), base as NSString, present as NSString))
    }
}
