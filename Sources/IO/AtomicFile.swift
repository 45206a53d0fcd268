import Foundation

/// Crash-safe file replacement: write a temporary file beside the target, flush it to disk,
/// rename it over the target and flush the directory, so a reader (or a crash at any moment)
/// sees either the complete old file or the complete new one.
public enum AtomicFile {
    /// The temporary path used while `path` is being written (same folder, so rename is atomic).
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
    }

    /// Removes the temporary files in `folder` that a killed writer left behind (`temporaryPath`'s
    /// pattern, whose process no longer runs on this host) and returns their names. Temporaries of
    /// live processes, such as another writer on this host, are kept.
    public static func removeAbandonedTemporaries(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { name in
            guard name.hasPrefix("."), let marker = name.range(of: ".tmp-", options: .backwards),
                  let pid = pid_t(name[marker.upperBound...]), pid > 0 else { return false }
            let running = kill(pid, 0) == 0 || errno == EPERM
            return !running && unlink(folder + "/" + name) == 0
        }
    }

    /// fsyncs `temporary`, renames it to `path` and fsyncs the containing folder.
    public static func commit(temporary: String, to path: String) throws {
        try sync(temporary)
        guard rename(temporary, path) == 0 else {
            throw IOError(path, "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))")
        }
        try sync(URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = temporaryPath(for: path)
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
            throw IOError(temporary, "cannot create the file: \(String(cString: strerror(errno)))")
        }
        try commit(temporary: temporary, to: path)
    }

    /// Runs `body` with a temporary path, then commits it to `path`; on error the temporary file
    /// is removed and the old `path` is untouched.
    public static func write(to path: String, _ body: (String) throws -> Void) throws {
        let temporary = temporaryPath(for: path)
        do {
            try body(temporary)
            try commit(temporary: temporary, to: path)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    private static func sync(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw IOError(path, "cannot open for fsync: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw IOError(path, "fsync failed: \(String(cString: strerror(errno)))") }
    }
}
