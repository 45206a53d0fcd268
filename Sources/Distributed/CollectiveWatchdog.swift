import Foundation
import Synchronization

/// Ends the job when a guarded collective does not finish in time — a rank that hangs (dead
/// peer, deadlock, a rank stuck in I/O) must not keep the others waiting forever.
///
/// A background thread checks twice a second; on expiry it aborts the whole job with a message
/// that names this rank, the operation and the step.
public final class CollectiveWatchdog: Sendable {
    private struct Guarded: Sendable {
        var description: String
        var step: Int
        var since: UInt64
    }

    public let timeout: Double
    private let communicator: any Communicator
    private let current = Mutex<Guarded?>(nil)

    /// Starts watching; `timeout` in seconds.
    public init(communicator: any Communicator, timeout: Double) {
        self.communicator = communicator
        self.timeout = timeout
        let thread = Thread { [weak self] in
            while let self {
                if let expired = self.expired() {
                    self.communicator.abort(code: 3, message:
                        "watchdog: \(expired.description) at step \(expired.step) did not finish within \(self.timeout) s on rank \(self.communicator.rank); ending the job")
                }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        thread.start()
    }

    private func expired() -> Guarded? {
        current.withLock { guarded in
            guard let guarded else { return nil }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - guarded.since) / 1e9
            return elapsed > timeout ? guarded : nil
        }
    }

    /// Runs `body` (a collective or a step that contains collectives) under the watchdog.
    public func guarding<Result>(_ description: String, step: Int, _ body: () throws -> Result) rethrows -> Result {
        current.withLock { $0 = Guarded(description: description, step: step, since: DispatchTime.now().uptimeNanoseconds) }
        defer { current.withLock { $0 = nil } }
        return try body()
    }
}
