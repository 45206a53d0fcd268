import ArgumentParser
import Foundation

/// The command-line contract every `fgaseg-*` tool follows:
/// - one error style: `TOOL: error: MESSAGE` (under MPI, `TOOL [rank R/N on HOST]: error: …`) on
///   standard error, warnings as `TOOL: warning: …`;
/// - one table of exit codes (``ToolExitCode``);
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

/// The exit codes of every `fgaseg-*` tool (the README's tool table lists them).
public enum ToolExitCode {
    /// Done; also a training run stopped by a signal after writing its checkpoint.
    public static let success: Int32 = 0
    /// A failure: unreadable or invalid input, a file that could not be written, a diverged run, or
    /// (fgaseg-segment, fgaseg-prepare) at least one image or sample that failed.
    public static let failure: Int32 = 1
    /// A collective did not finish in time (the watchdog ended the job, naming the missing ranks).
    public static let watchdog: Int32 = 3
    /// Bad command-line usage or configuration values (BSD `EX_USAGE`).
    public static let usage: Int32 = 64
    /// A second SIGINT: ended at once, without a checkpoint (128 + SIGINT).
    public static let interrupted: Int32 = 130
}

/// The running tool's name (`fgaseg-train`, …).
public var toolName: String { ProcessInfo.processInfo.processName }

/// Writes `TOOL: error: MESSAGE` to standard error.
public func printToolError(_ message: String) { printError("\(toolName): error: \(message)") }

/// Writes `TOOL: warning: MESSAGE` to standard error.
public func printToolWarning(_ message: String) { printError("\(toolName): warning: \(message)") }
