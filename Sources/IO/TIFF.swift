import CTIFF

/// Single-channel 8/16-bit TIFF label maps (libtiff), as the detectron2 scripts write them for
/// ADE20K-847 and PASCAL Context-459. Corrupt or unexpected files are an ``IOError`` naming the file.
public enum TIFF {
    /// Reads the label map at `path` as 16-bit samples (8-bit files widened) [height, width, 1]; the
    /// header's size is checked against `limits` before the raster is allocated.
    public static func readLabels(path: String, limits: ImageLimits = .default) throws -> Raster<UInt16> {
        var width: Int32 = 0, height: Int32 = 0, bits: Int32 = 0
        let header = callWithMessage { fga_tiff_info(path, &width, &height, &bits, $0, $1) }
        guard header.status == 0 else { throw IOError(path, header.message) }
        do { try limits.check(width: Int(width), height: Int(height), format: "TIFF") } catch let error as IOError {
            throw IOError(path, error.message)
        }
        var raster = Raster<UInt16>(width: Int(width), height: Int(height), channels: 1)
        let (status, message) = raster.samples.withUnsafeMutableBufferPointer { samples in
            callWithMessage { fga_tiff_read(path, samples.baseAddress, samples.count, $0, $1) }
        }
        guard status == 0 else { throw IOError(path, message) }
        return raster
    }

    /// Writes a 1-channel label map with `bitsPerSample` 8 or 16 (deflate-compressed).
    public static func writeLabels(_ labels: Raster<UInt16>, path: String, bitsPerSample: Int = 16) throws {
        guard labels.channels == 1 else { throw IOError(path, "a TIFF label map has 1 channel, got \(labels.channels)") }
        let (status, message) = labels.samples.withUnsafeBufferPointer { samples in
            callWithMessage {
                fga_tiff_write(path, samples.baseAddress, Int32(labels.width), Int32(labels.height), Int32(bitsPerSample), $0, $1)
            }
        }
        guard status == 0 else { throw IOError(path, message) }
    }
}
