import ArgumentParser
import Foundation

/// The command-line contract every `fgaseg-*` tool follows:
/// - one error style: `TOOL: error: MESSAGE` (under MPI, `TOOL [rank R/N on HOST]: error: …`) on
///   standard error, warnings as `TOOL: warning: …`;
/// - one table of exit codes (README, "Tools"): 0 done (also a training run stopped by a signal
///   after its checkpoint), 1 failure (under `mpirun`, any rank's, through `MPI_Abort`), 3 the
///   collective watchdog ended the job, 64 bad usage (ArgumentParser's `EX_USAGE`, also for a
///   `ValidationError` thrown by the command), 130 a second SIGINT;
/// - `--version` (``BuildDescription``) and line-buffered standard output.
public protocol Tool: ParsableCommand {}

extension Tool {
    /// Parses the arguments and runs the command; usage errors (ArgumentParser's, and
    /// `ValidationError`s thrown by the command) exit 64, other errors 1.
    public static func main() {
        useLineBufferedOutput()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Foundation.exit(0)
            }
            // ArgumentParser starts its messages with "Error: "; the tool's own prefix replaces it.
            if !message.isEmpty { printToolError(message.hasPrefix("Error: ") ? String(message.dropFirst("Error: ".count)) : message) }
            Foundation.exit(code.rawValue)
        }
    }
}

/// The running tool's name (`fgaseg-train`, …).
public var toolName: String { ProcessInfo.processInfo.processName }

/// Writes `TOOL: error: MESSAGE` to standard error.
public func printToolError(_ message: String) { printError("\(toolName): error: \(message)") }

/// Writes `TOOL: warning: MESSAGE` to standard error.
public func printToolWarning(_ message: String) { printError("\(toolName): warning: \(message)") }
