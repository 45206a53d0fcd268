import Testing
@testable import Tensor

/// `upsampledConv2d` (one 2×2 convolution per output parity at the input's resolution) against
/// the two-step form it replaces, a 2×2 stride-2 transposed convolution then a 3×3 convolution
/// with padding 1: outputs and the gradients of the input and both weights, on odd sizes and
/// channel counts, plus a finite-difference check of its own backward.
@Suite struct UpsampledConvolutionTests {
    static func twoStep(_ x: Tensor, _ upWeight: Tensor, _ upBias: Tensor?, _ weight: Tensor) -> Tensor {
        Tensor.conv2d(Tensor.convTranspose2d(x, weight: upWeight, bias: upBias, stride: (2, 2)), weight: weight, padding: (1, 1))
    }

    static func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.shape == b.shape)
        return (0..<a.count).reduce(0) { max($0, abs(a.pointer[$1] - b.pointer[$1])) }
    }

    // (N, Cin, Cmid, O, H, W); the last takes the direct 3×3 kernel in the two-step form (O ≤ 64, 2W ≥ 8).
    @Test(arguments: [(2, 5, 6, 7, 3, 4), (1, 3, 2, 1, 1, 5), (3, 16, 12, 24, 6, 5)])
    func matchesTransposedThenThreeByThree(sizes: (Int, Int, Int, Int, Int, Int)) {
        let (n, cin, mid, o, h, w) = sizes
        let x = randomInput([n, cin, h, w], seed: 1)
        let upWeight = randomInput([cin, mid, 2, 2], seed: 2), upBias = randomInput([mid], seed: 3)
        let weight = randomInput([o, mid, 3, 3], seed: 4)
        let upstream = randomInput([n, o, 2 * h, 2 * w], seed: 5)
        func gradients(_ f: ([Tensor]) -> Tensor) -> (Tensor, [Tensor]) {
            let inputs = [x, upWeight, upBias, weight].map { t -> Tensor in
                let copy = Tensor(t.scalars, shape: t.shape)
                copy.requiresGrad = true
                return copy
            }
            let y = f(inputs)
            (y * upstream).sum().backward()
            return (y.detached(), inputs.map { $0.grad! })
        }
        let (expected, expectedGradients) = gradients { Self.twoStep($0[0], $0[1], $0[2], $0[3]) }
        let (actual, actualGradients) = gradients {
            Tensor.upsampledConv2d($0[0], upWeight: $0[1], weight: $0[3])
                + Tensor.upsampledConvolutionBiasResponse($0[2], weight: $0[3], height: 2 * h, width: 2 * w)
        }
        #expect(actual.shape == [n, o, 2 * h, 2 * w])
        #expect(Self.maxDifference(actual, expected) < 1e-5 * Float(cin * mid), "outputs \(sizes)")
        for (index, name) in ["x", "upWeight", "upBias", "weight"].enumerated() {
            let scale = expectedGradients[index].scalars.map(abs).max()!
            #expect(Self.maxDifference(actualGradients[index], expectedGradients[index]) < 1e-5 * scale,
                    "gradient of \(name) \(sizes)")
        }
    }

    @Test func gradientsMatchFiniteDifferences() {
        let inputs = [randomInput([2, 3, 3, 2], seed: 6), randomInput([3, 4, 2, 2], seed: 7), randomInput([5, 4, 3, 3], seed: 8)]
        checkGradients("upsampledConv2d", inputs) { Tensor.upsampledConv2d($0[0], upWeight: $0[1], weight: $0[2]) }
    }

    /// Each output pixel comes from its own parity map at the documented offset, and the parity
    /// rows and columns that no output pixel reads get a zero gradient.
    @Test func interleavingPlacesEveryParity() {
        let (n, o, h, w) = (2, 3, 4, 5)
        let parities = Tensor(uninitializedShape: [n, 4 * o, h + 1, w + 1])
        for i in 0..<parities.count { parities.pointer[i] = Float(i) }
        parities.requiresGrad = true
        let out = parities.interleavingParities(channels: o)
        var placed = true
        for image in 0..<n { for channel in 0..<o { for row in 0..<(2 * h) { for column in 0..<(2 * w) {
            let (i, a) = row.quotientAndRemainder(dividingBy: 2), (j, b) = column.quotientAndRemainder(dividingBy: 2)
            let source = (((image * 4 + a * 2 + b) * o + channel) * (h + 1) + i + a) * (w + 1) + j + b
            placed = placed && out.pointer[((image * o + channel) * 2 * h + row) * 2 * w + column] == Float(source)
        } } } }
        #expect(placed)
        out.sum().backward()
        let gradient = parities.grad!
        let ones = (0..<gradient.count).filter { gradient.pointer[$0] == 1 }.count
        #expect(ones == out.count && (0..<gradient.count).allSatisfy { gradient.pointer[$0] == 0 || gradient.pointer[$0] == 1 })
    }
}
