import CZLib

/// CRC-32 (zlib's, the one of gzip and PNG) of `bytes`, continuing from `previous`.
public func crc32(_ bytes: UnsafeRawBufferPointer, previous: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return previous }
    var crc = UInt(previous)
    var offset = 0
    while offset < bytes.count {  // zlib takes 32-bit lengths
        let length = min(bytes.count - offset, 1 << 30)
        crc = CZLib.crc32(crc, base.advanced(by: offset).assumingMemoryBound(to: UInt8.self), UInt32(length))
        offset += length
    }
    return UInt32(truncatingIfNeeded: crc)
}
