import Dispatch
import Distributed
import Foundation

/// Pre-emption and interruption: SIGTERM, SIGINT or SIGUSR1 (Slurm's `--signal`, forwarded by
/// `mpirun`, and what the `Launch/` scripts forward when they are signalled) sets a flag that the
/// training loop reads at each iteration boundary; the ranks then agree, write a checkpoint and
/// exit 0. A second SIGINT ends the process at once (exit 130), as an impatient Ctrl-C expects.
/// The signals are handled on a dispatch queue, not in a signal handler. Under `mpirun`, the
/// launcher's own end-of-job sequence (``LauncherEndOfJob``) counts as a request too.
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var requested: String?
    private var sources: [DispatchSourceSignal] = []

    /// Installs the handlers for `signals`.
    public init(signals: [Int32] = [SIGTERM, SIGINT, SIGUSR1]) {
        LauncherEndOfJob.watch()
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.received(number) }
            source.resume()
            sources.append(source)
        }
    }

    deinit { sources.forEach { $0.cancel() } }

    private func received(_ number: Int32) {
        let name = [SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGUSR1: "SIGUSR1"][number] ?? "signal \(number)"
        if number == SIGINT, reason == "SIGINT" {
            FileHandle.standardError.write(Data("second SIGINT: exiting without a checkpoint\n".utf8))
            exit(130)
        }
        request(name)
    }

    /// Asks the loop to stop (also used by tests).
    public func request(_ reason: String) { lock.withLock { if requested == nil { requested = reason } } }

    /// The reason a stop was requested, or nil.
    public var reason: String? {
        lock.withLock { requested } ?? (LauncherEndOfJob.started ? "mpirun ending the job (it was sent SIGTERM or SIGINT)" : nil)
    }
}
