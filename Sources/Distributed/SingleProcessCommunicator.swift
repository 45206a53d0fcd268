import Foundation

/// The communicator of a job with one process: every collective is the identity.
public final class SingleProcessCommunicator: Communicator, @unchecked Sendable {
    public let rank = 0
    public let size = 1
    public let hostName: String

    public init() {
        hostName = ProcessInfo.processInfo.hostName
    }

    public func makeArrivalBoard() throws -> ArrivalBoard? { nil }

    public func makeSharedMemoryAllReduce(count: Int) throws -> SharedMemoryAllReduce? { nil }

    public func allReduce<Element: ReducibleElement>(
        _ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation) throws {}

    public func startAllReduce<Element: ReducibleElement>(
        _ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation,
        request: ReductionRequest) throws {}

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard root == 0 else {
            throw DistributedError(call: "broadcast", code: -2, message: "root \(root) does not exist in a job of 1 process")
        }
    }

    public func allGather(_ bytes: UnsafeRawBufferPointer, into received: UnsafeMutableRawBufferPointer) throws {
        guard received.count == bytes.count else {
            throw DistributedError(call: "all-gather", code: -2,
                                   message: "receive buffer holds \(received.count) bytes, expected \(bytes.count)")
        }
        received.copyMemory(from: bytes)
    }

    public func barrier() throws {}

    public func finalize() throws {}

    public func abort(code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data("\(ProcessInfo.processInfo.processName): error: \(message)\n".utf8))
        exit(code)
    }
}
