import CLIP
import Foundation
import IO
import Model
import Tensor

/// Open-vocabulary segmentation from Swift code: a trained model, its tokenizer and prompt
/// template behind two calls — encode a list of class names once, then segment any number of
/// images with it.
///
/// ```swift
/// let segmenter = try Segmenter(checkpoint: "output/model_0080000.h5")
/// let result = try segmenter.segment(try Segmenter.readImage(at: "photo.jpg"), classes: ["cat", "sofa", "wooden floor"])
/// print(result.classFractions.first?.name ?? "nothing")
/// ```
///
/// Every option is an argument (``Options``); nothing is stored in the model between calls.
/// A `Segmenter` is not thread-safe: the model's kernels already use every thread of the
/// process (``ThreadBudget``), so segment images one after another.
public final class Segmenter {
    /// How an image is segmented.
    public struct Options: Equatable, Sendable {
        /// Spec §8's sliding-window protocol (5/3 × resize, overlapping tiles plus a global view,
        /// probabilities averaged): slower, better on large images. Off: one resized crop.
        public var slidingWindow: Bool
        /// With a value K, the fast decoder rejects classes outside each pixel's top K early
        /// (models trained with `decoder.fast`); nil runs the full decoder.
        public var fastTopK: Int?
        /// One-crop path only: pad to a multiple of this before resizing, as the official code
        /// does (32); 1 resizes the image itself.
        public var sizeDivisibility: Int
        /// Keep the class probabilities [1, T, H, W] in the result (T·H·W floats).
        public var keepProbabilities: Bool

        public init(slidingWindow: Bool = false, fastTopK: Int? = nil, sizeDivisibility: Int = 1, keepProbabilities: Bool = false) {
            (self.slidingWindow, self.fastTopK, self.sizeDivisibility, self.keepProbabilities) =
                (slidingWindow, fastTopK, sizeDivisibility, keepProbabilities)
        }
    }

    /// Class names with their text embeddings, encoded once and reused for every image.
    public struct Vocabulary {
        /// The class names, in label order (label k is `names[k]`).
        public let names: [String]
        /// Normalised CLIP text embeddings of the class prompts [T, D] (``FGAsegModel/classEmbeddings(_:)``).
        public let embeddings: Tensor
        /// Prompts that had to be truncated to CLIP's 77-token context, one message each.
        public let warnings: [String]
    }

    public let model: FGAsegModel
    public let tokenizer: CLIPTokenizer
    /// The configuration the model was trained with (architecture, crop size, prompt template).
    public let configuration: TrainingConfiguration

    /// Loads a training checkpoint (`.h5`), an exported model folder (`fgaseg-export`), or a
    /// PyTorch checkpoint (the official FGA-seg `model_final.pth`, which needs `configuration` for its
    /// architecture and CLIP folder); see ``ModelStore/load(_:configuration:)``.
    public convenience init(checkpoint: String, configuration: TrainingConfiguration? = nil) throws {
        self.init(try ModelStore.load(checkpoint, configuration: configuration))
    }

    /// Wraps a loaded model (put in evaluation mode).
    public init(_ loaded: ModelStore.Loaded) {
        loaded.model.eval()
        (model, tokenizer, configuration) = (loaded.model, loaded.tokenizer, loaded.configuration)
    }

    /// The model's input crop size S in pixels.
    public var inputSize: Int { configuration.data.cropSize }

    /// Encodes `classNames` (synonyms separated by commas inside one name are allowed: the first
    /// one is used, as in the paper's protocol) with the model's prompt template.
    /// - Throws: ``ConfigurationError`` when the list is empty or a name is blank.
    public func vocabulary(_ classNames: [String]) throws -> Vocabulary {
        guard !classNames.isEmpty else { throw ConfigurationError(key: "classes", source: "Segmenter", "the class list is empty") }
        if let blank = classNames.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ConfigurationError(key: "classes[\(blank)]", source: "Segmenter", "a class name is empty")
        }
        var warnings: [String] = []
        let prompts = ModelBuilder.prompts(classNames, tokenizer: tokenizer, template: configuration.model.promptTemplate) { warnings.append($0) }
        let embeddings = noGrad { model.classEmbeddings(prompts) }
        return Vocabulary(names: classNames, embeddings: embeddings, warnings: warnings)
    }

    /// Segments an 8-bit RGB image with the classes of `vocabulary`.
    /// - Throws: ``ConfigurationError`` for options the model cannot honour (`fastTopK` without a
    ///   fast decoder, a non-positive K or size divisibility).
    public func segment(_ image: Raster<UInt8>, vocabulary: Vocabulary, options: Options = Options()) throws -> SegmentationResult {
        try validate(options)
        let predictor = SegmentationPredictor(model: model, inputSize: inputSize, fastTopK: options.fastTopK,
                                              sizeDivisibility: options.sizeDivisibility)
        let probabilities = predictor.probabilities(image, classes: vocabulary.embeddings, slidingWindow: options.slidingWindow)
        return SegmentationResult(width: image.width, height: image.height, classNames: vocabulary.names,
                                  labels: probabilities.argmax(axis: 1),
                                  probabilities: options.keepProbabilities ? probabilities : nil)
    }

    /// Segments an 8-bit RGB image with `classes` (encoded for this call; encode once with
    /// ``vocabulary(_:)`` when segmenting several images with the same classes).
    public func segment(_ image: Raster<UInt8>, classes: [String], options: Options = Options()) throws -> SegmentationResult {
        try segment(image, vocabulary: try vocabulary(classes), options: options)
    }

    /// Reads a JPEG or PNG file as 8-bit RGB, turned upright by its EXIF orientation. Files whose
    /// header states more than `limits.maxPixels` pixels are refused before decoding.
    /// - Throws: ``IOError`` naming `path`.
    public static func readImage(at path: String, limits: ImageLimits = .default) throws -> Raster<UInt8> {
        guard let data = FileManager.default.contents(atPath: path) else { throw IOError(path, "cannot read the image") }
        let bytes = [UInt8](data)
        do {
            return ExifOrientation.apply(ExifOrientation.of(bytes), to: try decodeRGBImage(bytes, limits: limits))
        } catch let error as IOError {
            throw IOError(path, "not a readable JPEG or PNG image: \(error.message)")
        }
    }

    /// Checks that the model can honour `options` (``segment(_:vocabulary:options:)`` does it too).
    /// - Throws: ``ConfigurationError`` naming the option.
    public func validate(_ options: Options) throws {
        func fail(_ key: String, _ message: String) -> ConfigurationError { ConfigurationError(key: key, source: "Segmenter options", message) }
        guard options.sizeDivisibility >= 1 else { throw fail("sizeDivisibility", "must be at least 1, got \(options.sizeDivisibility)") }
        if let k = options.fastTopK {
            guard k > 0 else { throw fail("fastTopK", "must be positive, got \(k)") }
            guard configuration.model.architecture.decoder.fast else {
                throw fail("fastTopK", "needs a model trained with model.architecture.decoder.fast = true; this one has the full decoder only")
            }
        }
    }
}
