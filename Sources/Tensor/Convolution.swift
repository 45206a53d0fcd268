import Synchronization

// 2-D convolution and transposed convolution by im2col + GEMM; `conv2d` hands the shapes that
// suit them to the direct kernels (DirectConvolution.swift, SingleOutputConvolution.swift).

/// Geometry of a 2-D convolution window.
public struct Convolution2DGeometry: Equatable, Sendable {
    public var kernel: (Int, Int)
    public var stride: (Int, Int)
    public var padding: (Int, Int)
    public var dilation: (Int, Int)

    public init(kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1)) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.padding == b.padding && a.dilation == b.dilation
    }

    /// The output columns `ow` of kernel column `kj` whose input column `ow·stride + kj·dilation −
    /// padding` lies inside `0..<width`, for rows `outWidth` long; `offset` is `kj·dilation − padding`.
    func validColumns(kernelColumn kj: Int, width: Int, outWidth: Int) -> (range: Range<Int>, offset: Int) {
        let offset = kj * dilation.1 - padding.1
        /// ⌈a / stride⌉ (Swift's division truncates towards zero, which is the ceiling for a ≤ 0).
        func ceilingDivision(_ a: Int) -> Int { a > 0 ? (a + stride.1 - 1) / stride.1 : a / stride.1 }
        let first = Swift.min(outWidth, Swift.max(0, ceilingDivision(-offset)))
        let last = Swift.max(first, Swift.min(outWidth, ceilingDivision(width - offset)))
        return (first..<last, offset)
    }

    /// Output size of a convolution over an input of `height × width`.
    func convolutionOutput(_ height: Int, _ width: Int) -> (Int, Int) {
        ((height + 2 * padding.0 - dilation.0 * (kernel.0 - 1) - 1) / stride.0 + 1,
         (width + 2 * padding.1 - dilation.1 * (kernel.1 - 1) - 1) / stride.1 + 1)
    }
}

extension Kernels {
    /// Unfolds `image` [channels, height, width] into `columns` [channels·kh·kw, outH·outW]
    /// (zero where the window leaves the image).
    static func im2col(_ image: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                       _ g: Convolution2DGeometry, outHeight: Int, outWidth: Int, into columns: UnsafeMutablePointer<Float>) {
        let (kh, kw) = g.kernel
        let rows = channels * kh * kw
        Parallel.forEach(rows, grain: Swift.max(1, 4096 / Swift.max(outHeight * outWidth, 1))) { range in
            for row in range {
                let c = row / (kh * kw), ki = (row / kw) % kh, kj = row % kw
                let plane = image + c * height * width
                let out = columns + row * outHeight * outWidth
                let (valid, columnOffset) = g.validColumns(kernelColumn: kj, width: width, outWidth: outWidth)
                for oh in 0..<outHeight {
                    let ih = oh * g.stride.0 - g.padding.0 + ki * g.dilation.0
                    let line = out + oh * outWidth
                    guard ih >= 0 && ih < height else {
                        line.initialize(repeating: 0, count: outWidth)
                        continue
                    }
                    let source = plane + ih * width + columnOffset
                    line.initialize(repeating: 0, count: valid.lowerBound)
                    if g.stride.1 == 1 {
                        (line + valid.lowerBound).update(from: source + valid.lowerBound, count: valid.count)
                    } else {
                        for ow in valid { line[ow] = source[ow * g.stride.1] }
                    }
                    (line + valid.upperBound).initialize(repeating: 0, count: outWidth - valid.upperBound)
                }
            }
        }
    }

    /// Folds `columns` [channels·kh·kw, outH·outW] back, adding into `image` [channels, height, width].
    static func col2im(_ columns: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                       _ g: Convolution2DGeometry, outHeight: Int, outWidth: Int, addingInto image: UnsafeMutablePointer<Float>) {
        let (kh, kw) = g.kernel
        // One channel per task: its rows only write into its own plane.
        Parallel.forEach(channels, grain: 1) { range in
            for c in range {
                let plane = image + c * height * width
                for ki in 0..<kh {
                    for kj in 0..<kw {
                        let row = (c * kh + ki) * kw + kj
                        let source = columns + row * outHeight * outWidth
                        let (valid, columnOffset) = g.validColumns(kernelColumn: kj, width: width, outWidth: outWidth)
                        for oh in 0..<outHeight {
                            let ih = oh * g.stride.0 - g.padding.0 + ki * g.dilation.0
                            guard ih >= 0 && ih < height else { continue }
                            let target = plane + ih * width + columnOffset, line = source + oh * outWidth
                            if g.stride.1 == 1 {
                                for ow in valid { target[ow] += line[ow] }
                            } else {
                                for ow in valid { target[ow * g.stride.1] += line[ow] }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// 2-D convolution (cross-correlation, as PyTorch): `x` [N, C, H, W], `weight`
    /// [O, C/groups, kh, kw], `bias` [O] → [N, O, H', W'].
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1),
                              padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        precondition(x.rank == 4 && weight.rank == 4, "conv2d: input \(x.shape) and weight \(weight.shape) must be 4-D")
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        precondition(c % groups == 0 && o % groups == 0 && cg == c / groups,
                     "conv2d: weight \(weight.shape) does not fit input \(x.shape) with \(groups) groups")
        precondition(bias == nil || bias!.shape == [o], "conv2d: bias \(bias!.shape) for \(o) output channels")
        let g = Convolution2DGeometry(kernel: (kh, kw), stride: stride, padding: padding, dilation: dilation)
        let (oh, ow) = g.convolutionOutput(h, w)
        precondition(oh > 0 && ow > 0, "conv2d: input \(x.shape) is smaller than the kernel \(weight.shape)")
        if o == 1 && groups == 1 && stride == (1, 1) && dilation == (1, 1) {
            return singleOutputConv2d(x, weight: weight, bias: bias, padding: padding)
        }
        if runsDirect3x3(outChannels: o, width: w, kernel: (kh, kw), stride: stride, padding: padding, dilation: dilation, groups: groups) {
            return conv2dDirect3x3(x, weight: weight, bias: bias)
        }
        return conv2dByIm2col(x, weight: weight, bias: bias, g, groups: groups)
    }

    /// `conv2d` by unfolding each image (im2col) and one GEMM per group; every shape.
    /// `x` [N, C, H, W], `weight` [O, C/groups, kh, kw], `bias` [O] → [N, O, H', W'].
    public static func conv2dByIm2col(_ x: Tensor, weight: Tensor, bias: Tensor?, _ g: Convolution2DGeometry, groups: Int) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let (oh, ow) = g.convolutionOutput(h, w)
        let og = o / groups, k = cg * kh * kw, l = oh * ow
        // A 1×1 kernel with stride 1 and no padding reads each image as it lies: nothing to unfold.
        let pointwise = kh == 1 && kw == 1 && g.stride == (1, 1) && g.padding == (0, 0)
        /// The GEMM operand [k, l] of one group of one image: the image itself, or unfolded into `columns`.
        func unfolded(_ image: UnsafePointer<Float>, _ columns: Tensor?) -> UnsafePointer<Float> {
            guard let columns else { return image }
            Kernels.im2col(image, channels: cg, height: h, width: w, g, outHeight: oh, outWidth: ow, into: columns.pointer)
            return UnsafePointer(columns.pointer)
        }
        let out = Tensor(uninitializedShape: [n, o, oh, ow])
        // Images go one per core when they are many or small (each worker unfolds into its own columns).
        BLAS.forEachBatchRange(n, flopsPerEntry: 2 * o * k * l) { images in
            let columns = pointwise ? nil : Tensor(uninitializedShape: [k, l])
            for image in images {
                for group in 0..<groups {
                    let operand = unfolded(x.pointer + (image * c + group * cg) * h * w, columns)
                    BLAS.gemm(m: og, n: l, k: k, a: weight.pointer + group * og * k, lda: k, b: operand, ldb: l,
                              c: out.pointer + (image * o + group * og) * l, ldc: l)
                }
            }
        }
        if let bias { Kernels.addChannelBias(out.pointer, bias.pointer, batch: n, channels: o, plane: l) }
        let input = x.detached(), kernel = weight.detached()
        return record("conv2d", inputs: [x, weight] + (bias.map { [$0] } ?? []), output: out) { gradient in
            // Pointwise, each image's input gradient is one GEMM's output; otherwise col2im adds into zeros.
            let dx = x.requiresGrad ? (pointwise ? Tensor(uninitializedShape: x.shape) : Tensor(repeating: 0, shape: x.shape)) : nil
            let dw = weight.requiresGrad ? Tensor(repeating: 0, shape: weight.shape) : nil
            // Each worker sums the weight gradient of its images into its own partial (the first
            // worker into dw itself); the partials are added in worker order afterwards, so the
            // result depends only on the thread count.
            let partials = WeightGradientPartials(dw)
            BLAS.forEachBatchRange(n, flopsPerEntry: 4 * o * k * l) { images in
                let columns = pointwise ? nil : Tensor(uninitializedShape: [k, l])
                let dwImages = partials.buffer(startingAt: images.lowerBound)
                for image in images {
                    for group in 0..<groups {
                        let dy = gradient.pointer + (image * o + group * og) * l
                        let dxImage = dx.map { $0.pointer + (image * c + group * cg) * h * w }
                        if let dwImages {
                            BLAS.gemm(transposeB: true, m: og, n: k, k: l, a: dy, lda: l,
                                      b: unfolded(input.pointer + (image * c + group * cg) * h * w, columns), ldb: l,
                                      beta: 1, c: dwImages + group * og * k, ldc: k)
                        }
                        if let dxImage {
                            BLAS.gemm(transposeA: true, m: k, n: l, k: og, a: kernel.pointer + group * og * k, lda: k,
                                      b: dy, ldb: l, c: columns?.pointer ?? dxImage, ldc: l)
                            if let columns {
                                Kernels.col2im(columns.pointer, channels: cg, height: h, width: w, g, outHeight: oh, outWidth: ow,
                                               addingInto: dxImage)
                            }
                        }
                    }
                }
            }
            partials.addIntoGradient()
            let db = bias.map { b in b.requiresGrad ? gradient.sum(axes: [0, 2, 3]) : nil } ?? nil
            return [dx, dw] + (bias == nil ? [] : [db])
        }
    }

    /// Transposed 2-D convolution (PyTorch's ConvTranspose2d): `x` [N, Cin, H, W], `weight`
    /// [Cin, Cout/groups, kh, kw], `bias` [Cout] → [N, Cout, H', W'] with
    /// H' = (H−1)·stride − 2·padding + dilation·(kh−1) + outputPadding + 1.
    public static func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1),
                                       padding: (Int, Int) = (0, 0), outputPadding: (Int, Int) = (0, 0),
                                       dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Tensor {
        precondition(x.rank == 4 && weight.rank == 4, "conv_transpose2d: input \(x.shape) and weight \(weight.shape) must be 4-D")
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (wcin, cog, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        precondition(wcin == cin && cin % groups == 0, "conv_transpose2d: weight \(weight.shape) does not fit input \(x.shape) with \(groups) groups")
        let cout = cog * groups, cig = cin / groups
        precondition(bias == nil || bias!.shape == [cout], "conv_transpose2d: bias \(bias!.shape) for \(cout) output channels")
        let g = Convolution2DGeometry(kernel: (kh, kw), stride: stride, padding: padding, dilation: dilation)
        let oh = (h - 1) * stride.0 - 2 * padding.0 + dilation.0 * (kh - 1) + outputPadding.0 + 1
        let ow = (w - 1) * stride.1 - 2 * padding.1 + dilation.1 * (kw - 1) + outputPadding.1 + 1
        precondition(oh > 0 && ow > 0, "conv_transpose2d: empty output for input \(x.shape) and weight \(weight.shape)")
        let k = cog * kh * kw, l = h * w
        let out = Tensor(repeating: 0, shape: [n, cout, oh, ow])
        let columns = Tensor(uninitializedShape: [k, l])
        for image in 0..<n {
            for group in 0..<groups {
                // columns = W_gᵀ [k, cig] · x_g [cig, l], folded into the output.
                BLAS.gemm(transposeA: true, m: k, n: l, k: cig, a: weight.pointer + group * cig * k, lda: k,
                          b: x.pointer + (image * cin + group * cig) * l, ldb: l, c: columns.pointer, ldc: l)
                Kernels.col2im(columns.pointer, channels: cog, height: oh, width: ow, g, outHeight: h, outWidth: w,
                               addingInto: out.pointer + (image * cout + group * cog) * oh * ow)
            }
        }
        if let bias { Kernels.addChannelBias(out.pointer, bias.pointer, batch: n, channels: cout, plane: oh * ow) }
        let input = x.detached(), kernel = weight.detached()
        return record("conv_transpose2d", inputs: [x, weight] + (bias.map { [$0] } ?? []), output: out) { gradient in
            let dx = x.requiresGrad ? Tensor(uninitializedShape: x.shape) : nil
            let dw = weight.requiresGrad ? Tensor(repeating: 0, shape: weight.shape) : nil
            let columns = Tensor(uninitializedShape: [k, l])
            for image in 0..<n {
                for group in 0..<groups {
                    Kernels.im2col(gradient.pointer + (image * cout + group * cog) * oh * ow, channels: cog, height: oh, width: ow, g,
                                   outHeight: h, outWidth: w, into: columns.pointer)
                    if let dx {
                        BLAS.gemm(m: cig, n: l, k: k, a: kernel.pointer + group * cig * k, lda: k, b: columns.pointer, ldb: l,
                                  c: dx.pointer + (image * cin + group * cig) * l, ldc: l)
                    }
                    if let dw {
                        BLAS.gemm(transposeB: true, m: cig, n: k, k: l, a: input.pointer + (image * cin + group * cig) * l, lda: l,
                                  b: columns.pointer, ldb: l, beta: 1, c: dw.pointer + group * cig * k, ldc: k)
                    }
                }
            }
            let db = bias.map { b in b.requiresGrad ? gradient.sum(axes: [0, 2, 3]) : nil } ?? nil
            return [dx, dw] + (bias == nil ? [] : [db])
        }
    }
}

extension Kernels {
    /// `y[n, c, :] += bias[c]` for `y` [batch, channels, plane].
    static func addChannelBias(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int) {
        Parallel.forEach(batch * channels, grain: Swift.max(1, 16_384 / Swift.max(plane, 1))) { range in
            for index in range {
                let value = bias[index % channels], row = y + index * plane
                for i in 0..<plane { row[i] += value }
            }
        }
    }
}

/// Weight-gradient accumulators for workers that each handle a range of images: the worker whose
/// range starts at image 0 sums into the gradient itself, every other one into a zeroed buffer of
/// the same size, and ``addIntoGradient()`` adds those buffers in image order, so the sum depends
/// only on how the images were split (the thread count), not on timing.
private final class WeightGradientPartials {
    private let gradient: Tensor?
    private let others = Mutex<[(start: Int, buffer: Tensor)]>([])

    init(_ gradient: Tensor?) { self.gradient = gradient }

    /// The buffer the worker whose images start at `start` accumulates into (nil without a gradient).
    func buffer(startingAt start: Int) -> UnsafeMutablePointer<Float>? {
        guard let gradient else { return nil }
        if start == 0 { return gradient.pointer }
        let buffer = Tensor(repeating: 0, shape: gradient.shape)
        others.withLock { $0.append((start, buffer)) }
        return buffer.pointer
    }

    /// Adds the other workers' buffers into the gradient, in the order of their first image.
    func addIntoGradient() {
        guard let gradient else { return }
        for (_, buffer) in others.withLock({ $0 }).sorted(by: { $0.start < $1.start }) {
            Kernels.addInPlace(gradient.pointer, buffer.pointer, gradient.count)
        }
    }
}
