import Foundation
import IO
import Tensor
import Testing
@testable import Data

@Suite struct LoaderTests {
    func batches(rank: Int = 0, source: SampleSource = DemoScenes(split: .train, count: 10, size: 48)) throws -> TrainingBatches {
        try TrainingBatches(source: source, indices: TrainingBatches.shard(count: source.count, rank: rank, worldSize: 2), batchSize: 2,
                            augmentation: TrainingAugmentation(shortEdge: 40, cropSize: 32), seed: 7, rank: rank)
    }

    func equal(_ a: TrainingBatch, _ b: TrainingBatch) -> Bool {
        a.iteration == b.iteration && a.labels == b.labels && a.names == b.names
            && a.images.shape == b.images.shape && (0..<a.images.count).allSatisfy { a.images.pointer[$0].bitPattern == b.images.pointer[$0].bitPattern }
    }

    /// A loader started at iteration 6 yields exactly the batches 6… of an uninterrupted loader.
    @Test func resumedLoaderYieldsIdenticalBatches() throws {
        let straight = TrainingLoader(try batches(), workers: 2, prefetch: 3)
        let full = try (0..<9).map { _ in try straight.next() }
        let resumed = TrainingLoader(try batches(), start: 6, workers: 1, prefetch: 2)
        for i in 6..<9 { #expect(equal(try resumed.next(), full[i]), "iteration \(i)") }
        // Epochs (5 samples per rank) are complete permutations and differ from each other.
        let maker = try batches()
        let epoch0 = (0..<5).map { maker.sourceIndex(at: $0) }, epoch1 = (5..<10).map { maker.sourceIndex(at: $0) }
        #expect(Set(epoch0) == [0, 2, 4, 6, 8] && Set(epoch1) == [0, 2, 4, 6, 8] && epoch0 != epoch1)
        #expect(Set((0..<5).map { try! batches(rank: 1).sourceIndex(at: $0) }) == [1, 3, 5, 7, 9])
        // Labels line up with the images: the demo class of a pixel is where the image has its colour.
        #expect(full[0].labels.allSatisfy { $0 == Int32(ignoreLabel) || ($0 >= 0 && $0 < 6) })
    }

    /// A corrupt sample stops the loader with its name, or is skipped and counted.
    @Test func badSamplesStopOrAreSkipped() throws {
        struct Broken: SampleSource {
            let inner = DemoScenes(split: .train, count: 6, size: 32)
            var count: Int { inner.count }
            var classNames: [String] { inner.classNames }
            func location(of index: Int) -> String { "broken set sample \(index)" }
            func sample(at index: Int) throws -> SegmentationSample {
                var sample = try inner.sample(at: index)
                if index == 2 { sample.imageBytes = Array(sample.imageBytes.prefix(40)) }
                return sample
            }
        }
        let augmentation = TrainingAugmentation(shortEdge: 32, cropSize: 32)
        let strict = try TrainingBatches(source: Broken(), indices: Array(0..<6), batchSize: 6, augmentation: augmentation, seed: 1, rank: 0)
        do {
            _ = try strict.batch(0)
            Issue.record("the corrupt sample should stop the loader")
        } catch {
            #expect("\(error)".contains("broken set sample 2"), "\(error)")
        }
        let lenient = try TrainingBatches(source: Broken(), indices: Array(0..<6), batchSize: 6, augmentation: augmentation, seed: 1, rank: 0, skipBadSamples: true)
        let batch = try lenient.batch(0)
        #expect(batch.names.count == 6 && !batch.names.contains("demo-train-2.png"))
        #expect(lenient.skippedSamples.count == 1)
    }

    @Test func demoScenesAreDeterministicAndUseEveryClass() throws {
        let a = DemoScenes(split: .train, count: 40, size: 48), b = DemoScenes(split: .train, count: 40, size: 48)
        #expect(a.render(3) == b.render(3))
        #expect(a.render(3) != DemoScenes(split: .validation, count: 40, size: 48).render(3))
        let seen = Set((0..<40).flatMap { a.render($0).labels.samples })
        #expect(seen == Set(0..<6))
        // The PNG round trip is lossless.
        #expect(try a.decodedSample(at: 5) == a.render(5))
    }
}
