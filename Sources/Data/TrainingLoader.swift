import Foundation
import IO
import Tensor

/// One training batch: CLIP-normalised images and labels of `batchSize` crops.
public struct TrainingBatch: @unchecked Sendable {
    /// The iteration this batch belongs to.
    public var iteration: Int
    /// [B, 3, S, S].
    public var images: Tensor
    /// [B·S·S] class ids; ignored pixels are ``ignoreLabel`` (outside every class range).
    public var labels: [Int32]
    /// Source names of the B samples.
    public var names: [String]
}

/// The training data stream of one rank: an endless sequence of batches over `indices` (this
/// rank's part of the source), reshuffled every epoch, augmented on background threads.
/// Batch `i` is a pure function of (seed, rank, i): which samples it holds (the epoch's
/// permutation, seeded by (seed, epoch, rank)) and how they are augmented (seeded by
/// (seed, rank, position)), so a run resumed at iteration i sees exactly the batches an
/// uninterrupted run would.
public final class TrainingLoader: Sendable {
    public let batches: TrainingBatches
    private let prefetcher: Prefetcher<TrainingBatch>

    /// Starts producing batches from iteration `start` with `workers` threads, at most
    /// `prefetch` batches ahead.
    public init(_ batches: TrainingBatches, start: Int = 0, workers: Int = 2, prefetch: Int = 4) {
        self.batches = batches
        prefetcher = Prefetcher(start: start, workers: workers, depth: prefetch) { try batches.batch($0) }
    }

    deinit { prefetcher.stop() }

    /// The next batch (blocks until it is ready; rethrows a data error).
    public func next() throws -> TrainingBatch { try prefetcher.next()! }

    /// Seconds spent waiting for batches so far.
    public var waitSeconds: Double { prefetcher.waitSeconds }
}

/// The batch sequence of one rank as a pure function of the iteration (see ``TrainingLoader``).
public final class TrainingBatches: @unchecked Sendable {
    public let source: SampleSource
    public let indices: [Int]
    public let batchSize: Int
    public let augmentation: TrainingAugmentation
    public let seed: UInt64
    public let rank: Int
    /// With `skipBadSamples`, a sample that fails to load is replaced by the next one in the
    /// epoch order and recorded in ``skippedSamples``; otherwise its error stops training.
    public let skipBadSamples: Bool
    private let lock = NSLock()
    private var skipped: [String] = []
    private var cachedPermutation: (epoch: Int, order: [Int])?

    public init(source: SampleSource, indices: [Int], batchSize: Int, augmentation: TrainingAugmentation, seed: UInt64,
                rank: Int, skipBadSamples: Bool = false) throws {
        guard !indices.isEmpty else { throw IOError("training data", "rank \(rank) has no samples (the dataset has \(source.count))") }
        (self.source, self.indices, self.batchSize, self.augmentation) = (source, indices, batchSize, augmentation)
        (self.seed, self.rank, self.skipBadSamples) = (seed, rank, skipBadSamples)
    }

    /// The indices rank `rank` of `worldSize` trains on: every `worldSize`-th sample from `rank`.
    public static func shard(count: Int, rank: Int, worldSize: Int) -> [Int] {
        Array(stride(from: rank, to: count, by: worldSize))
    }

    /// Descriptions of the samples skipped so far.
    public var skippedSamples: [String] { lock.withLock { skipped } }

    /// The source index at `position` of this rank's endless sample sequence.
    public func sourceIndex(at position: Int) -> Int {
        let epoch = position / indices.count, offset = position % indices.count
        let order = lock.withLock { () -> [Int] in
            if let cached = cachedPermutation, cached.epoch == epoch { return cached.order }
            let order = Self.permutation(indices.count, seed: sampleSeed(seed, UInt64(epoch), UInt64(rank)))
            cachedPermutation = (epoch, order)
            return order
        }
        return indices[order[offset]]
    }

    /// Builds batch `iteration`.
    public func batch(_ iteration: Int) throws -> TrainingBatch {
        let size = augmentation.cropSize
        let images = Tensor(repeating: 0, shape: [batchSize, 3, size, size])
        var labels = [Int32](repeating: 0, count: batchSize * size * size)
        var names = [String]()
        for b in 0..<batchSize {
            let position = iteration * batchSize + b
            let sample = try loadSample(position: position)
            var random = RandomGenerator(seed: sampleSeed(seed, UInt64(rank), UInt64(position), 0xA0A0))
            let (image, label, _) = augmentation.apply(sample, using: &random)
            CLIPNormalization.write(image, to: images.pointer + b * 3 * size * size)
            for p in 0..<(size * size) { labels[b * size * size + p] = Int32(label.samples[p]) }
            names.append(sample.name)
        }
        return TrainingBatch(iteration: iteration, images: images, labels: labels, names: names)
    }

    private func loadSample(position: Int) throws -> DecodedSample {
        var attempt = 0
        while true {
            let index = sourceIndex(at: position + attempt)
            do {
                return try source.decodedSample(at: index)
            } catch {
                guard skipBadSamples, attempt < indices.count else { throw error }
                lock.withLock { skipped.append("\(error)") }
                attempt += 1
            }
        }
    }

    /// A seeded Fisher–Yates permutation of 0..<n.
    static func permutation(_ n: Int, seed: UInt64) -> [Int] {
        var random = RandomGenerator(seed: seed)
        var order = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        return order
    }
}
