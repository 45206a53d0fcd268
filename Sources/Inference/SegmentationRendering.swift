import Foundation
import IO

/// The files `fgaseg-segment` writes for one image: the label map, a colour overlay with a
/// legend of the classes present, and per-class pixel fractions.
public enum SegmentationRendering {
    /// A distinct colour for class `index` (golden-ratio hue steps, alternating brightness).
    public static func color(_ index: Int) -> (UInt8, UInt8, UInt8) {
        let hue = (Double(index) * 0.618_033_988_75).truncatingRemainder(dividingBy: 1)
        let value = index % 2 == 0 ? 0.95 : 0.7, saturation = index % 3 == 0 ? 0.65 : 0.9
        let h = hue * 6, i = Int(h) % 6, f = h - Double(Int(h))
        let p = value * (1 - saturation), q = value * (1 - saturation * f), t = value * (1 - saturation * (1 - f))
        let (r, g, b) = [(value, t, p), (q, value, p), (p, value, t), (p, q, value), (t, p, value), (value, p, q)][i]
        return (UInt8(r * 255), UInt8(g * 255), UInt8(b * 255))
    }

    /// (class id, pixel fraction) of the classes present in `labels`, most frequent first.
    public static func fractions(_ labels: [Int32], classCount: Int) -> [(id: Int, fraction: Double)] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[Int(label)] += 1 }
        return counts.enumerated().filter { $0.element > 0 }
            .map { ($0.offset, Double($0.element) / Double(max(labels.count, 1))) }
            .sorted { $0.fraction > $1.fraction || ($0.fraction == $1.fraction && $0.id < $1.id) }
    }

    /// Legend geometry in pixels: text height (2.5% of the image height, at least 12), row
    /// height, the first row's top, the margin left of the swatch and between swatch and text,
    /// and the swatch's side.
    public struct LegendLayout: Equatable, Sendable {
        public let textHeight: Int, rowHeight: Int, top: Int, margin: Int, swatch: Int

        public init(imageHeight: Int) {
            textHeight = max(12, imageHeight / 40)
            (rowHeight, top, margin, swatch) = (textHeight * 3 / 2, textHeight / 2, textHeight / 2, textHeight)
        }
    }

    /// The image blended 50/50 with its class colours, with a legend panel on the right listing
    /// the classes present (colour swatch, name and pixel share), most frequent first. The names
    /// are drawn with FreeType (``LegendFont``: any script the installed fonts cover), or with the
    /// built-in 5 × 7 ASCII font scaled to the same height when no font file is found.
    /// `fontPaths` replaces the font search list (default: `FGASEG_FONTS`, then Debian's DejaVu
    /// Sans and CJK fonts).
    public static func overlay(_ image: Raster<UInt8>, labels: [Int32], classNames: [String], fontPaths: [String]? = nil) -> Raster<UInt8> {
        let present = fractions(labels, classCount: classNames.count)
        let layout = LegendLayout(imageHeight: image.height)
        let entries = present.map { "\(classNames[$0.id]) \(Int(($0.fraction * 100).rounded()))%" }
        let font = LegendFont(pixelHeight: layout.textHeight, paths: fontPaths ?? LegendFont.candidatePaths())
        let bitmapScale = max(1, layout.textHeight / BitmapFont.height)
        let textWidth = entries.map { font?.width(of: $0) ?? BitmapFont.width(of: $0, scale: bitmapScale) }.max() ?? 0
        let panel = 3 * layout.margin + layout.swatch + textWidth
        let height = max(image.height, layout.top + present.count * layout.rowHeight + layout.top)
        var out = Raster<UInt8>(width: image.width + panel, height: height, channels: 3, filledWith: 32)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let (r, g, b) = color(Int(labels[y * image.width + x]))
                out[y, x, 0] = UInt8((Int(image[y, x, 0]) + Int(r)) / 2)
                out[y, x, 1] = UInt8((Int(image[y, x, 1]) + Int(g)) / 2)
                out[y, x, 2] = UInt8((Int(image[y, x, 2]) + Int(b)) / 2)
            }
        }
        for (row, (entry, text)) in zip(present, entries).enumerated() {
            let top = layout.top + row * layout.rowHeight, left = image.width + layout.margin
            let swatch = color(entry.id)
            for y in top..<(top + layout.swatch) { for x in left..<(left + layout.swatch) { (out[y, x, 0], out[y, x, 1], out[y, x, 2]) = swatch } }
            let textLeft = left + layout.swatch + layout.margin
            if let font {
                font.draw(text, into: &out, x: textLeft, y: top, color: (240, 240, 240))
            } else {
                BitmapFont.draw(text, into: &out, x: textLeft, y: top, scale: bitmapScale, color: (240, 240, 240))
            }
        }
        return out
    }

    /// `image`, its ground truth and a prediction side by side [H, 3W] (TensorBoard's evaluation
    /// sample): labels in the overlay's colours, ignored pixels (≥ the class count, e.g. 255) black.
    public static func comparison(_ image: Raster<UInt8>, groundTruth: [Int32], prediction: [Int32], classCount: Int) -> Raster<UInt8> {
        let (w, h) = (image.width, image.height)
        var out = Raster<UInt8>(width: 3 * w, height: h, channels: 3)
        func paint(_ y: Int, _ column: Int, _ label: Int32) {
            let (r, g, b) = (0..<classCount).contains(Int(label)) ? color(Int(label)) : (0, 0, 0)
            (out[y, column, 0], out[y, column, 1], out[y, column, 2]) = (r, g, b)
        }
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 { out[y, x, c] = image[y, x, c] }
                paint(y, w + x, groundTruth[y * w + x])
                paint(y, 2 * w + x, prediction[y * w + x])
            }
        }
        return out
    }

    /// The JSON record of one segmented image.
    public static func record(image: String, width: Int, height: Int, labels: [Int32], classNames: [String]) -> [String: Any] {
        ["image": image, "width": width, "height": height,
         "classes": fractions(labels, classCount: classNames.count).map { ["id": $0.id, "name": classNames[$0.id], "fraction": $0.fraction] as [String: Any] }]
    }
}
