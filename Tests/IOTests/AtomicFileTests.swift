import Foundation
import IO
import Testing

@Suite struct AtomicFileTests {
    /// A killed writer's temporary file is removed; a live process's temporary and other files
    /// are kept.
    @Test func abandonedTemporariesAreRemovedAndLiveOnesKept() throws {
        let folder = try TemporaryDirectory()
        // No process has a pid above the kernel's largest pid_max (2^22).
        let dead = ".model_0000020.h5.tmp-4194305"
        let live = URL(fileURLWithPath: AtomicFile.temporaryPath(for: folder.file("model_0000030.h5"))).lastPathComponent
        for name in [dead, live, ".hidden", "notes.tmp-12"] {
            #expect(FileManager.default.createFile(atPath: folder.file(name), contents: Data()))
        }
        #expect(AtomicFile.removeAbandonedTemporaries(in: folder.path) == [dead])
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
        #expect(left == [live, ".hidden", "notes.tmp-12"])
    }
}
