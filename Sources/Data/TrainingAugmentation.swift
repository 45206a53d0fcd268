import IO
import Tensor

/// The training augmentation of spec §7 (detectron2 / MaskFormer semantic mapper): resize the
/// shortest edge to `shortEdge` (long edge ≤ `maxSize`; image bilinear, labels nearest), random
/// `cropSize` crop, SSD colour jitter, horizontal flip with p = ½, pad to `cropSize`
/// (image 128, labels ignore) at the bottom and right.
public struct TrainingAugmentation: Sendable, Equatable {
    public var shortEdge = 384
    public var maxSize = 1333
    public var cropSize = 384
    public var colorJitter: ColorJitter? = ColorJitter()
    public var flip = true
    public static let imagePadValue: UInt8 = 128

    public init(shortEdge: Int = 384, maxSize: Int = 1333, cropSize: Int = 384, colorJitter: ColorJitter? = ColorJitter(), flip: Bool = true) {
        (self.shortEdge, self.maxSize, self.cropSize, self.colorJitter, self.flip) = (shortEdge, maxSize, cropSize, colorJitter, flip)
    }

    /// The crop window and flip chosen for an input of `width` × `height` after resizing.
    public struct Geometry: Sendable, Equatable {
        public var resizedWidth: Int, resizedHeight: Int
        public var cropX: Int, cropY: Int, cropWidth: Int, cropHeight: Int
        public var flipped: Bool
    }

    /// detectron2's `ResizeShortestEdge` output size: scale = short / min(h, w), capped so the long
    /// edge ≤ maxSize, sides rounded half up.
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        var scale = Double(shortEdge) / Double(min(width, height))
        if Double(max(width, height)) * scale > Double(maxSize) { scale = Double(maxSize) / Double(max(width, height)) }
        return (Int(Double(width) * scale + 0.5), Int(Double(height) * scale + 0.5))
    }

    /// Augments `sample` with randomness from `random`; returns the `cropSize`² image and labels
    /// and the geometry used.
    public func apply(_ sample: DecodedSample, using random: inout RandomGenerator) -> (image: Raster<UInt8>, labels: Raster<UInt16>, geometry: Geometry) {
        let (w, h) = resizedSize(width: sample.image.width, height: sample.image.height)
        let resizedImage = sample.image.resizedBilinear(width: w, height: h)
        let resizedLabels = sample.labels.resizedNearest(width: w, height: h)
        let (cw, ch) = (min(cropSize, w), min(cropSize, h))
        let y0 = Int(random.next() % UInt64(h - ch + 1)), x0 = Int(random.next() % UInt64(w - cw + 1))
        var image = resizedImage.cropped(x: x0, y: y0, width: cw, height: ch)
        var labels = resizedLabels.cropped(x: x0, y: y0, width: cw, height: ch)
        colorJitter?.apply(to: &image, using: &random)
        let flipped = flip && random.coin()
        if flipped { image.flipHorizontally(); labels.flipHorizontally() }
        image = image.padded(width: cropSize, height: cropSize, value: Self.imagePadValue)
        labels = labels.padded(width: cropSize, height: cropSize, value: ignoreLabel)
        return (image, labels, Geometry(resizedWidth: w, resizedHeight: h, cropX: x0, cropY: y0, cropWidth: cw, cropHeight: ch, flipped: flipped))
    }
}

extension Raster {
    /// The window [y, y + height) × [x, x + width).
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> Raster<Sample> {
        precondition(x >= 0 && y >= 0 && x + w <= width && y + h <= height, "crop \(w)x\(h)+\(x)+\(y) of \(width)x\(height)")
        var out = Raster<Sample>(width: w, height: h, channels: channels)
        let row = w * channels
        samples.withUnsafeBufferPointer { source in
            out.samples.withUnsafeMutableBufferPointer { destination in
                for r in 0..<h {
                    let from = source.baseAddress! + ((y + r) * width + x) * channels
                    (destination.baseAddress! + r * row).update(from: from, count: row)
                }
            }
        }
        return out
    }

    /// Mirrors left-right in place.
    public mutating func flipHorizontally() {
        let (w, c) = (width, channels)
        samples.withUnsafeMutableBufferPointer { s in
            for y in 0..<height {
                let row = s.baseAddress! + y * w * c
                for x in 0..<(w / 2) {
                    for k in 0..<c { swap(&row[x * c + k], &row[(w - 1 - x) * c + k]) }
                }
            }
        }
    }

    /// Pads at the bottom and right to `width` × `height` with `value` (no-op when already that size).
    public func padded(width w: Int, height h: Int, value: Sample) -> Raster<Sample> {
        if w == width && h == height { return self }
        var out = Raster<Sample>(width: w, height: h, channels: channels, filledWith: value)
        let row = width * channels
        samples.withUnsafeBufferPointer { source in
            out.samples.withUnsafeMutableBufferPointer { destination in
                for r in 0..<height { (destination.baseAddress! + r * w * channels).update(from: source.baseAddress! + r * row, count: row) }
            }
        }
        return out
    }
}

/// CLIP's pixel normalisation, for values on the 0…255 scale.
public enum CLIPNormalization {
    public static let mean: [Float] = [122.7709383, 116.7460125, 104.09373615]
    public static let std: [Float] = [68.5005327, 66.6321579, 70.32316305]

    /// Writes `image` [H, W, 3] normalised as planes [3, H, W] to `destination`.
    public static func write(_ image: Raster<UInt8>, to destination: UnsafeMutablePointer<Float>) {
        let plane = image.width * image.height
        image.samples.withUnsafeBufferPointer { source in
            for c in 0..<3 {
                let (m, s) = (mean[c], 1 / std[c])
                let out = destination + c * plane
                for p in 0..<plane { out[p] = (Float(source[p * 3 + c]) - m) * s }
            }
        }
    }
}
