/// A decoded image or label map: row-major, interleaved samples [height, width, channels].
public struct Raster<Sample: FixedWidthInteger & UnsignedInteger & Sendable>: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    /// `height × width × channels` samples.
    public var samples: [Sample]

    public init(width: Int, height: Int, channels: Int, samples: [Sample]) {
        precondition(samples.count == width * height * channels,
                     "Raster \(width)x\(height)x\(channels) needs \(width * height * channels) samples, got \(samples.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
    }

    /// A raster filled with `value`.
    public init(width: Int, height: Int, channels: Int, filledWith value: Sample = 0) {
        self.init(width: width, height: height, channels: channels,
                  samples: [Sample](repeating: value, count: width * height * channels))
    }

    /// The sample at row `y`, column `x`, channel `c`.
    public subscript(y: Int, x: Int, c: Int) -> Sample {
        get { samples[(y * width + x) * channels + c] }
        set { samples[(y * width + x) * channels + c] = newValue }
    }
}
