import ArgumentParser
import CLISupport
import Data
import Foundation
import IO
import Tensor
import Training

@main
struct Segment: ParsableCommand {
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
        """)

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
        useLineBufferedOutput()
        let names = try classNames()
        let loaded = try ModelStore.load(checkpoint, configuration: try config.map { try ConfigurationLoader.load(path: $0) })
        _ = ThreadBudget.apply(configured: 0)
        if fast && !loaded.configuration.model.architecture.decoder.fast {
            throw ValidationError("--fast needs a model trained with model.architecture.decoder.fast = true; \(checkpoint) has none")
        }
        let prompts = ModelBuilder.prompts(names, tokenizer: loaded.tokenizer, template: loaded.configuration.model.promptTemplate) {
            printError("warning: \($0)")
        }
        let embeddings = noGrad { loaded.model.classEmbeddings(prompts) }
        let predictor = SegmentationPredictor(model: loaded.model, inputSize: loaded.configuration.data.cropSize, fastTopK: fast ? topK : nil,
                                            sizeDivisibility: sizeDivisibility)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var failures = 0
        for path in images {
            do {
                try segment(path, names: names, embeddings: embeddings, predictor: predictor)
            } catch {
                printError("\(error)")
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

    func segment(_ path: String, names: [String], embeddings: Tensor, predictor: SegmentationPredictor) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw IOError(path, "cannot read the image") }
        let bytes = [UInt8](data)
        var image: Raster<UInt8>
        do {
            image = try decodeRGBImage(bytes, limits: ImageLimits(maxPixels: maxImagePixels))
        } catch let error as IOError {
            throw IOError(path, "not a readable JPEG or PNG image: \(error.message)")
        }
        image = ExifOrientation.apply(ExifOrientation.of(bytes), to: image)
        let start = Date()
        let labels = predictor.labels(image, classes: embeddings, slidingWindow: slidingWindow)
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let base = (out as NSString).appendingPathComponent(stem)
        if names.count <= 256 {
            let map = Raster<UInt8>(width: image.width, height: image.height, channels: 1, samples: labels.map { UInt8($0) })
            let palette = (0..<names.count).map { SegmentationRendering.color($0) }
            try AtomicFile.write(try PNG.encode(map, palette: palette), to: base + "_labels.png")
        } else {
            try TIFF.writeLabels(Raster(width: image.width, height: image.height, channels: 1, samples: labels.map { UInt16($0) }), path: base + "_labels.tif")
        }
        let overlay = SegmentationRendering.overlay(image, labels: labels, classNames: names)
        try AtomicFile.write(try PNG.encode(overlay), to: base + "_overlay.png")
        let record = SegmentationRendering.record(image: path, width: image.width, height: image.height, labels: labels, classNames: names)
        try AtomicFile.write(Array(try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .prettyPrinted])), to: base + ".json")
        let present = SegmentationRendering.fractions(labels, classCount: names.count).prefix(5)
            .map { "\(names[$0.id]) \(Int(($0.fraction * 100).rounded()))%" }.joined(separator: ", ")
        print(String(format: "%@: %dx%d in %.2f s → %@_overlay.png  [%@]", path as NSString, image.width, image.height,
                     Date().timeIntervalSince(start), base as NSString, present as NSString))
    }
}
