import Foundation
import IO

/// Writes a TensorBoard event file (`events.out.tfevents.<time>.<host>`): TFRecord framing
/// (length, masked CRC-32C of the length, the serialized `Event` protobuf, masked CRC-32C of the
/// data) around `Event { wall_time, step, summary { value { tag, … } } }`, with the
/// `brain.Event:2` version record first — what `tensorboard --logdir` reads. Values are scalars
/// (`simple_value`), PNG images (`Summary.Image`) or text (a string tensor for the text plugin).
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
        write(values: scalars.map { tag, value in
            var entry = Protobuf()
            entry.bytes(field: 1, Array(tag.utf8))
            entry.float(field: 2, Float(value))
            return entry
        }, step: step)
    }

    /// Logs an 8-bit RGB image (stored as PNG) under `tag` at `step` (TensorBoard's Images tab).
    public func add(image: Raster<UInt8>, tag: String, step: Int) throws {
        var picture = Protobuf()
        picture.varint(field: 1, UInt64(image.height))
        picture.varint(field: 2, UInt64(image.width))
        picture.varint(field: 3, UInt64(image.channels))
        picture.bytes(field: 4, try PNG.encode(image))
        var entry = Protobuf()
        entry.bytes(field: 1, Array(tag.utf8))
        entry.bytes(field: 4, picture.bytes)
        write(values: [entry], step: step)
    }

    /// Logs `text` (Markdown) under `tag` at `step` (TensorBoard's Text tab): a scalar string
    /// tensor whose metadata names the `text` plugin.
    public func add(text: String, tag: String, step: Int) {
        var plugin = Protobuf()
        plugin.bytes(field: 1, Array("text".utf8))
        var metadata = Protobuf()
        metadata.bytes(field: 1, plugin.bytes)
        var tensor = Protobuf()
        tensor.varint(field: 1, 7)  // DT_STRING
        tensor.bytes(field: 2, [])  // a scalar: TensorShapeProto without dimensions
        tensor.bytes(field: 8, Array(text.utf8))
        var entry = Protobuf()
        entry.bytes(field: 1, Array(tag.utf8))
        entry.bytes(field: 8, tensor.bytes)
        entry.bytes(field: 9, metadata.bytes)
        write(values: [entry], step: step)
    }

    /// One event at `step` whose summary holds `values` (`Summary.Value` messages).
    private func write(values: [Protobuf], step: Int) {
        var summary = Protobuf()
        for value in values { summary.bytes(field: 1, value.bytes) }
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
