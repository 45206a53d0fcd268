import NN
import Testing
import Tensor
@testable import Distributed

@Suite struct GradientReducerTests {
    final class Blocks: Module {
        init(sizes: [Int], frozen: Set<Int> = []) {
            super.init()
            for (index, size) in sizes.enumerated() {
                let tensor = parameter("block\(index)", Tensor(repeating: Float(index), shape: [size]))
                tensor.requiresGrad = !frozen.contains(index)
            }
        }
    }

    @Test func bucketsCoverTheFlatBufferInWholeParameters() throws {
        let model = Blocks(sizes: [100, 300, 50, 400, 20, 20], frozen: [2])
        let flat = FlatParameters(model)
        #expect(flat.count == 840, "the frozen block is not in the flat buffer")
        #expect(!flat.entries.contains { $0.name == "block2" })
        let reducer = try GradientReducer(parameters: flat, communicator: SingleProcessCommunicator(), bucketBytes: 1200)
        // Reverse registration order: block5 (20), block4 (20), block3 (400), block1 (300), block0 (100).
        #expect(flat.entries.map(\.name) == ["block5", "block4", "block3", "block1", "block0"])
        #expect(reducer.buckets == [0..<440, 440..<740, 740..<840])
        #expect(!reducer.overlaps)
    }

    @Test func singleProcessFinishLeavesGradientsAlone() throws {
        let model = Blocks(sizes: [8, 8])
        let flat = FlatParameters(model)
        let reducer = try GradientReducer(parameters: flat, communicator: SingleProcessCommunicator(), overlap: .on)
        reducer.prepareForBackward()
        (model.namedParameters().map(\.tensor).reduce(Tensor(scalar: 0)) { $0 + $1.sum() } * 2).backward()
        try reducer.finish()
        #expect(flat.gradients.scalars == [Float](repeating: 2, count: 16))
        #expect(flat.gradientScale == 1)
    }

    /// A transport that only records which buckets started, and when.
    final class StartLog: GradientTransport {
        var duringBackward: [Int] = [], afterBackward: [Int] = []
        var startsDuringBackward: Bool { true }
        var usesSharedMemory: Bool { false }
        func start(bucket index: Int) throws { duringBackward.append(index) }
        func progress() throws {}
        func complete(remaining: ArraySlice<Int>) throws { afterBackward = Array(remaining) }
        func reset() { (duringBackward, afterBackward) = ([], []) }
    }

    /// block0…block3 of 10 floats, one bucket each (flat order block3, block2, block1, block0).
    /// `passes` backward passes each reach block0 (twice through a checkpointed region, whose
    /// recomputation runs one nested pass per slice) and block1; block2 only in the first
    /// pass (when `usesBlock2`); block3 never.
    static func backward(_ model: Blocks, passes: Int, usesBlock2: Bool = true) {
        let p = model.namedParameters().map(\.tensor)
        for pass in 0..<passes {
            let x = Tensor(repeating: 1, shape: [4, 10])
            let region = Tensor.checkpointed(x, along: 0, sliceLength: 2) { slice, _ in slice * p[0] }
            var loss = (region.sum() + (p[1] * p[1]).sum()) * Float(pass + 1)
            if pass == 0 && usesBlock2 { loss = loss + p[2].sum() }
            loss.backward()
        }
    }

    @Test func firstIterationLearnsTheScheduleThenBucketsStartWhenFinal() throws {
        let model = Blocks(sizes: [10, 10, 10, 10])
        let flat = FlatParameters(model)
        let log = StartLog()
        let buckets = GradientReducer.buckets(of: flat, bucketBytes: 40)
        #expect(buckets.count == 4)
        let reducer = GradientReducer(parameters: flat, communicator: SingleProcessCommunicator(), buckets: buckets, transport: log)
        for iteration in 0..<4 {
            flat.zeroGradients()
            log.reset()
            reducer.prepareForBackward()
            // The last iteration fills block2's bucket (schedule position 1) in a pass of its own
            // after the others: the same counts, but block1's and block0's buckets must wait for it.
            Self.backward(model, passes: 2, usesBlock2: iteration != 3)
            if iteration == 3 { model.namedParameters()[2].tensor.sum().backward() }
            try reducer.finish()
            if iteration == 0 {
                #expect(log.duringBackward.isEmpty && reducer.lastBucketsStartedDuringBackward == 0)
                #expect(reducer.unusedParameters == ["block3"])
                // block2 is final after the first pass; block0 (nested passes) and block1 after the
                // second, in the order the last pass completes them; block3's bucket has nothing to wait for.
                #expect(reducer.schedule?.first == 0)
                #expect(reducer.schedule?[1] == 1)
                #expect(Set(reducer.schedule!) == [0, 1, 2, 3])
                #expect(log.afterBackward == reducer.schedule!)
            } else {
                #expect(log.duringBackward == reducer.schedule!, "iteration \(iteration): \(log.duringBackward)")
                #expect(log.afterBackward.isEmpty && reducer.lastBucketsStartedDuringBackward == 4)
                #expect(reducer.lastBucketsHeldBack == (iteration == 3 ? 2 : 0))
                #expect(reducer.readyOrder.count == 3 && Set(reducer.readyOrder) == [1, 2, 3])
            }
        }
    }

    @Test func readinessErrorsNameTheParameter() throws {
        func learnedReducer() throws -> (Blocks, FlatParameters, GradientReducer) {
            let model = Blocks(sizes: [10, 10, 10, 10])
            let flat = FlatParameters(model)
            let reducer = GradientReducer(parameters: flat, communicator: SingleProcessCommunicator(),
                                          buckets: GradientReducer.buckets(of: flat, bucketBytes: 40), transport: StartLog())
            reducer.prepareForBackward()
            Self.backward(model, passes: 2)
            try reducer.finish()
            return (model, flat, reducer)
        }
        // A third pass reaches block0 and block1 after their gradients were final.
        var (model, _, reducer) = try learnedReducer()
        reducer.prepareForBackward()
        Self.backward(model, passes: 3)
        #expect(throws: GradientReadinessError.reportedAfterFinal(parameter: "block1", reports: 3, expected: 2, iteration: 2)) {
            try reducer.finish()
        }
        // One pass only: block0 and block1 are not final when backward ends.
        (model, _, reducer) = try learnedReducer()
        reducer.prepareForBackward()
        Self.backward(model, passes: 1)
        #expect(throws: GradientReadinessError.neverFinal(parameters: ["block1", "block0"], count: 2, iteration: 2)) {
            try reducer.finish()
        }
        // The unused block3 gets a gradient.
        (model, _, reducer) = try learnedReducer()
        reducer.prepareForBackward()
        Self.backward(model, passes: 2)
        model.namedParameters()[3].tensor.sum().backward()
        do {
            try reducer.finish()
            Issue.record("a gradient of an unused parameter was accepted")
        } catch let error as GradientReadinessError {
            #expect(error == .reportedAfterFinal(parameter: "block3", reports: 1, expected: 0, iteration: 2))
            #expect(error.description.contains("'block3'") && error.description.contains("unused"))
        }
        // A clean iteration afterwards works again.
        reducer.prepareForBackward()
        Self.backward(model, passes: 2)
        try reducer.finish()
        // Micro-batches that do not synchronise are not tracked.
        reducer.isSynchronizing = false
        reducer.prepareForBackward()
        Self.backward(model, passes: 5)
        try reducer.finish()
    }

    /// The reducer is the one writer of the gradient scale: mean over ranks × micro-batches, then
    /// clipping, as one factor; the norm it clips is the mean gradient's.
    @Test func finishFoldsAveragingAndClippingIntoTheScale() throws {
        let model = Blocks(sizes: [3, 4])
        let flat = FlatParameters(model)
        let reducer = try GradientReducer(parameters: flat, communicator: SingleProcessCommunicator(), accumulationSteps: 4,
                                          maxGradientNorm: 0.5)
        for _ in 0..<2 {
            flat.zeroGradients()
            for micro in 0..<4 {
                reducer.isSynchronizing = micro == 3
                reducer.prepareForBackward()
                (model.namedParameters().map { $0.tensor.sum() }.reduce(Tensor(scalar: 0), +) * 2).backward()
            }
            try reducer.finish()
            // Summed gradient 8 per element over 7 elements: mean 2, norm 2·√7.
            let norm = 2 * Float(7).squareRoot()
            #expect(abs(reducer.lastGradientNorm - norm) <= 1e-5)
            #expect(abs(flat.gradientScale - 0.25 * 0.5 / (norm + 1e-6)) <= 1e-7)
            #expect(abs(flat.gradientNorm() - 0.5) <= 1e-5)
        }
        let unclipped = try GradientReducer(parameters: flat, communicator: SingleProcessCommunicator(), accumulationSteps: 2,
                                            maxGradientNorm: 100)
        unclipped.prepareForBackward()
        try unclipped.finish()
        #expect(flat.gradientScale == 0.5)
    }

    @Test func replicaChecksumSeesEveryBit() {
        let model = Blocks(sizes: [4, 4])
        let before = Replicas.checksum(model)
        #expect(Replicas.checksum(model) == before)
        model.namedParameters()[1].tensor.pointer[3] = model.namedParameters()[1].tensor.pointer[3].nextUp
        #expect(Replicas.checksum(model) != before)
    }
}
