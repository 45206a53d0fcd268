import Foundation

/// The hierarchical shared-memory reduction (``SharedMemoryAllReduce``) bucket by bucket while
/// backward runs: as soon as every rank of a host has finished a bucket, each of them sums its
/// share of that bucket over the host's buffers and starts the non-blocking all-reduce of that
/// share across the hosts, so the network carries the early buckets while backward computes the
/// late ones.
///
/// Each rank announces a finished bucket by storing the iteration number into its word of a
/// ``HostWordBoard`` (the gradient writes before it become visible to the peers that read it);
/// no message and no barrier is needed on the host until the end. Buckets are summed and sent
/// in the order the reducer starts them — its schedule, the same on every rank — so the
/// cross-host all-reduces are issued in the same order everywhere. ``complete(remaining:)``
/// starts the rest, waits for the cross-host sums, and, after one barrier, copies the other
/// ranks' shares of every bucket. Sums are in local rank order, as in
/// ``SharedMemoryAllReduce/allReduce()``, so every rank ends with the same bits.
final class OverlappingSharedMemoryTransport: GradientTransport {
    let reduction: SharedMemoryAllReduce
    private let buckets: [Range<Int>]
    /// Word b of a rank: the last iteration in which its bucket b was final.
    private let board: HostWordBoard
    private let requests: [ReductionRequest]
    /// The iteration being reduced, counted from 1 (the board's words start at 0).
    private var iteration: UInt64 = 1
    /// The buckets this rank has announced in this iteration, in order; the first
    /// `summedOnHost` of them have had their host sum and their cross-host all-reduce started.
    private var announced: [Int] = []
    private var summedOnHost = 0

    /// Collective over all ranks.
    init(_ reduction: SharedMemoryAllReduce, buckets: [Range<Int>]) throws {
        self.reduction = reduction
        self.buckets = buckets
        board = try HostWordBoard(words: buckets.count, purpose: "gradient bucket board")
        requests = buckets.map { _ in
            let request = ReductionRequest()
            request.callDescription = "non-blocking all-reduce of a gradient bucket across hosts"
            return request
        }
        announced.reserveCapacity(buckets.count)
    }

    var startsDuringBackward: Bool { true }
    var usesSharedMemory: Bool { true }

    func start(bucket index: Int) throws {
        board.store(iteration, word: index)
        announced.append(index)
        try progress()
    }

    func progress() throws {
        while summedOnHost < announced.count {
            let bucket = announced[summedOnHost]
            let finishedOnHost = (0..<reduction.localSize).allSatisfy { board.load(rank: $0, word: bucket) >= iteration }
            guard finishedOnHost else { break }
            let segment = reduction.sumOwnSegmentOnHost(of: buckets[bucket])
            try reduction.startSumAcrossHosts(of: segment, request: requests[bucket])
            summedOnHost += 1
        }
        try testStarted()
    }

    func complete(remaining: ArraySlice<Int>) throws {
        for index in remaining { try start(bucket: index) }
        // The host's other ranks may still be in backward: wait for their announcements, yielding
        // the core (ranks may outnumber cores) and letting the cross-host sums advance.
        var idlePolls = 0
        while summedOnHost < announced.count {
            let before = summedOnHost
            try progress()
            if summedOnHost > before {
                idlePolls = 0
            } else {
                idlePolls += 1
                if idlePolls < 1_000 { sched_yield() } else { usleep(50) }
            }
        }
        for bucket in announced { try requests[bucket].wait() }
        try reduction.synchronize()
        for bucket in buckets { reduction.gatherOtherSegments(of: bucket) }
        // No rank may write its buffer (the next iteration) while another still copies from it.
        try reduction.synchronize()
        announced.removeAll(keepingCapacity: true)
        summedOnHost = 0
        iteration += 1
    }

    /// Lets the started cross-host all-reduces advance (Open MPI progresses only inside MPI calls).
    private func testStarted() throws {
        for bucket in announced[..<summedOnHost] { _ = try requests[bucket].test() }
    }
}
