import Foundation

/// A fresh folder under the system temporary folder (created), named `fgaseg-<name>-<UUID>` and
/// removed, with everything in it, when the test process exits.
public func scratchFolder(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "fgaseg-\(name)-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    ScratchFolders.register(path)
    return path
}

/// The folders ``scratchFolder(_:)`` created, removed by an exit handler installed with the first.
private enum ScratchFolders {
    private static let state = NSLock()
    nonisolated(unsafe) private static var paths: [String] = []
    nonisolated(unsafe) private static var handlerInstalled = false

    static func register(_ path: String) {
        state.lock()
        defer { state.unlock() }
        paths.append(path)
        if !handlerInstalled {
            handlerInstalled = true
            atexit { ScratchFolders.removeAll() }
        }
    }

    private static func removeAll() {
        state.lock()
        defer { state.unlock() }
        for path in paths { try? FileManager.default.removeItem(atPath: path) }
        paths.removeAll()
    }
}
