import Foundation
import IO

/// Writes scalars as a TensorBoard event file (`events.out.tfevents.<time>.<host>`): TFRecord
/// framing (length, masked CRC-32C of the length, the serialized `Event` protobuf, masked
/// CRC-32C of the data) around `Event { wall_time, step, summary { value { tag, simple_value } } }`,
/// with the `brain.Event:2` version record first — what `tensorboard --logdir` reads.
public final class TensorBoardWriter {
    public let path: String
    private let handle: FileHandle

    /// Creates a new event file in `folder`.
    public init(folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let name = "events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(ProcessInfo.processInfo.hostName)"
        path = (folder as NSString).appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw IOError(path, "cannot create the TensorBoard event file")
        }
        self.handle = handle
        var event = Protobuf()
        event.double(field: 1, Date().timeIntervalSince1970)
        event.bytes(field: 3, Array("brain.Event:2".utf8))
        write(record: event.bytes)
    }

    deinit { try? handle.close() }

    /// Logs `scalars` (tag → value) at `step`.
    public func add(scalars: [(String, Double)], step: Int) {
        var summary = Protobuf()
        for (tag, value) in scalars {
            var entry = Protobuf()
            entry.bytes(field: 1, Array(tag.utf8))
            entry.float(field: 2, Float(value))
            summary.bytes(field: 1, entry.bytes)
        }
        var event = Protobuf()
        event.double(field: 1, Date().timeIntervalSince1970)
        event.varint(field: 2, UInt64(step))
        event.bytes(field: 5, summary.bytes)
        write(record: event.bytes)
    }

    private func write(record data: [UInt8]) {
        var length = UInt64(data.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { Array($0) }
        var out = lengthBytes
        out += Self.littleEndian(maskedCRC32C(lengthBytes))
        out += data
        out += Self.littleEndian(maskedCRC32C(data))
        handle.write(Data(out))
    }

    static func littleEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
}

/// A minimal protobuf encoder (the wire types the event format uses).
struct Protobuf {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func varint(field: Int, _ value: UInt64) { varint(UInt64(field << 3)); varint(value) }
    mutating func double(field: Int, _ value: Double) {
        varint(UInt64(field << 3 | 1))
        bytes += (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) }
    }
    mutating func float(field: Int, _ value: Float) {
        varint(UInt64(field << 3 | 5))
        bytes += (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) }
    }
    mutating func bytes(field: Int, _ value: [UInt8]) {
        varint(UInt64(field << 3 | 2))
        varint(UInt64(value.count))
        bytes += value
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses.
func crc32c(_ data: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data { crc = crc32cTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return ~crc
}

/// TFRecord's masked CRC: rotate right by 15 and add a constant.
func maskedCRC32C(_ data: [UInt8]) -> UInt32 {
    let crc = crc32c(data)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
}

private let crc32cTable: [UInt32] = (0..<256).map { n -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 == 1 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
    return c
}
