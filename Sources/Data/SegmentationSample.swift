import Foundation
import IO

/// The label value every reader maps "ignore" to, whatever the dataset stores (255, 65535, 459…).
public let ignoreLabel: UInt16 = 65535

/// One sample as stored: the encoded image (JPEG or PNG bytes, untouched) and its label map
/// already mapped to contiguous class ids `0..<classCount`, with ``ignoreLabel`` for ignored pixels.
public struct SegmentationSample: Sendable, Equatable {
    /// File name without directory (e.g. `000000000139.jpg`).
    public var name: String
    public var imageBytes: [UInt8]
    /// [height, width, 1].
    public var labels: Raster<UInt16>

    public init(name: String, imageBytes: [UInt8], labels: Raster<UInt16>) {
        self.name = name
        self.imageBytes = imageBytes
        self.labels = labels
    }

    /// Decodes the image (JPEG or PNG, by signature) to 8-bit RGB and checks it against the labels:
    /// same size, every label value a class id below `classCount` or ``ignoreLabel``.
    /// Errors name `context` (file or shard and index).
    public func decoded(classCount: Int, context: String) throws -> DecodedSample {
        let image: Raster<UInt8>
        do {
            image = try decodeRGBImage(imageBytes)
        } catch let error as IOError {
            throw IOError(context, "image \(name): \(error.message)")
        }
        try validate(image: image, classCount: classCount, context: context)
        return DecodedSample(name: name, image: image, labels: labels)
    }

    /// Checks size agreement and the label range.
    func validate(image: Raster<UInt8>, classCount: Int, context: String) throws {
        guard image.width == labels.width, image.height == labels.height else {
            throw IOError(context, "\(name): the image is \(image.width)x\(image.height) but its label map is \(labels.width)x\(labels.height)")
        }
        try Self.checkRange(labels, classCount: classCount, context: "\(context): \(name)")
    }

    /// Throws when a label value is neither a class id below `classCount` nor ``ignoreLabel``.
    static func checkRange(_ labels: Raster<UInt16>, classCount: Int, context: String) throws {
        if let bad = labels.samples.first(where: { $0 != ignoreLabel && Int($0) >= classCount }) {
            throw IOError(context, "label value \(bad) is outside the class range 0..<\(classCount) (and not ignore)")
        }
    }
}

/// A decoded sample: 8-bit RGB image [H, W, 3] and class-id labels [H, W, 1] of the same size.
public struct DecodedSample: Sendable, Equatable {
    public var name: String
    public var image: Raster<UInt8>
    public var labels: Raster<UInt16>

    public init(name: String, image: Raster<UInt8>, labels: Raster<UInt16>) {
        self.name = name
        self.image = image
        self.labels = labels
    }
}

/// A finite, random-access collection of samples (a dataset folder, a shard set, the demo scenes).
public protocol SampleSource: Sendable {
    /// Number of samples.
    var count: Int { get }
    /// The class names, in class-id order.
    var classNames: [String] { get }
    /// Sample `index` as stored; errors name the file or shard and the index.
    func sample(at index: Int) throws -> SegmentationSample
    /// Where sample `index` comes from, for error messages (file, or shard and index).
    func location(of index: Int) -> String
}

extension SampleSource {
    /// Sample `index`, decoded and validated.
    public func decodedSample(at index: Int) throws -> DecodedSample {
        try sample(at: index).decoded(classCount: classNames.count, context: location(of: index))
    }
}
