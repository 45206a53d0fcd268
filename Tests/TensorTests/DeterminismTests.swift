import Testing
import Tensor

@Suite(.serialized) struct DeterminismTests {
    /// A forward and backward pass through parallel kernels gives bit-identical results when
    /// repeated with the same seed and thread count.
    @Test(arguments: [1, 2])
    func repeatedRunsAreBitIdentical(threads: Int) {
        let previous = Parallel.threadCount
        Parallel.threadCount = threads
        defer { Parallel.threadCount = previous }
        func run() -> [Float] {
            var generator = RandomGenerator(seed: 5)
            let x = Tensor.normal([2, 16, 40, 40], using: &generator)
            let w = Tensor.normal([16, 16, 3, 3], std: 0.1, using: &generator)
            w.requiresGrad = true
            let y = Tensor.conv2d(x, weight: w, padding: (1, 1)).groupNorm(groups: 4, weight: nil, bias: nil).gelu()
            let z = y.reshaped([2, 16, 1600]).softmax(dim: -1).sum(axes: [0, 2]).square().sum()
            z.backward()
            return [z.item] + w.grad!.scalars + y.scalars
        }
        let first = run(), second = run()
        #expect(first.map(\.bitPattern) == second.map(\.bitPattern))
    }
}
