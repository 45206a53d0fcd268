import Testing
import Tensor

/// `Tensor.checkpointed`: the gradients of recomputation in slices equal those of the direct
/// graph, and backward keeps only one slice's activations alive.
@Suite(.serialized) struct CheckpointingTests {
    /// A per-slice computation with a shared input and a parameter captured by the body:
    /// x [2, N, 8], shared [2, 1, 8], weight [8, 8] → [2, N, 8].
    static func body(weight: Tensor) -> (Tensor, [Tensor]) -> Tensor {
        { x, shared in
            let n = x.shape[1]
            let mixed = x + shared[0].broadcast(to: [2, n, 8])
            return Tensor.matmul(mixed.reshaped([2 * n, 8]), weight).gelu().softmax(dim: -1).reshaped([2, n, 8]) * x
        }
    }

    /// (slice length, elements kept): recomputed in slices, partly kept, or kept whole.
    @Test(arguments: [(1, 0), (3, 0), (7, 0), (10, 0), (2, 3), (3, 6), (3, 7), (1, 12)])
    func gradientsEqualTheDirectGraph(sliceLength: Int, keeping: Int) {
        func run(checkpoint: Bool) -> (output: Tensor, grads: [Tensor]) {
            var generator = RandomGenerator(seed: 5)
            let x = Tensor.normal([2, 7, 8], using: &generator), shared = Tensor.normal([2, 1, 8], using: &generator)
            let weight = Tensor.normal([8, 8], std: 0.5, using: &generator)
            for t in [x, shared, weight] { t.requiresGrad = true }
            let f = Self.body(weight: weight)
            let out = checkpoint ? Tensor.checkpointed(x, shared: [shared], along: 1, sliceLength: sliceLength, keeping: keeping, f)
                : f(x, [shared])
            let probe = Tensor.normal(out.shape, using: &generator)
            (out * probe).sum().backward()
            return (out.detached(), [x.grad!, shared.grad!, weight.grad!])
        }
        let direct = run(checkpoint: false), recomputed = run(checkpoint: true)
        #expect(maxAbsoluteDifference(direct.output, recomputed.output) <= 1e-6)
        for (name, (a, b)) in zip(["x", "shared", "weight"], zip(direct.grads, recomputed.grads)) {
            #expect(maxAbsoluteDifference(a, b) <= 1e-5, "gradient of \(name)")
        }
    }

    @Test func finiteDifferences() {
        let weight = randomInput([8, 8], seed: 31, scale: 0.5)
        checkGradients("checkpointed", [randomInput([2, 5, 8], seed: 32), randomInput([2, 1, 8], seed: 33), weight]) { inputs in
            Tensor.checkpointed(inputs[0], shared: [inputs[1]], along: 1, sliceLength: 2, Self.body(weight: inputs[2]))
        }
    }

    /// Without recording there is nothing to recompute: the body runs once, directly.
    @Test func noGradRunsTheBodyOnce() {
        var calls = 0
        let x = Tensor(repeating: 1, shape: [1, 4, 2], requiresGrad: true)
        let out = noGrad { Tensor.checkpointed(x, along: 1, sliceLength: 1) { slice, _ in calls += 1; return slice * 2 } }
        #expect(calls == 1 && !out.requiresGrad && out.pointer[5] == 2)
    }

    /// Forward keeps only the input and output; backward peaks at one slice's activations.
    @Test func memoryIsBoundedBySlices() {
        let allocator = CachingAllocator.shared
        var generator = RandomGenerator(seed: 6)
        let x = Tensor.normal([1, 64, 4096], using: &generator)
        x.requiresGrad = true
        // Eight activations of x's size per slice (each sigmoid keeps its output).
        let deep: (Tensor, [Tensor]) -> Tensor = { slice, _ in
            var h = slice
            for _ in 0..<8 { h = (h * 1.01).sigmoid() }
            return h
        }
        let sliceBytes = 4096 * 4 * 8
        func peakOfStep(checkpoint: Bool, keeping: Int = 0) -> (forward: Int, overall: Int) {
            x.grad = nil
            let before = allocator.liveBytes
            allocator.resetPeak()
            let out = checkpoint ? Tensor.checkpointed(x, along: 1, sliceLength: 8, keeping: keeping, deep) : deep(x, [])
            let forward = allocator.liveBytes - before
            out.sum().backward()
            return (forward, allocator.peakLiveBytes - before)
        }
        let direct = peakOfStep(checkpoint: false), recomputed = peakOfStep(checkpoint: true)
        let xBytes = 64 * 4096 * 4
        #expect(direct.forward >= 8 * xBytes, "the direct graph saves every activation")
        #expect(recomputed.forward <= xBytes + 4096, "checkpointed forward keeps only its output: \(recomputed.forward)")
        // Output, its gradient, x's gradient pieces and one slice's recomputed graph.
        #expect(recomputed.overall <= 4 * xBytes + 12 * sliceBytes, "peak \(recomputed.overall) vs direct \(direct.overall)")
        #expect(recomputed.overall * 2 < direct.overall)
        // Keeping a quarter of the rows keeps a quarter of the direct graph's activations (8 of a
        // quarter of x's size: each sigmoid saves its output, the scaling nothing), plus the
        // recomputed slice of x, the outputs of both parts and their concatenation (≈ 2 x's).
        let partial = peakOfStep(checkpoint: true, keeping: 16)
        #expect(partial.forward >= 3 * xBytes && partial.forward <= 5 * xBytes, "partly kept forward: \(partial.forward)")
        #expect(partial.forward * 3 < direct.forward * 2)
    }
}

private func maxAbsoluteDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "comparing \(a.shape) with \(b.shape)")
    return (0..<a.count).reduce(0) { max($0, abs(a.pointer[$1] - b.pointer[$1])) }
}
