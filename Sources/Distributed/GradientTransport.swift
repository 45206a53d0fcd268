import Foundation
import NN

/// How a ``GradientReducer`` sums its buckets of the flat gradient buffer over the ranks. The
/// reducer builds one from its ``GradientReducer/Transport`` strategy and the overlap policy;
/// every rank calls the methods with the same buckets in the same order.
protocol GradientTransport: AnyObject {
    /// Whether buckets start while backward still runs (``start(bucket:)``); otherwise the whole
    /// reduction happens in ``complete(remaining:)``.
    var startsDuringBackward: Bool { get }
    /// Whether the gradient buffer lives in memory shared by the ranks of a host.
    var usesSharedMemory: Bool { get }
    /// Starts summing bucket `index` over the ranks (only when ``startsDuringBackward``).
    func start(bucket index: Int) throws
    /// Lets the outstanding reductions advance (Open MPI progresses only inside MPI calls).
    func progress() throws
    /// After backward: starts the `remaining` buckets in that order, then returns once every
    /// bucket holds the sum over the ranks.
    func complete(remaining: ArraySlice<Int>) throws
}

/// One rank: the local gradient is already the sum.
final class LocalTransport: GradientTransport {
    var startsDuringBackward: Bool { false }
    var usesSharedMemory: Bool { false }
    func start(bucket index: Int) throws {}
    func progress() throws {}
    func complete(remaining: ArraySlice<Int>) throws {}
}

/// Bucketed MPI messages: blocking all-reduces after backward, or non-blocking ones started as
/// buckets fill during backward.
final class MessageTransport: GradientTransport {
    let startsDuringBackward: Bool
    var usesSharedMemory: Bool { false }
    private let communicator: any Communicator
    private let parameters: FlatParameters
    private let buckets: [Range<Int>]
    private let requests: [ReductionRequest]
    private var started: [Int] = []

    init(communicator: any Communicator, parameters: FlatParameters, buckets: [Range<Int>], overlapping: Bool) {
        self.communicator = communicator
        self.parameters = parameters
        self.buckets = buckets
        startsDuringBackward = overlapping
        requests = overlapping ? buckets.map { _ in ReductionRequest() } : []
        started.reserveCapacity(buckets.count)
    }

    func start(bucket index: Int) throws {
        try communicator.startAllReduce(bucketPointer(index), .sum, request: requests[index])
        started.append(index)
    }

    func progress() throws {
        for index in started { _ = try requests[index].test() }
    }

    func complete(remaining: ArraySlice<Int>) throws {
        defer { started.removeAll(keepingCapacity: true) }
        guard startsDuringBackward else {
            for index in remaining { try communicator.allReduce(bucketPointer(index), .sum) }
            return
        }
        for index in remaining { try start(bucket: index) }
        for index in started { try requests[index].wait() }
    }

    /// The bucket's floats in the gradient buffer (looked up per call: the buffer can move).
    private func bucketPointer(_ index: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: parameters.gradients.pointer + buckets[index].lowerBound, count: buckets[index].count)
    }
}

/// The whole buffer at once after backward, through memory the ranks of a host share
/// (``SharedMemoryAllReduce``, hierarchical across hosts).
final class SharedMemoryTransport: GradientTransport {
    let reduction: SharedMemoryAllReduce

    init(_ reduction: SharedMemoryAllReduce) { self.reduction = reduction }

    var startsDuringBackward: Bool { false }
    var usesSharedMemory: Bool { true }
    func start(bucket index: Int) throws {}
    func progress() throws {}
    func complete(remaining: ArraySlice<Int>) throws { try reduction.allReduce() }
}
