import Foundation
import Synchronization

/// Ends the job when a guarded collective does not finish in time — a rank that hangs (stopped,
/// dead peer, deadlock, stuck in I/O) must not keep the others waiting forever.
///
/// A background thread checks twice a second and, through the host's ``ArrivalBoard``, publishes
/// a heartbeat. On expiry it aborts the whole job with a message that names the operation, the
/// step and — from the board — the ranks of this host that did not arrive or stopped running.
/// When every rank of this host arrived, the missing rank runs on another host: this watchdog then
/// waits a few seconds more, so that the watchdog of that host, which can name it, ends the job.
public final class CollectiveWatchdog: Sendable {
    /// How long a guarded collective may take.
    public enum Timeout: Sendable, Equatable {
        /// A fixed number of seconds.
        case fixed(Double)
        /// At least `minimum` seconds, and `stepMultiple` times the slowest step observed so far
        /// (``observe(stepSeconds:)``): a collective waits at most for the slowest rank's step.
        case scaled(minimum: Double, stepMultiple: Double)
    }

    private struct State: Sendable {
        var guarded: (description: String, step: Int, since: UInt64)?
        var entered: UInt64 = 0
        var slowestStep = 0.0
    }

    public let timeout: Timeout
    private let communicator: any Communicator
    private let board: ArrivalBoard?
    private let state = Mutex(State())
    /// The heartbeat age above which a peer is reported as not running, for a timeout of `timeout`
    /// seconds: 5 s, or half the timeout when that is shorter (but at least three beats).
    static func silentThreshold(timeout: Double) -> Double { min(5, max(1.5, timeout / 2)) }
    /// The extra wait before aborting when no rank of this host is to blame.
    static let deferral = 5.0

    /// Collective over all ranks of `communicator` (it creates the arrival board); starts watching.
    public init(communicator: any Communicator, timeout: Timeout) throws {
        self.communicator = communicator
        self.timeout = timeout
        board = try communicator.makeArrivalBoard()
        let thread = Thread { [weak self] in
            while let self {
                self.board?.beat()
                self.check()
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        thread.start()
    }

    /// The timeout that applies now, in seconds.
    public var seconds: Double {
        switch timeout {
        case .fixed(let seconds): seconds
        case .scaled(let minimum, let multiple): max(minimum, multiple * state.withLock { $0.slowestStep })
        }
    }

    /// Records the duration of a training step, for ``Timeout/scaled(minimum:stepMultiple:)``.
    public func observe(stepSeconds: Double) {
        state.withLock { $0.slowestStep = max($0.slowestStep, stepSeconds) }
    }

    /// Runs `body` (a collective or a step that contains collectives) under the watchdog. Every
    /// rank guards the same collectives in the same order.
    public func guarding<Result>(_ description: String, step: Int, _ body: () throws -> Result) rethrows -> Result {
        let entered = state.withLock { state -> UInt64 in
            state.entered += 1
            state.guarded = (description, step, DispatchTime.now().uptimeNanoseconds)
            return state.entered
        }
        board?.publish(entered: entered)
        defer { state.withLock { $0.guarded = nil } }
        return try body()
    }

    private func check() {
        let limit = seconds
        guard let (guarded, entered) = state.withLock({ state in state.guarded.map { ($0, state.entered) } }) else { return }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - guarded.since) / 1e9
        guard elapsed > limit else { return }
        let (blame, culpritHere) = diagnosis(entered: entered, timeout: limit)
        if !culpritHere && elapsed < limit + Self.deferral { return }
        communicator.abort(code: 3, message: String(format: "watchdog: %@ at step %d did not finish within %.0f s; %@; ending the job",
                                                    guarded.description, guarded.step, limit, blame))
    }

    /// What the board says about the ranks of this host, and whether one of them is to blame,
    /// for a collective that has not finished within `timeout` seconds.
    func diagnosis(entered: UInt64, timeout: Double) -> (text: String, culpritHere: Bool) {
        guard let board else { return ("rank \(communicator.rank) was waiting (no peers on this host to inspect)", false) }
        let peers = board.entries().filter { $0.worldRank != communicator.rank }
        let culprits = peers.compactMap { peer -> String? in
            var reasons = [String]()
            if peer.silentSeconds > Self.silentThreshold(timeout: timeout) { reasons.append(String(format: "not running: no heartbeat for %.0f s", peer.silentSeconds)) }
            if peer.entered < entered { reasons.append("did not arrive: entered \(peer.entered) of the \(entered) guarded collectives") }
            return reasons.isEmpty ? nil : "rank \(peer.worldRank) (\(reasons.joined(separator: "; ")))"
        }
        if !culprits.isEmpty {
            return ("blocked by \(culprits.joined(separator: ", ")) on \(communicator.hostName); rank \(communicator.rank) was waiting", true)
        }
        return ("rank \(communicator.rank) was waiting; all \(peers.count + 1) rank(s) on \(communicator.hostName) arrived and are running, so the missing rank runs on another host", false)
    }
}
