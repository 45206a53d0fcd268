import Data
import Foundation
import IO
import NN
import Tensor
import TestSupport
import Testing
import Training
@testable import Inference

/// Every file format the tools read, fed seeded mutations of valid files (see ``FuzzRun``). Each
/// input must end in a value or a clean error within the deadline, and the process's peak memory
/// stays below ``memoryBudget``; images are decoded with a 4-MPix budget, so a header that claims
/// more is refused before anything is allocated.
@Suite(.serialized) struct FormatFuzzTests {
    static let memoryBudget = 1 << 30
    static let imageLimits = ImageLimits(maxPixels: 1 << 22)
    static let configsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Configs").standardized.path

    /// A small image with structure in every channel.
    static func pattern(width: Int, height: Int, channels: Int) -> Raster<UInt8> {
        var image = Raster<UInt8>(width: width, height: height, channels: channels)
        for y in 0..<height { for x in 0..<width { for c in 0..<channels {
            let value: Int = x * (7 + c) + y * (5 - c) + (x ^ y) * c
            image[y, x, c] = UInt8(truncatingIfNeeded: value)
        } } }
        return image
    }

    static func labels(width: Int, height: Int, classes: Int) -> Raster<UInt16> {
        Raster(width: width, height: height, channels: 1,
               samples: (0..<(width * height)).map { $0 % 11 == 0 ? ignoreLabel : UInt16($0 * 13 % classes) })
    }

    /// A fresh folder for files the parsers read by path (removed when the tests end).
    static func scratchFolder(_ name: String) -> String { TestSupport.scratchFolder("fuzz-" + name) }

    static func check(_ summary: FuzzRun.Summary) {
        #expect(summary.inputs == FuzzRun.count)
        #expect(summary.peakResidentBytes < memoryBudget, "\(summary)")
    }

    @Test func png() throws {
        let palette: [(UInt8, UInt8, UInt8)] = (0..<16).map { (i: Int) in (UInt8(i * 16), UInt8(255 - i * 16), UInt8(i * 5)) }
        let indexed = Raster<UInt8>(width: 19, height: 11, channels: 1, samples: (0..<209).map { (i: Int) in UInt8(i % 16) })
        let seeds = [try PNG.encode(Self.pattern(width: 37, height: 23, channels: 3)),
                     try PNG.encode(Self.pattern(width: 16, height: 9, channels: 4)),
                     try PNG.encode(Self.pattern(width: 21, height: 13, channels: 1)),
                     try PNG.encode(indexed, palette: palette)]
        Self.check(FuzzRun.run(format: "png", seeds: seeds, repair: Self.recomputingChunkCRCs) {
            _ = try decodeRGBImage($0, limits: Self.imageLimits)
        })
    }

    /// `png` with the CRC of every chunk that still lies inside the file recomputed.
    static func recomputingChunkCRCs(_ png: [UInt8]) -> [UInt8] {
        var bytes = png, offset = 8
        while offset + 12 <= bytes.count {
            let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            let end = offset + 8 + length
            guard end + 4 <= bytes.count else { break }
            let crc = bytes[(offset + 4)..<end].withUnsafeBytes { crc32($0) }
            for k in 0..<4 { bytes[end + k] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(k))) }
            offset = end + 4
        }
        return bytes
    }

    @Test func jpeg() throws {
        let seeds = [try JPEG.encode(Self.pattern(width: 40, height: 30, channels: 3), quality: 90),
                     try JPEG.encode(Self.pattern(width: 17, height: 33, channels: 1), quality: 75)]
        Self.check(FuzzRun.run(format: "jpeg", seeds: seeds) { _ = try decodeRGBImage($0, limits: Self.imageLimits) })
    }

    @Test func tiff() throws {
        let folder = Self.scratchFolder("tiff")
        let seeds = try [(16, 171), (8, 20)].map { bits, classes in
            let path = "\(folder)/seed-\(bits).tif"
            try TIFF.writeLabels(Self.labels(width: 23, height: 17, classes: classes), path: path, bitsPerSample: bits)
            return [UInt8](FileManager.default.contents(atPath: path)!)
        }
        let path = "\(folder)/input.tif"
        Self.check(FuzzRun.run(format: "tiff", seeds: seeds) { input in
            try Data(input).write(to: URL(fileURLWithPath: path))
            _ = try TIFF.readLabels(path: path, limits: Self.imageLimits)
        })
    }

    @Test func yamlConfig() throws {
        let seeds = try ["demo.yaml", "fgaseg_vitb16_coco-stuff.yaml"].map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(Self.configsFolder)/\($0)"))) }
        let tokens = ["&a [*a, *a, *a, *a]", "*a", "<<: *a", "{", "[", "\n- ", ": ", "\n  ", "!!binary ", "!!python/object ",
                      ".nan", ".inf", "-1", "0", "3.7", "1e400", "99999999999999999999999", "'", "\"", "# ", "\t", "~", "? "]
            .map { Array($0.utf8) }
        let folder = Self.scratchFolder("yaml")
        let path = "\(folder)/config.yaml"
        let printable = { (input: [UInt8]) in input.map { $0 >= 0x80 || ($0 < 0x20 && $0 != 0x0A) ? UInt8(ascii: " ") : $0 } }
        Self.check(FuzzRun.run(format: "yaml", seeds: seeds, tokens: tokens, repair: printable) { input in
            try Data(input).write(to: URL(fileURLWithPath: path))
            _ = try ConfigurationLoader.load(path: path)
        })
    }

    @Test func shard() throws {
        let folder = Self.scratchFolder("shard")
        let seedPath = "\(folder)/seed.h5"
        let writer = try ShardWriter(path: seedPath, classNames: (0..<20).map { "class \($0)" })
        for i in 0..<3 {
            let (w, h) = (9 + i, 7 + i)
            try writer.append(SegmentationSample(name: "s\(i).png", imageBytes: try PNG.encode(Self.pattern(width: w, height: h, channels: 3)),
                                                 labels: Self.labels(width: w, height: h, classes: 20)))
        }
        try writer.finish()
        let path = "\(folder)/input.h5"
        Self.check(FuzzRun.run(format: "shard", seeds: [[UInt8](FileManager.default.contents(atPath: seedPath)!)]) { input in
            try Data(input).write(to: URL(fileURLWithPath: path))
            let set = try ShardSet(paths: [path])
            for i in 0..<set.count { _ = try set.sample(at: i).decoded(classCount: set.classNames.count, context: set.location(of: i)) }
        })
    }

    @Test func checkpoint() throws {
        var generator = RandomGenerator(seed: 7)
        let model = Linear(24, 8, generator: &generator)
        let optimizer = AdamW(FlatParameters(model)) { _ in AdamW.Group(weightDecay: 0.01) }
        optimizer.firstMoment.pointer.update(repeating: 0.5, count: optimizer.firstMoment.count)
        let folder = Self.scratchFolder("checkpoint")
        let state = CheckpointState(iteration: 5, optimizerStep: 5, skippedSteps: 0, worldSize: 2, configuration: "seed: 1\n")
        let seedPath = try Checkpoint.save(model: model, optimizer: optimizer, state: state, folder: folder, keep: 0)
        let path = "\(folder)/input.h5"
        Self.check(FuzzRun.run(format: "checkpoint", seeds: [[UInt8](FileManager.default.contents(atPath: seedPath)!)]) { input in
            try Data(input).write(to: URL(fileURLWithPath: path))
            try Checkpoint.verify(path)
            _ = try Checkpoint.restore(model, optimizer: optimizer, from: path)
        })
    }

    @Test func safetensors() throws {
        let folder = Self.scratchFolder("safetensors")
        let seedPath = "\(folder)/seed.safetensors"
        try Safetensors.write(["visual.proj": Tensor((0..<48).map { Float($0) / 7 }, shape: [6, 8]),
                               "logit_scale": Tensor(scalar: 4.6), "text.bias": Tensor([1, -2, 3], shape: [3])],
                              metadata: ["format": "pt"], to: seedPath)
        Self.check(FuzzRun.run(format: "safetensors", seeds: [[UInt8](FileManager.default.contents(atPath: seedPath)!)]) { input in
            _ = try input.withUnsafeBytes { try Safetensors.parse($0) }
        })
    }

    /// PyTorch checkpoints: the fixture of IOTests (every dtype, views, detectron2 nesting),
    /// mutated as a whole (every other input with its ZIP CRC-32s recomputed) and, for the other
    /// half of the inputs, with only `data.pkl` mutated inside an archive rebuilt around it, so
    /// that mutations reach the unpickler and the tensor reader.
    @Test func pyTorchCheckpoint() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../IOTests/Fixtures/state.pth").standardized.path
        let archive = try ZipArchive(MappedFile(path: fixture))
        let entries = try archive.entries.values.sorted { $0.dataOffset < $1.dataOffset }.map { ($0.name, [UInt8](try archive.contents(of: $0))) }
        let pickle = try #require(entries.first { $0.0.hasSuffix("/data.pkl") })
        let tokens = ["cos\nsystem\n", "ctorch._utils\n_rebuild_tensor_v2\n", "(", "t", "R", "b", "q\u{0}", "h\u{0}", "}", "]", "a", "e",
                      "\u{8a}\u{8}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{7f}", "\u{ff}\u{ff}\u{ff}\u{ff}"].map { Array($0.utf8) }
        let folder = Self.scratchFolder("pth")
        let path = "\(folder)/input.pth"
        let read = { (input: [UInt8]) throws in
            try Data(input).write(to: URL(fileURLWithPath: path))
            let checkpoint = try PyTorchCheckpoint(path: path)
            for name in checkpoint.tensors.keys.sorted() where checkpoint.tensors[name]!.storage.dtype != .int64 {
                _ = try checkpoint.tensor(name)
            }
        }
        Self.check(FuzzRun.run(format: "pth", seeds: [[UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture)))], tokens: tokens,
                               repair: Self.recomputingZipCRCs, parse: read))
        Self.check(FuzzRun.run(format: "pth-pickle", seeds: [pickle.1], tokens: tokens) { mutated in
            try read(Self.storedZip(entries.map { $0.0 == pickle.0 ? ($0.0, mutated) : $0 }))
        })
    }

    /// A ZIP archive of stored entries (what torch.save writes), without ZIP64.
    static func storedZip(_ entries: [(String, [UInt8])]) -> [UInt8] {
        var file: [UInt8] = [], directory: [UInt8] = []
        func le(_ value: Int, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        for (name, data) in entries {
            let crc = Int(data.withUnsafeBytes { crc32($0) }), nameBytes = Array(name.utf8), offset = file.count
            let common = le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(crc, 4) + le(data.count, 4) + le(data.count, 4) + le(nameBytes.count, 2)
            file += le(0x0403_4b50, 4) + common + le(0, 2) + nameBytes + data
            directory += le(0x0201_4b50, 4) + le(20, 2) + common + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(offset, 4) + nameBytes
        }
        let start = file.count
        return file + directory + le(0x0605_4b50, 4) + le(0, 4) + le(entries.count, 2) + le(entries.count, 2) + le(directory.count, 4) + le(start, 4) + le(0, 2)
    }

    /// `zip` with the CRC-32 of every entry that the central directory still describes inside
    /// the file recomputed, in the central directory and in the local header.
    static func recomputingZipCRCs(_ zip: [UInt8]) -> [UInt8] {
        var bytes = zip
        func u16(_ at: Int) -> Int { at + 2 <= bytes.count ? Int(bytes[at]) | Int(bytes[at + 1]) << 8 : -1 }
        func u32(_ at: Int) -> Int { at + 4 <= bytes.count ? u16(at) | u16(at + 2) << 16 : -1 }
        func put32(_ value: UInt32, _ at: Int) { for k in 0..<4 where at + k < bytes.count { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(k))) } }
        guard let end = stride(from: bytes.count - 22, through: max(0, bytes.count - 22 - 65_535), by: -1).first(where: { u32($0) == 0x0605_4b50 }) else { return bytes }
        var offset = u32(end + 16)
        for _ in 0..<max(0, u16(end + 10)) {
            guard offset >= 0, u32(offset) == 0x0201_4b50 else { break }
            let size = u32(offset + 24), local = u32(offset + 42)
            let (nameLength, extraLength, commentLength) = (u16(offset + 28), u16(offset + 30), u16(offset + 32))
            if local >= 0, u32(local) == 0x0403_4b50 {
                let data = local + 30 + u16(local + 26) + u16(local + 28)
                if size >= 0, data >= 0, data + size <= bytes.count {
                    let crc = bytes[data..<(data + size)].withUnsafeBytes { crc32($0) }
                    put32(crc, offset + 16)
                    put32(crc, local + 14)
                }
            }
            offset += 46 + nameLength + extraLength + commentLength
        }
        return bytes
    }
}
