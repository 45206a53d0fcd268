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
        (model.namedParameters().map(\.tensor).reduce(Tensor(scalar: 0)) { $0 + $1.sum() } * 2).backward(leafGradientReady: reducer.gradientReady)
        try reducer.finish()
        #expect(flat.gradients.scalars == [Float](repeating: 2, count: 16))
        #expect(flat.gradientScale == 1)
    }

    @Test func replicaChecksumSeesEveryBit() {
        let model = Blocks(sizes: [4, 4])
        let before = Replicas.checksum(model)
        #expect(Replicas.checksum(model) == before)
        model.namedParameters()[1].tensor.pointer[3] = model.namedParameters()[1].tensor.pointer[3].nextUp
        #expect(Replicas.checksum(model) != before)
    }
}
