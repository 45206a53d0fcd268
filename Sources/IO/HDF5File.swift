import CHDF5
import Foundation

/// Element types HDF5 datasets can hold.
public protocol HDF5Scalar: Sendable {
    /// The HDF5 native type id for this Swift type.
    static var hdf5Type: hid_t { get }
}

extension Float: HDF5Scalar { public static var hdf5Type: hid_t { chdf5_native_float() } }
extension Double: HDF5Scalar { public static var hdf5Type: hid_t { chdf5_native_double() } }
extension UInt8: HDF5Scalar { public static var hdf5Type: hid_t { chdf5_native_uint8() } }
extension UInt16: HDF5Scalar { public static var hdf5Type: hid_t { chdf5_native_uint16() } }
extension Int32: HDF5Scalar { public static var hdf5Type: hid_t { chdf5_native_int32() } }
extension Int64: HDF5Scalar { public static var hdf5Type: hid_t { chdf5_native_int64() } }

/// HDF5's C library is not thread-safe in Debian's serial build; every call goes through this lock.
let hdf5Lock = NSLock()

/// An HDF5 file (serial HDF5 1.10+): n-dimensional numeric datasets, variable-length byte
/// datasets (e.g. encoded JPEGs) and string attributes. Dataset names may contain `/`; missing
/// groups are created. Every failure is an ``IOError`` naming the file and dataset.
///
/// Files are created in the HDF5 1.8 format (checksummed metadata). Sizes read from a file are
/// checked before memory is allocated for them: a dataset or attribute cannot claim more bytes
/// than ``maximumExpansion`` times the file's size.
public final class HDF5File: @unchecked Sendable {
    public enum Mode: Sendable {
        /// Open an existing file read-only.
        case read
        /// Open an existing file for reading and writing.
        case readWrite
        /// Create a new file, replacing any existing one.
        case create
    }

    public let path: String
    private var id: hid_t

    /// How many times its size in the file a dataset may take once read: deflate's largest ratio
    /// (about 1032:1) with room to spare. A larger claim is a damaged or hostile file.
    public static let maximumExpansion = 1100

    public init(path: String, mode: Mode) throws {
        self.path = path
        id = try withHDF5(path, "open") { () -> hid_t in
            chdf5_silence_errors()
            switch mode {
            case .read: return H5Fopen(path, chdf5_acc_rdonly(), chdf5_default())
            case .readWrite: return H5Fopen(path, chdf5_acc_rdwr(), chdf5_default())
            case .create: return chdf5_create_checksummed(path)
            }
        }
    }

    deinit {
        if id >= 0 { hdf5Lock.withLock { _ = H5Fclose(id) } }
    }

    /// Flushes and closes the file; further use is an error.
    public func close() throws {
        guard id >= 0 else { return }
        let file = id
        id = -1
        _ = try withHDF5(path, "close") { H5Fclose(file) }
    }

    /// Writes `values` as a dataset of `shape` (row-major; the product of `shape` must equal the count).
    public func write<Element: HDF5Scalar>(_ name: String, _ values: UnsafeBufferPointer<Element>, shape: [Int]) throws {
        guard shape.reduce(1, *) == values.count else {
            throw IOError("\(path):\(name)", "shape \(shape) holds \(shape.reduce(1, *)) elements, but \(values.count) were given")
        }
        let context = "\(path):\(name)"
        try hdf5Lock.withLock {
            let dims = shape.map { hsize_t($0) }
            let space = try check(context, "create dataspace") { H5Screate_simple(Int32(dims.count), dims, nil) }
            defer { H5Sclose(space) }
            let links = try linkCreationList(context)
            defer { H5Pclose(links) }
            let dataset = try check(context, "create dataset") {
                H5Dcreate2(try openFile(), name, Element.hdf5Type, space, links, chdf5_default(), chdf5_default())
            }
            defer { H5Dclose(dataset) }
            if values.count > 0 {
                _ = try check(context, "write") {
                    H5Dwrite(dataset, Element.hdf5Type, chdf5_all(), chdf5_all(), chdf5_default(), values.baseAddress)
                }
            }
        }
    }

    public func write<Element: HDF5Scalar>(_ name: String, _ values: [Element], shape: [Int]) throws {
        try values.withUnsafeBufferPointer { try write(name, $0, shape: shape) }
    }

    /// The shape of dataset `name`.
    public func shape(of name: String) throws -> [Int] {
        let context = "\(path):\(name)"
        return try hdf5Lock.withLock {
            let dataset = try openDataset(name, context)
            defer { H5Dclose(dataset) }
            return try datasetShape(dataset, context)
        }
    }

    /// Reads dataset `name`, converting to `Element`, with its shape.
    public func read<Element: HDF5Scalar>(_ name: String, as type: Element.Type) throws -> (values: [Element], shape: [Int]) {
        let context = "\(path):\(name)"
        return try hdf5Lock.withLock {
            let dataset = try openDataset(name, context)
            defer { H5Dclose(dataset) }
            let shape = try datasetShape(dataset, context)
            let count = try affordableCount(shape, elementSize: MemoryLayout<Element>.stride, context)
            var values = [Element](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
            if count > 0 {
                _ = try values.withUnsafeMutableBytes { buffer in
                    try check(context, "read") {
                        H5Dread(dataset, Element.hdf5Type, chdf5_all(), chdf5_all(), chdf5_default(), buffer.baseAddress)
                    }
                }
            }
            return (values, shape)
        }
    }

    /// Creates an empty 1-D dataset of `Element` that ``append(_:_:)`` grows (chunked storage,
    /// `chunk` elements per chunk), so a writer never holds the whole dataset in memory.
    public func createAppendable<Element: HDF5Scalar>(_ name: String, of type: Element.Type, chunk: Int = 1 << 20) throws {
        let context = "\(path):\(name)"
        try hdf5Lock.withLock {
            var dims: [hsize_t] = [0], maxDims = [chdf5_unlimited()], chunkDims = [hsize_t(max(1, chunk))]
            let space = try check(context, "create dataspace") { H5Screate_simple(1, &dims, &maxDims) }
            defer { H5Sclose(space) }
            let properties = try check(context, "create property list") { H5Pcreate(chdf5_dataset_create_class()) }
            defer { H5Pclose(properties) }
            _ = try check(context, "set chunk") { H5Pset_chunk(properties, 1, &chunkDims) }
            let links = try linkCreationList(context)
            defer { H5Pclose(links) }
            let dataset = try check(context, "create dataset") {
                H5Dcreate2(try openFile(), name, Element.hdf5Type, space, links, properties, chdf5_default())
            }
            H5Dclose(dataset)
        }
    }

    /// Appends `values` to the 1-D dataset `name` made by ``createAppendable(_:of:chunk:)``.
    public func append<Element: HDF5Scalar>(_ name: String, _ values: UnsafeBufferPointer<Element>) throws {
        let context = "\(path):\(name)"
        guard !values.isEmpty else { return }
        try hdf5Lock.withLock {
            let dataset = try openDataset(name, context)
            defer { H5Dclose(dataset) }
            let old = try datasetShape(dataset, context)
            guard old.count == 1 else { throw IOError(context, "append needs a 1-D dataset, found shape \(old)") }
            var newSize = [hsize_t(old[0] + values.count)]
            _ = try check(context, "extend") { H5Dset_extent(dataset, &newSize) }
            let fileSpace = try check(context, "get dataspace") { H5Dget_space(dataset) }
            defer { H5Sclose(fileSpace) }
            _ = try check(context, "select") { chdf5_select_range(fileSpace, hsize_t(old[0]), hsize_t(values.count)) }
            var count = [hsize_t(values.count)]
            let memorySpace = try check(context, "create dataspace") { H5Screate_simple(1, &count, nil) }
            defer { H5Sclose(memorySpace) }
            _ = try check(context, "write") {
                H5Dwrite(dataset, Element.hdf5Type, memorySpace, fileSpace, chdf5_default(), values.baseAddress)
            }
        }
    }

    /// Reads elements `range` of the 1-D dataset `name` into `destination` (`range.count` elements).
    public func read<Element: HDF5Scalar>(_ name: String, range: Range<Int>, into destination: UnsafeMutableBufferPointer<Element>) throws {
        let context = "\(path):\(name)"
        guard destination.count >= range.count else { throw IOError(context, "destination holds \(destination.count) < \(range.count) elements") }
        guard !range.isEmpty else { return }
        try hdf5Lock.withLock {
            let dataset = try openDataset(name, context)
            defer { H5Dclose(dataset) }
            let shape = try datasetShape(dataset, context)
            guard shape.count == 1, range.lowerBound >= 0, range.upperBound <= shape[0] else {
                throw IOError(context, "cannot read elements \(range) of a dataset of shape \(shape)")
            }
            let fileSpace = try check(context, "get dataspace") { H5Dget_space(dataset) }
            defer { H5Sclose(fileSpace) }
            _ = try check(context, "select") { chdf5_select_range(fileSpace, hsize_t(range.lowerBound), hsize_t(range.count)) }
            var count = [hsize_t(range.count)]
            let memorySpace = try check(context, "create dataspace") { H5Screate_simple(1, &count, nil) }
            defer { H5Sclose(memorySpace) }
            _ = try check(context, "read") {
                H5Dread(dataset, Element.hdf5Type, memorySpace, fileSpace, chdf5_default(), destination.baseAddress)
            }
        }
    }

    /// True when a dataset or group `name` exists.
    public func contains(_ name: String) -> Bool {
        hdf5Lock.withLock { id >= 0 && linkExists(id, name) }
    }

    /// Writes a 1-D dataset of variable-length byte strings (e.g. encoded images).
    public func writeByteArrays(_ name: String, _ arrays: [[UInt8]]) throws {
        let context = "\(path):\(name)"
        try hdf5Lock.withLock {
            let type = try check(context, "create vlen type") { H5Tvlen_create(chdf5_native_uint8()) }
            defer { H5Tclose(type) }
            var dims = [hsize_t(arrays.count)]
            let space = try check(context, "create dataspace") { H5Screate_simple(1, &dims, nil) }
            defer { H5Sclose(space) }
            let links = try linkCreationList(context)
            defer { H5Pclose(links) }
            let dataset = try check(context, "create dataset") {
                H5Dcreate2(try openFile(), name, type, space, links, chdf5_default(), chdf5_default())
            }
            defer { H5Dclose(dataset) }
            guard !arrays.isEmpty else { return }
            // hvl_t entries point into the arrays, which stay alive for the whole write.
            var storage = arrays
            try storage.withUnsafeMutableBufferPointer { outer in
                var entries = [hvl_t]()
                entries.reserveCapacity(outer.count)
                for index in outer.indices {
                    let length = outer[index].count
                    let pointer = outer[index].withUnsafeMutableBufferPointer { $0.baseAddress }
                    entries.append(hvl_t(len: length, p: UnsafeMutableRawPointer(pointer)))
                }
                _ = try check(context, "write") {
                    H5Dwrite(dataset, type, chdf5_all(), chdf5_all(), chdf5_default(), entries)
                }
            }
        }
    }

    /// Reads a 1-D dataset of variable-length byte strings.
    public func readByteArrays(_ name: String) throws -> [[UInt8]] {
        let context = "\(path):\(name)"
        return try hdf5Lock.withLock {
            let dataset = try openDataset(name, context)
            defer { H5Dclose(dataset) }
            let shape = try datasetShape(dataset, context)
            guard shape.count == 1 else { throw IOError(context, "expected a 1-D byte-array dataset, found shape \(shape)") }
            _ = try affordableCount(shape, elementSize: MemoryLayout<hvl_t>.stride, context)
            let type = try check(context, "create vlen type") { H5Tvlen_create(chdf5_native_uint8()) }
            defer { H5Tclose(type) }
            var entries = [hvl_t](repeating: hvl_t(len: 0, p: nil), count: shape[0])
            guard !entries.isEmpty else { return [] }
            _ = try check(context, "read") {
                H5Dread(dataset, type, chdf5_all(), chdf5_all(), chdf5_default(), &entries)
            }
            let arrays = entries.map { entry -> [UInt8] in
                guard let pointer = entry.p else { return [] }
                return Array(UnsafeRawBufferPointer(start: pointer, count: entry.len))
            }
            let space = H5Dget_space(dataset)
            defer { H5Sclose(space) }
            _ = chdf5_vlen_reclaim(type, space, &entries)
            return arrays
        }
    }

    /// Sets a string attribute on the file's root group.
    public func setAttribute(_ name: String, _ value: String) throws {
        let context = "\(path): attribute \(name)"
        try hdf5Lock.withLock {
            let file = try openFile()
            if H5Aexists(file, name) > 0 { _ = try check(context, "delete") { H5Adelete(file, name) } }
            let bytes = Array(value.utf8)
            let type = try check(context, "copy string type") { H5Tcopy(chdf5_c_string()) }
            defer { H5Tclose(type) }
            _ = try check(context, "set size") { H5Tset_size(type, max(1, bytes.count)) }
            let space = try check(context, "create dataspace") { H5Screate(H5S_SCALAR) }
            defer { H5Sclose(space) }
            let attribute = try check(context, "create") { H5Acreate2(file, name, type, space, chdf5_default(), chdf5_default()) }
            defer { H5Aclose(attribute) }
            let padded = bytes.isEmpty ? [UInt8(0)] : bytes
            _ = try check(context, "write") { H5Awrite(attribute, type, padded) }
        }
    }

    /// A string attribute of the root group, or nil if it does not exist.
    public func attribute(_ name: String) throws -> String? {
        let context = "\(path): attribute \(name)"
        return try hdf5Lock.withLock {
            let file = try openFile()
            // Negative: the root group's header could not be read (e.g. its checksum failed).
            let exists = try check(context, "look up") { H5Aexists(file, name) }
            guard exists > 0 else { return nil }
            let attribute = try check(context, "open") { H5Aopen(file, name, chdf5_default()) }
            defer { H5Aclose(attribute) }
            let type = try check(context, "get type") { H5Aget_type(attribute) }
            defer { H5Tclose(type) }
            let size = try affordableCount([H5Tget_size(type)], elementSize: 1, context)
            guard size > 0, H5Tget_class(type) == H5T_STRING else { throw IOError(context, "is not a string attribute") }
            var bytes = [UInt8](repeating: 0, count: size)
            _ = try check(context, "read") { H5Aread(attribute, type, &bytes) }
            if let end = bytes.firstIndex(of: 0) { bytes.removeSubrange(end...) }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    // MARK: helpers (called with hdf5Lock held)

    private func openFile() throws -> hid_t {
        guard id >= 0 else { throw IOError(path, "the HDF5 file is closed") }
        return id
    }

    private func openDataset(_ name: String, _ context: String) throws -> hid_t {
        let file = try openFile()
        guard linkExists(file, name) else { throw IOError(context, "no such dataset") }
        return try check(context, "open dataset") { H5Dopen2(file, name, chdf5_default()) }
    }

    /// True when every group along `name` and `name` itself exist (H5Lexists needs the parents).
    private func linkExists(_ file: hid_t, _ name: String) -> Bool {
        var prefix = ""
        for component in name.split(separator: "/") {
            prefix += prefix.isEmpty ? String(component) : "/\(component)"
            if H5Lexists(file, prefix, chdf5_default()) <= 0 { return false }
        }
        return true
    }

    private func datasetShape(_ dataset: hid_t, _ context: String) throws -> [Int] {
        let space = try check(context, "get dataspace") { H5Dget_space(dataset) }
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0 else { throw IOError(context, "cannot read the dataset's rank") }
        var dims = [hsize_t](repeating: 0, count: rank)
        _ = H5Sget_simple_extent_dims(space, &dims, nil)
        return try dims.map {
            guard let dim = Int(exactly: $0) else { throw IOError(context, "dimension \($0) is too large (damaged file?)") }
            return dim
        }
    }

    /// The element count of `shape`, after checking that `elementSize`-byte elements of it fit
    /// in ``maximumExpansion`` times the file's size (so a damaged size field cannot make us
    /// allocate without bound).
    private func affordableCount(_ shape: [Int], elementSize: Int, _ context: String) throws -> Int {
        var fileSize: hsize_t = 0
        _ = try check(context, "get file size") { H5Fget_filesize(try openFile(), &fileSize) }
        let limit = Int(clamping: fileSize).multipliedReportingOverflow(by: Self.maximumExpansion)
        let budget = limit.overflow ? Int.max : limit.partialValue
        var bytes = elementSize
        for dim in shape {
            let product = bytes.multipliedReportingOverflow(by: dim)
            guard dim >= 0, !product.overflow, product.partialValue <= budget else {
                throw IOError(context, "shape \(shape) of \(elementSize)-byte elements is more than a \(fileSize)-byte file can hold (damaged file?)")
            }
            bytes = product.partialValue
        }
        return elementSize == 0 ? 0 : bytes / elementSize
    }

    private func linkCreationList(_ context: String) throws -> hid_t {
        let list = try check(context, "create link property list") { H5Pcreate(chdf5_link_create_class()) }
        _ = H5Pset_create_intermediate_group(list, 1)
        return list
    }
}

/// Runs an HDF5 call under the lock; a negative result becomes an ``IOError`` with HDF5's message.
private func withHDF5<Result: BinaryInteger>(_ context: String, _ operation: String, _ body: () throws -> Result) throws -> Result {
    try hdf5Lock.withLock { try check(context, operation, body) }
}

/// A negative HDF5 result becomes an ``IOError`` with the innermost message of HDF5's error stack.
private func check<Result: BinaryInteger>(_ context: String, _ operation: String, _ body: () throws -> Result) throws -> Result {
    let result = try body()
    guard result < 0 else { return result }
    let detail = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buffer -> String in
        chdf5_take_error(buffer.baseAddress, 512)
        return String(cString: buffer.baseAddress!)
    }
    throw IOError(context, "HDF5 \(operation) failed" + (detail.isEmpty ? "" : ": \(detail)"))
}
