// Layer normalisation and L2 normalisation.

extension Tensor {
    /// LayerNorm over the last dimension: `(x - mean) / sqrt(var + eps) · weight + bias`, with the
    /// biased variance (PyTorch). `weight` and `bias` are [last dimension] or nil.
    ///
    /// Each row is normalised and its affine step applied while it is in cache, with no
    /// intermediate tensors (x̂ is kept only when backward needs it); backward folds `g · weight`
    /// into the normalisation's chain rule.
    /// - Parameter self: [..., N].
    /// - Returns: [..., N].
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let n = shape.last ?? 1
        for p in [weight, bias].compactMap({ $0 }) where p.shape != [n] {
            fatalError("layer_norm: parameter of shape \(p.shape) for input \(shape) (expected [\(n)])")
        }
        let rows = count / Swift.max(n, 1)
        let recording = GradientMode.isEnabled && (requiresGrad || weight?.requiresGrad == true || bias?.requiresGrad == true)
        let out = Tensor(uninitializedShape: shape)
        // x̂ is kept for backward; without one (or without an affine step) it is the output itself.
        let normalized = recording && (weight != nil || bias != nil) ? Tensor(uninitializedShape: shape) : out
        let inverseStd = Tensor(uninitializedShape: [rows])
        let x = pointer, xhat = normalized.pointer, y = out.pointer, rstd = inverseStd.pointer
        let (w, b) = (weight?.pointer, bias?.pointer)
        let grain = Swift.max(1, 8192 / Swift.max(n, 1))
        Parallel.forEach(rows, grain: grain) { range in
            for row in range {
                rstd[row] = Kernels.layerNormRow(x + row * n, normalized: xhat + row * n, y + row * n, n, weight: w, bias: b, eps: eps)
            }
        }
        guard recording else { return out }
        let savedNormalized = normalized === out ? out.detached() : normalized
        let savedWeight = weight?.detached()
        let (inputNeedsGrad, weightNeedsGrad, biasNeedsGrad) = (requiresGrad, weight?.requiresGrad ?? false, bias?.requiresGrad ?? false)
        let (hasWeight, hasBias) = (weight != nil, bias != nil)
        return Tensor.record("layer_norm", inputs: [self, weight, bias].compactMap { $0 }, output: out) { g in
            let input: Tensor? = inputNeedsGrad ? Tensor(uninitializedShape: g.shape) : nil
            if let input {
                // With d = g · weight: dx = rstd · (d − mean(d) − x̂ · mean(d ⊙ x̂)) per row.
                let xhat = savedNormalized.pointer, rstd = inverseStd.pointer, gp = g.pointer, dp = input.pointer
                let w = savedWeight?.pointer
                Parallel.forEach(rows, grain: grain) { range in
                    for row in range {
                        let gs = gp + row * n, hs = xhat + row * n, ds = dp + row * n
                        if let w { for i in 0..<n { ds[i] = gs[i] * w[i] } } else { ds.update(from: gs, count: n) }
                        let meanD = Kernels.sum(ds, n) / Float(n)
                        let meanDX = Kernels.dot(ds, hs, n) / Float(n)
                        let r = rstd[row]
                        for i in 0..<n { ds[i] = r * (ds[i] - meanD - hs[i] * meanDX) }
                    }
                }
            }
            var gradients = [input]
            if hasWeight { gradients.append(weightNeedsGrad ? (g * savedNormalized).sum(toShape: [n]) : nil) }
            if hasBias { gradients.append(biasNeedsGrad ? g.sum(toShape: [n]) : nil) }
            return gradients
        }
    }

    /// Divides by the L2 norm along `dim` (norm clamped below by `eps`, like F.normalize).
    public func l2Normalized(dim: Int = -1, eps: Float = 1e-12) -> Tensor {
        let norm = square().sum(axes: [dim], keepDims: true).sqrt().clamp(min: eps)
        return self / norm
    }
}

extension Tensor {
    /// BatchNorm of [N, C, ...] in training mode: statistics over N and positions per channel
    /// (biased variance), per-channel affine. Returns the output and the batch mean and
    /// unbiased variance [C] for the running statistics.
    public func batchNormTraining(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> (output: Tensor, mean: [Float], variance: [Float]) {
        precondition(rank >= 2, "batch_norm: input \(shape) needs a channel dimension")
        let channelsFirst = transposed(0, 1)
        let perChannel = channelsFirst.reshaped([shape[1], -1])
        let n = perChannel.shape[1]
        precondition(n > 1, "batch_norm: training needs more than one value per channel, got input \(shape)")
        let mean = (0..<shape[1]).map { Kernels.sum(perChannel.pointer + $0 * n, n) / Float(n) }
        let variance = (0..<shape[1]).map { c -> Float in
            let row = perChannel.pointer + c * n
            var total: Float = 0
            for i in 0..<n { let d = row[i] - mean[c]; total += d * d }
            return total / Float(n - 1)
        }
        let normalized = perChannel.layerNorm(weight: nil, bias: nil, eps: eps).reshaped(channelsFirst.shape).transposed(0, 1)
        return (normalized.channelAffine(weight: weight, bias: bias), mean, variance)
    }

    /// BatchNorm of [N, C, ...] with fixed statistics `mean`/`variance` [C] (evaluation mode).
    public func batchNormInference(mean: Tensor, variance: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let channelShape = [shape[1]] + [Int](repeating: 1, count: rank - 2)
        let normalized = (self - mean.reshaped(channelShape)) * (variance + eps).rsqrt().reshaped(channelShape)
        return normalized.channelAffine(weight: weight, bias: bias)
    }

    /// `x · weight[c] + bias[c]` along dimension 1.
    func channelAffine(weight: Tensor?, bias: Tensor?) -> Tensor {
        let channelShape = [shape[1]] + [Int](repeating: 1, count: rank - 2)
        var result = self
        if let weight { result = result * weight.reshaped(channelShape) }
        if let bias { result = result + bias.reshaped(channelShape) }
        return result
    }

    /// Rows of `table` [V, D] for `indices` → [indices.count, D]; the gradient scatter-adds.
    public static func embedding(_ table: Tensor, _ indices: [Int]) -> Tensor {
        precondition(table.rank == 2, "embedding: table \(table.shape) must be [vocabulary, dimension]")
        return table.indexSelect(0, indices)
    }
}
