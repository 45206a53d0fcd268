import CMPIShim
import Foundation

/// The world communicator of an MPI job (Open MPI through the CMPIShim C target).
///
/// Create it once per process with ``init(threadSupport:)`` and call ``finalize()`` before the
/// process exits normally. Errors come back as ``DistributedError`` (MPI_ERRORS_RETURN).
public final class MPICommunicator: Communicator, @unchecked Sendable {
    /// MPI thread-support levels.
    public enum ThreadSupport: Int32, Sendable, Comparable {
        case single = 0, funneled = 1, serialized = 2, multiple = 3
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    public let rank: Int
    public let size: Int
    public let hostName: String
    /// The thread support MPI granted.
    public let threadSupport: ThreadSupport

    /// Initialises MPI (if not yet) asking for `threadSupport`.
    public init(threadSupport: ThreadSupport = .funneled) throws {
        var provided: Int32 = 0
        try checkMPI(fga_mpi_init(threadSupport.rawValue, &provided), "MPI_Init_thread")
        self.threadSupport = ThreadSupport(rawValue: provided) ?? .single
        var rank: Int32 = 0
        var size: Int32 = 0
        try checkMPI(fga_mpi_rank(&rank), "MPI_Comm_rank")
        try checkMPI(fga_mpi_size(&size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
        var status: Int32 = 0
        hostName = stringFromC { status = fga_mpi_processor_name($0, $1) }
        try checkMPI(status, "MPI_Get_processor_name")
    }

    /// True when this process was started by `mpirun`/`srun` with an MPI launcher environment.
    public static var isLaunchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }

    /// Open MPI's version string.
    public static var libraryVersion: String {
        stringFromC(capacity: 4096) { fga_mpi_library_version($0, $1) }
    }

    /// Shuts MPI down. Every rank must call it; no collective may follow.
    public func finalize() throws {
        try checkMPI(fga_mpi_finalize(), "MPI_Finalize")
    }

    public func allReduce<Element: ReducibleElement>(
        _ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation
    ) throws {
        try checkMPI(
            fga_allreduce(UnsafeMutableRawPointer(buffer.baseAddress), buffer.count,
                          Element.reducibleKind.shimCode, operation.shimCode),
            "MPI all-reduce (\(Element.reducibleKind), \(operation), \(buffer.count) elements)")
    }

    public func startAllReduce<Element: ReducibleElement>(
        _ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation,
        request: ReductionRequest
    ) throws {
        request.callDescription =
            "MPI non-blocking all-reduce (\(Element.reducibleKind), \(operation), \(buffer.count) elements)"
        try checkMPI(
            fga_iallreduce(UnsafeMutableRawPointer(buffer.baseAddress), buffer.count,
                           Element.reducibleKind.shimCode, operation.shimCode, request.handle),
            request.callDescription + " (start)")
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        try checkMPI(fga_bcast_bytes(bytes.baseAddress, bytes.count, Int32(root)),
                     "MPI broadcast (\(bytes.count) bytes from rank \(root))")
    }

    public func allGather(_ bytes: UnsafeRawBufferPointer, into received: UnsafeMutableRawBufferPointer) throws {
        guard received.count == bytes.count * size else {
            throw DistributedError(call: "MPI all-gather", code: -2,
                                   message: "receive buffer holds \(received.count) bytes, expected \(bytes.count * size)")
        }
        try checkMPI(fga_allgather_bytes(bytes.baseAddress, bytes.count, received.baseAddress),
                     "MPI all-gather (\(bytes.count) bytes per rank)")
    }

    public func barrier() throws {
        try checkMPI(fga_barrier(), "MPI barrier")
    }

    public func makeArrivalBoard() throws -> ArrivalBoard? {
        size > 1 ? try ArrivalBoard(communicator: self) : nil
    }

    public func makeSharedMemoryAllReduce(count: Int) throws -> SharedMemoryAllReduce? {
        size > 1 ? try SharedMemoryAllReduce(communicator: self, count: count) : nil
    }

    public func abort(code: Int32, message: String) -> Never {
        FileHandle.standardError.write(Data("\(ProcessInfo.processInfo.processName) [rank \(rank)/\(size) on \(hostName)]: error: \(message)\n".utf8))
        fga_abort(code)
        fatalError("MPI_Abort returned")
    }
}

extension ReducibleKind {
    var shimCode: Int32 {
        switch self {
        case .float32: Int32(FGA_FLOAT32)
        case .float64: Int32(FGA_FLOAT64)
        case .int64: Int32(FGA_INT64)
        case .uint8: Int32(FGA_UINT8)
        }
    }
}

extension ReduceOperation {
    var shimCode: Int32 {
        switch self {
        case .sum: Int32(FGA_SUM)
        case .max: Int32(FGA_MAX)
        case .min: Int32(FGA_MIN)
        }
    }
}
