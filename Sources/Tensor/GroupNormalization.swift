// Group normalisation, optionally followed by ReLU, as one fused operation.

extension Tensor {
    /// GroupNorm of [N, C, ...]: statistics over each group of C/groups channels and all
    /// positions (biased variance), then a per-channel affine `weight`/`bias` [C], then ReLU when
    /// `relu` is set — PyTorch's `relu(group_norm(x, groups, weight, bias, eps))`.
    ///
    /// One pass reads a group for its statistics and one writes the normalised, affine and
    /// rectified output, instead of separate normalisation, scale, shift and ReLU passes (each
    /// over the whole tensor, each keeping its own tensor for backward). Backward keeps x̂ and
    /// the output (for the ReLU mask) and makes two passes per group; the weight and bias
    /// gradients are summed per group and then over the batch in order, so results do not depend
    /// on the thread count.
    /// - Parameter self: [N, C, ...].
    /// - Returns: [N, C, ...].
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5, relu: Bool = false) -> Tensor {
        precondition(rank >= 2 && groups > 0 && shape[1] % groups == 0,
                     "group_norm: \(shape.count >= 2 ? shape[1] : 0) channels of \(shape) are not divisible into \(groups) groups")
        let (n, c) = (shape[0], shape[1])
        for p in [weight, bias].compactMap({ $0 }) where p.shape != [c] {
            fatalError("group_norm: parameter of shape \(p.shape) for input \(shape) (expected [\(c)])")
        }
        let plane = count / Swift.max(n * c, 1), perGroup = c / groups
        let length = perGroup * plane, rows = n * groups
        let recording = GradientMode.isEnabled && (requiresGrad || weight?.requiresGrad == true || bias?.requiresGrad == true)
        let out = Tensor(uninitializedShape: shape)
        let normalized: Tensor? = recording ? Tensor(uninitializedShape: shape) : nil
        let inverseStd = Tensor(uninitializedShape: [rows])
        let (x, y, xhat, rstd) = (pointer, out.pointer, normalized?.pointer, inverseStd.pointer)
        let (w, b) = (weight?.pointer, bias?.pointer)
        Parallel.forEach(rows, grain: Swift.max(1, 16_384 / Swift.max(length, 1))) { range in
            for row in range {
                let xs = x + row * length
                let mean = Kernels.sum(xs, length) / Float(length)
                let r = 1 / (Kernels.squaredDeviationSum(xs, length, mean: mean) / Float(length) + eps).squareRoot()
                rstd[row] = r
                let firstChannel = (row % groups) * perGroup
                for j in 0..<perGroup {
                    let channel = firstChannel + j
                    let (scale, shift) = (w.map { $0[channel] } ?? 1, b.map { $0[channel] } ?? 0)
                    let source = xs + j * plane, target = y + row * length + j * plane
                    if let xhat {
                        let saved = xhat + row * length + j * plane
                        for i in 0..<plane { saved[i] = (source[i] - mean) * r }
                        if relu { for i in 0..<plane { target[i] = Swift.max(saved[i] * scale + shift, 0) } }
                        else { for i in 0..<plane { target[i] = saved[i] * scale + shift } }
                    } else if relu {
                        for i in 0..<plane { target[i] = Swift.max((source[i] - mean) * r * scale + shift, 0) }
                    } else {
                        for i in 0..<plane { target[i] = (source[i] - mean) * r * scale + shift }
                    }
                }
            }
        }
        guard let normalized else { return out }
        let output = out.detached(), savedWeight = weight?.detached()
        let (inputNeedsGrad, weightNeedsGrad, biasNeedsGrad) = (requiresGrad, weight?.requiresGrad ?? false, bias?.requiresGrad ?? false)
        return Tensor.record(relu ? "group_norm_relu" : "group_norm", inputs: [self, weight, bias].compactMap { $0 }, output: out) { g in
            let dx: Tensor? = inputNeedsGrad ? Tensor(uninitializedShape: g.shape) : nil
            // Per (image, channel) sums of g·x̂ and g, reduced over the images in order below.
            let partialWeight = Tensor(uninitializedShape: [n, c]), partialBias = Tensor(uninitializedShape: [n, c])
            let (gp, yp, xh, r) = (g.pointer, output.pointer, normalized.pointer, inverseStd.pointer)
            let (pw, pb, dp, w) = (partialWeight.pointer, partialBias.pointer, dx?.pointer, savedWeight?.pointer)
            Parallel.forEach(rows, grain: Swift.max(1, 16_384 / Swift.max(length, 1))) { range in
                for row in range {
                    let firstChannel = (row % groups) * perGroup, image = row / groups
                    // d = g' · weight with g' the gradient after the ReLU mask; its mean and the mean of d ⊙ x̂.
                    var (sumD, sumDX): (Float, Float) = (0, 0)
                    for j in 0..<perGroup {
                        let channel = firstChannel + j, offset = row * length + j * plane
                        let (gs, ys, hs) = (gp + offset, yp + offset, xh + offset)
                        var lanesG = SIMD8<Float>(), lanesGX = SIMD8<Float>()
                        var i = 0
                        while i + 8 <= plane {
                            var gv = UnsafeRawPointer(gs + i).loadUnaligned(as: SIMD8<Float>.self)
                            if relu {
                                let yv = UnsafeRawPointer(ys + i).loadUnaligned(as: SIMD8<Float>.self)
                                gv.replace(with: 0, where: yv .<= 0)
                            }
                            lanesG += gv
                            lanesGX += gv * UnsafeRawPointer(hs + i).loadUnaligned(as: SIMD8<Float>.self)
                            i += 8
                        }
                        var (totalG, totalGX) = (lanesG.sum(), lanesGX.sum())
                        while i < plane {
                            let gv = relu && ys[i] <= 0 ? 0 : gs[i]
                            totalG += gv
                            totalGX += gv * hs[i]
                            i += 1
                        }
                        pw[image * c + channel] = totalGX
                        pb[image * c + channel] = totalG
                        let scale = w.map { $0[channel] } ?? 1
                        sumD += scale * totalG
                        sumDX += scale * totalGX
                    }
                    guard let dp else { continue }
                    let (meanD, meanDX, rs) = (sumD / Float(length), sumDX / Float(length), r[row])
                    for j in 0..<perGroup {
                        let channel = firstChannel + j, offset = row * length + j * plane
                        let (gs, ys, hs, ds) = (gp + offset, yp + offset, xh + offset, dp + offset)
                        let scale = w.map { $0[channel] } ?? 1
                        if relu {
                            for i in 0..<plane { ds[i] = rs * ((ys[i] > 0 ? gs[i] * scale : 0) - meanD - hs[i] * meanDX) }
                        } else {
                            for i in 0..<plane { ds[i] = rs * (gs[i] * scale - meanD - hs[i] * meanDX) }
                        }
                    }
                }
            }
            /// Σ over the images of a [N, C] partial → [C].
            func reduced(_ partial: Tensor) -> Tensor {
                let total = Tensor(repeating: 0, shape: [c])
                for image in 0..<n { for channel in 0..<c { total.pointer[channel] += partial.pointer[image * c + channel] } }
                return total
            }
            var gradients: [Tensor?] = [dx]
            if weight != nil { gradients.append(weightNeedsGrad ? reduced(partialWeight) : nil) }
            if bias != nil { gradients.append(biasNeedsGrad ? reduced(partialBias) : nil) }
            return gradients
        }
    }
}

extension Kernels {
    /// Σ (x[i] − mean)² over `count` floats, in eight SIMD lanes.
    @inlinable
    public static func squaredDeviationSum(_ x: UnsafePointer<Float>, _ count: Int, mean: Float) -> Float {
        var lanes = SIMD8<Float>()
        let center = SIMD8<Float>(repeating: mean)
        var i = 0
        while i + 8 <= count {
            let d = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - center
            lanes += d * d
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            let d = x[i] - mean
            total += d * d
            i += 1
        }
        return total
    }
}
