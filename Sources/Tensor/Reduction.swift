// Sums, means and maxima over axes.

extension Tensor {
    /// Sum over `axes` (negative counts from the end); keeps them as size 1 when `keepDims`.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let reduced = Set(axes.map { axis($0, op: "sum") })
        var result = self.detached()
        // Reduce one axis at a time, innermost first, so the shapes stay simple.
        for a in reduced.sorted(by: >) {
            let outer = result.shape[..<a].reduce(1, *), n = result.shape[a], inner = result.shape[(a + 1)...].reduce(1, *)
            var newShape = result.shape
            newShape[a] = 1
            let out = Tensor(uninitializedShape: newShape)
            Kernels.sumAxis(result.pointer, out.pointer, outer: outer, n: n, inner: inner)
            result = out
        }
        let keptShape = result.shape
        let finalShape = keepDims ? keptShape : shape.enumerated().filter { !reduced.contains($0.offset) }.map(\.element)
        let out = Tensor(shape: finalShape, storage: result.storage)
        return Tensor.record("sum", inputs: [self], output: out) { [shape] g in
            [g.reshaped(keptShape).broadcast(to: shape)]
        }
    }

    /// Sum of all elements (a scalar).
    public func sum() -> Tensor { sum(axes: Array(0..<rank)) }

    /// Mean over `axes`.
    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        let n = Set(axes.map { axis($0, op: "mean") }).reduce(1) { $0 * shape[$1] }
        return sum(axes: axes, keepDims: keepDims) * (1 / Float(n))
    }

    /// Mean of all elements (a scalar).
    public func mean() -> Tensor { sum() * (1 / Float(Swift.max(count, 1))) }

    /// Sums this gradient-shaped tensor down to `target`, undoing broadcasting.
    func sum(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let offset = rank - target.count
        let axes = (0..<rank).filter { $0 < offset || (target[$0 - offset] == 1 && shape[$0] != 1) }
        return sum(axes: axes, keepDims: true).reshaped(target)
    }

    /// Repeats size-1 (or missing leading) dimensions to reach `target` (materialised).
    public func broadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        let checked = Broadcasting.shape(shape, target, op: "broadcast")
        precondition(checked == target, "broadcast: shape \(shape) cannot be broadcast to \(target)")
        let out = Tensor(uninitializedShape: target)
        Kernels.broadcastZip(pointer, shape, pointer, shape, out.pointer, target, FirstOperand())
        return Tensor.record("broadcast", inputs: [self], output: out) { [shape] g in [g.sum(toShape: shape)] }
    }

    /// Maximum over `axis`; the gradient flows to the first maximal element.
    public func max(axis dim: Int, keepDims: Bool = false) -> Tensor {
        let a = axis(dim, op: "max")
        let outer = shape[..<a].reduce(1, *), n = shape[a], inner = shape[(a + 1)...].reduce(1, *)
        let indices = argmax(axis: a)
        var keptShape = shape
        keptShape[a] = 1
        let out = Tensor(uninitializedShape: keepDims ? keptShape : shape.enumerated().filter { $0.offset != a }.map(\.element))
        let sourceOffset = { (index: Int) in ((index / inner) * n + Int(indices[index])) * inner + index % inner }
        for index in 0..<(outer * inner) { out.pointer[index] = pointer[sourceOffset(index)] }
        return Tensor.record("max", inputs: [self], output: out) { [shape] g in
            let dx = Tensor(repeating: 0, shape: shape)
            for index in 0..<(outer * inner) { dx.pointer[sourceOffset(index)] = g.pointer[index] }
            return [dx]
        }
    }

    /// Index of the maximum along `axis` (first on ties), as Int32 values [shape without axis].
    public func argmax(axis dim: Int) -> [Int32] {
        let a = axis(dim, op: "argmax")
        let outer = shape[..<a].reduce(1, *), n = shape[a], inner = shape[(a + 1)...].reduce(1, *)
        precondition(n > 0, "argmax: axis \(dim) of shape \(shape) is empty")
        var result = [Int32](repeating: 0, count: outer * inner)
        let x = pointer
        result.withUnsafeMutableBufferPointer { indices in
            let out = indices.baseAddress!
            Parallel.forEach(outer * inner, grain: 4096) { range in
                for index in range {
                    let o = index / inner, i = index % inner
                    var best = x[o * n * inner + i], bestK: Int32 = 0
                    for k in 1..<n where x[(o * n + k) * inner + i] > best {
                        best = x[(o * n + k) * inner + i]
                        bestK = Int32(k)
                    }
                    out[index] = bestK
                }
            }
        }
        return result
    }
}

/// `x` of `(x, y)`: broadcasting a tensor is zipping it with itself and keeping one side.
private struct FirstOperand: BinaryElementFunction {
    func callAsFunction(_ x: Float, _ y: Float) -> Float { x }
}
