import Dispatch
import Synchronization

/// An opt-in per-section profile of a training step: forward time, backward time, GEMM FLOPs and
/// peak live tensor memory, attributed to named sections of the model.
///
/// Model code marks sections with ``section(_:_:)``; every operation recorded for autograd inside
/// a section remembers it, so the time its backward takes is charged to the same section. Costs
/// nothing measurable while ``isEnabled`` is false (one atomic load per section and per node).
public enum Profiler {
    /// One section's totals.
    public struct Entry: Sendable {
        public var name: String
        public var forwardSeconds = 0.0
        public var backwardSeconds = 0.0
        /// 2·m·n·k of every `BLAS.gemm` and the multiply-adds of the direct convolutions issued
        /// while the section ran, forward and backward.
        public var flops = 0.0
        /// The highest live tensor memory (bytes) seen while the section's forward ran.
        public var peakLiveBytes = 0
        /// Times the section was entered.
        public var calls = 0
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var order: [String] = []
        var stack: [String] = []
        /// The section whose backward node is running, if any.
        var backward: String?
        var overallPeak = 0

        mutating func update(_ name: String, _ change: (inout Entry) -> Void) {
            if entries[name] == nil { entries[name] = Entry(name: name); order.append(name) }
            change(&entries[name]!)
        }

        /// Raises the peak of every open section (and the overall peak) to at least `bytes`.
        mutating func raiseOpenPeaks(to bytes: Int) {
            overallPeak = max(overallPeak, bytes)
            for name in stack { update(name) { $0.peakLiveBytes = max($0.peakLiveBytes, bytes) } }
        }
    }

    private static let enabled = Atomic<Bool>(false)
    private static let state = Mutex(State())

    /// Whether sections and GEMM FLOPs are being recorded.
    public static var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// Clears all totals and starts recording.
    public static func start() {
        state.withLock { $0 = State() }
        CachingAllocator.shared.resetPeak()
        enabled.store(true, ordering: .relaxed)
    }

    /// Stops recording and returns the sections in the order they were first entered.
    public static func stop() -> [Entry] {
        enabled.store(false, ordering: .relaxed)
        let peak = CachingAllocator.shared.peakLiveBytes
        return state.withLock { state in
            state.overallPeak = max(state.overallPeak, peak)
            return state.order.map { state.entries[$0]! }
        }
    }

    /// The highest live tensor memory (bytes) from ``start()`` to ``stop()``, backward included.
    public static var peakLiveBytes: Int { state.withLock { $0.overallPeak } }

    /// The innermost open section ("a/b" for nested sections), or nil.
    static var currentSection: String? {
        guard isEnabled else { return nil }
        return state.withLock { $0.stack.last }
    }

    /// Runs `body` as the section `name` (nested inside the current one, if any). Sections are
    /// meant for the thread that builds the graph; kernels' worker threads never open them.
    @discardableResult
    public static func section<Result>(_ name: String, _ body: () throws -> Result) rethrows -> Result {
        guard isEnabled else { return try body() }
        let peakBefore = CachingAllocator.shared.peakLiveBytes
        let path = state.withLock { state -> String in
            state.raiseOpenPeaks(to: peakBefore)
            let path = state.stack.last.map { $0 + "/" + name } ?? name
            state.stack.append(path)
            state.update(path) { $0.calls += 1 }
            return path
        }
        CachingAllocator.shared.resetPeak()
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let peak = CachingAllocator.shared.peakLiveBytes
            state.withLock { state in
                // Time and peaks count at every level; FLOPs only where they were issued.
                state.raiseOpenPeaks(to: peak)
                state.update(path) { $0.forwardSeconds += seconds }
                state.stack.removeLast()
            }
        }
        return try body()
    }

    /// Runs the backward work of a node recorded in `section`, charging its time (and the GEMMs
    /// it issues) to that section (called by autograd).
    static func backward<Result>(of section: String, _ body: () -> Result) -> Result {
        let outer = state.withLock { state in
            defer { state.backward = section }
            return state.backward
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        state.withLock { state in
            state.backward = outer
            state.update(section) { $0.backwardSeconds += seconds }
        }
        return result
    }

    /// Adds the FLOPs of one GEMM to the innermost section, or to the section whose backward is
    /// running (`BLAS.gemm` calls this when profiling).
    @usableFromInline
    static func addGEMM(m: Int, n: Int, k: Int) { addFLOPs(2 * Double(m) * Double(n) * Double(k)) }

    /// Adds `flops` multiply-add FLOPs of a GEMM-like kernel (e.g. a direct convolution) to the
    /// innermost section, or to the section whose backward is running.
    static func addFLOPs(_ flops: Double) {
        state.withLock { state in
            let name = state.backward ?? state.stack.last ?? "(outside sections)"
            state.update(name) { $0.flops += flops }
        }
    }
}
