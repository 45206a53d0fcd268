extension Tensor {
    /// Gradient checkpointing in slices, for a computation that is independent across the slices
    /// of `x` along `dim` (e.g. a per-class block run on every class map).
    ///
    /// The forward pass runs `body(x, shared)` without recording, so none of its intermediate
    /// tensors are kept. Backward recomputes `body` one slice of `sliceLength` at a time with
    /// recording on and back-propagates through it, so at most one slice's activations are alive.
    /// Gradients reach `x`, `shared` and every parameter `body` uses, equal to those of calling
    /// `body` directly up to float summation order.
    ///
    /// - Parameters:
    ///   - x: the sliced input `[..., N, ...]` (N along `dim`).
    ///   - shared: inputs every slice sees whole; their gradients are summed over the slices.
    ///   - dim: the slicing dimension of `x` and of the output.
    ///   - sliceLength: elements of `dim` per recomputed slice (≥ 1).
    ///   - keeping: the first `keeping` elements of `dim` run recorded, keeping their activations
    ///     for backward as a direct call would; only the rest are recomputed. Memory then grows
    ///     with `keeping`, and the recomputation shrinks by the same share.
    ///   - body: maps (a slice of `x` [..., n, ...], `shared`) to the output slice [..., n, ...].
    /// - Returns: `body(x, shared)`, `[..., N, ...]`.
    public static func checkpointed(_ x: Tensor, shared: [Tensor] = [], along dim: Int, sliceLength: Int, keeping: Int = 0,
                                    _ body: @escaping (Tensor, [Tensor]) -> Tensor) -> Tensor {
        precondition(sliceLength >= 1, "checkpointed: slice length must be at least 1, got \(sliceLength)")
        precondition(keeping >= 0, "checkpointed: cannot keep \(keeping) elements")
        let inputs = [x] + shared
        // Nothing to differentiate through: no saving or recomputation needed.
        guard GradientMode.isEnabled, inputs.contains(where: { $0.gradientEdge != nil }) else { return body(x, shared) }
        let a = x.axis(dim, op: "checkpointed")
        if keeping >= x.shape[a] { return body(x, shared) }
        if keeping > 0 {
            let kept = body(x.narrowed(a, start: 0, length: keeping), shared)
            let recomputed = checkpointed(x.narrowed(a, start: keeping, length: x.shape[a] - keeping), shared: shared, along: a,
                                          sliceLength: sliceLength, body)
            return Tensor.concat([kept, recomputed], along: a)
        }
        let output = noGrad { body(x, shared) }
        precondition(output.rank == x.rank && output.shape[a] == x.shape[a],
                     "checkpointed: the output \(output.shape) must keep dimension \(a) of the input \(x.shape)")
        return record("checkpointed", inputs: inputs, output: output) { gradient in
            let previous = GradientMode.isEnabled
            GradientMode.isEnabled = true
            defer { GradientMode.isEnabled = previous }
            let sharedLeaves = shared.map { tensor -> Tensor in
                let leaf = tensor.detached()
                leaf.requiresGrad = tensor.gradientEdge != nil
                return leaf
            }
            let n = x.shape[a]
            var sliceGradients: [Tensor] = []
            for start in stride(from: 0, to: n, by: sliceLength) {
                let length = Swift.min(sliceLength, n - start)
                let slice = noGrad { x.narrowed(a, start: start, length: length) }.detached()
                slice.requiresGrad = true
                body(slice, sharedLeaves).backward(gradient: noGrad { gradient.narrowed(a, start: start, length: length) })
                sliceGradients.append(slice.grad ?? Tensor(repeating: 0, shape: slice.shape))
            }
            let inputGradient = x.gradientEdge == nil ? nil : Tensor.concat(sliceGradients, along: a)
            return [inputGradient] + sharedLeaves.map { $0.requiresGrad ? $0.grad : nil }
        }
    }
}
