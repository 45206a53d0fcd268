import ArgumentParser
import CLISupport
import Data
import Foundation
import IO

@main
struct Prepare: Tool {
    static let configuration = CommandConfiguration(
        commandName: "fgaseg-prepare",
        abstract: "Pack a detectron2-layout dataset split (or the built-in demo scenes) into HDF5 shards, or verify a shard set.",
        discussion: """
        Every sample is decoded and checked while packing (image readable, label map of the same size,
        label values within the class range or ignore). Sample i goes to shard i mod N, so the shards
        are balanced; `fgaseg-train` gives rank r the shards r, r + world size, ….

        Examples:
          fgaseg-prepare --dataset coco-stuff-train --shards 8 --out shards/coco-train
          fgaseg-prepare --demo train --count 400 --out shards/demo-train
          fgaseg-prepare --verify shards/coco-train
        """,
        version: BuildDescription.text)

    @Option(help: "Dataset split to pack: \(DatasetName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var dataset: String?

    @Option(help: "Datasets root in detectron2's layout (default: $DETECTRON2_DATASETS, else ./datasets).")
    var root: String = DatasetName.defaultRoot

    @Option(help: "Pack the demo scenes instead: train or val.")
    var demo: String?

    @Option(help: "Number of demo scenes.")
    var count = 200

    @Option(help: "Number of shards to write.")
    var shards = 1

    @Option(help: "Output folder for the shards.")
    var out: String?

    @Option(help: "With --demo: write the scenes as PNG images (DIR/images) and label maps (DIR/labels) instead of shards.")
    var writeImages: String?

    @Option(help: "Re-check an existing shard folder against the CRC-32 of every sample.")
    var verify: String?

    @Flag(help: "Report and leave out bad samples instead of stopping at the first one.")
    var skipBadSamples = false

    @Option(help: "Decoding threads.")
    var workers = 2

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive, got \(count)") }
        guard shards > 0 else { throw ValidationError("--shards must be positive, got \(shards)") }
        guard (0...256).contains(workers) else { throw ValidationError("--workers must be 0…256, got \(workers)") }
    }

    mutating func run() throws {
        if let verify { return try verifyShards(verify) }
        if let writeImages { return try writeDemoImages(to: writeImages) }
        guard let out else { throw ValidationError("--out is required when packing") }
        guard shards >= 1 else { throw ValidationError("--shards must be ≥ 1") }
        let source: SampleSource
        switch (dataset, demo) {
        case (let name?, nil):
            guard let dataset = DatasetName(rawValue: name) else {
                throw ValidationError("unknown dataset '\(name)'; choose one of \(DatasetName.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            source = try DirectorySource(root: root, dataset: dataset)
        case (nil, let split?):
            guard let split = DemoScenes.Split(commandLineName: split) else { throw ValidationError("--demo takes train or val") }
            source = DemoScenes(split: split, count: count, seed: 0)
        default:
            throw ValidationError("give exactly one of --dataset, --demo or --verify")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let writers = try (0..<shards).map {
            try ShardWriter(path: (out as NSString).appendingPathComponent(ShardFormat.fileName(index: $0, count: shards)), classNames: source.classNames)
        }
        let checked = Prefetcher<Result<SegmentationSample, Error>>(count: source.count, workers: workers, depth: 8) { index in
            Result {
                let sample = try source.sample(at: index)
                _ = try sample.decoded(classCount: source.classNames.count, context: source.location(of: index))
                return sample
            }
        }
        defer { checked.stop() }
        let progress = ProgressBar(total: source.count, label: "packing")
        var bad = [String](), written = 0
        if let directory = source as? DirectorySource {
            bad += directory.unlabeledImages.map { "\(directory.root)/\(directory.layout.imageDirectory)/\($0): the image has no label file" }
        }
        let unlabeled = bad.count
        while let result = try checked.next() {
            switch result {
            case .success(let sample):
                try writers[written % shards].append(sample)
                written += 1
            case .failure(let error):
                guard skipBadSamples else { throw error }
                bad.append("\(error)")
            }
            progress.update(written + bad.count - unlabeled)
        }
        for writer in writers { try writer.finish() }
        print("wrote \(written) samples into \(shards) shard(s) in \(out)")
        if !bad.isEmpty {
            print("left out \(bad.count) bad sample(s):")
            for line in bad { print("  \(line)") }
        }
    }

    private func writeDemoImages(to folder: String) throws {
        guard let split = DemoScenes.Split(commandLineName: demo ?? "") else { throw ValidationError("--write-images needs --demo train or val") }
        let scenes = DemoScenes(split: split, count: count, seed: 0)
        for sub in ["images", "labels"] { try FileManager.default.createDirectory(atPath: folder + "/" + sub, withIntermediateDirectories: true) }
        for index in 0..<count {
            let scene = scenes.render(index)
            let stem = (scene.name as NSString).deletingPathExtension
            try AtomicFile.write(try PNG.encode(scene.image), to: "\(folder)/images/\(stem).png")
            let labels = Raster<UInt8>(width: scene.labels.width, height: scene.labels.height, channels: 1, samples: scene.labels.samples.map { UInt8($0) })
            try AtomicFile.write(try PNG.encode(labels), to: "\(folder)/labels/\(stem).png")
        }
        print("wrote \(count) demo scenes to \(folder)/images and their labels to \(folder)/labels (classes: \(DemoScenes.classNames.joined(separator: ", ")))")
    }

    private func verifyShards(_ folder: String) throws {
        let set = try ShardSet(paths: try ShardSet.paths(in: folder), toleratingBadSamples: true)
        let progress = ProgressBar(total: set.count, label: "verifying")
        let problems = set.verify { progress.update($0) }
        if problems.isEmpty {
            print("\(folder): \(set.count) samples in \(set.paths.count) shard(s), all intact")
        } else {
            for problem in problems { printToolError(problem) }
            throw ExitCode(1)
        }
    }
}
