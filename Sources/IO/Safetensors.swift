import Foundation
import Tensor

/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}`,
/// then the raw little-endian data. F32, F16 and BF16 tensors are read as Float32. As the format's
/// specification requires, a header with a duplicate name or with tensors whose byte ranges
/// overlap is refused; the header is at most 100 MB.
public enum Safetensors {
    /// The largest header accepted (the reference implementation's limit).
    static let maxHeaderLength = 100_000_000
    /// Bytes per element of the dtypes read as Float32, and of every dtype the format defines.
    static let floatElementSizes = ["F32": 4, "F16": 2, "BF16": 2]
    static let elementSizes = floatElementSizes.merging(["F64": 8, "I64": 8, "U64": 8, "I32": 4, "U32": 4, "I16": 2, "U16": 2,
                                                         "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1]) { a, _ in a }

    /// Tensors and metadata read from a file.
    public struct Contents: Sendable {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
    }

    /// Reads every tensor of the file at `path` through a read-only memory map (no copy of the
    /// file is held besides the converted tensors). Tensors named in `skipping` (e.g. the int64
    /// `position_ids` buffers of older Hugging Face checkpoints) are checked for their place in
    /// the file but not read, whatever their dtype. Errors name the file and the offending tensor.
    public static func read(path: String, skipping: Set<String> = []) throws -> Contents {
        let file = try MappedFile(path: path)
        do {
            return try parse(file.bytes, skipping: skipping)
        } catch let error as IOError {
            throw error.within(path)
        }
    }

    /// Parses safetensors bytes (`skipping` as in ``read(path:skipping:)``).
    public static func parse(_ bytes: UnsafeRawBufferPointer, skipping: Set<String> = []) throws -> Contents {
        guard bytes.count >= 8 else { throw IOError("safetensors", "file is \(bytes.count) bytes, shorter than the 8-byte header length") }
        let declaredLength = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard declaredLength > 0, declaredLength <= UInt64(bytes.count - 8) else {
            throw IOError("safetensors", "header length \(declaredLength) does not fit in a file of \(bytes.count) bytes")
        }
        guard declaredLength <= UInt64(maxHeaderLength) else {
            throw IOError("safetensors", "header length \(declaredLength) is above the format's limit of \(maxHeaderLength) bytes")
        }
        let headerLength = Int(declaredLength)
        let headerBytes = Data(bytes[8..<(8 + headerLength)])
        guard let header = (try? JSONSerialization.jsonObject(with: headerBytes)) as? [String: Any] else {
            throw IOError("safetensors", "the header is not a JSON object")
        }
        if let duplicate = JSONObjectKeys.firstDuplicate(in: headerBytes) {
            throw IOError("safetensors", "the header names \(duplicate) more than once")
        }
        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(name: String, begin: Int, end: Int)] = []
        for (name, value) in header.sorted(by: { $0.key < $1.key }) {
            if name == "__metadata__" {
                guard let entries = value as? [String: Any] else { throw IOError("safetensors", "__metadata__ is not an object") }
                for (key, entry) in entries {
                    guard let text = entry as? String else { throw IOError("safetensors", "metadata \(key) is not a string") }
                    metadata[key] = text
                }
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (info["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2, shape.count == (info["shape"] as? [Any])?.count
            else { throw IOError("safetensors", "tensor \(name): entry needs dtype, shape and two data_offsets") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw IOError("safetensors", "tensor \(name): negative dimension in \(shape)") }
            let skipped = skipping.contains(name)
            guard let elementSize = (skipped ? Self.elementSizes : Self.floatElementSizes)[dtype] else {
                throw IOError("safetensors", "tensor \(name): dtype \(dtype) is not supported (F32, F16, BF16)")
            }
            let (begin, end) = (offsets[0], offsets[1])
            // The element count, refusing shapes whose product overflows.
            var count = 1
            for dimension in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard !overflow, product <= dataLength else {
                    throw IOError("safetensors", "tensor \(name): shape \(shape) holds more elements than the file's \(dataLength) data bytes")
                }
                count = product
            }
            guard begin >= 0, end >= begin, end <= dataLength else {
                throw IOError("safetensors", "tensor \(name): data_offsets [\(begin), \(end)] outside the \(dataLength) data bytes")
            }
            guard end - begin == count * elementSize else {
                throw IOError("safetensors", "tensor \(name): \(end - begin) bytes for shape \(shape) of \(dtype) (expected \(count * elementSize))")
            }
            ranges.append((name, begin, end))
            if skipped { continue }
            let tensor = Tensor(uninitializedShape: shape)
            let source = bytes.baseAddress! + dataStart + begin
            for i in 0..<count {
                switch dtype {
                case "F32": tensor.pointer[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case "F16": tensor.pointer[i] = Float(Float16(bitPattern: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                default: tensor.pointer[i] = Float(bitPattern: UInt32(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                }
            }
            tensors[name] = tensor
        }
        ranges.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where next.begin < previous.end {
            throw IOError("safetensors", "tensors \(previous.name) [\(previous.begin), \(previous.end)] and \(next.name) [\(next.begin), \(next.end)] overlap")
        }
        return Contents(tensors: tensors, metadata: metadata)
    }

    /// Writes `tensors` as F32 (sorted by name) with `metadata`, atomically (temporary file + rename).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let tensor = tensors[name]!
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + 4 * tensor.count]]
            offset += 4 * tensor.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces so the data starts 8-byte aligned.
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var file = Data()
        file.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        for name in names {
            let tensor = tensors[name]!
            file.append(Data(bytes: tensor.pointer, count: 4 * tensor.count))
        }
        do {
            try file.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw IOError(path, "cannot write: \(error.localizedDescription)")
        }
    }
}
