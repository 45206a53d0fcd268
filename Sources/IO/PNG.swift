import CPNG

/// PNG decoding and encoding (libpng). Corrupt or truncated data is an ``IOError``.
public enum PNG {
    /// What decoding produces.
    public enum Mode: Sendable {
        /// Samples as stored: palette indices (1 channel, as label maps need), gray, gray+alpha,
        /// RGB or RGBA. 16-bit files are rejected in this mode's 8-bit decoder.
        case samples
        /// 8-bit RGB whatever the file holds.
        case rgb

        var code: Int32 { self == .samples ? Int32(FGA_PNG_RAW) : Int32(FGA_PNG_RGB) }
    }

    /// Decodes to a raster [height, width, channels] of 8-bit samples; the header's size is checked
    /// against `limits` before the raster is allocated.
    public static func decode(_ data: UnsafeRawBufferPointer, mode: Mode = .rgb, limits: ImageLimits = .default) throws -> Raster<UInt8> {
        let bytes = data.baseAddress?.assumingMemoryBound(to: UInt8.self)
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0, bytesPerSample: Int32 = 0
        let header = callWithMessage {
            fga_png_info(bytes, data.count, mode.code, &width, &height, &channels, &bytesPerSample, $0, $1)
        }
        guard header.status == 0 else { throw IOError("PNG data", header.message) }
        guard bytesPerSample == 1 else { throw IOError("PNG data", "16-bit samples are not supported for 8-bit decoding") }
        try limits.check(width: Int(width), height: Int(height), format: "PNG")
        var raster = Raster<UInt8>(width: Int(width), height: Int(height), channels: Int(channels))
        let (status, message) = raster.samples.withUnsafeMutableBufferPointer { pixels in
            callWithMessage { fga_png_decode(bytes, data.count, mode.code, pixels.baseAddress, pixels.count, $0, $1) }
        }
        guard status == 0 else { throw IOError("PNG data", message) }
        return raster
    }

    public static func decode(_ data: [UInt8], mode: Mode = .rgb, limits: ImageLimits = .default) throws -> Raster<UInt8> {
        try data.withUnsafeBytes { try decode($0, mode: mode, limits: limits) }
    }

    /// Encodes 8-bit gray (1 channel), RGB (3) or RGBA (4). With a `palette` of at most 256 RGB
    /// colours a 1-channel raster is written as a palette image whose indices are its samples.
    public static func encode(_ image: Raster<UInt8>, palette: [(UInt8, UInt8, UInt8)]? = nil) throws -> [UInt8] {
        let table = palette.map { $0.flatMap { [$0.0, $0.1, $0.2] } }
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let (status, message) = callWithMessage { error, capacity in
            image.samples.withUnsafeBufferPointer { pixels in
                let encodeWith = { (colors: UnsafePointer<UInt8>?) in
                    fga_png_encode(pixels.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels),
                                   colors, Int32(palette?.count ?? 0), &output, &length, error, capacity)
                }
                return table.map { $0.withUnsafeBufferPointer { encodeWith($0.baseAddress) } } ?? encodeWith(nil)
            }
        }
        guard status == 0, let output else { throw IOError("PNG encoder", message) }
        defer { fga_png_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: length))
    }
}
