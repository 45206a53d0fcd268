import Foundation
import IO
import Testing
@testable import Data

@Suite struct ShardTests {
    /// Samples with labels of `classCount` classes (uint8 or uint16 storage).
    func samples(classCount: Int) -> [SegmentationSample] {
        (0..<7).map { i in
            let (w, h) = (6 + i, 5 + i % 3)
            let labels = (0..<(w * h)).map { p in p % 5 == 0 ? ignoreLabel : UInt16((p * 37 + i) % classCount) }
            let image = try! PNG.encode(patternImage(width: w, height: h, seed: i))
            return SegmentationSample(name: "s\(i).png", imageBytes: image, labels: Raster(width: w, height: h, channels: 1, samples: labels))
        }
    }

    func pack(_ samples: [SegmentationSample], classes: [String], shards: Int, into folder: TemporaryFolder) throws -> [String] {
        let writers = try (0..<shards).map { try ShardWriter(path: folder.file(ShardFormat.fileName(index: $0, count: shards)), classNames: classes) }
        for (i, sample) in samples.enumerated() { try writers[i % shards].append(sample) }
        for writer in writers { try writer.finish() }
        return try ShardSet.paths(in: folder.path)
    }

    @Test(arguments: [20, 847]) func roundTripKeepsEverySample(classCount: Int) throws {
        let folder = TemporaryFolder()
        let classes = (0..<classCount).map { "class \($0)" }
        let original = samples(classCount: classCount)
        let paths = try pack(original, classes: classes, shards: 3, into: folder)
        #expect(paths.count == 3)
        let set = try ShardSet(paths: paths)
        #expect(set.count == original.count && set.classNames == classes)
        // Shard s holds samples s, s + 3, …; the set lists shard by shard.
        let order = (0..<3).flatMap { s in stride(from: s, to: original.count, by: 3) }
        for (k, i) in order.enumerated() { #expect(try set.sample(at: k) == original[i], "sample \(i)") }
        #expect(set.verify().isEmpty)
    }

    @Test func verifyDetectsACorruptedByte() throws {
        let folder = TemporaryFolder()
        let paths = try pack(samples(classCount: 20), classes: (0..<20).map { "c\($0)" }, shards: 1, into: folder)
        let set = try ShardSet(paths: paths)
        // Corrupt one byte of the first sample's image bytes in place (found by content).
        var file = [UInt8](FileManager.default.contents(atPath: paths[0])!)
        let needle = Array(try set.sample(at: 0).imageBytes.suffix(24))
        let offset = (0...(file.count - needle.count)).first { Array(file[$0..<($0 + needle.count)]) == needle }!
        file[offset + 3] ^= 0x5A
        writeFile(paths[0], Data(file))
        let problems = try ShardSet(paths: paths).verify()
        #expect(problems.count == 1)
        #expect(problems.first?.contains("sample 0") == true && problems.first?.contains("image bytes") == true, "\(problems)")
    }

    @Test func emptyOrTruncatedShardsAreNamedErrors() throws {
        let folder = TemporaryFolder()
        let paths = try pack(samples(classCount: 20), classes: (0..<20).map { "c\($0)" }, shards: 1, into: folder)
        let bytes = FileManager.default.contents(atPath: paths[0])!
        let truncated = folder.file("shard-00000-of-00002.h5"), empty = folder.file("shard-00001-of-00002.h5")
        writeFile(truncated, bytes.prefix(bytes.count / 2))
        writeFile(empty, Data())
        for path in [truncated, empty, folder.file("missing.h5")] {
            do {
                _ = try ShardSet(paths: [path])
                Issue.record("\(path) should not open")
            } catch {
                #expect("\(error)".contains(path), "\(error)")
            }
        }
    }
}
