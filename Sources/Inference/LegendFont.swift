import CFreeType
import Foundation
import IO

/// Legend text drawn with FreeType from TrueType/OpenType fonts, any Unicode class name included:
/// each character comes from the first font that has a glyph for it (DejaVu Sans for Latin,
/// Greek and Cyrillic, a CJK font for Chinese, Japanese and Korean). Anti-aliased glyphs are
/// blended into the image. Not thread-safe (one FreeType library per instance).
public final class LegendFont {
    /// The fonts tried, in order: `FGASEG_FONTS` (colon-separated paths) first, then Debian's
    /// DejaVu Sans (`fonts-dejavu-core`) and CJK fonts (`fonts-droid-fallback`, `fonts-wqy-zenhei`,
    /// `fonts-noto-cjk`). Missing files are skipped.
    public static func candidatePaths(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        let configured = environment["FGASEG_FONTS"].map { $0.split(separator: ":").map(String.init) } ?? []
        return configured + [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
            "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
            "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        ]
    }

    /// The pixel height of the em square.
    public let pixelHeight: Int
    /// Pixels from the top of a line to its baseline (the first font's ascender).
    public let ascender: Int
    private var library: FT_Library?
    private var faces: [FT_Face] = []

    /// Opens the fonts of `paths` that FreeType can read, at `pixelHeight`; nil when none can be
    /// read (the caller then falls back to ``BitmapFont``).
    public init?(pixelHeight: Int, paths: [String] = LegendFont.candidatePaths()) {
        self.pixelHeight = max(1, pixelHeight)
        guard FT_Init_FreeType(&library) == 0, let library else { return nil }
        for path in paths where FileManager.default.isReadableFile(atPath: path) {
            var face: FT_Face?
            guard FT_New_Face(library, path, 0, &face) == 0, let face else { continue }
            guard FT_Set_Pixel_Sizes(face, 0, FT_UInt(self.pixelHeight)) == 0 else { FT_Done_Face(face); continue }
            faces.append(face)
        }
        guard let first = faces.first else {
            FT_Done_FreeType(library)
            self.library = nil
            return nil
        }
        ascender = Int(first.pointee.size.pointee.metrics.ascender >> 6)
    }

    deinit {
        for face in faces { FT_Done_Face(face) }
        if let library { FT_Done_FreeType(library) }
    }

    /// Whether one of the fonts has a glyph for `scalar`.
    public func hasGlyph(_ scalar: Unicode.Scalar) -> Bool { faces.contains { FT_Get_Char_Index($0, FT_ULong(scalar.value)) != 0 } }

    /// The advance width of `text` in pixels.
    public func width(of text: String) -> Int {
        var pen = 0
        for scalar in text.unicodeScalars {
            let face = self.face(for: scalar)
            guard FT_Load_Char(face, FT_ULong(scalar.value), FT_Int32(FT_LOAD_DEFAULT)) == 0 else { continue }
            pen += Int(cfreetype_glyph(face).pointee.advance.x >> 6)
        }
        return pen
    }

    /// Draws `text` into `image` (RGB) with the top of its line at `y` and its pen starting at
    /// `x`, blending `color` by each glyph pixel's coverage; clipped to the image.
    public func draw(_ text: String, into image: inout Raster<UInt8>, x: Int, y: Int, color: (UInt8, UInt8, UInt8)) {
        var pen = x
        let baseline = y + ascender
        for scalar in text.unicodeScalars {
            let face = self.face(for: scalar)
            guard FT_Load_Char(face, FT_ULong(scalar.value), FT_Int32(FT_LOAD_RENDER)) == 0 else { continue }
            let glyph = cfreetype_glyph(face).pointee
            let bitmap = glyph.bitmap
            if let buffer = bitmap.buffer, bitmap.pixel_mode == UInt8(FT_PIXEL_MODE_GRAY.rawValue) {
                let left = pen + Int(glyph.bitmap_left), top = baseline - Int(glyph.bitmap_top)
                for row in 0..<Int(bitmap.rows) {
                    let py = top + row
                    guard py >= 0, py < image.height else { continue }
                    for column in 0..<Int(bitmap.width) {
                        let px = left + column
                        guard px >= 0, px < image.width else { continue }
                        let coverage = Int(buffer[row * Int(bitmap.pitch) + column])
                        guard coverage > 0 else { continue }
                        func blend(_ channel: Int, _ value: UInt8) {
                            image[py, px, channel] = UInt8((Int(image[py, px, channel]) * (255 - coverage) + Int(value) * coverage + 127) / 255)
                        }
                        blend(0, color.0)
                        blend(1, color.1)
                        blend(2, color.2)
                    }
                }
            }
            pen += Int(glyph.advance.x >> 6)
        }
    }

    /// The first font with a glyph for `scalar` (the first font, whose missing-glyph box then
    /// shows, when none has one).
    private func face(for scalar: Unicode.Scalar) -> FT_Face {
        faces.first { FT_Get_Char_Index($0, FT_ULong(scalar.value)) != 0 } ?? faces[0]
    }
}
