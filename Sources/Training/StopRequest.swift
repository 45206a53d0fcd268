import Dispatch
import Foundation

/// Pre-emption: SIGTERM or SIGUSR1 (Slurm's `--signal`, forwarded by `mpirun` for USR1) sets a
/// flag that the training loop reads at each iteration boundary; the ranks then agree, write a
/// checkpoint and exit 0. The signals are handled on a dispatch queue, not in a signal handler.
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requested: String?
    private var sources: [DispatchSourceSignal] = []

    /// Installs the handlers for `signals`.
    public init(signals: [Int32] = [SIGTERM, SIGUSR1]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.request(number == SIGTERM ? "SIGTERM" : number == SIGUSR1 ? "SIGUSR1" : "signal \(number)") }
            source.resume()
            sources.append(source)
        }
    }

    deinit { sources.forEach { $0.cancel() } }

    /// Asks the loop to stop (also used by tests).
    public func request(_ reason: String) { lock.withLock { if requested == nil { requested = reason } } }

    /// The reason a stop was requested, or nil.
    public var reason: String? { lock.withLock { requested } }
}
