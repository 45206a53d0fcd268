import Tensor

/// A file written by `torch.save` (the ZIP format of PyTorch ≥ 1.6: `<name>/data.pkl` plus one
/// `<name>/data/<key>` entry per storage), read without Python: `data.pkl` goes through the
/// restricted ``Unpickler`` and tensors are converted to Float32 only when asked for, so a
/// detectron2 checkpoint's optimiser state costs nothing unless used. Nested dicts become dotted
/// names (`model.sem_seg_head.…`, `optimizer.state.0.exp_avg`), as `state_dict` keys are.
public final class PyTorchCheckpoint {
    /// Every tensor of the file by dotted name, with its dtype and shape (not yet read).
    public let tensors: [String: PickledTensor]
    /// Every bool, int, float or string leaf by dotted name (e.g. detectron2's `iteration`).
    public let scalars: [String: PickleValue]
    public var path: String { archive.file.path }

    private let archive: ZipArchive
    private let prefix: String

    /// Opens the file at `path`: checks the archive layout and unpickles `data.pkl`. A legacy
    /// (pre-1.6, non-ZIP) file or a TorchScript archive is an error that says what to do.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        if bytes.count >= 2, bytes[0] == 0x80, bytes[1] <= 5 {
            throw IOError(path, "a legacy (non-ZIP) PyTorch file, written by PyTorch < 1.6 or with _use_new_zipfile_serialization=False; "
                + "re-save it in a current PyTorch: torch.save(torch.load(path, map_location='cpu'), 'converted.pth')")
        }
        guard bytes.count >= 4, bytes.loadUnaligned(as: UInt32.self) == UInt32(0x0403_4b50).littleEndian else {
            throw IOError(path, "not a PyTorch checkpoint (torch.save writes a ZIP archive; this file does not start like one)")
        }
        archive = try ZipArchive(file)
        let pickles = archive.entries.keys.filter { $0.hasSuffix("/data.pkl") && $0.dropLast("/data.pkl".count).contains("/") == false }
        guard pickles.count == 1, let pickleName = pickles.first else {
            if archive.entries.keys.contains(where: { $0.hasSuffix("/constants.pkl") }) {
                throw IOError(path, "a TorchScript archive (torch.jit.save), not a state dict; save model.state_dict() with torch.save instead")
            }
            throw IOError(path, "a ZIP archive with \(pickles.count) top-level */data.pkl entries; torch.save writes exactly one")
        }
        prefix = String(pickleName.dropLast("data.pkl".count))
        if let order = archive.entries[prefix + "byteorder"] {
            let text = String(decoding: try archive.contents(of: order), as: UTF8.self)
            guard text == "little" else { throw IOError(path, "byteorder is \"\(text)\"; only little-endian checkpoints are supported") }
        }
        let pickle = archive.entries[pickleName]!
        let flattened = try Unpickler.load(try archive.contents(of: pickle), context: path + ": " + pickleName) { root in
            var flattened = Flattened(budget: pickle.size + 1)
            try flattened.walk(root, name: "", depth: 0, path: path)
            return flattened
        }
        (tensors, scalars) = (flattened.tensors, flattened.scalars)
    }

    /// The tensor `name` as Float32, read from its storage (f32, f16, bf16 and f64 storages;
    /// any stride). Integer and bool tensors are an error naming the tensor.
    public func tensor(_ name: String) throws -> Tensor {
        guard let view = tensors[name] else { throw IOError(path, "no tensor \(name)") }
        let storage = view.storage
        let entryName = prefix + "data/" + storage.key
        guard let entry = archive.entries[entryName] else { throw IOError(path, "tensor \(name): storage entry \(entryName) is missing") }
        let (bytes, overflow) = storage.count.multipliedReportingOverflow(by: storage.dtype.byteSize)
        guard !overflow, entry.size == bytes else {
            throw IOError(path, "tensor \(name): storage \(entryName) holds \(entry.size) bytes, not \(storage.count) × \(storage.dtype.rawValue)")
        }
        let source = try archive.contents(of: entry)
        let element: (Int) -> Float
        switch storage.dtype {
        case .float32: element = { Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        case .float16: element = { Float(Float16(bitPattern: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)))) }
        case .bfloat16: element = { Float(bitPattern: UInt32(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) << 16) }
        case .float64: element = { Float(Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)))) }
        default: throw IOError(path, "tensor \(name) is \(storage.dtype.rawValue); only floating-point tensors are read")
        }
        let result = Tensor(uninitializedShape: view.shape)
        if storage.dtype == .float32 && view.isContiguous {
            // Little-endian float32 in row-major order: the bytes as they are.
            UnsafeMutableRawPointer(result.pointer).copyMemory(from: source.baseAddress! + 4 * view.offset, byteCount: 4 * view.count)
            return result
        }
        // Walk the view in row-major order, advancing a multi-index over its strides.
        var index = [Int](repeating: 0, count: view.shape.count)
        var position = view.offset
        for flat in 0..<view.count {
            result.pointer[flat] = element(position)
            var axis = view.shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                position += view.strides[axis]
                if index[axis] < view.shape[axis] { break }
                position -= view.strides[axis] * view.shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}

/// Tensors and scalars of an unpickled tree under dotted names. Each container is visited at
/// most once on a path (a recursive structure is an error), and the total visit count is bounded
/// by the pickle's size, so shared references cannot make the walk explode.
private struct Flattened {
    var tensors: [String: PickledTensor] = [:]
    var scalars: [String: PickleValue] = [:]
    var budget: Int
    var onPath: Set<ObjectIdentifier> = []

    mutating func walk(_ value: PickleValue, name: String, depth: Int, path: String) throws {
        budget -= 1
        guard budget >= 0 else { throw IOError(path, "data.pkl refers to the same containers so often that its tree exceeds the file's size") }
        guard depth < 200 else { throw IOError(path, "data.pkl nests deeper than 200 containers at \(name)") }
        func child(_ key: String) -> String { name.isEmpty ? key : name + "." + key }
        switch value {
        case .tensor(let tensor):
            tensors[name] = tensor
        case .bool, .int, .float, .string:
            scalars[name] = value
        case .dict(let dict):
            try enter(ObjectIdentifier(dict), name: name, path: path)
            for (key, item) in dict.items { try walk(item, name: child(PickleDict.keyText(key)), depth: depth + 1, path: path) }
            onPath.remove(ObjectIdentifier(dict))
        case .list(let list):
            try enter(ObjectIdentifier(list), name: name, path: path)
            for (index, item) in list.items.enumerated() { try walk(item, name: child(String(index)), depth: depth + 1, path: path) }
            onPath.remove(ObjectIdentifier(list))
        case .tuple(let tuple):
            for (index, item) in tuple.items.enumerated() { try walk(item, name: child(String(index)), depth: depth + 1, path: path) }
        case .none, .bytes, .global, .storage:
            return
        }
    }

    private mutating func enter(_ container: ObjectIdentifier, name: String, path: String) throws {
        guard onPath.insert(container).inserted else { throw IOError(path, "data.pkl holds a recursive structure at \(name.isEmpty ? "the root" : name)") }
    }
}
