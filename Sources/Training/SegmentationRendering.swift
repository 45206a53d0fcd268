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

    /// Legend geometry: scale of the font, row height, first row's top and the swatch size.
    public static func legendLayout(imageHeight: Int) -> (scale: Int, rowHeight: Int, top: Int, swatch: Int) {
        let scale = imageHeight >= 256 ? 2 : 1
        return (scale, 10 * scale, 4 * scale, 7 * scale)
    }

    /// The image blended 50/50 with its class colours, with a legend panel on the right listing
    /// the classes present (colour swatch and name), most frequent first.
    public static func overlay(_ image: Raster<UInt8>, labels: [Int32], classNames: [String]) -> Raster<UInt8> {
        let present = fractions(labels, classCount: classNames.count)
        let layout = legendLayout(imageHeight: image.height)
        let entries = present.map { "\(classNames[$0.id]) \(Int(($0.fraction * 100).rounded()))%" }
        let panel = (entries.map { BitmapFont.width(of: $0, scale: layout.scale) }.max() ?? 0) + layout.swatch + 12 * layout.scale
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
            let top = layout.top + row * layout.rowHeight, left = image.width + 4 * layout.scale
            let swatch = color(entry.id)
            for y in top..<(top + layout.swatch) { for x in left..<(left + layout.swatch) { (out[y, x, 0], out[y, x, 1], out[y, x, 2]) = swatch } }
            BitmapFont.draw(text, into: &out, x: left + layout.swatch + 4 * layout.scale, y: top, scale: layout.scale, color: (240, 240, 240))
        }
        return out
    }

    /// The JSON record of one segmented image.
    public static func record(image: String, width: Int, height: Int, labels: [Int32], classNames: [String]) -> [String: Any] {
        ["image": image, "width": width, "height": height,
         "classes": fractions(labels, classCount: classNames.count).map { ["id": $0.id, "name": classNames[$0.id], "fraction": $0.fraction] as [String: Any] }]
    }
}
