import CMPIShim
import Tensor

/// Sums one float buffer over all ranks through memory that the ranks of each host share (an
/// MPI-3 shared window), hierarchically across hosts.
///
/// Every rank's buffer lives in the window, so on a host the reduction needs no message at all:
///  1. barrier: every rank's buffer is final;
///  2. local rank r sums segment r (1/p of the buffer, p ranks on the host) over the p buffers,
///     in rank order, into its own buffer;
///  3. with several hosts, segment r is all-reduced with MPI over the ranks of local rank r on
///     the other hosts (one rank per host, so only 1/p of the buffer crosses the network per rank);
///  4. barrier, then every rank copies the other p − 1 segments from their owners' buffers;
///  5. barrier, so that no rank writes its buffer while another still copies from it.
///
/// Each rank reads the buffer about twice and writes it once, against about five passes for a
/// message-based ring on shared memory, and there are three barriers instead of 2(p − 1) steps
/// that each wait for a partner, which is what hurts when ranks outnumber cores. Every segment
/// is summed in rank order by one rank and copied by the others, so all ranks end with the same
/// bits.
public final class SharedMemoryAllReduce {
    /// This rank's buffer [count], in the shared window.
    public let buffer: Tensor
    public let count: Int
    /// This rank's index among the ranks of its host, and their number.
    public let localRank: Int, localSize: Int
    /// The number of hosts.
    public let hosts: Int

    private let window: WindowHandle
    private let peers: [UnsafeMutablePointer<Float>]

    /// Collective over all ranks: allocates a buffer of `count` floats for every rank, zeroed.
    /// Throws when the hosts run different numbers of ranks.
    public init(communicator: MPICommunicator, count: Int) throws {
        var window: fga_shared_window?
        var localRank: Int32 = 0, localSize: Int32 = 0, hosts: Int32 = 0
        try checkMPI(fga_shared_window_create(count, &window, &localRank, &localSize, &hosts),
                     "MPI shared window (\(count) floats per rank)")
        let handle = WindowHandle(window!)
        self.window = handle
        self.count = count
        (self.localRank, self.localSize, self.hosts) = (Int(localRank), Int(localSize), Int(hosts))
        peers = (0..<Int(localSize)).map { fga_shared_window_peer(handle.window, Int32($0))! }
        let mine = peers[Int(localRank)]
        mine.initialize(repeating: 0, count: count)
        buffer = Tensor(borrowing: mine, shape: [count], owner: handle)
        try synchronize()
    }

    /// Collective over all ranks: replaces every rank's buffer by the sum of all ranks' buffers.
    public func allReduce() throws {
        let whole = 0..<count
        try synchronize()
        let segment = sumOwnSegmentOnHost(of: whole)
        try checkMPI(fga_shared_window_allreduce_across_hosts(window.window, peers[localRank] + segment.lowerBound, segment.count),
                     "MPI all-reduce across hosts (\(segment.count) floats)")
        try synchronize()
        gatherOtherSegments(of: whole)
        try synchronize()
    }

    /// Step 2 for the floats `range` of the buffers: sums this rank's segment of it over the host's
    /// buffers, in local rank order, into this rank's buffer, and returns the segment. Every
    /// rank of the host must have finished writing `range`.
    func sumOwnSegmentOnHost(of range: Range<Int>) -> Range<Int> {
        let segment = segmentRange(of: range, owner: localRank)
        let p = localSize, block = 4096
        let blocks = (segment.count + block - 1) / block
        let peers = self.peers, own = peers[localRank]
        Parallel.forEach(blocks, grain: 16) { blockRange in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: block) { scratch in
                let total = scratch.baseAddress!
                for index in blockRange {
                    let start = segment.lowerBound + index * block
                    let length = Swift.min(block, segment.upperBound - start)
                    total.update(from: peers[0] + start, count: length)
                    for peer in 1..<p { Kernels.addInPlace(total, peers[peer] + start, length) }
                    (own + start).update(from: total, count: length)
                }
            }
        }
        return segment
    }

    /// Step 3 without blocking: starts the sum of this rank's `segment` (from
    /// ``sumOwnSegmentOnHost(of:)``) over the hosts, to be completed through `request` (which
    /// stays idle on one host).
    func startSumAcrossHosts(of segment: Range<Int>, request: ReductionRequest) throws {
        try checkMPI(fga_shared_window_iallreduce_across_hosts(window.window, peers[localRank] + segment.lowerBound, segment.count, request.handle),
                     "MPI non-blocking all-reduce across hosts (\(segment.count) floats)")
    }

    /// Step 4 for the floats `range`: copies the other ranks' segments of it from their buffers.
    /// Their owners must have finished them.
    func gatherOtherSegments(of range: Range<Int>) {
        let own = peers[localRank]
        for owner in 0..<localSize where owner != localRank {
            let segment = segmentRange(of: range, owner: owner)
            let source = peers[owner]
            Parallel.forEach(segment.count) { part in
                (own + segment.lowerBound + part.lowerBound).update(from: source + segment.lowerBound + part.lowerBound, count: part.count)
            }
        }
    }

    /// The floats of `range` that local rank `owner` sums: its share.
    func segmentRange(of range: Range<Int>, owner: Int) -> Range<Int> {
        (range.lowerBound + range.count * owner / localSize)..<(range.lowerBound + range.count * (owner + 1) / localSize)
    }

    /// Memory fence and barrier over the ranks of this host: writes before it are visible after it.
    func synchronize() throws {
        try checkMPI(fga_shared_window_synchronize(window.window), "MPI barrier over the ranks of this host")
    }
}

/// The shim's window handle. The window lives until MPI shuts down (freeing it is collective, so
/// it cannot happen in a deinit); tensors over its memory keep this object alive.
private final class WindowHandle {
    let window: fga_shared_window
    init(_ window: fga_shared_window) { self.window = window }
}
