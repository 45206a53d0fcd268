import Foundation
import IO

/// A set of HDF5 shards read as one ``SampleSource`` (samples in shard order), or a subset of
/// them. Only the index is held in memory; each sample is read with two range reads and checked
/// against the CRC-32s recorded at packing time, so damaged bytes are a named error, never a
/// silently different sample.
///
/// The index is validated when a shard opens: dataset lengths agree, every sample's byte range is
/// ordered and inside the images dataset, and every label map's size is positive and within
/// ``ImageLimits``. A shard whose datasets disagree as a whole is an error; a sample whose own
/// index entries are damaged is an error too, unless the set is opened with `toleratingBadSamples`,
/// which keeps such samples as bad ones whose ``sample(at:)`` throws (the training loader's
/// `data.skip_bad_samples` then skips them with a warning, and ``verify(progress:)`` reports them).
public final class ShardSet: SampleSource, @unchecked Sendable {
    struct Shard {
        let path: String
        let file: HDF5File
        let imageOffsets: [Int64]
        let labelOffsets: [Int64]
        let heights: [Int32], widths: [Int32]
        let names: [String]
        let imageChecksums: [Int64], labelChecksums: [Int64]
        let labelBits: Int
        /// Samples whose index entries are damaged, with the problem.
        let damaged: [Int: String]
        var count: Int { names.count }
    }

    public let paths: [String]
    public let classNames: [String]
    private let shards: [Shard]
    /// (shard, index in shard) of every sample.
    private let locations: [(shard: Int, index: Int)]

    /// Opens the shards at `paths` (all must have the same class list). A missing, empty,
    /// truncated or inconsistent shard is an error naming it; so is a damaged sample index entry
    /// unless `toleratingBadSamples`.
    public init(paths: [String], toleratingBadSamples: Bool = false) throws {
        guard !paths.isEmpty else { throw IOError("shard set", "no shard files given") }
        self.paths = paths
        var shards = [Shard](), classNames: [String]? = nil
        for path in paths {
            let (shard, names) = try Self.open(path)
            if !toleratingBadSamples, let (index, problem) = shard.damaged.min(by: { $0.key < $1.key }) {
                throw IOError(path, "sample \(index): \(problem)\(shard.damaged.count > 1 ? " (and \(shard.damaged.count - 1) more damaged sample(s))" : "")")
            }
            if let classNames, classNames != names {
                throw IOError(path, "its class list (\(names.count) classes) differs from the first shard's (\(classNames.count))")
            }
            classNames = names
            shards.append(shard)
        }
        self.shards = shards
        self.classNames = classNames!
        locations = shards.enumerated().flatMap { s, shard in (0..<shard.count).map { (s, $0) } }
    }

    /// The shard files of a prepared folder (`shard-*-of-*.h5`, sorted).
    public static func paths(in folder: String) throws -> [String] {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw IOError(folder, "the shard folder does not exist or cannot be read")
        }
        let shards = files.filter { $0.hasPrefix("shard-") && $0.hasSuffix(".h5") }.sorted()
        guard !shards.isEmpty else { throw IOError(folder, "no shard-*.h5 files") }
        return shards.map { (folder as NSString).appendingPathComponent($0) }
    }

    public var count: Int { locations.count }

    public func location(of index: Int) -> String {
        let (s, i) = locations[index]
        return "\(paths[s]) (sample \(i))"
    }

    public func sample(at index: Int) throws -> SegmentationSample {
        let (s, i) = locations[index]
        let shard = shards[s]
        let (image, storedLabels) = try storedBytes(shard, i)
        if let problem = checksumProblem(shard, i, image: image, labels: storedLabels) { throw IOError(location(of: index), problem) }
        var labels = Raster<UInt16>(width: Int(shard.widths[i]), height: Int(shard.heights[i]), channels: 1)
        if shard.labelBits == 8 {
            for k in storedLabels.indices { labels.samples[k] = storedLabels[k] == 255 ? ignoreLabel : UInt16(storedLabels[k]) }
        } else {
            labels.samples.withUnsafeMutableBytes { $0.copyBytes(from: storedLabels) }
        }
        try SegmentationSample.checkRange(labels, classCount: classNames.count, context: location(of: index))
        return SegmentationSample(name: shard.names[i], imageBytes: image, labels: labels)
    }

    /// Re-reads every sample and compares its image and label bytes, as stored, with the CRC-32
    /// recorded at packing time; returns one message per damaged sample (empty when the set is intact).
    public func verify(progress: (Int) -> Void = { _ in }) -> [String] {
        var problems = [String]()
        for index in 0..<count {
            let (s, i) = locations[index]
            let shard = shards[s]
            do {
                let (image, labels) = try storedBytes(shard, i)
                if let problem = checksumProblem(shard, i, image: image, labels: labels) { problems.append("\(location(of: index)): \(problem)") }
            } catch {
                problems.append("\(error)")
            }
            progress(index + 1)
        }
        return problems
    }

    /// What is wrong with sample `i`'s stored bytes (CRC-32 mismatch), or nil.
    private func checksumProblem(_ shard: Shard, _ i: Int, image: [UInt8], labels: [UInt8]) -> String? {
        if Int64(image.withUnsafeBytes { crc32($0) }) != shard.imageChecksums[i] { return "\(shard.names[i]): image bytes do not match their CRC-32" }
        if Int64(labels.withUnsafeBytes { crc32($0) }) != shard.labelChecksums[i] { return "\(shard.names[i]): label bytes do not match their CRC-32" }
        return nil
    }

    /// Sample `i` of `shard` as stored: the encoded image and the label values' bytes (uint8, or
    /// uint16 in host order). A sample with a damaged index entry throws its problem.
    private func storedBytes(_ shard: Shard, _ i: Int) throws -> (image: [UInt8], labels: [UInt8]) {
        if let problem = shard.damaged[i] { throw IOError("\(shard.path) (sample \(i))", problem) }
        let imageRange = Int(shard.imageOffsets[i])..<Int(shard.imageOffsets[i + 1])
        var image = [UInt8](repeating: 0, count: imageRange.count)
        try image.withUnsafeMutableBufferPointer { try shard.file.read("images", range: imageRange, into: $0) }
        let labelRange = Int(shard.labelOffsets[i])..<Int(shard.labelOffsets[i + 1])
        if shard.labelBits == 8 {
            var labels = [UInt8](repeating: 0, count: labelRange.count)
            try labels.withUnsafeMutableBufferPointer { try shard.file.read("labels", range: labelRange, into: $0) }
            return (image, labels)
        }
        var labels = [UInt16](repeating: 0, count: labelRange.count)
        try labels.withUnsafeMutableBufferPointer { try shard.file.read("labels", range: labelRange, into: $0) }
        return (image, labels.withUnsafeBytes { Array($0) })
    }

    private static func open(_ path: String) throws -> (Shard, [String]) {
        guard FileManager.default.fileExists(atPath: path) else { throw IOError(path, "the shard file does not exist") }
        let file: HDF5File
        do { file = try HDF5File(path: path, mode: .read) } catch {
            throw IOError(path, "not a readable HDF5 shard (empty or truncated?): \(error)")
        }
        guard try file.attribute("format") == ShardFormat.version else {
            throw IOError(path, "not an \(ShardFormat.version) shard (attribute `format` is \(String(describing: try file.attribute("format"))))")
        }
        let classNames = (try file.attribute("class_names") ?? "").split(separator: "\n").map(String.init)
        let labelBits = Int(try file.attribute("label_bits") ?? "") ?? 0
        guard labelBits == 8 || labelBits == 16 else { throw IOError(path, "attribute label_bits must be 8 or 16") }
        let imageOffsets = try file.read("image_offsets", as: Int64.self).values
        let heights = try file.read("heights", as: Int32.self).values, widths = try file.read("widths", as: Int32.self).values
        let names = try file.readByteArrays("names").map { String(decoding: $0, as: UTF8.self) }
        let imageChecksums = try file.read("image_crc32", as: Int64.self).values
        let labelChecksums = try file.read("label_crc32", as: Int64.self).values
        let n = names.count
        guard imageOffsets.count == n + 1, heights.count == n, widths.count == n, imageChecksums.count == n, labelChecksums.count == n else {
            throw IOError(path, "inconsistent index: \(n) names, \(imageOffsets.count) image offsets, \(heights.count) heights, \(widths.count) widths, \(imageChecksums.count)/\(labelChecksums.count) checksums")
        }
        let imageBytes = try file.shape(of: "images"), labelShape = try file.shape(of: "labels")
        guard imageBytes.count == 1, labelShape.count == 1 else { throw IOError(path, "the images and labels datasets must be one-dimensional") }
        guard imageOffsets.first == 0, imageOffsets.last == Int64(imageBytes[0]) else {
            throw IOError(path, "image_offsets runs from \(imageOffsets.first ?? -1) to \(imageOffsets.last ?? -1); the images dataset holds \(imageBytes[0]) bytes")
        }
        var damaged = [Int: String]()
        var labelOffsets: [Int64] = [0]
        for k in 0..<n {
            let (begin, end) = (imageOffsets[k], imageOffsets[k + 1])
            let (height, width) = (Int(heights[k]), Int(widths[k]))
            if !(0...Int64(imageBytes[0])).contains(begin) || !(begin...Int64(imageBytes[0])).contains(end) {
                damaged[k] = "image_offsets [\(begin), \(end)] are not an ordered range inside the \(imageBytes[0]) image bytes"
            }
            do { try ImageLimits.default.check(width: width, height: height, format: "label map") } catch let error as IOError {
                damaged[k] = "heights/widths: \(error.message)"
            }
            labelOffsets.append(labelOffsets[k] + Int64(max(height, 0)) * Int64(max(width, 0)))
        }
        guard labelOffsets[n] == Int64(labelShape[0]) else {
            throw IOError(path, "inconsistent index: heights × widths add up to \(labelOffsets[n]) label values, the labels dataset holds \(labelShape[0])")
        }
        for k in 0..<n where !(0...Int64(UInt32.max)).contains(imageChecksums[k]) || !(0...Int64(UInt32.max)).contains(labelChecksums[k]) {
            damaged[k] = "image_crc32/label_crc32 hold values that are not CRC-32s"
        }
        return (Shard(path: path, file: file, imageOffsets: imageOffsets, labelOffsets: labelOffsets, heights: heights, widths: widths,
                      names: names, imageChecksums: imageChecksums, labelChecksums: labelChecksums, labelBits: labelBits,
                      damaged: damaged), classNames)
    }
}
