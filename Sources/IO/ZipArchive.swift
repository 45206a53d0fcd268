/// The entries of a ZIP archive mapped into memory (it keeps the ``MappedFile``), read through the central
/// directory, with ZIP64 sizes and offsets. Only stored (uncompressed) entries can be read, which
/// is what `torch.save` writes. Every offset and size is checked against the archive before use.
public struct ZipArchive {
    /// One file in the archive.
    public struct Entry: Sendable {
        public let name: String
        /// Offset of the entry's data in the archive, after its local header.
        public let dataOffset: Int
        public let size: Int
        public let crc32: UInt32
    }

    /// Entries by name.
    public let entries: [String: Entry]
    public let file: MappedFile

    /// Reads the central directory of `file`; errors name its path.
    public init(_ file: MappedFile) throws {
        self.file = file
        let bytes = file.bytes
        let reader = ByteReader(bytes: bytes, context: file.path)
        let directory = try Self.centralDirectory(reader)
        var entries: [String: Entry] = [:]
        var offset = directory.offset
        for index in 0..<directory.count {
            guard try reader.u32(offset) == 0x0201_4b50 else { throw reader.error("central directory entry \(index) at byte \(offset) has no signature") }
            let method = try reader.u16(offset + 10)
            let crc = try reader.u32(offset + 16)
            var compressedSize = Int(try reader.u32(offset + 20)), size = Int(try reader.u32(offset + 24))
            let nameLength = Int(try reader.u16(offset + 28)), extraLength = Int(try reader.u16(offset + 30))
            let commentLength = Int(try reader.u16(offset + 32))
            var localOffset = Int(try reader.u32(offset + 42))
            let name = String(decoding: try reader.slice(offset + 46, nameLength), as: UTF8.self)
            // ZIP64 extended information: only the fields whose 32-bit value is saturated, in order.
            var extra = offset + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = try reader.u16(extra), length = Int(try reader.u16(extra + 2))
                if id == 0x0001 {
                    var field = extra + 4
                    func widened(_ value: Int) throws -> Int {
                        guard value == 0xFFFF_FFFF else { return value }
                        guard field + 8 <= extra + 4 + length else { throw reader.error("entry \(name): ZIP64 field too short") }
                        defer { field += 8 }
                        return try reader.int64(field)
                    }
                    size = try widened(size)
                    compressedSize = try widened(compressedSize)
                    localOffset = try widened(localOffset)
                }
                extra += 4 + length
            }
            guard method == 0 else {
                throw reader.error("entry \(name) is compressed (method \(method)); only stored entries, as torch.save writes them, are supported")
            }
            guard compressedSize == size else { throw reader.error("entry \(name): stored entry with different sizes (\(compressedSize) and \(size))") }
            guard try reader.u32(localOffset) == 0x0403_4b50 else { throw reader.error("entry \(name): no local header at byte \(localOffset)") }
            let dataOffset = localOffset + 30 + Int(try reader.u16(localOffset + 26)) + Int(try reader.u16(localOffset + 28))
            guard dataOffset <= bytes.count, size <= bytes.count - dataOffset else {
                throw reader.error("entry \(name): \(size) bytes at byte \(dataOffset) run past the end of the \(bytes.count)-byte file")
            }
            guard entries[name] == nil else { throw reader.error("entry \(name) appears twice") }
            entries[name] = Entry(name: name, dataOffset: dataOffset, size: size, crc32: crc)
            offset += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }

    /// The bytes of `entry` (valid while this archive lives), after checking its CRC-32.
    public func contents(of entry: Entry) throws -> UnsafeRawBufferPointer {
        let data = UnsafeRawBufferPointer(rebasing: file.bytes[entry.dataOffset..<(entry.dataOffset + entry.size)])
        let actual = IO.crc32(data)
        guard actual == entry.crc32 else {
            throw IOError(file.path, "entry \(entry.name) is damaged (CRC-32 \(hex(actual)), the archive says \(hex(entry.crc32)))")
        }
        return data
    }

    /// Offset and entry count of the central directory, from the end-of-central-directory record
    /// (and its ZIP64 version when the 32-bit fields are saturated).
    private static func centralDirectory(_ reader: ByteReader) throws -> (offset: Int, count: Int) {
        let bytes = reader.bytes
        guard bytes.count >= 22 else { throw reader.error("\(bytes.count) bytes is too short for a ZIP archive") }
        var end = -1
        var position = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65_535)
        while position >= lowest {
            if try reader.u32(position) == 0x0605_4b50 { end = position; break }
            position -= 1
        }
        guard end >= 0 else { throw reader.error("no ZIP end-of-central-directory record") }
        var count = Int(try reader.u16(end + 10))
        var offset = Int(try reader.u32(end + 16))
        if count == 0xFFFF || offset == 0xFFFF_FFFF {
            guard end >= 20, try reader.u32(end - 20) == 0x0706_4b50 else { throw reader.error("saturated ZIP fields but no ZIP64 locator") }
            let record = try reader.int64(end - 12)
            guard try reader.u32(record) == 0x0606_4b50 else { throw reader.error("no ZIP64 end-of-central-directory record at byte \(record)") }
            count = try reader.int64(record + 32)
            offset = try reader.int64(record + 48)
        }
        // Each central-directory entry takes at least 46 bytes.
        guard offset <= bytes.count, count <= (bytes.count - offset) / 46 else {
            throw reader.error("central directory of \(count) entries at byte \(offset) does not fit in the file")
        }
        return (offset, count)
    }
}

/// Bounds-checked little-endian reads from a byte buffer.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let context: String

    func error(_ message: String) -> IOError { IOError(context, message) }

    func check(_ offset: Int, _ length: Int) throws {
        guard offset >= 0, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
            throw error("reading \(length) bytes at byte \(offset) runs past the end of the \(bytes.count)-byte data")
        }
    }

    func u16(_ offset: Int) throws -> UInt16 {
        try check(offset, 2)
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    func u32(_ offset: Int) throws -> UInt32 {
        try check(offset, 4)
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// A 64-bit field that must fit a non-negative Int.
    func int64(_ offset: Int) throws -> Int {
        try check(offset, 8)
        let value = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        guard let result = Int(exactly: value), result >= 0 else { throw error("64-bit field \(value) at byte \(offset) is out of range") }
        return result
    }

    func slice(_ offset: Int, _ length: Int) throws -> UnsafeRawBufferPointer {
        try check(offset, length)
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
    }
}

func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
