import Tensor

/// Plain stochastic gradient descent over ``FlatParameters``: `p ← p − lr · g` (g scaled by
/// `gradientScale`).
public final class SGD {
    public let parameters: FlatParameters

    public init(_ parameters: FlatParameters) {
        self.parameters = parameters
    }

    /// One update with `learningRate` from the current gradients.
    public func update(learningRate: Float) {
        let p = parameters.values.pointer, g = parameters.gradients.pointer
        let step = learningRate * parameters.gradientScale
        Parallel.forEach(parameters.count) { range in for i in range { p[i] -= step * g[i] } }
    }
}
