import CMPIShim
import Foundation
import NN
import Tensor

/// Averages the gradients of all data-parallel replicas, in buckets, like PyTorch DDP's reducer,
/// and computes the optimiser step's gradient scale.
///
/// The flat gradient buffer (``FlatParameters``, reverse registration order ≈ the order backward
/// produces gradients) is cut into buckets of whole parameters of about `bucketBytes`.
///
/// **Readiness.** The reducer installs a ``Tensor/gradientAccumulatedHook`` on every parameter,
/// so the autograd engine reports each backward pass's last contribution to a parameter's
/// gradient, nested passes included (the recomputation of a checkpointed region, the per-chunk
/// passes of a chunked training step); no model code passes callbacks. The first synchronising
/// iteration learns how many reports each parameter gets and the order in which buckets fill
/// (DDP's `static_graph`); the ranks check that they agree, and rank 0's order becomes the bucket
/// launch schedule. From then on a parameter is final when its reports reach the learned count,
/// and a bucket starts when all its parameters are final and every bucket before it in the
/// schedule has started, so every rank issues the same collectives in the same order while early
/// buckets need not wait for late ones. Parameters that got no gradient in the first iteration
/// are the unused set (``unusedParameters``), checked every iteration. A parameter reported
/// after it was final, or not final when backward ends, is a ``GradientReadinessError`` that
/// names it.
///
/// **Transport** (``Transport``, ``OverlapPolicy``). By default the gradient buffer itself moves
/// into memory the ranks of a host share and is reduced hierarchically: summed on the host
/// without messages, then across hosts by one rank per share (``SharedMemoryAllReduce``). With
/// overlap off, ``finish()`` reduces once backward is done — best on a single node whose cores
/// are all busy computing, where reduction competes with backward for the CPU. With overlap on
/// (by default when the ranks span several hosts), each bucket is summed on the host and its
/// cross-host all-reduce started as soon as every rank of the host has finished it
/// (``OverlappingSharedMemoryTransport``, from the second iteration on). The `mpi` transport
/// sends buckets as MPI messages instead, blocking after backward or non-blocking during it.
///
/// **Scale.** ``finish()`` is the only writer of `FlatParameters.gradientScale` in a training
/// step: the mean over ranks and accumulated micro-batches and the gradient-norm clipping are
/// folded into one factor that the optimiser applies as it reads.
///
/// Frozen parameters are not in the flat buffer, so their gradients are never sent. No memory
/// is allocated per step.
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
        /// Shared memory when running under MPI with the same number of ranks on every host, else
        /// MPI messages.
        case auto
        /// Memory shared by the ranks of each host, hierarchically across hosts: after backward
        /// (``SharedMemoryTransport``) or bucket by bucket during it (``OverlappingSharedMemoryTransport``).
        case shared
        /// Bucketed `MPI_Allreduce` / `MPI_Iallreduce`.
        case mpi
    }

    public let communicator: any Communicator
    public let parameters: FlatParameters
    /// The flat-buffer range of every bucket, in buffer order.
    public let buckets: [Range<Int>]
    /// The gradient of each step is the mean over this many micro-batches (gradient accumulation).
    public let accumulationSteps: Int
    /// Gradients are clipped to this global L2 norm (PyTorch's `clip_grad_norm_`); 0 turns it off.
    public let maxGradientNorm: Float
    /// False during the micro-batches of gradient accumulation that are not the last: gradients
    /// then only accumulate locally, nothing is sent and readiness is not tracked (DDP's `no_sync`).
    public var isSynchronizing = true
    /// Whether all-reduces start during backward.
    public var overlaps: Bool { transport.startsDuringBackward }
    /// Whether the gradient buffer lives in memory shared by the ranks of a host.
    public var usesSharedMemory: Bool { transport.usesSharedMemory }
    /// The order in which buckets start, agreed by all ranks after the first iteration (nil before).
    public private(set) var schedule: [Int]? {
        didSet {
            positionInSchedule = [Int](repeating: 0, count: buckets.count)
            for (position, bucket) in (schedule ?? []).enumerated() { positionInSchedule[bucket] = position }
        }
    }
    /// Names of the parameters that got no gradient in the first iteration.
    public private(set) var unusedParameters: [String] = []
    /// Seconds spent waiting for or performing communication in the last ``finish()`` (plus the
    /// starting and polling during backward).
    public private(set) var lastCommunicationSeconds = 0.0
    /// How many buckets started during the last backward; the others started in ``finish()``.
    public private(set) var lastBucketsStartedDuringBackward = 0
    /// How many buckets in the last backward were full but had to wait for a bucket before them
    /// in the schedule (0 while backward fills them in the learned order).
    public private(set) var lastBucketsHeldBack = 0
    /// The global gradient norm before clipping, computed by the last ``finish()`` (0 when not clipping).
    public private(set) var lastGradientNorm: Float = 0
    /// The parameters (indices into `parameters.entries`) in the order they became final in the
    /// current or last synchronising backward.
    public private(set) var readyOrder: [Int] = []

    let transport: any GradientTransport
    private let bucketOfParameter: [Int]
    private var positionInSchedule: [Int] = []
    private var expectedReports: [Int]?
    private var reports: [Int]
    /// During the first iteration: the report sequence number of each parameter's last report.
    private var lastReport: [Int]
    private var pendingInBucket: [Int]
    private var nextInSchedule = 0
    private var reportSequence = 0
    private var collecting = false
    private var completedIterations = 0
    /// A readiness or transport error met during backward, thrown by ``finish()``.
    private var deferredError: Error?

    /// - Parameters:
    ///   - bucketBytes: target bucket size (default 25 MB, as DDP).
    ///   - overlap: the overlap policy; `.auto` asks every rank for its host name.
    ///   - transport: `.auto` and `.shared` move `parameters`' gradient buffer into shared memory
    ///     when the ranks run under MPI; `.auto` falls back to MPI messages when hosts run
    ///     different numbers of ranks.
    ///   - accumulationSteps: micro-batches per step whose summed gradients ``finish()`` averages.
    ///   - maxGradientNorm: clip to this global norm after averaging (0: no clipping).
    public convenience init(parameters: FlatParameters, communicator: any Communicator, bucketBytes: Int = 25_000_000,
                            overlap: OverlapPolicy = .auto, transport: Transport = .auto,
                            accumulationSteps: Int = 1, maxGradientNorm: Float = 0) throws {
        let buckets = Self.buckets(of: parameters, bucketBytes: bucketBytes)
        let overlaps: Bool
        switch overlap {
        case .on: overlaps = communicator.size > 1
        case .off: overlaps = false
        case .auto: overlaps = try Self.spansSeveralHosts(communicator)
        }
        let chosen = try Self.transport(for: parameters, buckets: buckets, communicator: communicator, overlaps: overlaps,
                                        strategy: transport)
        self.init(parameters: parameters, communicator: communicator, buckets: buckets, transport: chosen,
                  accumulationSteps: accumulationSteps, maxGradientNorm: maxGradientNorm)
    }

    /// A reducer that moves `buckets` with `transport`; installs the readiness hooks on
    /// `parameters` (replacing those of an earlier reducer of the same parameters).
    init(parameters: FlatParameters, communicator: any Communicator, buckets: [Range<Int>], transport: any GradientTransport,
         accumulationSteps: Int = 1, maxGradientNorm: Float = 0) {
        precondition(accumulationSteps >= 1, "GradientReducer: accumulationSteps must be at least 1, got \(accumulationSteps)")
        precondition(maxGradientNorm >= 0, "GradientReducer: maxGradientNorm must not be negative, got \(maxGradientNorm)")
        self.parameters = parameters
        self.communicator = communicator
        self.buckets = buckets
        self.transport = transport
        self.accumulationSteps = accumulationSteps
        self.maxGradientNorm = maxGradientNorm
        var owner: [Int] = [], bucket = 0
        for entry in parameters.entries {
            while entry.offset >= buckets[bucket].upperBound && bucket + 1 < buckets.count { bucket += 1 }
            owner.append(bucket)
        }
        bucketOfParameter = owner
        reports = [Int](repeating: 0, count: owner.count)
        lastReport = reports
        pendingInBucket = [Int](repeating: 0, count: buckets.count)
        readyOrder.reserveCapacity(owner.count)
        for (index, tensor) in parameters.tensors.enumerated() {
            tensor.gradientAccumulatedHook = { [weak self] _ in self?.reportGradient(ofParameter: index) }
        }
    }

    /// Cuts the flat buffer into buckets of whole parameters of at least `bucketBytes` (the last
    /// one may be smaller).
    static func buckets(of parameters: FlatParameters, bucketBytes: Int) -> [Range<Int>] {
        var buckets: [Range<Int>] = []
        var start = 0, members = 0
        let limit = max(1, bucketBytes / MemoryLayout<Float>.stride)
        for entry in parameters.entries {
            members += 1
            let end = entry.offset + entry.count
            if end - start >= limit {
                buckets.append(start..<end)
                (start, members) = (end, 0)
            }
        }
        if members > 0 || buckets.isEmpty { buckets.append(start..<parameters.count) }
        return buckets
    }

    /// The transport that `strategy` and `overlaps` ask for; the shared-memory ones move the
    /// gradient buffer into the window.
    private static func transport(for parameters: FlatParameters, buckets: [Range<Int>], communicator: any Communicator,
                                  overlaps: Bool, strategy: Transport) throws -> any GradientTransport {
        guard communicator.size > 1 else { return LocalTransport() }
        if strategy != .mpi {
            do {
                if let reduction = try communicator.makeSharedMemoryAllReduce(count: parameters.count) {
                    parameters.moveGradients(to: reduction.buffer)
                    return overlaps ? try OverlappingSharedMemoryTransport(reduction, buckets: buckets) : SharedMemoryTransport(reduction)
                }
            } catch let error as DistributedError where strategy == .auto && error.code == Int32(FGA_ERR_UNEVEN_NODES) {
                // Hosts with different numbers of ranks: MPI messages instead.
            }
        }
        return MessageTransport(communicator: communicator, parameters: parameters, buckets: buckets, overlapping: overlaps)
    }

    /// True when the ranks run on more than one host.
    static func spansSeveralHosts(_ communicator: any Communicator) throws -> Bool {
        var hash = Hasher64()
        hash.combine(bytes: Array(communicator.hostName.utf8))
        let hashes = try communicator.allGather(hash.value)
        return Set(hashes).count > 1
    }

    /// Call before each backward pass of an iteration (every micro-batch); readiness is tracked
    /// while ``isSynchronizing``.
    public func prepareForBackward() {
        lastCommunicationSeconds = 0
        lastBucketsStartedDuringBackward = 0
        lastBucketsHeldBack = 0
        guard isSynchronizing else { collecting = false; return }
        collecting = true
        deferredError = nil
        nextInSchedule = 0
        reportSequence = 0
        readyOrder.removeAll(keepingCapacity: true)
        for i in reports.indices { reports[i] = 0 }
        if let expectedReports {
            for i in pendingInBucket.indices { pendingInBucket[i] = 0 }
            for (parameter, expected) in expectedReports.enumerated() where expected > 0 { pendingInBucket[bucketOfParameter[parameter]] += 1 }
            // Buckets of unused parameters only are final from the start.
            startReadyBuckets()
        }
    }

    /// One backward pass made its last contribution to the gradient of parameter `index` (of
    /// `parameters.entries`). The parameters' hooks call this; a simulated backward may too.
    public func reportGradient(ofParameter index: Int) {
        guard collecting, deferredError == nil else { return }
        reports[index] += 1
        guard let expectedReports else {
            lastReport[index] = reportSequence
            reportSequence += 1
            return
        }
        let expected = expectedReports[index]
        guard reports[index] <= expected else {
            deferredError = GradientReadinessError.reportedAfterFinal(parameter: parameters.entries[index].name, reports: reports[index], expected: expected,
                                                iteration: completedIterations + 1)
            return
        }
        let bucket = bucketOfParameter[index]
        let isFinal = reports[index] == expected
        if isFinal {
            readyOrder.append(index)
            pendingInBucket[bucket] -= 1
        }
        // Every report, final or not, also lets the started reductions advance.
        startReadyBuckets()
        if isFinal && pendingInBucket[bucket] == 0 && transport.startsDuringBackward && positionInSchedule[bucket] >= nextInSchedule {
            lastBucketsHeldBack += 1
        }
    }

    /// Starts, in schedule order, every bucket whose parameters are final, and lets the started
    /// ones advance.
    private func startReadyBuckets() {
        guard transport.startsDuringBackward, let schedule else { return }
        let began = DispatchTime.now().uptimeNanoseconds
        defer { lastCommunicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9 }
        do {
            let before = nextInSchedule
            while nextInSchedule < schedule.count && pendingInBucket[schedule[nextInSchedule]] == 0 {
                try transport.start(bucket: schedule[nextInSchedule])
                nextInSchedule += 1
            }
            lastBucketsStartedDuringBackward += nextInSchedule - before
            try transport.progress()
        } catch {
            deferredError = error
        }
    }

    /// Completes the reduction after backward: every bucket is summed over the ranks, and the
    /// gradient scale becomes 1 / (ranks × ``accumulationSteps``), times the clipping factor when
    /// ``maxGradientNorm`` is set. Does nothing while ``isSynchronizing`` is false. The first call
    /// also fixes the readiness counts and the bucket schedule, agreed between the ranks.
    public func finish() throws {
        guard isSynchronizing else { return }
        collecting = false
        defer { completedIterations += 1 }
        if let deferredError { throw deferredError }
        let began = DispatchTime.now().uptimeNanoseconds
        if expectedReports == nil {
            try learnSchedule()
        } else if let expectedReports {
            let short = expectedReports.indices.filter { reports[$0] < expectedReports[$0] }
            if !short.isEmpty {
                throw GradientReadinessError.neverFinal(parameters: short.prefix(8).map { parameters.entries[$0].name }, count: short.count,
                                                        iteration: completedIterations + 1)
            }
        }
        try transport.complete(remaining: schedule![nextInSchedule...])
        nextInSchedule = schedule!.count
        lastCommunicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
        // The sum becomes a mean, and clipping a factor, through the gradient scale that the
        // optimiser applies as it reads: no extra pass over the buffer.
        lastGradientNorm = parameters.setGradientScale(dividingBy: Float(communicator.size * accumulationSteps),
                                                       clippingTo: maxGradientNorm)
    }

    /// After the first iteration: the ranks check that they reported the same counts, and rank
    /// 0's order of filled buckets becomes everyone's schedule.
    private func learnSchedule() throws {
        var hash = Hasher64()
        for count in reports { withUnsafeBytes(of: Int64(count)) { hash.combine(bytes: $0) } }
        let hashes = try communicator.allGather(hash.value)
        let differing = hashes.indices.filter { hashes[$0] != hashes[0] }
        if !differing.isEmpty { throw GradientReadinessError.ranksDisagree(ranks: differing) }
        // A bucket fills with its last parameter's last report; unused parameters never delay it.
        var filled = [Int](repeating: -1, count: buckets.count)
        for (parameter, bucket) in bucketOfParameter.enumerated() where reports[parameter] > 0 {
            filled[bucket] = max(filled[bucket], lastReport[parameter])
        }
        var order = buckets.indices.sorted { (filled[$0], $0) < (filled[$1], $1) }.map { Int64($0) }
        try communicator.broadcast(&order, root: 0)
        schedule = order.map { Int($0) }
        expectedReports = reports
        readyOrder = reports.indices.filter { reports[$0] > 0 }.sorted { lastReport[$0] < lastReport[$1] }
        unusedParameters = reports.indices.filter { reports[$0] == 0 }.map { parameters.entries[$0].name }
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
