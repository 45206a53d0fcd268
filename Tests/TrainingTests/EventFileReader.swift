import Foundation
import IO
@testable import Training

/// Reads back TensorBoard event files for the tests: TFRecord framing checked record by record,
/// and a generic protobuf field reader for the messages inside.
struct EventFile {
    /// One protobuf field: varints and fixed-width values as integers, length-delimited ones as bytes.
    enum Value { case integer(UInt64), bytes([UInt8]) }

    /// The `Event` messages of the file at `path`, after checking both CRCs of every record.
    static func records(at path: String) throws -> [[UInt8]] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func uint32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        var offset = 0, records = [[UInt8]]()
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { throw IOError(path, "truncated record header at \(offset)") }
            let length = (0..<8).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
            guard uint32(offset + 8) == maskedCRC32C(Array(bytes[offset..<(offset + 8)])) else { throw IOError(path, "length CRC at \(offset)") }
            guard offset + 16 + length <= bytes.count else { throw IOError(path, "truncated record at \(offset)") }
            let data = Array(bytes[(offset + 12)..<(offset + 12 + length)])
            guard uint32(offset + 12 + length) == maskedCRC32C(data) else { throw IOError(path, "data CRC at \(offset)") }
            records.append(data)
            offset += 16 + length
        }
        return records
    }

    /// The fields of one protobuf message, in order.
    static func fields(_ message: [UInt8]) throws -> [(field: Int, value: Value)] {
        var at = 0, out = [(field: Int, value: Value)]()
        func varint() throws -> UInt64 {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard at < message.count, shift < 64 else { throw IOError("protobuf", "bad varint") }
                let byte = message[at]; at += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
        func fixed(_ width: Int) throws -> UInt64 {
            guard at + width <= message.count else { throw IOError("protobuf", "truncated fixed field") }
            defer { at += width }
            return (0..<width).reduce(0) { $0 | UInt64(message[at + $1]) << (8 * UInt64($1)) }
        }
        while at < message.count {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: out.append((field, .integer(try varint())))
            case 1: out.append((field, .integer(try fixed(8))))
            case 5: out.append((field, .integer(try fixed(4))))
            case 2:
                let length = Int(try varint())
                guard length >= 0, at + length <= message.count else { throw IOError("protobuf", "truncated bytes field") }
                out.append((field, .bytes(Array(message[at..<(at + length)]))))
                at += length
            default: throw IOError("protobuf", "unsupported wire type \(key & 7)")
            }
        }
        return out
    }

    /// The bytes of every occurrence of `field` in `message`.
    static func bytes(_ message: [UInt8], _ field: Int) throws -> [[UInt8]] {
        try fields(message).compactMap { if $0.field == field, case .bytes(let b) = $0.value { b } else { nil } }
    }

    /// The integer value of `field` in `message`, if present.
    static func integer(_ message: [UInt8], _ field: Int) throws -> UInt64? {
        try fields(message).lazy.compactMap { if $0.field == field, case .integer(let v) = $0.value { v } else { nil } }.first
    }

    /// (step, tag, Summary.Value) of every summary value in the file.
    static func summaryValues(at path: String) throws -> [(step: Int, tag: String, value: [UInt8])] {
        try records(at: path).flatMap { event -> [(step: Int, tag: String, value: [UInt8])] in
            let step = Int(try integer(event, 2) ?? 0)
            return try bytes(event, 5).flatMap { summary in
                try bytes(summary, 1).map { value in (step, String(decoding: try bytes(value, 1).first ?? [], as: UTF8.self), value) }
            }
        }
    }
}
