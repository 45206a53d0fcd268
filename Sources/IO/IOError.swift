/// A failure to read, decode or write data, naming what was being read (a file, a dataset, a
/// tensor) and what was wrong.
public struct IOError: Error, CustomStringConvertible, Sendable {
    /// What was being read or written: a path, `path:dataset`, or a description such as "JPEG data".
    public let context: String
    public let message: String

    public init(_ context: String, _ message: String) {
        self.context = context
        self.message = message
    }

    public var description: String { "\(context): \(message)" }

    /// The same error with `outer` (e.g. a file path) prepended to the context.
    public func within(_ outer: String) -> IOError { IOError("\(outer): \(context)", message) }
}

/// Runs a C function that writes a NUL-terminated message into a buffer; returns its status and the message.
func callWithMessage(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> (status: Int32, message: String) {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buffer in
        buffer[0] = 0
        let status = body(buffer.baseAddress!, 512)
        return (status, String(cString: buffer.baseAddress!))
    }
}
