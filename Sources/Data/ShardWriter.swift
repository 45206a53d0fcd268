import Foundation
import IO

/// The HDF5 shard format (one file per shard; `fgaseg-prepare` writes them):
/// - `images` uint8 [Σ bytes]: the encoded images back to back, as stored on disk;
///   `image_offsets` int64 [N + 1] delimits them;
/// - `labels` uint8 or uint16 [Σ H·W]: the mapped label maps back to back (ignore stored as
///   255 in uint8 shards, 65535 in uint16 shards); `heights`, `widths` int32 [N] give their sizes;
/// - `names` variable-length bytes [N]: file names; `image_crc32`, `label_crc32` int64 [N]:
///   CRC-32 of each image's bytes and label bytes (checked by `--verify`);
/// - root attributes `format` (= ``ShardFormat/version``), `class_names` (newline-separated),
///   `label_bits` (8 or 16).
public enum ShardFormat {
    public static let version = "fgaseg-shard-1"

    /// The shard file names of a set of `count` shards: `shard-00000-of-00008.h5`, …
    public static func fileName(index: Int, count: Int) -> String {
        String(format: "shard-%05d-of-%05d.h5", index, count)
    }
}

/// Streams samples into one HDF5 shard; the file appears under its final name only when
/// ``finish()`` succeeds (written to a temporary file, then renamed). A writer released without
/// finishing (an error while packing) removes its temporary file.
public final class ShardWriter {
    public let path: String
    private let temporary: String
    private var finished = false
    private let file: HDF5File
    private let labelBits: Int
    private var imageOffsets: [Int64] = [0]
    private var heights: [Int32] = [], widths: [Int32] = []
    private var names: [[UInt8]] = []
    private var imageChecksums: [Int64] = [], labelChecksums: [Int64] = []
    private var labelScratch8: [UInt8] = []

    /// Starts a shard for a dataset with `classNames`; labels are stored as uint8 when every class
    /// id fits below 255, else uint16.
    public init(path: String, classNames: [String]) throws {
        self.path = path
        temporary = AtomicFile.temporaryPath(for: path)
        file = try HDF5File(path: temporary, mode: .create)
        labelBits = classNames.count < 255 ? 8 : 16
        try file.createAppendable("images", of: UInt8.self)
        if labelBits == 8 { try file.createAppendable("labels", of: UInt8.self) } else { try file.createAppendable("labels", of: UInt16.self) }
        try file.setAttribute("format", ShardFormat.version)
        try file.setAttribute("class_names", classNames.joined(separator: "\n"))
        try file.setAttribute("label_bits", String(labelBits))
    }

    /// Number of samples written so far.
    public var count: Int { names.count }

    /// Appends one sample (its labels already mapped and validated).
    public func append(_ sample: SegmentationSample) throws {
        try sample.imageBytes.withUnsafeBufferPointer { try file.append("images", $0) }
        imageOffsets.append(imageOffsets.last! + Int64(sample.imageBytes.count))
        let labelChecksum: UInt32
        if labelBits == 8 {
            labelScratch8 = sample.labels.samples.map { $0 == ignoreLabel ? 255 : UInt8($0) }
            labelChecksum = labelScratch8.withUnsafeBytes { crc32($0) }
            try labelScratch8.withUnsafeBufferPointer { try file.append("labels", $0) }
        } else {
            labelChecksum = sample.labels.samples.withUnsafeBytes { crc32($0) }
            try sample.labels.samples.withUnsafeBufferPointer { try file.append("labels", $0) }
        }
        heights.append(Int32(sample.labels.height))
        widths.append(Int32(sample.labels.width))
        names.append(Array(sample.name.utf8))
        imageChecksums.append(Int64(sample.imageBytes.withUnsafeBytes { crc32($0) }))
        labelChecksums.append(Int64(labelChecksum))
    }

    /// Writes the index, closes the file and moves it into place.
    public func finish() throws {
        do {
            try file.write("image_offsets", imageOffsets, shape: [imageOffsets.count])
            try file.write("heights", heights, shape: [heights.count])
            try file.write("widths", widths, shape: [widths.count])
            try file.writeByteArrays("names", names)
            try file.write("image_crc32", imageChecksums, shape: [imageChecksums.count])
            try file.write("label_crc32", labelChecksums, shape: [labelChecksums.count])
            try file.close()
            try AtomicFile.commit(temporary: temporary, to: path)
            finished = true
        } catch {
            unlink(temporary)
            throw error
        }
    }

    deinit {
        if !finished {
            try? file.close()
            unlink(temporary)
        }
    }
}
