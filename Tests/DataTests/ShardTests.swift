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

    /// Every byte of every index dataset, flipped three ways (1,080 files): opening either refuses
    /// the shard with an error naming it, or every damaged sample throws when read — never a trap,
    /// never a silently different sample. Opened tolerantly, `verify` reports the damage.
    @Test func flippedIndexBytesAreNamedErrors() throws {
        let folder = TemporaryFolder()
        let original = samples(classCount: 20)
        let path = try pack(original, classes: (0..<20).map { "c\($0)" }, shards: 1, into: folder)[0]
        let pristine = [UInt8](FileManager.default.contents(atPath: path)!)
        let index = try HDF5File(path: path, mode: .read)
        let datasets: [(String, [UInt8])] = [
            ("image_offsets", try index.read("image_offsets", as: Int64.self).values.withUnsafeBytes { Array($0) }),
            ("heights", try index.read("heights", as: Int32.self).values.withUnsafeBytes { Array($0) }),
            ("widths", try index.read("widths", as: Int32.self).values.withUnsafeBytes { Array($0) }),
            ("image_crc32", try index.read("image_crc32", as: Int64.self).values.withUnsafeBytes { Array($0) }),
            ("label_crc32", try index.read("label_crc32", as: Int64.self).values.withUnsafeBytes { Array($0) }),
        ]
        try index.close()
        var refused = 0, damagedSamples = 0
        for (name, bytes) in datasets {
            let offset = try #require((0...(pristine.count - bytes.count)).first { Array(pristine[$0..<($0 + bytes.count)]) == bytes }, "\(name)")
            for byte in bytes.indices {
                for mask: UInt8 in [0x01, 0x80, 0xFF] {
                    var mutated = pristine
                    mutated[offset + byte] ^= mask
                    writeFile(path, Data(mutated))
                    do {
                        let set = try ShardSet(paths: [path])
                        let failures = (0..<set.count).filter { k in
                            guard let sample = try? set.sample(at: k) else { return true }
                            #expect(sample == original[k], "\(name) byte \(byte) ^ \(mask): sample \(k) changed silently")
                            return false
                        }
                        #expect(!failures.isEmpty, "\(name) byte \(byte) ^ \(mask) went unnoticed")
                        damagedSamples += failures.count
                    } catch let error as IOError {
                        #expect(error.description.contains(path), "\(error)")
                        refused += 1
                    }
                    if let tolerant = try? ShardSet(paths: [path], toleratingBadSamples: true) {
                        #expect(!tolerant.verify().isEmpty, "\(name) byte \(byte) ^ \(mask): verify found nothing")
                    }
                }
            }
        }
        #expect(refused > 0 && damagedSamples > 0)
    }

    /// A writer released without `finish()` (an error while packing) leaves no temporary file.
    @Test func unfinishedShardLeavesNoTemporaryFile() throws {
        let folder = TemporaryFolder()
        do {
            let writer = try ShardWriter(path: folder.file("shard-00000-of-00001.h5"), classNames: ["a"])
            try writer.append(samples(classCount: 1)[0])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }
}
