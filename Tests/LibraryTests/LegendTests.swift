import FGASeg
import Foundation
import Testing

/// Overlay legends: text that scales with the image, any script the installed fonts cover, and
/// the ASCII fallback when there is no font.
@Suite struct LegendTests {
    /// A `width` × `height` image whose left half is class 0 and right half class 1.
    static func halves(width: Int, height: Int) -> (Raster<UInt8>, [Int32]) {
        let image = Raster<UInt8>(width: width, height: height, channels: 3, filledWith: 128)
        let labels = (0..<(width * height)).map { Int32($0 % width < width / 2 ? 0 : 1) }
        return (image, labels)
    }

    /// The rows of `region` (x, y, width, height inside `image`) holding any text-bright pixel.
    static func litRows(_ image: Raster<UInt8>, x: Int, y: Int, width: Int, height: Int) -> [Int] {
        (y..<min(y + height, image.height)).filter { row in
            (x..<min(x + width, image.width)).contains { image[row, $0, 0] > 150 && image[row, $0, 1] > 150 && image[row, $0, 2] > 150 }
        }
    }

    /// On a 1600 × 1200 image the legend text is ≥ 2% of the image height, and a CJK class name
    /// is drawn from a CJK font: its row has glyph pixels, exactly those the font draws for it.
    @Test func legendTextScalesAndRendersCJK() throws {
        let (image, labels) = Self.halves(width: 1600, height: 1200)
        let names = ["sky", "猫"]
        let overlay = SegmentationRendering.overlay(image, labels: labels, classNames: names)
        let layout = SegmentationRendering.LegendLayout(imageHeight: image.height)
        #expect(Double(layout.textHeight) >= 0.02 * Double(image.height))
        let textLeft = image.width + 2 * layout.margin + layout.swatch
        // Row 0 ("sky 50%"; both classes cover half, so "sky" (id 0) comes first): ascenders and
        // descenders span most of the text height.
        let sky = Self.litRows(overlay, x: textLeft, y: layout.top, width: overlay.width - textLeft, height: layout.rowHeight)
        #expect(sky.count >= Int(0.02 * Double(image.height)), "text rows \(sky.count) for a \(image.height) px image")
        // Row 1: the CJK name. The fonts must include one with the glyph (Launch/setup installs fonts-droid-fallback).
        let font = try #require(LegendFont(pixelHeight: layout.textHeight), "no font file found; run Launch/setup")
        #expect(font.hasGlyph("猫"), "no installed font has a glyph for 猫; run Launch/setup (fonts-droid-fallback)")
        var reference = Raster<UInt8>(width: overlay.width - textLeft, height: layout.rowHeight, channels: 3, filledWith: 32)
        font.draw("猫 50%", into: &reference, x: 0, y: 0, color: (240, 240, 240))
        var region = Raster<UInt8>(width: overlay.width - textLeft, height: layout.rowHeight, channels: 3)
        for y in 0..<region.height { for x in 0..<region.width { for c in 0..<3 {
            region[y, x, c] = overlay[layout.top + layout.rowHeight + y, textLeft + x, c]
        } } }
        #expect(region == reference)
        let glyphRows = Self.litRows(region, x: 0, y: 0, width: layout.textHeight, height: region.height)
        #expect(glyphRows.count >= layout.textHeight / 2, "the CJK glyph covers \(glyphRows.count) rows")
    }

    /// Without a font file the legend still shows the names, in the built-in font at the same height.
    @Test func bitmapFallbackWithoutFonts() {
        let (image, labels) = Self.halves(width: 400, height: 800)
        let overlay = SegmentationRendering.overlay(image, labels: labels, classNames: ["sky", "grass"], fontPaths: ["/nonexistent.ttf"])
        let layout = SegmentationRendering.LegendLayout(imageHeight: image.height)
        let textLeft = image.width + 2 * layout.margin + layout.swatch
        let rows = Self.litRows(overlay, x: textLeft, y: layout.top, width: overlay.width - textLeft, height: layout.rowHeight)
        #expect(rows.count >= layout.textHeight * 2 / 3 && overlay.width > image.width)
    }
}
