/// The EXIF orientation of a JPEG (tag 0x0112 in IFD0 of the APP1 `Exif` segment), and its
/// application to a decoded image so that it shows upright, as viewers and PIL's
/// `ImageOps.exif_transpose` do.
public enum ExifOrientation {
    /// The orientation 1…8 stored in `jpeg`, or 1 when there is none or it cannot be read.
    public static func of(_ jpeg: [UInt8]) -> Int {
        guard jpeg.count > 4, jpeg[0] == 0xFF, jpeg[1] == 0xD8 else { return 1 }
        var offset = 2
        while offset + 4 <= jpeg.count, jpeg[offset] == 0xFF {
            let marker = jpeg[offset + 1]
            let length = Int(jpeg[offset + 2]) << 8 | Int(jpeg[offset + 3])
            if marker == 0xDA || length < 2 { break }  // start of scan: no more metadata
            let body = offset + 4
            if marker == 0xE1, body + 14 <= jpeg.count, Array(jpeg[body..<(body + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return orientation(tiff: Array(jpeg[(body + 6)..<min(jpeg.count, offset + 2 + length)]))
            }
            offset += 2 + length
        }
        return 1
    }

    private static func orientation(tiff: [UInt8]) -> Int {
        guard tiff.count >= 8 else { return 1 }
        let little = tiff[0] == 0x49
        func u16(_ at: Int) -> Int? {
            guard at + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let high = u16(little ? at + 2 : at), let low = u16(little ? at : at + 2) else { return nil }
            return high << 16 | low
        }
        guard let ifd = u32(4), let entries = u16(ifd) else { return 1 }
        for k in 0..<entries {
            let entry = ifd + 2 + 12 * k
            guard let tag = u16(entry) else { return 1 }
            if tag == 0x0112, let value = u16(entry + 8), (1...8).contains(value) { return value }
        }
        return 1
    }

    /// `image` transformed to display orientation for EXIF `orientation`.
    public static func apply(_ orientation: Int, to image: Raster<UInt8>) -> Raster<UInt8> {
        guard orientation != 1 else { return image }
        let (w, h, c) = (image.width, image.height, image.channels)
        let transposed = orientation >= 5
        var out = Raster<UInt8>(width: transposed ? h : w, height: transposed ? w : h, channels: c)
        for y in 0..<out.height {
            for x in 0..<out.width {
                // (sx, sy): the source pixel shown at (x, y).
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (w - 1 - x, y)
                case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
                case 4: (sx, sy) = (x, h - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, h - 1 - x)
                case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
                default: (sx, sy) = (w - 1 - y, x)  // 8
                }
                for k in 0..<c { out[y, x, k] = image[sy, sx, k] }
            }
        }
        return out
    }
}
