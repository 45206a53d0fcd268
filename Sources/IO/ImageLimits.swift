/// How large an image a decoder accepts. The size a file's header claims is checked against this
/// limit before any pixel buffer is allocated, so a few hundred hostile bytes cannot ask for
/// gigabytes. The default, 256 Mi pixels (16,384²), admits any photograph or dataset image and
/// bounds one decoded RGB image to 768 MiB.
public struct ImageLimits: Sendable, Equatable {
    /// Largest width × height.
    public var maxPixels: Int

    public init(maxPixels: Int = 1 << 28) {
        self.maxPixels = maxPixels
    }

    public static let `default` = ImageLimits()

    /// Bytes that libjpeg may use beside the output raster (a progressive file keeps a 16-bit
    /// coefficient per sample): two bytes per sample of an RGB image at the pixel limit.
    var decoderWorkingBytes: Int { maxPixels.multipliedReportingOverflow(by: 6).overflow ? Int.max : maxPixels * 6 }

    /// Throws when a header's `width` × `height` is empty or above the limit; `format` names the
    /// kind of data ("PNG", "JPEG", "TIFF") in the message.
    public func check(width: Int, height: Int, format: String) throws {
        guard width > 0, height > 0 else {
            throw IOError("\(format) data", "the header claims an empty image (\(width)x\(height))")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels else {
            throw IOError("\(format) data", "the header claims \(width)x\(height) pixels, above the limit of \(maxPixels) pixels")
        }
    }
}
