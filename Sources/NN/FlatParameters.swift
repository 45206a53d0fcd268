import Tensor

/// The trainable parameters of a model laid out in one flat value buffer and one flat gradient
/// buffer, in reverse registration order (≈ the order backward produces gradients). Each
/// parameter becomes a window of `values` and its `.grad` a window of `gradients`, so the
/// optimiser, gradient clipping and the all-reduce each work on one contiguous buffer.
public final class FlatParameters {
    /// One parameter's place in the flat buffers.
    public struct Entry: Sendable {
        public let name: String
        public let offset: Int
        public let count: Int
    }

    public let values: Tensor
    public private(set) var gradients: Tensor
    /// The true gradient is `gradients × gradientScale`. Averaging over ranks and micro-batches
    /// and gradient clipping set this factor once per step (``setGradientScale(dividingBy:clippingTo:)``,
    /// which the gradient reducer calls) instead of rewriting the buffer; the optimisers apply it
    /// as they read. ``zeroGradients()`` resets it to 1.
    public private(set) var gradientScale: Float = 1
    public let entries: [Entry]
    public let tensors: [Tensor]

    /// Moves the trainable (gradient-requiring) parameters of `module` into flat buffers.
    public init(_ module: Module) {
        let trainable = Array(module.trainableParameters().reversed())
        let total = trainable.reduce(0) { $0 + $1.tensor.count }
        values = Tensor(repeating: 0, shape: [total])
        gradients = Tensor(repeating: 0, shape: [total])
        var offset = 0
        var entries: [Entry] = []
        for (name, tensor) in trainable {
            tensor.rebind(to: values, offset: offset)
            tensor.grad = Tensor(window: gradients, offset: offset, shape: tensor.shape)
            entries.append(Entry(name: name, offset: offset, count: tensor.count))
            offset += tensor.count
        }
        self.entries = entries
        tensors = trainable.map(\.tensor)
    }

    /// Moves the gradient buffer to `destination` [count] (e.g. memory shared with the other
    /// ranks of a host, which the gradient all-reduce reads directly), keeping its values; every
    /// parameter's `.grad` becomes a window of it.
    public func moveGradients(to destination: Tensor) {
        precondition(destination.shape == [count], "moveGradients: destination \(destination.shape) is not [\(count)]")
        destination.pointer.update(from: gradients.pointer, count: count)
        for (entry, tensor) in zip(entries, tensors) {
            tensor.grad = Tensor(window: destination, offset: entry.offset, shape: tensor.shape)
        }
        gradients = destination
    }

    /// Number of trainable floats.
    public var count: Int { values.count }

    /// Sets every gradient to zero (gradients accumulate across backward passes).
    public func zeroGradients() {
        gradients.pointer.initialize(repeating: 0, count: count)
        gradientScale = 1
    }

    /// The global L2 norm of the (scaled) gradients, accumulated in Double in a fixed order.
    public func gradientNorm() -> Float {
        var total = 0.0
        let g = gradients.pointer
        for i in 0..<count { total += Double(g[i]) * Double(g[i]) }
        return Float(total.squareRoot()) * Swift.abs(gradientScale)
    }

    /// Sets the step's gradient scale: the summed gradients divided by `divisor` (ranks ×
    /// accumulated micro-batches), then clipped to the global norm `maxNorm` as PyTorch's
    /// `clip_grad_norm_` does (factor maxNorm / (norm + 1e-6) when below 1); `maxNorm` 0 skips the
    /// clipping. Returns the norm before clipping (0 when not clipping).
    @discardableResult
    public func setGradientScale(dividingBy divisor: Float, clippingTo maxNorm: Float = 0) -> Float {
        precondition(divisor > 0 && maxNorm >= 0, "setGradientScale: divisor \(divisor) must be positive and maxNorm \(maxNorm) not negative")
        gradientScale = 1 / divisor
        guard maxNorm > 0 else { return 0 }
        let norm = gradientNorm()
        let factor = maxNorm / (norm + 1e-6)
        if factor < 1 { gradientScale *= factor }
        return norm
    }
}
