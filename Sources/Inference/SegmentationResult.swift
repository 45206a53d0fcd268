import Foundation
import IO
import Tensor

/// What ``Segmenter`` returns for one image: a class index per pixel at the image's own size.
public struct SegmentationResult {
    public let width: Int
    public let height: Int
    /// The class names; label k is `classNames[k]`.
    public let classNames: [String]
    /// The class index of every pixel, row-major [H·W].
    public let labels: [Int32]
    /// Class probabilities [1, T, H, W] (σ of the logits, averaged as the protocol says), when
    /// ``Segmenter/Options/keepProbabilities`` asked for them.
    public let probabilities: Tensor?

    /// The class index at pixel (`x`, `y`).
    public func label(x: Int, y: Int) -> Int { Int(labels[y * width + x]) }

    /// The classes present with their share of the pixels, most frequent first.
    public var classFractions: [(id: Int, name: String, fraction: Double)] {
        SegmentationRendering.fractions(labels, classCount: classNames.count).map { ($0.id, classNames[$0.id], $0.fraction) }
    }

    /// The label map as a palette PNG (pixel value = class index, palette = the overlay's
    /// colours); nil above 256 classes, which ``writeLabelMap(base:)`` stores as 16-bit TIFF.
    public func labelPNG() throws -> [UInt8]? {
        guard classNames.count <= 256 else { return nil }
        let map = Raster<UInt8>(width: width, height: height, channels: 1, samples: labels.map { UInt8($0) })
        return try PNG.encode(map, palette: (0..<classNames.count).map { SegmentationRendering.color($0) })
    }

    /// Writes the label map to `base` + `_labels.png` (up to 256 classes) or `_labels.tif`
    /// (16-bit) atomically; returns the path written.
    @discardableResult
    public func writeLabelMap(base: String) throws -> String {
        if let png = try labelPNG() {
            try AtomicFile.write(png, to: base + "_labels.png")
            return base + "_labels.png"
        }
        try TIFF.writeLabels(Raster(width: width, height: height, channels: 1, samples: labels.map { UInt16($0) }), path: base + "_labels.tif")
        return base + "_labels.tif"
    }

    /// `image` blended with the class colours, with a legend of the classes present
    /// (``SegmentationRendering/overlay(_:labels:classNames:fontPaths:)``).
    public func overlay(on image: Raster<UInt8>, fontPaths: [String]? = nil) -> Raster<UInt8> {
        SegmentationRendering.overlay(image, labels: labels, classNames: classNames, fontPaths: fontPaths)
    }

    /// The JSON record `fgaseg-segment` writes: image, size and the fraction of every class present.
    public func record(image: String) -> [String: Any] {
        SegmentationRendering.record(image: image, width: width, height: height, labels: labels, classNames: classNames)
    }
}
