/// Decodes an encoded image file's bytes, PNG (recognised by its signature) or JPEG, to 8-bit RGB
/// [height, width, 3]. The size in the header is checked against `limits` before anything is
/// allocated. Corrupt, truncated or oversized data is an ``IOError``.
public func decodeRGBImage(_ bytes: [UInt8], limits: ImageLimits = .default) throws -> Raster<UInt8> {
    try bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? PNG.decode(bytes, mode: .rgb, limits: limits) : JPEG.decode(bytes, limits: limits)
}
