import CZLib

/// gzip / zlib decompression.
public enum Gzip {
    /// Decompresses gzip- or zlib-wrapped `data`; corrupt or truncated input is an ``IOError``.
    public static func decompress(_ data: [UInt8], context: String = "gzip data") throws -> [UInt8] {
        var stream = z_stream()
        guard czlib_inflate_init_auto(&stream) == Z_OK else { throw IOError(context, "cannot initialise zlib") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var input = data
        return try input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = UInt32(source.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { buffer -> Int32 in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = UInt32(buffer.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END { return output }
                guard status == Z_OK else {
                    throw IOError(context, "corrupt compressed data (zlib status \(status))")
                }
                if stream.avail_in == 0 && produced == 0 { throw IOError(context, "compressed data ends early (truncated)") }
            }
        }
    }
}
