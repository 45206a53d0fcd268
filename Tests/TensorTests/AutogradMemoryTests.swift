import Testing
import Tensor

/// Measures the shared allocator, so the suite relies on `swift test --no-parallel` (make test).
@Suite(.serialized) struct AutogradMemoryTests {
    /// A deep graph saves activations for backward; after backward they must all be released,
    /// leaving only the parameters and their gradients alive.
    @Test func backwardReleasesEverySavedActivation() {
        let allocator = CachingAllocator.shared
        let before = allocator.liveBytes
        do {
            var generator = RandomGenerator(seed: 1)
            let weights = (0..<12).map { _ in Tensor.normal([64, 64], std: 0.1, using: &generator) }
            weights.forEach { $0.requiresGrad = true }
            let parameterBytes = 12 * 64 * 64 * 4
            let afterParameters = allocator.liveBytes
            #expect(afterParameters - before >= parameterBytes)
            do {
                var x = Tensor.normal([32, 64], using: &generator)
                for w in weights {
                    x = Tensor.matmul(x, w).gelu().layerNorm(weight: nil, bias: nil).softmax(dim: -1) * 2
                }
                let loss = x.square().mean()
                #expect(allocator.liveBytes > afterParameters + 10 * parameterBytes / 12, "the graph holds activations")
                loss.backward()
            }
            // Parameters plus one gradient per parameter remain; every activation is gone.
            let gradientBytes = weights.reduce(0) { $0 + ($1.grad?.count ?? 0) * 4 }
            #expect(gradientBytes == parameterBytes)
            #expect(allocator.liveBytes - afterParameters <= gradientBytes + 4096,
                    "live bytes after backward: \(allocator.liveBytes - afterParameters) beyond the parameters, gradients \(gradientBytes)")
        }
        #expect(allocator.liveBytes <= before + 4096)
    }

    /// What the recorded graph keeps until backward: a residual sum keeps neither operand, an
    /// elementwise function only what its derivative reads, a linear layer with a frozen weight no
    /// input, and an MLP its hidden pre-activation but not the activation (recomputed in backward).
    @Test func operationsKeepOnlyWhatTheirBackwardNeeds() {
        let allocator = CachingAllocator.shared
        var generator = RandomGenerator(seed: 2)
        let (rows, width, hidden) = (256, 64, 256)
        let weight = Tensor.normal([hidden, width], using: &generator), frozen = Tensor.normal([width, width], using: &generator)
        let down = Tensor.normal([width, hidden], using: &generator)
        weight.requiresGrad = true
        down.requiresGrad = true
        let x = Tensor.normal([rows, width], using: &generator)
        x.requiresGrad = true
        let rowBytes = rows * 4
        /// Bytes that `f(x)` leaves alive besides its output, in units of `rows` floats.
        func keptColumns(_ f: (Tensor) -> Tensor) -> Int {
            allocator.emptyCache()
            let before = allocator.liveBytes
            let out = f(x)
            let kept = allocator.liveBytes - before - out.count * 4
            return withExtendedLifetime(out) { kept / rowBytes }
        }
        // The sum's operands (2 × width) are released; only the output stays.
        #expect(keptColumns { Tensor.matmul($0, frozen) + Tensor.matmul($0, frozen) } == 0)
        // Elementwise functions keep only what their derivative reads: ReLU and exp their output
        // (kept by the caller here), scaling nothing; a product or quotient by a constant keeps
        // the constant only; a concatenation keeps none of its pieces.
        let constant = Tensor.normal([width], using: &generator)
        #expect(keptColumns { Tensor.matmul($0, frozen).relu() } == 0)
        #expect(keptColumns { Tensor.matmul($0, frozen).exp() } == 0)
        #expect(keptColumns { Tensor.matmul($0, frozen) * 2 } == 0)
        #expect(keptColumns { Tensor.matmul($0, frozen) * constant } == 0)
        #expect(keptColumns { Tensor.matmul($0, frozen) / constant } == 0)
        #expect(keptColumns { Tensor.concat([Tensor.matmul($0, frozen), Tensor.matmul($0, frozen)], along: 1) } == 0)
        // GELU reads its input, which therefore stays.
        #expect(keptColumns { Tensor.matmul($0, frozen).gelu() } == width)
        // The frozen layer's input is not kept: the x·W product feeding it is freed.
        #expect(keptColumns { Tensor.linear(Tensor.linear($0, weight: frozen, bias: nil), weight: frozen, bias: nil) } == 0)
        // An MLP keeps the hidden pre-activation (hidden) and not its activation (another hidden).
        let mlpKept = keptColumns { Tensor.linear(Tensor.linear($0, weight: weight, bias: nil), activation: .gelu, weight: down, bias: nil) }
        let unfusedKept = keptColumns { Tensor.linear(Tensor.linear($0, weight: weight, bias: nil).gelu(), weight: down, bias: nil) }
        #expect(mlpKept == hidden && unfusedKept == 2 * hidden, "kept \(mlpKept) columns fused, \(unfusedKept) unfused")
    }

    @Test func graphWithoutBackwardIsFreedWithItsOutput() {
        let allocator = CachingAllocator.shared
        let before = allocator.liveBytes
        do {
            let w = Tensor(repeating: 0.5, shape: [128, 128], requiresGrad: true)
            var x = Tensor(repeating: 1, shape: [16, 128])
            for _ in 0..<5 { x = Tensor.matmul(x, w).sigmoid() / Tensor(repeating: 2, shape: [128]) }
            #expect(x.requiresGrad)
        }
        #expect(allocator.liveBytes <= before + 4096, "a graph that is dropped without backward leaks \(allocator.liveBytes - before) bytes")
    }
}

/// The allocator's reuse policy and the profiler's attribution (both use shared state).
@Suite(.serialized) struct AllocatorAndProfilerTests {
    /// A large request with no cached buffer of its own bucket reuses a cached buffer of up to
    /// twice its size instead of allocating; a much larger one is left alone.
    @Test func largeRequestsReuseSomewhatLargerCachedBuffers() {
        let allocator = CachingAllocator.shared
        allocator.emptyCache()
        do { _ = Tensor(uninitializedShape: [3_000_000]) }      // cached: bucket of 3 M floats
        let cached = allocator.cachedBytes
        #expect(cached >= 12_000_000)
        var reusing: Tensor? = Tensor(uninitializedShape: [2_000_000])   // fits within 2× → reuses it
        #expect(allocator.cachedBytes == 0 && reusing != nil)
        reusing = nil
        #expect(allocator.cachedBytes == cached, "the reused buffer goes back to its own bucket")
        var fresh: Tensor? = Tensor(uninitializedShape: [1_000_000])      // under half → a fresh buffer
        #expect(allocator.cachedBytes == cached && fresh != nil)
        fresh = nil
        #expect(allocator.cachedBytes > cached)
        allocator.emptyCache()
    }

    /// Forward GEMMs count in the section that issues them, backward GEMMs in the section that
    /// recorded the operation, with 2·m·n·k FLOPs each.
    @Test func profilerChargesGEMMFlopsToSections() {
        let a = Tensor(repeating: 1, shape: [8, 16], requiresGrad: true)
        let b = Tensor(repeating: 1, shape: [16, 4], requiresGrad: true)
        Profiler.start()
        let product = Profiler.section("outer") { Profiler.section("product") { Tensor.matmul(a, b) } }
        Profiler.section("loss") { product.sum() }.backward()
        let entries = Dictionary(uniqueKeysWithValues: Profiler.stop().map { ($0.name, $0) })
        #expect(Set(entries.keys) == ["outer", "outer/product", "loss"])
        // Forward 8×4×16, backward dA (8×16×4) and dB (16×4×8).
        let productFlops: Double = 3 * 2 * 8 * 4 * 16
        #expect(entries["outer/product"]?.flops ?? 0 == productFlops)
        #expect(entries["outer"]?.flops == 0)
        #expect(entries["outer/product"]!.backwardSeconds > 0)
        #expect(entries["outer"]!.forwardSeconds >= entries["outer/product"]!.forwardSeconds)
        #expect(entries["outer"]!.peakLiveBytes >= 8 * 4 * 4)
        // Stopped: nothing more is recorded.
        Profiler.section("ignored") { _ = Tensor.matmul(a, b) }
        #expect(Profiler.stop().map(\.name).sorted() == ["loss", "outer", "outer/product"])
        #expect(Profiler.stop().first { $0.name == "outer/product" }?.flops ?? 0 == productFlops)
    }
}
