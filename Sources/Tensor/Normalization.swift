// Layer normalisation and L2 normalisation.

extension Tensor {
    /// LayerNorm over the last dimension: `(x - mean) / sqrt(var + eps) · weight + bias`, with the
    /// biased variance (PyTorch). `weight` and `bias` are [last dimension] or nil.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let n = shape.last ?? 1
        for p in [weight, bias].compactMap({ $0 }) where p.shape != [n] {
            fatalError("layer_norm: parameter of shape \(p.shape) for input \(shape) (expected [\(n)])")
        }
        let rows = count / Swift.max(n, 1)
        let normalized = Tensor(uninitializedShape: shape)
        let inverseStd = Tensor(uninitializedShape: [rows])
        let x = pointer, xhat = normalized.pointer, rstd = inverseStd.pointer
        Parallel.forEach(rows, grain: Swift.max(1, 8192 / Swift.max(n, 1))) { range in
            for row in range {
                let xs = x + row * n, ys = xhat + row * n
                let mean = Kernels.sum(xs, n) / Float(n)
                var variance: Float = 0
                for i in 0..<n { let d = xs[i] - mean; variance += d * d }
                let r = 1 / (variance / Float(n) + eps).squareRoot()
                rstd[row] = r
                for i in 0..<n { ys[i] = (xs[i] - mean) * r }
            }
        }
        let savedNormalized = normalized.detached()
        let normalizedRecorded = Tensor.record("layer_norm", inputs: [self], output: normalized) { g in
            // dx = rstd · (g - mean(g) - x̂ · mean(g ⊙ x̂)) per row.
            let dx = Tensor(uninitializedShape: g.shape)
            let xhat = savedNormalized.pointer, rstd = inverseStd.pointer, gp = g.pointer, dp = dx.pointer
            Parallel.forEach(rows, grain: Swift.max(1, 8192 / Swift.max(n, 1))) { range in
                for row in range {
                    let gs = gp + row * n, ys = xhat + row * n, ds = dp + row * n
                    var meanG: Float = 0, meanGY: Float = 0
                    for i in 0..<n { meanG += gs[i]; meanGY += gs[i] * ys[i] }
                    meanG /= Float(n)
                    meanGY /= Float(n)
                    let r = rstd[row]
                    for i in 0..<n { ds[i] = r * (gs[i] - meanG - ys[i] * meanGY) }
                }
            }
            return [dx]
        }
        var result = normalizedRecorded
        if let weight { result = result * weight }
        if let bias { result = result + bias }
        return result
    }

    /// Divides by the L2 norm along `dim` (norm clamped below by `eps`, like F.normalize).
    public func l2Normalized(dim: Int = -1, eps: Float = 1e-12) -> Tensor {
        let norm = square().sum(axes: [dim], keepDims: true).sqrt().clamp(min: eps)
        return self / norm
    }
}
