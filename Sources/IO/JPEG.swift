import CJPEG

/// JPEG decoding and encoding (libjpeg-turbo). Corrupt or truncated data is an ``IOError``.
public enum JPEG {
    /// Image size and channel count (1 for grayscale files, 3 otherwise) from the header.
    public static func info(_ data: UnsafeRawBufferPointer) throws -> (width: Int, height: Int, channels: Int) {
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        let (status, message) = callWithMessage {
            fga_jpeg_info(data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count,
                          &width, &height, &channels, $0, $1)
        }
        guard status == 0 else { throw IOError("JPEG data", message) }
        return (Int(width), Int(height), Int(channels))
    }

    /// Decodes into `pixels` [height, width, channels] (channels 1 = gray or 3 = RGB), which
    /// must hold at least width × height × channels bytes; returns the size. The header's size is
    /// checked against `limits` first.
    public static func decode(_ data: UnsafeRawBufferPointer, channels: Int = 3, limits: ImageLimits = .default,
                              into pixels: UnsafeMutableBufferPointer<UInt8>) throws -> (width: Int, height: Int) {
        let header = try info(data)
        try limits.check(width: header.width, height: header.height, format: "JPEG")
        let (status, message) = callWithMessage {
            fga_jpeg_decode(data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count,
                            Int32(channels), pixels.baseAddress, pixels.count, limits.decoderWorkingBytes, $0, $1)
        }
        guard status == 0 else { throw IOError("JPEG data", message) }
        return (header.width, header.height)
    }

    /// Decodes to a new raster [height, width, channels] (channels 1 = gray or 3 = RGB); the
    /// header's size is checked against `limits` before the raster is allocated.
    public static func decode(_ data: UnsafeRawBufferPointer, channels: Int = 3, limits: ImageLimits = .default) throws -> Raster<UInt8> {
        let header = try info(data)
        try limits.check(width: header.width, height: header.height, format: "JPEG")
        var raster = Raster<UInt8>(width: header.width, height: header.height, channels: channels)
        _ = try raster.samples.withUnsafeMutableBufferPointer { try decode(data, channels: channels, limits: limits, into: $0) }
        return raster
    }

    public static func decode(_ data: [UInt8], channels: Int = 3, limits: ImageLimits = .default) throws -> Raster<UInt8> {
        try data.withUnsafeBytes { try decode($0, channels: channels, limits: limits) }
    }

    /// Encodes a gray (1 channel) or RGB (3 channels) raster as baseline JPEG of `quality` 1...100.
    public static func encode(_ image: Raster<UInt8>, quality: Int = 90) throws -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let (status, message) = callWithMessage { error, capacity in
            image.samples.withUnsafeBufferPointer {
                fga_jpeg_encode($0.baseAddress, Int32(image.width), Int32(image.height), Int32(image.channels),
                                Int32(quality), &output, &length, error, capacity)
            }
        }
        guard status == 0, let output else { throw IOError("JPEG encoder", message) }
        defer { fga_jpeg_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: length))
    }
}
