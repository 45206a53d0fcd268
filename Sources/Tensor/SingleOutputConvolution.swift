// A direct stencil for convolutions with one output channel (the decoder's 1-channel heads).
//
// As im2col + GEMM such a convolution is a matrix–vector product that unfolds its input nine
// times over for a 1-row result (≈ 7 GFLOP/s); as a stencil every output row is a sum of shifted
// input rows scaled by one weight each, which vectorises along the row and needs no scratch.

extension Tensor {
    /// `conv2d` for weight [1, C, kh, kw] with stride 1, dilation 1 and one group: `x` [N, C, H, W]
    /// → [N, 1, H', W'], H' = H + 2·padding − kh + 1.
    static func singleOutputConv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, padding: (Int, Int)) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw) = (weight.shape[2], weight.shape[3])
        let (oh, ow) = (h + 2 * padding.0 - kh + 1, w + 2 * padding.1 - kw + 1)
        precondition(weight.shape[0] == 1 && weight.shape[1] == c && oh > 0 && ow > 0,
                     "conv2d: weight \(weight.shape) is not a single-output kernel for input \(x.shape)")
        let out = Tensor(uninitializedShape: [n, 1, oh, ow])
        let (input, kernel, output) = (x.pointer, weight.pointer, out.pointer)
        let initial = bias?.pointer[0] ?? 0
        /// The output columns whose input column ox − padding + kj lies inside the image.
        func columns(_ kj: Int) -> Range<Int> { Swift.max(0, padding.1 - kj)..<Swift.min(ow, w + padding.1 - kj) }
        Parallel.forEach(n * oh, grain: Swift.max(1, 4096 / Swift.max(c * kh * kw * ow, 1))) { range in
            for line in range {
                let (image, oy) = line.quotientAndRemainder(dividingBy: oh)
                let target = output + line * ow
                target.initialize(repeating: initial, count: ow)
                for channel in 0..<c {
                    for ki in 0..<kh {
                        let iy = oy - padding.0 + ki
                        guard iy >= 0 && iy < h else { continue }
                        let row = input + ((image * c + channel) * h + iy) * w
                        for kj in 0..<kw {
                            let weightValue = kernel[(channel * kh + ki) * kw + kj]
                            let source = row + kj - padding.1
                            for ox in columns(kj) { target[ox] += weightValue * source[ox] }
                        }
                    }
                }
            }
        }
        let (savedInput, savedWeight) = (x.detached(), weight.detached())
        return record("conv2d", inputs: [x, weight] + (bias.map { [$0] } ?? []), output: out) { gradient in
            let g = gradient.pointer
            let dx = x.requiresGrad ? Tensor(uninitializedShape: x.shape) : nil
            // Per (image, channel) weight-gradient partials, summed over the images in order below.
            let partial = weight.requiresGrad ? Tensor(uninitializedShape: [n, c * kh * kw]) : nil
            let (xs, ws) = (savedInput.pointer, savedWeight.pointer)
            Parallel.forEach(n * c, grain: 1) { range in
                for plane in range {
                    let (image, channel) = plane.quotientAndRemainder(dividingBy: c)
                    let inputPlane = xs + plane * h * w
                    if let dx {
                        // dx[iy, ix] = Σ g[iy + p − ki, ix + p − kj] · w[ki, kj]
                        let target = dx.pointer + plane * h * w
                        target.initialize(repeating: 0, count: h * w)
                        for oy in 0..<oh {
                            let gradientRow = g + (image * oh + oy) * ow
                            for ki in 0..<kh {
                                let iy = oy - padding.0 + ki
                                guard iy >= 0 && iy < h else { continue }
                                let row = target + iy * w
                                for kj in 0..<kw {
                                    let weightValue = ws[(channel * kh + ki) * kw + kj]
                                    let shifted = row + kj - padding.1
                                    for ox in columns(kj) { shifted[ox] += weightValue * gradientRow[ox] }
                                }
                            }
                        }
                    }
                    if let partial {
                        // dw[ki, kj] = Σ g[oy, ox] · x[oy − p + ki, ox − p + kj]
                        let sums = partial.pointer + (image * c + channel) * kh * kw
                        for ki in 0..<kh {
                            for kj in 0..<kw {
                                var lanes = SIMD8<Float>(), total: Float = 0
                                for oy in 0..<oh {
                                    let iy = oy - padding.0 + ki
                                    guard iy >= 0 && iy < h else { continue }
                                    let (gradientRow, source) = (g + (image * oh + oy) * ow, inputPlane + iy * w + kj - padding.1)
                                    let span = columns(kj)
                                    var ox = span.lowerBound
                                    while ox + 8 <= span.upperBound {
                                        lanes += UnsafeRawPointer(gradientRow + ox).loadUnaligned(as: SIMD8<Float>.self)
                                            * UnsafeRawPointer(source + ox).loadUnaligned(as: SIMD8<Float>.self)
                                        ox += 8
                                    }
                                    while ox < span.upperBound { total += gradientRow[ox] * source[ox]; ox += 1 }
                                }
                                sums[ki * kw + kj] = lanes.sum() + total
                            }
                        }
                    }
                }
            }
            let dw: Tensor? = partial.map { partial in
                let total = Tensor(repeating: 0, shape: weight.shape)
                for image in 0..<n { for i in 0..<(c * kh * kw) { total.pointer[i] += partial.pointer[image * c * kh * kw + i] } }
                return total
            }
            let db = bias.map { b in b.requiresGrad ? gradient.sum(axes: [0, 1, 2, 3]).reshaped([1]) : nil } ?? nil
            return [dx, dw] + (bias == nil ? [] : [db])
        }
    }
}
