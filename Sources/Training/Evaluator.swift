import Data
import Distributed
import Foundation
import IO
import Inference
import Model
import Tensor

/// Distributed evaluation (spec §8): rank r of W predicts images r, r + W, …; the confusion
/// matrices are summed with an integer all-reduce, so the result equals a single-process run.
public enum Evaluator {
    /// Evaluates `model` (switched to evaluation mode for the call) on the first `count` samples
    /// of `source` with class embeddings `classes` [T, D], the class aggregation pooled by
    /// `classPooling` (``SegmentationPredictor/classPooling``). The closing all-reduce runs under
    /// `watchdog`, which also learns each image's time. `progress(done)` reports this rank's images;
    /// `predicted(index, sample, labels)` sees every prediction of this rank.
    public static func evaluate(model: FGAsegModel, classes: Tensor, source: SampleSource, count: Int, inputSize: Int,
                                slidingWindow: Bool, classPooling: Int, world: any Communicator, watchdog: CollectiveWatchdog?,
                                progress: (Int, Int) -> Void = { _, _ in },
                                predicted: (Int, DecodedSample, [Int32]) throws -> Void = { _, _, _ in }) throws -> ConfusionMatrix {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        let predictor = SegmentationPredictor(model: model, inputSize: inputSize, classPooling: classPooling)
        var matrix = ConfusionMatrix(classCount: classes.shape[0])
        let mine = Array(stride(from: world.rank, to: count, by: world.size))
        let loaded = Prefetcher<DecodedSample>(count: mine.count, workers: 1, depth: 2) { try source.decodedSample(at: mine[$0]) }
        defer { loaded.stop() }
        var done = 0
        while let sample = try loaded.next() {
            let start = Date()
            let labels = predictor.labels(sample.image, classes: classes, slidingWindow: slidingWindow)
            matrix.add(predicted: labels, labels: sample.labels.samples.map { Int32($0) })
            watchdog?.observe(stepSeconds: Date().timeIntervalSince(start))
            try predicted(mine[done], sample, labels)
            done += 1
            progress(done, mine.count)
        }
        let reduce = { try matrix.counts.withUnsafeMutableBufferPointer { try world.allReduce($0, .sum) } }
        if let watchdog { try watchdog.guarding("evaluation all-reduce", step: mine.count, reduce) } else { try reduce() }
        return matrix
    }

    /// The JSON record of an evaluation (`eval/<iter>.json`, `fgaseg-eval --out`), with the
    /// protocol it ran under.
    public static func record(_ metrics: SegmentationMetrics, classNames: [String], iteration: Int, dataset: String, images: Int,
                              protocol: EvaluationProtocol) -> [String: Any] {
        var perClass = [String: Any]()
        for (name, iou) in zip(classNames, metrics.perClassIoU) { perClass[name] = iou.map { $0 as Any } ?? NSNull() }
        return ["iteration": iteration, "dataset": dataset, "images": images, "mIoU": metrics.mIoU, "fwIoU": metrics.fwIoU,
                "mACC": metrics.mACC, "pACC": metrics.pACC, "per_class_IoU": perClass, "protocol": `protocol`.json]
    }
}
