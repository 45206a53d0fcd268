import Foundation

/// A one-line progress bar on standard error (`[=====>    ] 120/500  34.2 it/s  ETA 0:11`),
/// redrawn at most ten times a second; prints plain lines when stderr is not a terminal.
public final class ProgressBar {
    public let total: Int
    public let label: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let interactive = isatty(STDERR_FILENO) == 1

    public init(total: Int, label: String) {
        self.total = total
        self.label = label
    }

    /// Reports `done` of `total` items.
    public func update(_ done: Int) {
        let now = Date()
        guard done == total || now.timeIntervalSince(lastDraw) >= (interactive ? 0.1 : 10) else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let width = 30, filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "")
        let line = "\(label) [\(bar)] \(done)/\(total)  \(String(format: "%.1f", rate)) it/s  ETA \(formatDuration(remaining))"
        FileHandle.standardError.write(Data(((interactive ? "\r" : "") + line + (interactive && done < total ? "" : "\n")).utf8))
    }
}

/// `h:mm:ss` (or `m:ss` under an hour).
public func formatDuration(_ seconds: Double) -> String {
    let s = max(0, Int(seconds.rounded()))
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}

/// Writes `message` and a newline to standard error.
public func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
