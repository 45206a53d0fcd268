import CMPIShim

/// A reusable handle for one outstanding non-blocking reduction.
///
/// Create one per bucket and keep it: starting a reduction allocates nothing. A request with
/// nothing outstanding is complete.
public final class ReductionRequest: @unchecked Sendable {
    let handle: fga_request
    var callDescription = "non-blocking all-reduce"

    public init() {
        guard let handle = fga_request_create() else { fatalError("out of memory creating an MPI request") }
        self.handle = handle
    }

    deinit { fga_request_destroy(handle) }

    /// Blocks until the reduction has finished.
    public func wait() throws {
        try checkMPI(fga_request_wait(handle), callDescription + " (wait)")
    }

    /// Advances the reduction; true once it has finished.
    public func test() throws -> Bool {
        var done: Int32 = 0
        try checkMPI(fga_request_test(handle, &done), callDescription + " (test)")
        return done != 0
    }
}

/// Throws a ``DistributedError`` for a non-zero shim status.
func checkMPI(_ status: Int32, _ call: @autoclosure () -> String) throws {
    guard status != 0 else { return }
    let message = stringFromC { fga_error_string(status, $0, $1) }
    throw DistributedError(call: call(), code: status, message: message)
}

/// Runs a C function that writes a NUL-terminated string into a buffer, and returns the string.
func stringFromC(capacity: Int = 512, _ fill: (UnsafeMutablePointer<CChar>, Int) -> Void) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buffer in
        buffer[0] = 0
        fill(buffer.baseAddress!, capacity)
        return String(cString: buffer.baseAddress!)
    }
}
