// A direct 3×3 convolution for maps with few output channels (the per-class decoder's).
//
// As im2col + GEMM, a 3×3 convolution with 32–64 output channels at 96² unfolds every map into a
// [9·C, H·W] matrix (16 MB at C = 48) and multiplies it by a 32-row weight: thin products that
// reach a third to a half of sgemm's rate, plus the unfolding's memory traffic. Direct, each tile
// of 4 output channels × 24 pixels of one row stays in twelve 8-lane registers while its 9·C
// products accumulate, reading a zero-bordered copy of the map that stays in cache. The input
// gradient is the same kernel run on the zero-bordered output gradient with the weights flipped
// and transposed; the weight gradient is nine GEMMs, one per tap, on shifted views of the
// bordered maps, again without unfolding.
//
// Two implementations compute the same chain of fused multiply-adds per output element, so they
// give the same bits: a Swift one on 8-lane vectors (AVX2 on x86-64), and a C one on 16-lane
// vectors (CAVX512Kernels) where the CPU has AVX-512, with twice the tile in twice the registers.
// The AVX-512 path also computes the weight gradient directly (per tap, 16 pixels per lane sum),
// which is faster than nine GEMMs with a long, thin shape; its sums run in a different order.
import CAVX512Kernels

/// The direct 3×3 convolution's two implementations (``SIMDKernel``): `.portable` has register
/// tiles of 4 output channels × 24 pixels of one row, `.avx512` tiles of 8 output channels × 48
/// pixels. Both sum each output element and each input-gradient element in the same order with
/// fused multiply-adds, so they give identical outputs and input gradients; their weight
/// gradients differ in the order of the sums.
extension SIMDKernel {
    /// Output channels one register tile covers (the taps are laid out in tiles of this many).
    var tileChannels: Int { self == .portable ? 4 : Int(FGASEG_DIRECT_AVX512_TILE_CHANNELS) }
}

extension Kernels {
    /// Output pixels (of one row) one register tile of the portable kernel covers: three 8-lane vectors.
    static let directTileWidth = 24
    /// Floats past the end of a bordered map that either kernel of
    /// ``direct3x3(_:channels:height:width:taps:outChannels:into:kernel:)`` and the weight-gradient
    /// views may read (zero, or ignored): the widest last tile's overhang.
    static let directSlack = Swift.max(32, Int(FGASEG_DIRECT_AVX512_SLACK))

    /// Copies `image` [channels, height, width] into the interior of `bordered`
    /// [channels, height + 2, width + 2], whose one-pixel border the caller keeps at zero.
    static func copyInsideBorder(_ image: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                                 into bordered: UnsafeMutablePointer<Float>) {
        let rowLength = width + 2, plane = (height + 2) * rowLength
        Parallel.forEach(channels, grain: Swift.max(1, 32_768 / Swift.max(height * width, 1))) { range in
            for channel in range {
                for row in 0..<height {
                    (bordered + channel * plane + (row + 1) * rowLength + 1)
                        .update(from: image + (channel * height + row) * width, count: width)
                }
            }
        }
    }

    /// `output` [outChannels, height, width] = the 3×3 cross-correlation of `bordered`
    /// [channels, height + 2, width + 2] (a map with a zero border, readable ``directSlack``
    /// floats past its end) with `taps` [⌈outChannels / t⌉, channels, 3, 3, t], t = the kernel's
    /// ``SIMDKernel/tileChannels`` (each tile's weights contiguous; zero past the last output
    /// channel). Each output element is summed over channels, then kernel rows, then kernel
    /// columns, by one thread, whatever the thread count or kernel.
    static func direct3x3(_ bordered: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                          taps: UnsafePointer<Float>, outChannels: Int, into output: UnsafeMutablePointer<Float>,
                          kernel: SIMDKernel) {
        kernel.requireSupported(by: "direct3x3")
        if kernel == .avx512 {
            Parallel.forEach(height, grain: 1) { rows in
                fgaseg_direct3x3_avx512(bordered, channels, height, width, taps, outChannels, output, rows.lowerBound, rows.upperBound)
            }
            return
        }
        let tileChannels = kernel.tileChannels, rowLength = width + 2, plane = (height + 2) * rowLength
        let blockStride = channels * 9 * tileChannels
        Parallel.forEach(height, grain: 1) { rows in
            for row in rows {
                for block in Swift.stride(from: 0, to: outChannels, by: tileChannels) {
                    for column in Swift.stride(from: 0, to: width, by: directTileWidth) {
                        var (a0, a1, a2) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
                        var (b0, b1, b2) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
                        var (c0, c1, c2) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
                        var (d0, d1, d2) = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
                        var weights = taps + block / tileChannels * blockStride
                        var source = bordered + row * rowLength + column
                        for _ in 0..<channels {
                            for kernelRow in 0..<3 {
                                let line = source + kernelRow * rowLength
                                for kernelColumn in 0..<3 {
                                    let pixels = UnsafeRawPointer(line + kernelColumn)
                                    let x0 = pixels.loadUnaligned(as: SIMD8<Float>.self)
                                    let x1 = pixels.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                                    let x2 = pixels.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                                    let wa = SIMD8<Float>(repeating: weights[0]), wb = SIMD8<Float>(repeating: weights[1])
                                    let wc = SIMD8<Float>(repeating: weights[2]), wd = SIMD8<Float>(repeating: weights[3])
                                    a0 = a0.addingProduct(x0, wa); a1 = a1.addingProduct(x1, wa); a2 = a2.addingProduct(x2, wa)
                                    b0 = b0.addingProduct(x0, wb); b1 = b1.addingProduct(x1, wb); b2 = b2.addingProduct(x2, wb)
                                    c0 = c0.addingProduct(x0, wc); c1 = c1.addingProduct(x1, wc); c2 = c2.addingProduct(x2, wc)
                                    d0 = d0.addingProduct(x0, wd); d1 = d1.addingProduct(x1, wd); d2 = d2.addingProduct(x2, wd)
                                    weights += tileChannels
                                }
                            }
                            source += plane
                        }
                        let count = Swift.min(directTileWidth, width - column)
                        let target = output + row * width + column
                        let channelStride = height * width, rowsLeft = outChannels - block
                        storeTileRow((a0, a1, a2), count: count, to: target + block * channelStride)
                        if rowsLeft > 1 { storeTileRow((b0, b1, b2), count: count, to: target + (block + 1) * channelStride) }
                        if rowsLeft > 2 { storeTileRow((c0, c1, c2), count: count, to: target + (block + 2) * channelStride) }
                        if rowsLeft > 3 { storeTileRow((d0, d1, d2), count: count, to: target + (block + 3) * channelStride) }
                    }
                }
            }
        }
    }

    /// Writes the first `count` (≤ 24) lanes of three 8-lane vectors to `target`.
    @inline(__always)
    private static func storeTileRow(_ lanes: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>), count: Int,
                                     to target: UnsafeMutablePointer<Float>) {
        if count == directTileWidth {
            let raw = UnsafeMutableRawPointer(target)
            raw.storeBytes(of: lanes.0, as: SIMD8<Float>.self)
            raw.storeBytes(of: lanes.1, toByteOffset: 32, as: SIMD8<Float>.self)
            raw.storeBytes(of: lanes.2, toByteOffset: 64, as: SIMD8<Float>.self)
            return
        }
        for lane in 0..<count {
            target[lane] = lane < 8 ? lanes.0[lane] : lane < 16 ? lanes.1[lane - 8] : lanes.2[lane - 16]
        }
    }

    /// `value` rounded up to a multiple of `step`.
    static func roundedUp(_ value: Int, to step: Int) -> Int { (value + step - 1) / step * step }
}

extension Tensor {
    /// Whether ``conv2d(_:weight:bias:stride:padding:dilation:groups:)`` runs the direct kernel:
    /// a 3×3 kernel with stride 1, dilation 1, padding 1 and one group, at most 64 output
    /// channels (wider outputs make GEMMs that run near sgemm's rate) and at least 8 pixels per
    /// row (narrower rows waste most of each 24-pixel tile).
    static func runsDirect3x3(outChannels: Int, width: Int, kernel: (Int, Int), stride: (Int, Int),
                              padding: (Int, Int), dilation: (Int, Int), groups: Int) -> Bool {
        kernel == (3, 3) && stride == (1, 1) && padding == (1, 1) && dilation == (1, 1) && groups == 1
            && outChannels > 1 && outChannels <= 64 && width >= 8
    }

    /// A 3×3 convolution with stride 1 and padding 1 by the direct kernel: `x` [N, C, H, W],
    /// `weight` [O, C, 3, 3], `bias` [O] → [N, O, H, W]. Equal to the im2col path up to the
    /// order of its sums; the same output and input gradient with either `kernel`.
    public static func conv2dDirect3x3(_ x: Tensor, weight: Tensor, bias: Tensor? = nil,
                                       kernel: SIMDKernel = .fastest) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = weight.shape[0]
        precondition(x.rank == 4 && weight.shape == [o, c, 3, 3], "conv2d: weight \(weight.shape) is not a 3×3 kernel for input \(x.shape)")
        precondition(bias == nil || bias!.shape == [o], "conv2d: bias \(bias!.shape) for \(o) output channels")
        let plane = (h + 2) * (w + 2), flops = 2 * o * c * 9 * h * w
        let out = Tensor(uninitializedShape: [n, o, h, w])
        let taps = directTaps(weight, flipped: false, tileChannels: kernel.tileChannels)
        if Profiler.isEnabled { Profiler.addFLOPs(Double(n * flops)) }
        // Images one per core when there are enough of them (each kernel then runs on its core's
        // cache), else one at a time with each kernel's rows spread over the cores.
        BLAS.forEachBatchRange(n, flopsPerEntry: flops) { images in
            let bordered = Tensor(repeating: 0, shape: [c * plane + Kernels.directSlack])
            for image in images {
                Kernels.copyInsideBorder(x.pointer + image * c * h * w, channels: c, height: h, width: w, into: bordered.pointer)
                Kernels.direct3x3(bordered.pointer, channels: c, height: h, width: w, taps: taps.pointer, outChannels: o,
                                  into: out.pointer + image * o * h * w, kernel: kernel)
            }
        }
        if let bias { Kernels.addChannelBias(out.pointer, bias.pointer, batch: n, channels: o, plane: h * w) }
        let input = x.detached(), weights = weight.detached()
        return record("conv2d", inputs: [x, weight] + (bias.map { [$0] } ?? []), output: out) { gradient in
            let dx = x.requiresGrad ? Tensor(uninitializedShape: x.shape) : nil
            // Each image's weight gradient per tap, [N, 9, O, C], summed over the images in order
            // below, so the sum does not depend on how the images were spread over the cores.
            let tapGradients = weight.requiresGrad ? Tensor(uninitializedShape: [n, 9, o, c]) : nil
            let flippedTaps = dx == nil ? nil : directTaps(weights, flipped: true, tileChannels: kernel.tileChannels)
            if Profiler.isEnabled && dx != nil { Profiler.addFLOPs(Double(n * flops)) }
            // (The portable weight gradient's GEMMs count themselves.)
            if Profiler.isEnabled && tapGradients != nil && kernel == .avx512 { Profiler.addFLOPs(Double(n * flops)) }
            BLAS.forEachBatchRange(n, flopsPerEntry: flops * ((dx == nil ? 0 : 1) + (tapGradients == nil ? 0 : 1))) { images in
                let borderedGradient = Tensor(repeating: 0, shape: [o * plane + Kernels.directSlack])
                let borderedInput = tapGradients == nil ? nil : Tensor(repeating: 0, shape: [c * plane + Kernels.directSlack])
                for image in images {
                    Kernels.copyInsideBorder(gradient.pointer + image * o * h * w, channels: o, height: h, width: w,
                                             into: borderedGradient.pointer)
                    if let dx, let flippedTaps {
                        Kernels.direct3x3(borderedGradient.pointer, channels: o, height: h, width: w, taps: flippedTaps.pointer,
                                          outChannels: c, into: dx.pointer + image * c * h * w, kernel: kernel)
                    }
                    guard let tapGradients, let borderedInput else { continue }
                    Kernels.copyInsideBorder(input.pointer + image * c * h * w, channels: c, height: h, width: w,
                                             into: borderedInput.pointer)
                    let imageTapGradients = tapGradients.pointer + image * 9 * o * c
                    if kernel == .avx512 {
                        let tiles = Kernels.roundedUp(o, to: Int(FGASEG_DIRECT_AVX512_GRADIENT_TILE_CHANNELS))
                            / Int(FGASEG_DIRECT_AVX512_GRADIENT_TILE_CHANNELS)
                        Parallel.forEach(tiles, grain: 1) { range in
                            fgaseg_direct3x3_weight_gradient_avx512(borderedGradient.pointer, borderedInput.pointer, c, h, w, o,
                                                                    imageTapGradients, range.lowerBound, range.upperBound)
                        }
                        continue
                    }
                    // Row t = i·(W+2) + j of the shifted views: the gradient at (i, j) (zero for
                    // j ≥ W, where the view reads the border) and the input at (i + ki, j + kj).
                    for tap in 0..<9 {
                        let (ki, kj) = tap.quotientAndRemainder(dividingBy: 3)
                        BLAS.gemm(transposeB: true, m: o, n: c, k: h * (w + 2),
                                  a: borderedGradient.pointer + (w + 2) + 1, lda: plane,
                                  b: borderedInput.pointer + ki * (w + 2) + kj, ldb: plane,
                                  c: imageTapGradients + tap * o * c, ldc: c)
                    }
                }
            }
            let dw = tapGradients.map { tapGradients in
                // dw[oc, ic, tap] sums the images in order, output channels spread over the cores.
                let dw = Tensor(repeating: 0, shape: weight.shape)
                let (sums, parts) = (dw.pointer, tapGradients.pointer)
                Parallel.forEach(o, grain: 1) { channels in
                    for oc in channels {
                        for image in 0..<n {
                            for tap in 0..<9 {
                                let part = parts + ((image * 9 + tap) * o + oc) * c, sum = sums + oc * c * 9 + tap
                                for ic in 0..<c { sum[ic * 9] += part[ic] }
                            }
                        }
                    }
                }
                return dw
            }
            let db = bias.map { b in b.requiresGrad ? gradient.sum(axes: [0, 2, 3]) : nil } ?? nil
            return [dx, dw] + (bias == nil ? [] : [db])
        }
    }

    /// The direct kernel's taps for `weight` [O, C, 3, 3] in tiles of t = `tileChannels` output
    /// channels: [⌈O / t⌉, C, 3, 3, t] for the convolution, or, `flipped`, [⌈C / t⌉, O, 3, 3, t]
    /// with the kernel turned by 180° for its input gradient (dx = the correlation of the bordered
    /// output gradient with them).
    private static func directTaps(_ weight: Tensor, flipped: Bool, tileChannels tile: Int) -> Tensor {
        let (o, c) = (weight.shape[0], weight.shape[1])
        let (inputs, outputs) = flipped ? (o, c) : (c, o)
        let taps = Tensor(repeating: 0, shape: [Kernels.roundedUp(outputs, to: tile) * inputs * 9])
        for oc in 0..<o {
            for ic in 0..<c {
                for tap in 0..<9 {
                    let (input, output, turned) = flipped ? (oc, ic, 8 - tap) : (ic, oc, tap)
                    taps.pointer[((output / tile * inputs + input) * 9 + turned) * tile + output % tile] =
                        weight.pointer[(oc * c + ic) * 9 + tap]
                }
            }
        }
        return taps
    }
}
