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
