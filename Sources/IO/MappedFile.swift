import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A whole file mapped read-only into memory (no copy is made; pages are read on first touch).
/// The mapping lives as long as this object.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// The file's bytes.
    public let bytes: UnsafeRawBufferPointer

    /// Maps the file at `path`; an empty file, a missing file or a failed map is an error naming the path.
    public init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw IOError(path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw IOError(path, "cannot stat the file") }
        let size = Int(status.st_size)
        guard size > 0 else { throw IOError(path, "the file is empty") }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapping != MAP_FAILED else {
            throw IOError(path, "cannot memory-map \(size) bytes")
        }
        bytes = UnsafeRawBufferPointer(start: mapping, count: size)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) }
}
