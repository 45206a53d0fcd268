/// The collective operations a data-parallel job needs, over MPI or within one process.
///
/// Every rank calls each collective in the same order with buffers of the same length, as with
/// MPI. Buffers are reduced in place. Failures are thrown as ``DistributedError`` naming the call.
public protocol Communicator: AnyObject, Sendable {
    /// This process's index, `0..<size`.
    var rank: Int { get }
    /// The number of processes in the job.
    var size: Int { get }
    /// The host this rank runs on.
    var hostName: String { get }

    /// In-place all-reduce of `buffer` [count] with `operation` across all ranks.
    func allReduce<Element: ReducibleElement>(
        _ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation) throws

    /// Starts an in-place all-reduce of `buffer` that completes under `request.wait()` or
    /// `request.test()`. The buffer must stay alive and untouched until then.
    func startAllReduce<Element: ReducibleElement>(
        _ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation,
        request: ReductionRequest) throws

    /// Copies `bytes` from rank `root` into `bytes` on every other rank.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws

    /// Every rank contributes `bytes`; `received` [size × bytes.count] gets them in rank order.
    func allGather(_ bytes: UnsafeRawBufferPointer, into received: UnsafeMutableRawBufferPointer) throws

    /// Blocks until every rank has reached the barrier.
    func barrier() throws

    /// Leaves the job; every rank calls it once, after its last collective.
    func finalize() throws

    /// Ends the whole job: prints `message` (prefixed with the rank) to standard error and makes
    /// every process exit with `code`. Never returns.
    func abort(code: Int32, message: String) -> Never

    /// Collective: the board through which the watchdogs of the ranks on each host see each
    /// other's progress, or nil when there are no peers to watch.
    func makeArrivalBoard() throws -> ArrivalBoard?

    /// Collective: a reduction of `count` floats per rank through memory the ranks of each host
    /// share, or nil when this communicator has no shared memory to offer (one rank, no MPI).
    /// Throws `FGA_ERR_UNEVEN_NODES` when the hosts run different numbers of ranks.
    func makeSharedMemoryAllReduce(count: Int) throws -> SharedMemoryAllReduce?
}

/// Reduction operations.
public enum ReduceOperation: Sendable {
    case sum, max, min
}

/// Element types the communicators can reduce.
public enum ReducibleKind: Sendable {
    case float32, float64, int64, uint8
}

/// A scalar type that can be all-reduced.
public protocol ReducibleElement: Sendable {
    static var reducibleKind: ReducibleKind { get }
}

extension Float: ReducibleElement { public static var reducibleKind: ReducibleKind { .float32 } }
extension Double: ReducibleElement { public static var reducibleKind: ReducibleKind { .float64 } }
extension Int64: ReducibleElement { public static var reducibleKind: ReducibleKind { .int64 } }
extension UInt8: ReducibleElement { public static var reducibleKind: ReducibleKind { .uint8 } }

extension Communicator {
    /// True on rank 0, the rank that logs and writes files.
    public var isMain: Bool { rank == 0 }

    /// In-place all-reduce of an array [count].
    public func allReduce<Element: ReducibleElement>(
        _ values: inout [Element], _ operation: ReduceOperation
    ) throws {
        try values.withUnsafeMutableBufferPointer { try allReduce($0, operation) }
    }

    /// All-reduce of one value.
    public func allReduce<Element: ReducibleElement>(
        _ value: Element, _ operation: ReduceOperation
    ) throws -> Element {
        var values = [value]
        try allReduce(&values, operation)
        return values[0]
    }

    /// Broadcasts an array of trivially copyable values [count] from `root`; every rank must
    /// pass an array of the same length.
    public func broadcast<Element: BitwiseCopyable>(_ values: inout [Element], root: Int) throws {
        try values.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Gathers one trivially copyable value from every rank, in rank order [size].
    public func allGather<Element: BitwiseCopyable>(_ value: Element) throws -> [Element] {
        var mine = value
        var all = [Element](repeating: value, count: size)
        try withUnsafeBytes(of: &mine) { send in
            try all.withUnsafeMutableBytes { try allGather(send, into: $0) }
        }
        return all
    }

    /// Runs `body`; if it throws, ends the whole job (``abort(code:message:)``) so that no other
    /// rank is left waiting in a collective.
    public func abortingOnError<Result>(_ body: () throws -> Result) -> Result {
        do {
            return try body()
        } catch {
            abort(code: 1, message: "\(error)")
        }
    }
}
