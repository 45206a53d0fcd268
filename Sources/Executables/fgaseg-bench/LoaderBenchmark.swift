import Data
import Foundation
import IO
import Tensor

/// The training loader's throughput on COCO-sized images (640×480 JPEG, quality 90, natural-ish
/// texture): per image, decode + validate + the full spec §7 augmentation (resize, 384 crop,
/// colour jitter, flip) + CLIP normalisation, with 1 and 2 worker threads, against libjpeg's
/// decode alone in the same run. Also prints how much of a training step the loader would take.
enum LoaderBenchmark {
    /// A fixed set of images in memory, so the benchmark measures CPU work, not the disk.
    struct SyntheticImages: SampleSource {
        let images: [[UInt8]]
        let labels: Raster<UInt16>
        var count: Int { images.count }
        var classNames: [String] { ClassNames.names(.cocoStuff171) }
        func location(of index: Int) -> String { "synthetic image \(index)" }
        func sample(at index: Int) throws -> SegmentationSample {
            SegmentationSample(name: "synthetic-\(index).jpg", imageBytes: images[index], labels: labels)
        }
    }

    static func run(stepSeconds: Double) throws -> [BenchmarkRow] {
        let scenes = DemoScenes(split: .train, count: 16, size: 80)
        let images = try (0..<16).map { i -> [UInt8] in
            let scene = scenes.render(i).image.resizedBilinear(width: 640, height: 480)
            return try JPEG.encode(scene, quality: 90)
        }
        var labels = Raster<UInt16>(width: 640, height: 480, channels: 1)
        for p in labels.samples.indices { labels.samples[p] = UInt16(p / 640 * 171 / 480) }
        let source = SyntheticImages(images: images, labels: labels)
        let perBatch = 8
        let decodeOnly = medianSeconds(warmup: 1, repetitions: 5) {
            for i in 0..<perBatch { _ = try! JPEG.decode(images[i % images.count]) }
        } / Double(perBatch)
        var rows = [BenchmarkRow]()
        for workers in [1, 2] {
            let batches = try TrainingBatches(source: source, indices: Array(0..<source.count), batchSize: 1,
                                              augmentation: TrainingAugmentation(), seed: 0, rank: 0)
            let loader = TrainingLoader(batches, workers: workers, prefetch: 8)
            for _ in 0..<4 { _ = try loader.next() }
            let count = 48
            let start = Date()
            for _ in 0..<count { _ = try loader.next() }
            let perImage = Date().timeIntervalSince(start) / Double(count)
            rows.append(BenchmarkRow(suite: "loader", name: "decode+augment_640x480_w\(workers)", ours: perImage,
                                     baselineName: "jpeg_decode_only", baseline: decodeOnly))
            let note = String(format: "%.1f images/s with %d worker(s); one image per step is %.3f%% of a %.1f s training step",
                              1 / perImage, workers, 100 * perImage / stepSeconds, stepSeconds)
            rows.append(BenchmarkRow(suite: "loader", name: "step_share_w\(workers): \(note)", ours: perImage,
                                     baselineName: "training_step", baseline: stepSeconds))
        }
        return rows
    }
}
