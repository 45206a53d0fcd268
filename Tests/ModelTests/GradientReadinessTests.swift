import CLIP
import NN
import Testing
import Tensor
@testable import Distributed
@testable import Model

/// A transport that records, for every bucket it starts, the gradients at that moment and
/// whether backward was still running.
final class RecordingTransport: GradientTransport {
    let parameters: FlatParameters
    let buckets: [Range<Int>]
    /// Bucket index → gradients when it started.
    var atStart: [Int: [Float]] = [:]
    /// Buckets in start order, and which of them started in `complete`.
    var started: [Int] = [], startedAfterBackward: [Int] = []

    init(parameters: FlatParameters, buckets: [Range<Int>]) {
        self.parameters = parameters
        self.buckets = buckets
    }

    var startsDuringBackward: Bool { true }
    var usesSharedMemory: Bool { false }

    func start(bucket index: Int) throws {
        #expect(atStart[index] == nil, "bucket \(index) started twice in one iteration")
        atStart[index] = Array(UnsafeBufferPointer(start: parameters.gradients.pointer + buckets[index].lowerBound, count: buckets[index].count))
        started.append(index)
    }

    func progress() throws {}

    func complete(remaining: ArraySlice<Int>) throws {
        for index in remaining { try start(bucket: index) }
        startedAfterBackward = Array(remaining)
    }

    func reset() { (atStart, started, startedAfterBackward) = ([:], [], []) }
}

@Suite struct GradientReadinessTests {
    /// The paper configuration at tiny size, trained with the per-class decoder in chunks and the
    /// spatial aggregation recomputed (some classes kept): the autograd engine's reports let the
    /// reducer start every bucket during backward from the second iteration on, each parameter
    /// becomes final exactly once per iteration, and every bucket's gradients at its start equal
    /// the final ones — including the parameters whose gradients come from the recomputation's
    /// nested backward passes.
    @Test(arguments: [0, 3])
    func chunkedStepReportsEveryParameterOnceWhenFinal(keptSpatialClasses: Int) throws {
        let model = FGAsegModel(clip: try CLIPModel.load(folder: tinyCLIPFolder), configuration: tinyModelConfiguration(), seed: 21)
        model.train()
        let flat = FlatParameters(model)
        let buckets = GradientReducer.buckets(of: flat, bucketBytes: 16_000)
        #expect(buckets.count >= 8)
        let transport = RecordingTransport(parameters: flat, buckets: buckets)
        let reducer = GradientReducer(parameters: flat, communicator: SingleProcessCommunicator(), buckets: buckets, transport: transport)
        var generator = RandomGenerator(seed: 22)
        let images = Tensor.normal([1, 3, 64, 64], using: &generator)
        let labels: [Int32] = (0..<(64 * 64)).map { (i: Int) -> Int32 in Int32((i / 64 + i % 64) % 7) }
        let prompts: [[Int32]] = (0..<7).map { (k: Int) -> [Int32] in [998, Int32(4 * k + 3), 999] }
        let spatialIndices = flat.entries.indices.filter { flat.entries[$0].name.contains(".swin_block.") }
        #expect(!spatialIndices.isEmpty)
        for iteration in 0..<3 {
            flat.zeroGradients()
            transport.reset()
            reducer.prepareForBackward()
            _ = model.chunkedTrainingStep(images, classes: model.classEmbeddings(prompts), labels: labels, size: 64, classChunk: 3,
                                          keptSpatialClasses: keptSpatialClasses)
            if iteration > 0 {
                #expect(transport.started.count == buckets.count && reducer.lastBucketsStartedDuringBackward == buckets.count,
                        "iteration \(iteration): \(reducer.lastBucketsStartedDuringBackward) of \(buckets.count) buckets started during backward")
                let unused = Set(reducer.unusedParameters)
                let used: [Int] = flat.entries.indices.filter { (index: Int) -> Bool in !unused.contains(flat.entries[index].name) }
                #expect(reducer.readyOrder.sorted() == used, "every used parameter becomes final exactly once")
                #expect(Set(spatialIndices).isSubset(of: Set(reducer.readyOrder)))
            }
            try reducer.finish()
            if iteration == 0 {
                // The first iteration learns: nothing starts during backward.
                #expect(transport.startedAfterBackward == reducer.schedule)
                #expect(reducer.schedule?.sorted() == Array(buckets.indices))
                #expect(reducer.unusedParameters.allSatisfy { name in
                    let index = flat.entries.firstIndex { $0.name == name }!
                    return (0..<flat.entries[index].count).allSatisfy { flat.gradients.pointer[flat.entries[index].offset + $0] == 0 }
                })
            } else {
                #expect(transport.started == reducer.schedule! && reducer.lastBucketsHeldBack == 0)
                #expect(transport.startedAfterBackward.isEmpty)
            }
            for (index, range) in buckets.enumerated() {
                let final = Array(UnsafeBufferPointer(start: flat.gradients.pointer + range.lowerBound, count: range.count))
                let unchanged = transport.atStart[index] == final
                #expect(unchanged, "iteration \(iteration): bucket \(index) changed after it started")
            }
        }
        #expect(flat.gradientScale == 1)
    }
}
