import Testing
import Tensor

@Suite struct LayerGradientTests {
    @Test(arguments: [
        // (input [N,C,H,W], out channels, kernel, stride, padding, dilation, groups)
        ([2, 4, 7, 6], 6, 3, 1, 1, 1, 1), ([1, 4, 9, 9], 4, 3, 2, 1, 1, 2), ([1, 3, 8, 8], 3, 3, 1, 2, 2, 3),
        ([1, 2, 7, 7], 5, 7, 1, 3, 1, 1), ([2, 3, 5, 5], 2, 1, 1, 0, 1, 1), ([2, 4, 3, 5], 6, 1, 1, 0, 1, 2),
        // One output channel (the direct stencil): padded, unpadded, rows longer than 8 lanes.
        ([2, 3, 6, 11], 1, 3, 1, 1, 1, 1), ([1, 2, 6, 5], 1, 3, 1, 0, 1, 1), ([1, 2, 5, 9], 1, 5, 1, 2, 1, 1),
        // The direct 3×3 kernel: output channels not a multiple of 4, a row shorter than one tile.
        ([2, 3, 5, 10], 6, 3, 1, 1, 1, 1),
    ])
    func conv2d(config: ([Int], Int, Int, Int, Int, Int, Int)) {
        let (shape, out, k, s, p, d, groups) = config
        let x = randomInput(shape, seed: 20)
        let w = randomInput([out, shape[1] / groups, k, k], seed: 21)
        let b = randomInput([out], seed: 22)
        checkGradients("conv2d \(config)", [x, w, b]) {
            Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: (s, s), padding: (p, p), dilation: (d, d), groups: groups)
        }
    }

    @Test(arguments: [
        // (input, out channels, kernel, stride, padding, output padding, groups)
        ([1, 4, 3, 3], 2, 2, 2, 0, 0, 1), ([2, 3, 3, 2], 4, 4, 4, 0, 0, 1), ([1, 4, 4, 4], 2, 3, 2, 1, 1, 2),
        ([1, 2, 5, 5], 3, 3, 1, 1, 0, 1),
    ])
    func convTranspose2d(config: ([Int], Int, Int, Int, Int, Int, Int)) {
        let (shape, out, k, s, p, op, groups) = config
        let x = randomInput(shape, seed: 23)
        let w = randomInput([shape[1], out / groups, k, k], seed: 24)
        let b = randomInput([out], seed: 25)
        checkGradients("conv_transpose2d \(config)", [x, w, b]) {
            Tensor.convTranspose2d($0[0], weight: $0[1], bias: $0[2], stride: (s, s), padding: (p, p), outputPadding: (op, op), groups: groups)
        }
    }

    @Test func attention() {
        let q = randomInput([6, 5, 8], seed: 27), k = randomInput([6, 7, 8], seed: 28), v = randomInput([6, 7, 8], seed: 29)
        let mask = randomInput([3, 5, 7], seed: 30, scale: 2)
        checkGradients("attention", [q, k, v]) {
            Tensor.attention(query: $0[0], key: $0[1], value: $0[2], heads: 2, scale: 0.7, mask: mask)
        }
        // Inference keeps no probabilities and runs per-worker scratch: the same numbers.
        let recorded = Tensor.attention(query: q, key: k, value: v, heads: 4, mask: mask)
        let inference = noGrad { Tensor.attention(query: q, key: k, value: v, heads: 4, mask: mask) }
        #expect(recorded.requiresGrad && !inference.requiresGrad)
        #expect(recorded.scalars == inference.scalars)
    }

    @Test func packedAttention() {
        // [q | k | v] side by side: 2 heads of width 4, a mask of period 3.
        let packed = randomInput([6, 5, 24], seed: 35)
        let mask = randomInput([3, 5, 5], seed: 36, scale: 2)
        checkGradients("packed attention", [packed]) { Tensor.attention(packed: $0[0], heads: 2, scale: 0.7, mask: mask) }
        // The same numbers as q, k and v apart, forward and backward.
        let parts = noGrad { packed.split([8, 8, 8], along: 2) }
        let input = packed.detached()
        for t in parts + [input] { t.requiresGrad = true }
        let apart = Tensor.attention(query: parts[0], key: parts[1], value: parts[2], heads: 2, mask: mask)
        let together = Tensor.attention(packed: input, heads: 2, mask: mask)
        #expect(together.scalars == apart.scalars)
        let upstream = randomInput([6, 5, 8], seed: 37)
        (apart * upstream).sum().backward()
        (together * upstream).sum().backward()
        let gradients = input.grad!.split([8, 8, 8], along: 2).map(\.scalars)
        for (name, (packedGradient, part)) in zip(["q", "k", "v"], zip(gradients, parts)) {
            #expect(packedGradient == part.grad!.scalars, "d\(name)")
        }
        let inference = noGrad { Tensor.attention(packed: packed, heads: 2, mask: mask) }
        #expect(inference.scalars == together.scalars)
    }

    @Test func linearWithPositionBias() {
        // 2 images × 3 blocks × 4 positions of width 5 → 6 outputs; each image has its own bias rows.
        let x = randomInput([2, 3, 4, 5], seed: 38), w = randomInput([6, 5], seed: 39), bias = randomInput([2, 4, 6], seed: 40)
        checkGradients("linear with position bias", [x, w, bias]) { Tensor.linear($0[0], weight: $0[1], positionBias: $0[2]) }
        let direct = Tensor.linear(x, weight: w, positionBias: bias)
        let composed = Tensor.linear(x, weight: w, bias: nil) + bias.reshaped([2, 1, 4, 6])
        #expect(zip(direct.scalars, composed.scalars).allSatisfy { abs($0 - $1) <= 1e-6 })
    }

    /// The MLP's second layer with its activation folded in: a gradient check, and the values and
    /// every gradient of the unfused `linear(activated(x))` (with and without bias, frozen weight).
    @Test(arguments: [Activation.relu, .gelu, .quickGelu])
    func activatedLinear(activation: Activation) {
        let x = randomInput([2, 3, 8], seed: 41, margin: 0.05, scale: 2), w = randomInput([5, 8], seed: 42), b = randomInput([5], seed: 43)
        checkGradients("linear(\(activation))", [x, w, b]) { Tensor.linear($0[0], activation: activation, weight: $0[1], bias: $0[2]) }
        for (bias, frozenWeight) in [(b, false), (nil, false), (b, true)] {
            let upstream = randomInput([2, 3, 5], seed: 44)
            func gradients(_ f: (Tensor, Tensor, Tensor?) -> Tensor) -> (value: [Float], grads: [[Float]]) {
                let (input, weight, bias) = (x.detached(), w.detached(), bias?.detached())
                input.requiresGrad = true
                weight.requiresGrad = !frozenWeight
                bias?.requiresGrad = true
                let out = f(input, weight, bias)
                out.backward(gradient: upstream)
                return (out.scalars, [input, weight, bias].compactMap { $0?.grad?.scalars })
            }
            let fused = gradients { Tensor.linear($0, activation: activation, weight: $1, bias: $2) }
            let composed = gradients { Tensor.linear($0.activated(activation), weight: $1, bias: $2) }
            #expect(fused.value == composed.value, "\(activation) bias \(bias != nil) frozen \(frozenWeight): values")
            #expect(fused.grads.count == (bias == nil ? 1 : 2) + (frozenWeight ? 0 : 1) && fused.grads == composed.grads,
                    "\(activation) bias \(bias != nil) frozen \(frozenWeight): gradients")
        }
    }

    @Test func poolingAndResampling() {
        let x = randomInput([2, 3, 6, 8], seed: 26)
        checkGradients("avg_pool2d", [x]) { $0[0].avgPool2d(kernel: 2) }
        for align in [false, true] {
            checkGradients("bilinear up align=\(align)", [x]) { $0[0].bilinearResized(to: (11, 16), alignCorners: align) }
            checkGradients("bilinear down align=\(align)", [x]) { $0[0].bilinearResized(to: (3, 5), alignCorners: align) }
        }
        checkGradients("nearest", [x]) { $0[0].nearestResized(to: (12, 4)) }
        checkGradients("bicubic", [x]) { $0[0].bicubicResized(to: (9, 10)) }
    }

    @Test func normalisation() {
        let x = randomInput([2, 4, 3, 3], seed: 27, scale: 2)
        let w = randomInput([4], seed: 28), b = randomInput([4], seed: 29)
        checkGradients("group_norm", [x, w, b]) { $0[0].groupNorm(groups: 2, weight: $0[1], bias: $0[2]) }
        checkGradients("group_norm without affine", [x]) { $0[0].groupNorm(groups: 4, weight: nil, bias: nil) }
        checkGradients("batch_norm train", [x, w, b]) { $0[0].batchNormTraining(weight: $0[1], bias: $0[2]).output }
        let mean = randomInput([4], seed: 30), variance = randomInput([4], seed: 31).map { abs($0) + 0.5 }
        checkGradients("batch_norm eval", [x, w, b]) {
            $0[0].batchNormInference(mean: mean, variance: variance, weight: $0[1], bias: $0[2])
        }
        let table = randomInput([10, 4], seed: 32)
        checkGradients("embedding", [table]) { Tensor.embedding($0[0], [3, 1, 3, 9]) }
    }

    @Test func losses() {
        let logits = randomInput([2, 3, 4, 4], seed: 33, scale: 3)
        var generator = RandomGenerator(seed: 34)
        let targets = Tensor.bernoulli(logits.shape, p: 0.3, using: &generator)
        checkGradients("bce_with_logits", [logits]) { Tensor.binaryCrossEntropyWithLogits($0[0], targets: targets) }
        let classes = (0..<32).map { Int32($0 % 5 == 4 ? 255 : $0 % 3) }
        checkGradients("cross_entropy ignore 255", [logits]) { Tensor.crossEntropy($0[0], targets: classes) }
        let other = randomInput(logits.shape, seed: 35)
        checkGradients("mse", [logits, other]) { Tensor.meanSquaredError($0[0], $0[1]) }
    }

    /// GroupNorm with its ReLU fused gives the values and gradients of GroupNorm then ReLU, on
    /// planes long enough for the SIMD loops (and a remainder), with and without the affine step.
    @Test(arguments: [true, false])
    func groupNormWithFusedReLU(affine: Bool) {
        func run(fused: Bool) -> [Tensor] {
            let x = randomInput([2, 6, 5, 7], seed: 41, scale: 2)
            let w = randomInput([6], seed: 42), b = randomInput([6], seed: 43)
            let inputs = affine ? [x, w, b] : [x]
            for t in inputs { t.requiresGrad = true }
            let (weight, bias) = affine ? (w, b) : (nil, nil)
            let y = fused ? x.groupNorm(groups: 3, weight: weight, bias: bias, relu: true)
                : x.groupNorm(groups: 3, weight: weight, bias: bias).relu()
            (y * randomInput(y.shape, seed: 44)).sum().backward()
            return [y.detached()] + inputs.map { $0.grad! }
        }
        for (a, b) in zip(run(fused: true), run(fused: false)) {
            #expect(a.shape == b.shape)
            #expect((0..<a.count).allSatisfy { abs(a.pointer[$0] - b.pointer[$0]) <= 1e-5 * max(1, abs(b.pointer[$0])) })
        }
    }

    /// The single-output stencil against the im2col path: the same kernel as channel 0 of a
    /// two-channel convolution gives the same output and gradients, at the decoder head's shape.
    @Test func singleOutputConvolutionMatchesIm2col() {
        func run(stencil: Bool) -> [Tensor] {
            let x = randomInput([3, 32, 20, 24], seed: 51), w = randomInput([1, 32, 3, 3], seed: 52), b = randomInput([1], seed: 53)
            for t in [x, w, b] { t.requiresGrad = true }
            let y = stencil ? Tensor.conv2d(x, weight: w, bias: b, padding: (1, 1))
                : Tensor.conv2d(x, weight: Tensor.concat([w, w * 0], along: 0), bias: Tensor.concat([b, b * 0], along: 0), padding: (1, 1))
                    .narrowed(1, start: 0, length: 1)
            (y * randomInput(y.shape, seed: 54)).sum().backward()
            return [y.detached(), x.grad!, w.grad!, b.grad!]
        }
        expectEqualAtScale(run(stencil: true), run(stencil: false), context: "single output")
    }

    /// The direct 3×3 kernel against the im2col path: outputs and all gradients, for tiles cut
    /// short in both the channel and the pixel direction and at a decoder-like width.
    @Test(arguments: [([3, 5, 7, 9], 6), ([2, 48, 12, 24], 32), ([1, 16, 6, 30], 5), ([2, 7, 4, 50], 64)])
    func directConvolutionMatchesIm2col(config: ([Int], Int)) {
        let (shape, out) = config
        func run(direct: Bool) -> [Tensor] {
            let x = randomInput(shape, seed: 55), w = randomInput([out, shape[1], 3, 3], seed: 56), b = randomInput([out], seed: 57)
            for t in [x, w, b] { t.requiresGrad = true }
            let y = direct ? Tensor.conv2dDirect3x3(x, weight: w, bias: b)
                : Tensor.conv2dByIm2col(x, weight: w, bias: b, Convolution2DGeometry(kernel: (3, 3), padding: (1, 1)), groups: 1)
            (y * randomInput(y.shape, seed: 58)).sum().backward()
            return [y.detached(), x.grad!, w.grad!, b.grad!]
        }
        expectEqualAtScale(run(direct: true), run(direct: false), context: "direct \(config)")
    }

    /// The AVX-512 direct kernels against the portable ones: the same output and input gradient,
    /// bit for bit, and the weight gradient at the parity tolerance, for tiles cut short in the
    /// channel direction (5, 9, 33 of 8; 5, 32, 64 of 3) and the pixel direction (widths 7, 50,
    /// 100 of 48; flat views not a multiple of 16), and rows exactly one and two tiles wide.
    @Test(.enabled(if: SIMDKernel.avx512IsAvailable, "needs a CPU with AVX-512F"),
          arguments: [([2, 3, 5, 7], 5), ([1, 48, 6, 48], 32), ([2, 13, 4, 50], 9), ([1, 32, 5, 96], 33), ([3, 8, 3, 100], 64)])
    func avx512DirectConvolutionMatchesPortable(config: ([Int], Int)) {
        let (shape, out) = config
        func run(_ kernel: SIMDKernel) -> [Tensor] {
            let x = randomInput(shape, seed: 59), w = randomInput([out, shape[1], 3, 3], seed: 60), b = randomInput([out], seed: 61)
            for t in [x, w, b] { t.requiresGrad = true }
            let y = Tensor.conv2dDirect3x3(x, weight: w, bias: b, kernel: kernel)
            (y * randomInput(y.shape, seed: 62)).sum().backward()
            return [y.detached(), x.grad!, w.grad!, b.grad!]
        }
        let (wide, portable) = (run(.avx512), run(.portable))
        for (name, (a, b)) in zip(["output", "x", "bias"], zip([wide[0], wide[1], wide[3]], [portable[0], portable[1], portable[3]])) {
            #expect(a.shape == b.shape)
            let differing = (0..<a.count).filter { a.pointer[$0].bitPattern != b.pointer[$0].bitPattern }.count
            #expect(differing == 0, "\(config) \(name): \(differing) of \(a.count) elements differ")
        }
        // The weight gradient sums in another order (16-lane partial sums, not GEMMs).
        expectEqualAtScale([wide[2]], [portable[2]], context: "AVX-512 weight gradient \(config)")
    }

    /// `ours` and `reference` (a convolution's output and its x, weight and bias gradients) agree
    /// within 1e-5 of each tensor's largest magnitude, as the parity tests compare.
    private func expectEqualAtScale(_ ours: [Tensor], _ reference: [Tensor], context: String) {
        for (name, (a, b)) in zip(["output", "x", "weight", "bias"], zip(ours, reference)) {
            #expect(a.shape == b.shape)
            let scale = (0..<b.count).reduce(Float(1)) { max($0, abs(b.pointer[$1])) }
            let difference = (0..<a.count).reduce(Float(0)) { max($0, abs(a.pointer[$1] - b.pointer[$1])) }
            #expect(difference <= 1e-5 * scale, "\(context) \(name): max difference \(difference) at scale \(scale)")
        }
    }
}
