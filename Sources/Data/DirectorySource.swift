import Foundation
import IO

/// A dataset read directly from its detectron2 folders: one sample per label file, paired with
/// the image of the same stem (`.jpg`), as detectron2's `load_sem_seg` pairs them.
public struct DirectorySource: SampleSource {
    public let root: String
    public let layout: DatasetLayout
    public let classNames: [String]
    /// Label file names, sorted.
    public let labelFiles: [String]
    /// Images of the image folder that have no label file (left out, as detectron2's
    /// `load_sem_seg` uses the intersection), sorted.
    public let unlabeledImages: [String]

    /// Lists the label folder of `layout` under `root`; a missing folder or an empty one is an error.
    public init(root: String, layout: DatasetLayout) throws {
        self.root = root
        self.layout = layout
        classNames = ClassNames.names(layout.vocabulary)
        let folder = (root as NSString).appendingPathComponent(layout.labelDirectory)
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw IOError(folder, "the label folder does not exist or cannot be read (datasets root: \(root))")
        }
        labelFiles = files.filter { $0.hasSuffix(".\(layout.labelExtension)") }.sorted()
        guard !labelFiles.isEmpty else { throw IOError(folder, "no .\(layout.labelExtension) label files") }
        let labelled = Set(labelFiles.map { ($0 as NSString).deletingPathExtension })
        let images = (try? FileManager.default.contentsOfDirectory(atPath: (root as NSString).appendingPathComponent(layout.imageDirectory))) ?? []
        unlabeledImages = images.filter { $0.hasSuffix(".jpg") && !labelled.contains(($0 as NSString).deletingPathExtension) }.sorted()
    }

    public init(root: String, dataset: DatasetName) throws {
        try self.init(root: root, layout: dataset.layout)
    }

    public var count: Int { labelFiles.count }

    func labelPath(_ index: Int) -> String {
        (root as NSString).appendingPathComponent("\(layout.labelDirectory)/\(labelFiles[index])")
    }

    func imagePath(_ index: Int) -> String {
        let stem = (labelFiles[index] as NSString).deletingPathExtension
        return (root as NSString).appendingPathComponent("\(layout.imageDirectory)/\(stem).jpg")
    }

    public func sample(at index: Int) throws -> SegmentationSample {
        let imagePath = imagePath(index), labelPath = labelPath(index)
        guard let imageData = FileManager.default.contents(atPath: imagePath) else {
            throw IOError(imagePath, "sample \(index): the image file is missing or unreadable")
        }
        var labels = try Self.readLabels(path: labelPath, index: index)
        try layout.mapping.apply(to: &labels, classCount: classNames.count, context: "\(labelPath) (sample \(index))")
        return SegmentationSample(name: (imagePath as NSString).lastPathComponent, imageBytes: [UInt8](imageData), labels: labels)
    }

    public func location(of index: Int) -> String { "\(imagePath(index)) (sample \(index))" }

    /// Reads a PNG (8-bit samples, palette indices as values) or TIFF label map.
    static func readLabels(path: String, index: Int) throws -> Raster<UInt16> {
        if path.hasSuffix(".tif") || path.hasSuffix(".tiff") {
            return try TIFF.readLabels(path: path)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IOError(path, "sample \(index): the label file is missing or unreadable")
        }
        let raster: Raster<UInt8>
        do { raster = try PNG.decode([UInt8](data), mode: .samples) } catch let error as IOError {
            throw IOError(path, "sample \(index): \(error.message)")
        }
        guard raster.channels == 1 else { throw IOError(path, "sample \(index): a label map has 1 channel, found \(raster.channels)") }
        return Raster(width: raster.width, height: raster.height, channels: 1, samples: raster.samples.map { UInt16($0) })
    }
}
