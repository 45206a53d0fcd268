import CMPIShim
import Foundation
import NN
import Tensor

/// Averages the gradients of all data-parallel replicas, in buckets, like PyTorch DDP's reducer.
///
/// The flat gradient buffer (``FlatParameters``, reverse registration order ≈ the order backward
/// produces gradients) is cut into buckets of whole parameters of about `bucketBytes`. With
/// overlap on, backward reports each finished parameter gradient (``gradientReady(_:)``); when a
/// bucket's last gradient is in, its non-blocking all-reduce starts and later reports poll the
/// outstanding ones, so communication proceeds while backward continues. ``finish()`` waits for
/// every bucket and divides by the number of ranks (through `FlatParameters.gradientScale`). With overlap off, ``finish()`` all-reduces the
/// buckets one after another once backward is done — faster on a single node whose cores are
/// all busy computing, where shared-memory reduction competes with backward for the CPU.
/// Without overlap, the reduction by default goes through memory the ranks of a host share
/// (``SharedMemoryAllReduce``, hierarchical across hosts): the gradient buffer itself moves into
/// that memory, and the whole buffer is reduced at once.
/// Frozen parameters are not in the flat buffer, so their gradients are never sent. No memory is
/// allocated per step.
public final class GradientReducer {
    /// When to overlap communication with backward.
    public enum OverlapPolicy: String, Sendable, CaseIterable {
        /// Overlap only when the ranks span more than one host.
        case auto
        case on
        case off
    }

    /// How gradients travel.
    public enum Transport: String, Sendable, CaseIterable {
        /// Shared memory when not overlapping and running under MPI, else MPI messages.
        case auto
        /// ``SharedMemoryAllReduce`` (not with overlap).
        case shared
        /// Bucketed `MPI_Allreduce` / `MPI_Iallreduce`.
        case mpi
    }

    public let communicator: any Communicator
    public let parameters: FlatParameters
    /// The flat-buffer range of every bucket, in launch order.
    public let buckets: [Range<Int>]
    /// Whether all-reduces start during backward.
    public let overlaps: Bool
    /// The shared-memory reduction, when that is the transport in use.
    public let sharedMemory: SharedMemoryAllReduce?
    /// False during the micro-batches of gradient accumulation that are not the last: gradients
    /// then only accumulate locally and nothing is sent (DDP's `no_sync`).
    public var isSynchronizing = true
    /// Seconds spent waiting for or performing communication in the last ``finish()`` (plus the
    /// polling during backward).
    public private(set) var lastCommunicationSeconds = 0.0

    private let bucketOfParameter: [ObjectIdentifier: Int]
    private let parametersPerBucket: [Int]
    private var pendingParameters: [Int]
    private var nextBucketToStart = 0
    private let requests: [ReductionRequest]
    private var deferredError: Error?

    /// - Parameters:
    ///   - bucketBytes: target bucket size (default 25 MB, as DDP).
    ///   - overlap: the overlap policy; `.auto` asks every rank for its host name.
    ///   - transport: `.auto` and `.shared` move `parameters`' gradient buffer into shared memory
    ///     when the ranks run under MPI and do not overlap; `.auto` falls back to MPI messages when
    ///     hosts run different numbers of ranks.
    public init(parameters: FlatParameters, communicator: any Communicator, bucketBytes: Int = 25_000_000,
                overlap: OverlapPolicy = .auto, transport: Transport = .auto) throws {
        self.parameters = parameters
        self.communicator = communicator
        var buckets: [Range<Int>] = []
        var counts: [Int] = []
        var owner: [ObjectIdentifier: Int] = [:]
        var start = 0, members = 0
        let limit = max(1, bucketBytes / MemoryLayout<Float>.stride)
        for (entry, tensor) in zip(parameters.entries, parameters.tensors) {
            owner[ObjectIdentifier(tensor)] = buckets.count
            members += 1
            let end = entry.offset + entry.count
            if end - start >= limit {
                buckets.append(start..<end)
                counts.append(members)
                (start, members) = (end, 0)
            }
        }
        if members > 0 || buckets.isEmpty {
            buckets.append(start..<parameters.count)
            counts.append(members)
        }
        self.buckets = buckets
        parametersPerBucket = counts
        pendingParameters = counts
        bucketOfParameter = owner
        requests = buckets.map { _ in ReductionRequest() }
        switch overlap {
        case .on: overlaps = communicator.size > 1
        case .off: overlaps = false
        case .auto: overlaps = try Self.spansSeveralHosts(communicator)
        }
        sharedMemory = try Self.sharedMemoryReduction(for: parameters, communicator: communicator, overlaps: overlaps,
                                                      transport: transport)
    }

    /// The shared-memory reduction that `transport` asks for, with the gradients moved into it.
    private static func sharedMemoryReduction(for parameters: FlatParameters, communicator: any Communicator,
                                              overlaps: Bool, transport: Transport) throws -> SharedMemoryAllReduce? {
        if transport == .shared && overlaps {
            throw DistributedError(call: "gradient reducer", code: Int32(FGA_ERR_BAD_ARGUMENT),
                                   message: "the shared-memory transport reduces after backward; it cannot be combined with overlap")
        }
        guard transport != .mpi, !overlaps, communicator.size > 1, let mpi = communicator as? MPICommunicator else { return nil }
        let reduction: SharedMemoryAllReduce
        do {
            reduction = try SharedMemoryAllReduce(communicator: mpi, count: parameters.count)
        } catch let error as DistributedError where transport == .auto && error.code == Int32(FGA_ERR_UNEVEN_NODES) {
            return nil
        }
        parameters.moveGradients(to: reduction.buffer)
        return reduction
    }

    /// True when the ranks run on more than one host.
    static func spansSeveralHosts(_ communicator: any Communicator) throws -> Bool {
        var hash = Hasher64()
        hash.combine(bytes: Array(communicator.hostName.utf8))
        let hashes = try communicator.allGather(hash.value)
        return Set(hashes).count > 1
    }

    /// Call before each backward pass that should synchronise.
    public func prepareForBackward() {
        for i in pendingParameters.indices { pendingParameters[i] = parametersPerBucket[i] }
        nextBucketToStart = 0
        deferredError = nil
        lastCommunicationSeconds = 0
    }

    /// The hook for `backward(leafGradientReady:)`: `tensor`'s gradient is final for this pass.
    public func gradientReady(_ tensor: Tensor) {
        guard overlaps, isSynchronizing, communicator.size > 1, deferredError == nil,
              let bucket = bucketOfParameter[ObjectIdentifier(tensor)] else { return }
        let began = DispatchTime.now().uptimeNanoseconds
        defer { lastCommunicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9 }
        do {
            pendingParameters[bucket] -= 1
            // Buckets start strictly in index order so that every rank issues the same
            // sequence of collectives.
            while nextBucketToStart < buckets.count && pendingParameters[nextBucketToStart] == 0 {
                try start(nextBucketToStart)
                nextBucketToStart += 1
            }
            // Advance the outstanding reductions (Open MPI progresses only inside MPI calls).
            for index in 0..<nextBucketToStart { _ = try requests[index].test() }
        } catch {
            deferredError = error
        }
    }

    /// Completes the reduction after backward: every bucket is summed over ranks and the
    /// parameters' gradient scale divided by the number of ranks. Does nothing while
    /// ``isSynchronizing`` is false.
    public func finish() throws {
        if let deferredError { throw deferredError }
        guard isSynchronizing, communicator.size > 1 else { return }
        let began = DispatchTime.now().uptimeNanoseconds
        if let sharedMemory {
            try sharedMemory.allReduce()
        } else if overlaps {
            while nextBucketToStart < buckets.count {
                try start(nextBucketToStart)
                nextBucketToStart += 1
            }
            for request in requests { try request.wait() }
        } else {
            for bucket in buckets { try communicator.allReduce(bucketPointer(bucket), .sum) }
        }
        // The sum becomes a mean through the gradient scale, which the optimiser and gradient
        // clipping apply as they read: no extra pass over the buffer.
        parameters.gradientScale /= Float(communicator.size)
        lastCommunicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
    }

    private func start(_ index: Int) throws {
        try communicator.startAllReduce(bucketPointer(buckets[index]), .sum, request: requests[index])
    }

    private func bucketPointer(_ range: Range<Int>) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: parameters.gradients.pointer + range.lowerBound, count: range.count)
    }
}

/// FNV-1a, 64-bit: a stable hash of bytes (Swift's `Hasher` is seeded per process).
struct Hasher64 {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func combine(bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01B3
        }
    }

    mutating func combine(floats pointer: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            var bits = pointer[i].bitPattern
            for _ in 0..<4 {
                value ^= UInt64(bits & 0xFF)
                value = value &* 0x0000_0100_0000_01B3
                bits >>= 8
            }
        }
    }
}
