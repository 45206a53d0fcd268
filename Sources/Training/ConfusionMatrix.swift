import Foundation

/// detectron2's `SemSegEvaluator` statistics: a (T + 1) × (T + 1) matrix of pixel counts,
/// rows = prediction, columns = ground truth; ignored ground-truth pixels fall in the extra
/// column and are excluded from every metric.
public struct ConfusionMatrix: Equatable, Sendable {
    public let classCount: Int
    /// [(T + 1) · (T + 1)], row-major (prediction, ground truth).
    public var counts: [Int64]

    public init(classCount: Int) {
        self.classCount = classCount
        counts = [Int64](repeating: 0, count: (classCount + 1) * (classCount + 1))
    }

    /// Adds one image: `predicted` class ids and `labels` (class ids, anything ≥ T or < 0 = ignore).
    public mutating func add(predicted: [Int32], labels: [Int32]) {
        precondition(predicted.count == labels.count, "confusion matrix: \(predicted.count) predictions for \(labels.count) labels")
        let n = classCount + 1
        counts.withUnsafeMutableBufferPointer { c in
            for (p, g) in zip(predicted, labels) {
                let gt = g >= 0 && Int(g) < classCount ? Int(g) : classCount
                c[Int(p) * n + gt] += 1
            }
        }
    }

    /// The metrics of the accumulated pixels.
    public var metrics: SegmentationMetrics {
        let n = classCount + 1
        var iou = [Double?](repeating: nil, count: classCount), accuracy = [Double?](repeating: nil, count: classCount)
        var frequencyWeighted = 0.0, correct = 0.0, labelled = 0.0
        var groundTruth = [Double](repeating: 0, count: classCount)
        for c in 0..<classCount {
            var gt = 0.0, predicted = 0.0
            for p in 0..<classCount { gt += Double(counts[p * n + c]) }
            for g in 0..<classCount { predicted += Double(counts[c * n + g]) }
            let tp = Double(counts[c * n + c])
            groundTruth[c] = gt
            correct += tp
            labelled += gt
            if gt > 0 {
                iou[c] = tp / (gt + predicted - tp)
                accuracy[c] = tp / gt
            }
        }
        for c in 0..<classCount { if let value = iou[c] { frequencyWeighted += groundTruth[c] / max(labelled, 1) * value } }
        let valid = iou.compactMap { $0 }, validAccuracy = accuracy.compactMap { $0 }
        return SegmentationMetrics(
            mIoU: 100 * valid.reduce(0, +) / Double(max(valid.count, 1)), fwIoU: 100 * frequencyWeighted,
            mACC: 100 * validAccuracy.reduce(0, +) / Double(max(validAccuracy.count, 1)),
            pACC: 100 * correct / max(labelled, 1), perClassIoU: iou.map { $0.map { 100 * $0 } })
    }
}

/// mIoU, fwIoU, mACC, pACC (percent) and the IoU of each class (nil: no ground-truth pixels).
public struct SegmentationMetrics: Codable, Equatable, Sendable {
    public var mIoU: Double
    public var fwIoU: Double
    public var mACC: Double
    public var pACC: Double
    public var perClassIoU: [Double?]
}
