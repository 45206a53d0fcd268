/// Decodes an encoded image file's bytes, PNG (recognised by its signature) or JPEG, to 8-bit RGB
/// [height, width, 3]. Corrupt or truncated data is an ``IOError``.
public func decodeRGBImage(_ bytes: [UInt8]) throws -> Raster<UInt8> {
    try bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? PNG.decode(bytes, mode: .rgb) : JPEG.decode(bytes)
}
