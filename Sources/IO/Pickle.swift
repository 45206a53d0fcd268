/// A value of a Python pickle, as far as PyTorch state dicts need: containers, numbers, strings,
/// and the few callables of ``Unpickler/allowedGlobals``, applied symbolically (nothing is ever
/// executed). Lists and dicts are objects, as in Python, so that memoised references and
/// in-place appends behave as they do there.
public indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    /// A module-level name that `GLOBAL` pushed (only allowed ones), e.g. `torch.FloatStorage`.
    case global(String)
    /// A storage record from a persistent id: `("storage", torch.<Type>Storage, key, location, numel)`.
    case storage(PickledStorage)
    /// A tensor rebuilt by `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter`.
    case tensor(PickledTensor)

    /// A short description for error messages.
    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple(let tuple): "tuple of \(tuple.items.count)"
        case .list: "list"
        case .dict: "dict"
        case .global(let name): name
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

/// A Python tuple. Its nesting depth is fixed when it is made, so the unpickler can bound it.
public final class PickleTuple {
    public let items: [PickleValue]
    /// 1 + the deepest tuple among the items (lists and dicts count 0).
    let depth: Int

    init(_ items: [PickleValue]) {
        self.items = items
        depth = 1 + items.reduce(0) { deepest, item in
            if case .tuple(let inner) = item { max(deepest, inner.depth) } else { deepest }
        }
    }
}

/// A Python list (reference semantics).
public final class PickleList {
    public internal(set) var items: [PickleValue] = []
}

/// A Python dict or OrderedDict (reference semantics), keeping insertion order.
public final class PickleDict {
    public private(set) var items: [(key: PickleValue, value: PickleValue)] = []
    private var indexOfKey: [String: Int] = [:]

    /// Drops every item (the unpickler's teardown).
    func removeAll() { items.removeAll(); indexOfKey.removeAll() }

    /// Sets `value` for `key`; keys are compared by their printed form (str and int keys).
    func set(_ key: PickleValue, _ value: PickleValue) {
        let text = PickleDict.keyText(key)
        if let index = indexOfKey[text] {
            items[index].value = value
        } else {
            indexOfKey[text] = items.count
            items.append((key, value))
        }
    }

    public subscript(_ key: String) -> PickleValue? { indexOfKey[key].map { items[$0].value } }

    /// The key as a name part: a string as is, an int in decimal, anything else by its kind.
    static func keyText(_ key: PickleValue) -> String {
        switch key {
        case .string(let text): text
        case .int(let value): String(value)
        case .bool(let value): value ? "True" : "False"
        default: "<\(key.kind)>"
        }
    }
}

/// Element types of PyTorch storages.
public enum PickledDType: String, Sendable {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    /// Whether ``PyTorchCheckpoint/tensor(_:)`` reads it (as Float32).
    public var isFloatingPoint: Bool { [.float32, .float16, .bfloat16, .float64].contains(self) }

    var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// The storage classes `torch.save` names in persistent ids.
    static let ofStorageClass: [String: PickledDType] = [
        "torch.FloatStorage": .float32, "torch.HalfStorage": .float16, "torch.BFloat16Storage": .bfloat16,
        "torch.DoubleStorage": .float64, "torch.LongStorage": .int64, "torch.IntStorage": .int32,
        "torch.ShortStorage": .int16, "torch.CharStorage": .int8, "torch.ByteStorage": .uint8, "torch.BoolStorage": .bool,
    ]
}

/// A storage a pickle refers to: the archive entry `data/<key>` holding `count` elements.
public struct PickledStorage: Sendable {
    public let key: String
    public let dtype: PickledDType
    public let count: Int
}

/// A strided view of a storage.
public struct PickledTensor: Sendable {
    public let storage: PickledStorage
    public let offset: Int
    public let shape: [Int]
    public let strides: [Int]

    public var count: Int { shape.reduce(1, *) }

    /// Whether the view is row-major without gaps (size-1 axes may have any stride).
    public var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() where size != 1 {
            guard stride == expected else { return false }
            expected *= size
        }
        return true
    }
}

/// A restricted unpickler for PyTorch checkpoints (`data.pkl` of a `torch.save` archive): it
/// understands the binary opcodes of protocols 2–5 and the globals a state dict needs
/// (``allowedGlobals``), and refuses everything else with an error that names the opcode or the
/// global. It never executes code. The stack, memo and every length are bounded by the input.
public struct Unpickler {
    /// The module-level names a state-dict pickle may refer to.
    public static let allowedGlobals: Set<String> = Set(PickledDType.ofStorageClass.keys).union([
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
    ])

    private let reader: ByteReader
    private var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// Every list and dict made, for ``tearDown()``.
    private var lists: [PickleList] = []
    private var dicts: [PickleDict] = []
    static let maximumTupleDepth = 100

    private init(_ bytes: UnsafeRawBufferPointer, context: String) {
        reader = ByteReader(bytes: bytes, context: context)
    }

    /// Unpickles `bytes` (one pickle, ending with STOP) and passes the result to `consume`. The
    /// lists and dicts it made are emptied afterwards, so that no deep chain of containers is left
    /// to be released recursively. `context` names the source in errors.
    public static func load<Result>(_ bytes: UnsafeRawBufferPointer, context: String,
                                    consume: (PickleValue) throws -> Result) throws -> Result {
        var unpickler = Unpickler(bytes, context: context)
        defer { unpickler.tearDown() }
        return try consume(try unpickler.run())
    }

    private mutating func tearDown() {
        for list in lists { list.items.removeAll() }
        for dict in dicts { dict.removeAll() }
        (stack, memo, lists, dicts) = ([], [:], [], [])
    }

    private mutating func newDictionary() -> PickleDict {
        let dict = PickleDict()
        dicts.append(dict)
        return dict
    }

    /// A tuple of `items`, refused when tuples nest deeper than ``maximumTupleDepth``.
    private func tuple(_ items: [PickleValue]) throws -> PickleValue {
        let tuple = PickleTuple(items)
        guard tuple.depth <= Self.maximumTupleDepth else { throw error("tuples nest deeper than \(Self.maximumTupleDepth)") }
        return .tuple(tuple)
    }

    private func error(_ message: String) -> IOError { reader.error("pickle byte \(position): \(message)") }

    private mutating func byte() throws -> UInt8 {
        try reader.check(position, 1)
        defer { position += 1 }
        return reader.bytes[position]
    }

    private mutating func take(_ length: Int) throws -> UnsafeRawBufferPointer {
        let slice = try reader.slice(position, length)
        position += length
        return slice
    }

    private mutating func uint(_ width: Int) throws -> Int {
        let slice = try take(width)
        var value = 0
        for index in (0..<width).reversed() { value = value << 8 | Int(slice[index]) }
        guard value >= 0 else { throw error("length \(value) is out of range") }
        return value
    }

    private mutating func pop() throws -> PickleValue {
        guard let value = stack.popLast() else { throw error("stack underflow") }
        if let mark = marks.last, stack.count < mark { throw error("stack underflow below a MARK") }
        return value
    }

    private mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw error("no MARK on the stack") }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private mutating func text(_ length: Int) throws -> String {
        let slice = try take(length)
        guard let string = String(validating: slice, as: UTF8.self) else { throw error("string of \(length) bytes is not UTF-8") }
        return string
    }

    private mutating func run() throws -> PickleValue {
        while true {
            let opcode = try byte()
            switch opcode {
            case 0x80: _ = try byte()                                  // PROTO
            case 0x95: _ = try take(8)                                 // FRAME (framing only)
            case 0x2E:                                                 // STOP
                guard stack.count == 1, marks.isEmpty else { throw error("STOP with \(stack.count) values on the stack") }
                return stack[0]
            case 0x28: marks.append(stack.count)                       // MARK
            case 0x7D: stack.append(.dict(newDictionary()))            // EMPTY_DICT
            case 0x5D:                                                 // EMPTY_LIST
                let list = PickleList()
                lists.append(list)
                stack.append(.list(list))
            case 0x29: stack.append(try tuple([]))                     // EMPTY_TUPLE
            case 0x74: stack.append(try tuple(try popToMark()))        // TUPLE
            case 0x85: stack.append(try tuple([try pop()]))            // TUPLE1
            case 0x86:                                                 // TUPLE2
                let b = try pop(), a = try pop()
                stack.append(try tuple([a, b]))
            case 0x87:                                                 // TUPLE3
                let c = try pop(), b = try pop(), a = try pop()
                stack.append(try tuple([a, b, c]))
            case 0x73:                                                 // SETITEM
                let value = try pop(), key = try pop()
                try dictionary(on: try top(), "SETITEM").set(key, value)
            case 0x75:                                                 // SETITEMS
                let items = try popToMark()
                guard items.count % 2 == 0 else { throw error("SETITEMS with an odd number of values") }
                let dict = try dictionary(on: try top(), "SETITEMS")
                for index in stride(from: 0, to: items.count, by: 2) { dict.set(items[index], items[index + 1]) }
            case 0x61:                                                 // APPEND
                let value = try pop()
                try list(on: try top(), "APPEND").items.append(value)
            case 0x65:                                                 // APPENDS
                let items = try popToMark()
                try list(on: try top(), "APPENDS").items.append(contentsOf: items)
            case 0x4A:                                                 // BININT
                stack.append(.int(Int(Int32(bitPattern: UInt32(truncatingIfNeeded: try uint(4))))))
            case 0x4B: stack.append(.int(try uint(1)))                 // BININT1
            case 0x4D: stack.append(.int(try uint(2)))                 // BININT2
            case 0x8A: stack.append(.int(try long(try uint(1))))       // LONG1
            case 0x8B: stack.append(.int(try long(try uint(4))))       // LONG4
            case 0x47:                                                 // BINFLOAT (big-endian)
                let slice = try take(8)
                stack.append(.float(Double(bitPattern: slice.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
            case 0x58: stack.append(.string(try text(try uint(4))))   // BINUNICODE
            case 0x8C: stack.append(.string(try text(try uint(1))))   // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try text(try uint(8))))   // BINUNICODE8
            case 0x55: stack.append(.string(try text(try uint(1))))   // SHORT_BINSTRING (Python 2 str)
            case 0x54: stack.append(.string(try text(try uint(4))))   // BINSTRING
            case 0x43: stack.append(.bytes(Array(try take(try uint(1))))) // SHORT_BINBYTES
            case 0x42: stack.append(.bytes(Array(try take(try uint(4))))) // BINBYTES
            case 0x8E: stack.append(.bytes(Array(try take(try uint(8))))) // BINBYTES8
            case 0x4E: stack.append(.none)                             // NONE
            case 0x88: stack.append(.bool(true))                       // NEWTRUE
            case 0x89: stack.append(.bool(false))                      // NEWFALSE
            case 0x63:                                                 // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                stack.append(try global(module, name))
            case 0x93:                                                 // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw error("STACK_GLOBAL needs two strings")
                }
                stack.append(try global(module, name))
            case 0x52:                                                 // REDUCE
                let arguments = try pop(), callable = try pop()
                guard case .tuple(let values) = arguments else { throw error("REDUCE arguments are a \(arguments.kind), not a tuple") }
                stack.append(try call(callable, values.items))
            case 0x62:                                                 // BUILD
                let state = try pop()
                try build(try top(), state)
            case 0x51:                                                 // BINPERSID
                stack.append(try persistentStorage(try pop()))
            case 0x71: try put(try uint(1))                            // BINPUT
            case 0x72: try put(try uint(4))                            // LONG_BINPUT
            case 0x94: try put(memo.count)                             // MEMOIZE
            case 0x68: try get(try uint(1))                            // BINGET
            case 0x6A: try get(try uint(4))                            // LONG_BINGET
            case 0x30: _ = try pop()                                   // POP
            case 0x31: _ = try popToMark()                             // POP_MARK
            case 0x32: stack.append(try top())                         // DUP
            default:
                throw error("opcode 0x\(String(opcode, radix: 16)) is not used by PyTorch state dicts (text-protocol or object-building opcodes are refused)")
            }
        }
    }

    private func top() throws -> PickleValue {
        guard let value = stack.last else { throw error("stack underflow") }
        return value
    }

    private func dictionary(on value: PickleValue, _ opcode: String) throws -> PickleDict {
        guard case .dict(let dict) = value else { throw error("\(opcode) on a \(value.kind), not a dict") }
        return dict
    }

    private func list(on value: PickleValue, _ opcode: String) throws -> PickleList {
        guard case .list(let list) = value else { throw error("\(opcode) on a \(value.kind), not a list") }
        return list
    }

    private mutating func put(_ index: Int) throws {
        memo[index] = try top()
    }

    private mutating func get(_ index: Int) throws {
        guard let value = memo[index] else { throw error("memo entry \(index) was never stored") }
        stack.append(value)
    }

    /// A little-endian two's-complement integer of `length` bytes that must fit 64 bits.
    private mutating func long(_ length: Int) throws -> Int {
        guard length <= 8 else { throw error("integer of \(length) bytes does not fit 64 bits") }
        let slice = try take(length)
        guard length > 0 else { return 0 }
        var value: UInt64 = 0
        for index in (0..<length).reversed() { value = value << 8 | UInt64(slice[index]) }
        let shift = UInt64(64 - 8 * length)
        return Int(Int64(bitPattern: value << shift) >> Int64(shift))
    }

    /// A newline-terminated ASCII line (GLOBAL's operands), at most 256 bytes.
    private mutating func line() throws -> String {
        var characters: [UInt8] = []
        while true {
            let character = try byte()
            if character == 0x0A { break }
            guard characters.count < 256, character >= 0x20, character < 0x7F else { throw error("GLOBAL operand is not a short ASCII line") }
            characters.append(character)
        }
        return String(decoding: characters, as: UTF8.self)
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        let qualified = module + "." + name
        guard Self.allowedGlobals.contains(qualified) else {
            throw error("refers to \(qualified), which a PyTorch state dict never contains; only \(Self.allowedGlobals.sorted().joined(separator: ", ")) are understood")
        }
        return .global(qualified)
    }

    /// `("storage", torch.<Type>Storage, key, location, numel)`.
    private func persistentStorage(_ id: PickleValue) throws -> PickleValue {
        guard case .tuple(let tuple) = id, case let fields = tuple.items, fields.count == 5, case .string("storage") = fields[0],
              case .global(let storageClass) = fields[1], let dtype = PickledDType.ofStorageClass[storageClass],
              case .string(let key) = fields[2], case .int(let count) = fields[4], count >= 0
        else { throw error("persistent id \(id.kind) is not a PyTorch storage record (\"storage\", type, key, location, numel)") }
        guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw error("storage key \"\(key)\" is not a plain name")
        }
        return .storage(PickledStorage(key: key, dtype: dtype, count: count))
    }

    private mutating func call(_ callable: PickleValue, _ arguments: [PickleValue]) throws -> PickleValue {
        guard case .global(let name) = callable else { throw error("REDUCE calls a \(callable.kind), not an allowed global") }
        switch name {
        case "collections.OrderedDict":
            let dict = newDictionary()
            if let pairs = arguments.first {
                let items: [PickleValue]
                switch pairs {
                case .list(let list): items = list.items
                case .tuple(let values): items = values.items
                default: throw error("OrderedDict(\(pairs.kind)) is not a sequence of pairs")
                }
                for item in items {
                    guard case .tuple(let pair) = item, pair.items.count == 2 else { throw error("OrderedDict item is not a pair") }
                    dict.set(pair.items[0], pair.items[1])
                }
            }
            return .dict(dict)
        case "torch._utils._rebuild_tensor_v2":
            guard arguments.count >= 4, case .storage(let storage) = arguments[0], case .int(let offset) = arguments[1],
                  case .tuple(let shapeValues) = arguments[2], case .tuple(let strideValues) = arguments[3]
            else { throw error("_rebuild_tensor_v2 needs (storage, offset, size, stride, …)") }
            let shape = try integers(shapeValues.items, "size"), strides = try integers(strideValues.items, "stride")
            return .tensor(try tensor(storage, offset: offset, shape: shape, strides: strides))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let first = arguments.first, case .tensor = first else { throw error("\(name) needs a tensor") }
            return first
        default:
            throw error("\(name) cannot be called")
        }
    }

    private func integers(_ values: [PickleValue], _ what: String) throws -> [Int] {
        try values.map {
            guard case .int(let value) = $0, value >= 0 else { throw error("tensor \(what) holds \($0.kind), not a non-negative int") }
            return value
        }
    }

    /// A view `shape`/`strides` at `offset` of `storage`, checked to stay inside the storage.
    private func tensor(_ storage: PickledStorage, offset: Int, shape: [Int], strides: [Int]) throws -> PickledTensor {
        guard shape.count == strides.count else { throw error("tensor size \(shape) and stride \(strides) differ in rank") }
        guard offset >= 0 else { throw error("negative storage offset \(offset)") }
        var count = 1, lastIndex = offset
        for (size, stride) in zip(shape, strides) {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw error("tensor size \(shape) overflows") }
            count = product
            guard size > 0 else { continue }
            let (reach, reachOverflow) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, sumOverflow) = lastIndex.addingReportingOverflow(reach)
            guard !reachOverflow, !sumOverflow else { throw error("tensor stride \(strides) overflows") }
            lastIndex = sum
        }
        guard count == 0 || lastIndex < storage.count else {
            throw error("tensor of size \(shape), stride \(strides) at offset \(offset) reaches element \(lastIndex) of a \(storage.count)-element storage")
        }
        return PickledTensor(storage: storage, offset: offset, shape: shape, strides: strides)
    }

    /// BUILD: the state of an OrderedDict (its `_metadata` attribute) or of a tensor is not needed.
    private func build(_ target: PickleValue, _ state: PickleValue) throws {
        switch target {
        case .dict, .tensor: return
        default: throw error("BUILD on a \(target.kind)")
        }
    }
}
