import Foundation
import IO

/// Appends one JSON object per line to `metrics.jsonl` (rank 0), flushed after every record.
public final class MetricsLog {
    private let handle: FileHandle
    public let path: String

    public init(path: String) throws {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw IOError(path, "cannot create the metrics log") }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw IOError(path, "cannot open the metrics log") }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// Writes `record` (keys sorted) as one line, with `time`: the wall-clock time in seconds
    /// since 1970. JSON has no NaN or infinity: a non-finite number (the loss of a window whose
    /// steps were skipped) is written as `null`.
    public func write(_ record: [String: Any]) throws {
        var record = record
        record["time"] = (Date().timeIntervalSince1970 * 1000).rounded() / 1000
        let valid = record.mapValues { value -> Any in
            if let number = value as? Double, !number.isFinite { return NSNull() }
            if let number = value as? Float, !number.isFinite { return NSNull() }
            return value
        }
        var data = try JSONSerialization.data(withJSONObject: valid, options: [.sortedKeys])
        data.append(0x0A)
        handle.write(data)
    }
}
