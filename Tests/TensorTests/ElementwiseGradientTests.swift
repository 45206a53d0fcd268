import Testing
import Tensor

@Suite struct ElementwiseGradientTests {
    @Test(arguments: [
        ([3, 4], [3, 4]), ([3, 4], [4]), ([3, 1], [1, 4]), ([2, 3, 4], [3, 1]), ([5], []), ([2, 1, 4], [2, 3, 1]),
    ])
    func broadcastingArithmetic(shapes: ([Int], [Int])) {
        let a = randomInput(shapes.0, seed: 1), b = randomInput(shapes.1, seed: 2, margin: 0.5)
        checkGradients("add \(shapes)", [a, b]) { $0[0] + $0[1] }
        checkGradients("subtract \(shapes)", [a, b]) { $0[0] - $0[1] }
        checkGradients("multiply \(shapes)", [a, b]) { $0[0] * $0[1] }
        checkGradients("divide \(shapes)", [a, b]) { $0[0] / $0[1] }
    }

    @Test func unaryFunctions() {
        let x = randomInput([4, 5], seed: 3, margin: 0.05, scale: 2)
        let positive = randomInput([4, 5], seed: 4, margin: 0.3).map { abs($0) } + 0.2
        checkGradients("negate", [x]) { -$0[0] }
        checkGradients("scalar ops", [x]) { ($0[0] * 3 + 1) / 2 - 0.5 }
        checkGradients("exp", [x]) { $0[0].exp() }
        checkGradients("log", [positive]) { $0[0].log() }
        checkGradients("sqrt", [positive]) { $0[0].sqrt() }
        checkGradients("rsqrt", [positive]) { $0[0].rsqrt() }
        checkGradients("pow", [positive]) { $0[0].pow(1.7) }
        checkGradients("clamp", [x]) { $0[0].clamp(min: -0.5, max: 0.7) }
        checkGradients("sigmoid", [x]) { $0[0].sigmoid() }
        checkGradients("relu", [x]) { $0[0].relu() }
        checkGradients("gelu", [x]) { $0[0].gelu() }
        checkGradients("quick_gelu", [x]) { $0[0].quickGelu() }
        checkGradients("elu+1", [x]) { $0[0].eluPlusOne() }
    }

    @Test func reductions() {
        let x = randomInput([3, 4, 5], seed: 5)
        checkGradients("sum all", [x]) { $0[0].sum() }
        checkGradients("sum axis 1", [x]) { $0[0].sum(axes: [1]) }
        checkGradients("sum axes 0,2 keep", [x]) { $0[0].sum(axes: [0, 2], keepDims: true) }
        checkGradients("mean -1", [x]) { $0[0].mean(axes: [-1]) }
        checkGradients("max axis 1", [x]) { $0[0].max(axis: 1) }
        checkGradients("softmax", [x]) { $0[0].softmax(dim: -1) }
        checkGradients("softmax dim 1", [x]) { $0[0].softmax(dim: 1) }
        checkGradients("log_softmax", [x]) { $0[0].logSoftmax(dim: -1) }
        checkGradients("l2 normalise", [x]) { $0[0].l2Normalized(dim: -1) }
    }

    @Test func shapeOperations() {
        let x = randomInput([2, 3, 4], seed: 6)
        let y = randomInput([2, 2, 4], seed: 7)
        checkGradients("reshape", [x]) { $0[0].reshaped([6, 4]) * $0[0].reshaped([6, 4]) }
        checkGradients("permute", [x]) { $0[0].permuted([2, 0, 1]) }
        checkGradients("transpose", [x]) { $0[0].transposed(0, 2) }
        checkGradients("narrow", [x]) { $0[0].narrowed(1, start: 1, length: 2) }
        checkGradients("concat", [x, y]) { Tensor.concat([$0[0], $0[1]], along: 1) }
        checkGradients("pad", [x]) { $0[0].padded([(1, 0), (2, 1)], value: 0.5) }
        checkGradients("repeat", [x]) { $0[0].repeated([1, 2, 3]) }
        checkGradients("index_select", [x]) { $0[0].indexSelect(1, [2, 0, 2]) }
        checkGradients("roll", [x]) { $0[0].rolled(-1, along: 2).rolled(2, along: 1) }
        checkGradients("broadcast", [randomInput([3, 1], seed: 8)]) { $0[0].broadcast(to: [2, 3, 4]) }
        let gatherIndices: [Int32] = [2, 0, 1, 1, 0, 2, 2, 2, 0, 1, 1, 0, 0, 0, 2, 1]
        checkGradients("gather", [x]) { $0[0].gather(1, indices: gatherIndices, indexShape: [2, 2, 4]) }
        let map = randomInput([2, 4, 6, 3], seed: 40)
        checkGradients("window partition", [map]) { $0[0].windowPartition(size: 2) }
        checkGradients("window round trip", [map]) { $0[0].windowPartition(size: 2).windowReverse(size: 2, height: 4, width: 6) * 2 }
    }

    @Test func windowsRoundTripAndGatherPicksValues() {
        let map = randomInput([2, 4, 6, 3], seed: 41)
        let windows = map.windowPartition(size: 2)
        #expect(windows.shape == [12, 4, 3])
        // Window 1 of image 0 covers rows 0–1, columns 2–3.
        let corners: [(Int, Int)] = [(0, 2), (0, 3), (1, 2), (1, 3)]
        var expected: [Float] = []
        for (y, x) in corners { for c in 0..<3 { expected.append(map.pointer[(y * 6 + x) * 3 + c]) } }
        #expect(windows.narrowed(0, start: 1, length: 1).scalars == expected)
        #expect(windows.windowReverse(size: 2, height: 4, width: 6).scalars == map.scalars)
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(x.gather(1, indices: [2, 0, 1, 1], indexShape: [2, 2]).scalars == [3, 1, 5, 5])
    }

    @Test func matrixProducts() {
        let a = randomInput([2, 3, 4], seed: 9), b = randomInput([2, 4, 5], seed: 10)
        let shared = randomInput([4, 5], seed: 11)
        checkGradients("batched matmul", [a, b]) { Tensor.matmul($0[0], $0[1]) }
        checkGradients("matmul shared right", [a, shared]) { Tensor.matmul($0[0], $0[1]) }
        let aT = randomInput([2, 4, 3], seed: 12), bT = randomInput([2, 5, 4], seed: 13)
        checkGradients("matmul Aᵀ B", [aT, b]) { Tensor.matmul($0[0], $0[1], transposeA: true) }
        checkGradients("matmul A Bᵀ", [a, bT]) { Tensor.matmul($0[0], $0[1], transposeB: true) }
        checkGradients("matmul Aᵀ Bᵀ", [aT, bT]) { Tensor.matmul($0[0], $0[1], transposeA: true, transposeB: true) }
        let sharedT = randomInput([5, 4], seed: 14)
        checkGradients("matmul shared Bᵀ", [a, sharedT]) { Tensor.matmul($0[0], $0[1], transposeB: true) }
        let w = randomInput([6, 4], seed: 15), bias = randomInput([6], seed: 16)
        checkGradients("linear", [a, w, bias]) { Tensor.linear($0[0], weight: $0[1], bias: $0[2]) }
    }

    @Test func layerNorm() {
        let x = randomInput([3, 8], seed: 17, scale: 2)
        let w = randomInput([8], seed: 18), b = randomInput([8], seed: 19)
        checkGradients("layer_norm", [x, w, b]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
    }
}

extension Tensor {
    /// Elementwise transform of the values without history (test input preparation).
    func map(_ f: (Float) -> Float) -> Tensor { Tensor(scalars.map(f), shape: shape) }
}
