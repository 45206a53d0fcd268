/// A failure of a collective operation, naming the call that failed.
public struct DistributedError: Error, CustomStringConvertible, Sendable {
    /// The operation, e.g. `"MPI all-reduce (float32, 1000 elements)"`.
    public let call: String
    /// The error code returned by the MPI shim.
    public let code: Int32
    /// What MPI (or the shim) said.
    public let message: String

    public init(call: String, code: Int32, message: String) {
        self.call = call
        self.code = code
        self.message = message
    }

    public var description: String { "\(call) failed: \(message)" }
}
