// A 2×2 stride-2 transposed convolution followed by a 3×3 convolution, computed as one 2×2
// convolution at the input's resolution.

extension Tensor {
    /// `conv2d(convTranspose2d(x, weight: upWeight, stride: (2, 2)), weight: weight, padding: (1, 1))`
    /// (the transposed convolution without bias): `x` [N, Cin, H, W], `upWeight` [Cin, Cmid, 2, 2],
    /// `weight` [O, Cmid, 3, 3] → [N, O, 2H, 2W].
    ///
    /// Output pixel (2i+a, 2j+b) reads a 3×3 window of the up-sampled map, and that window comes
    /// from only 2×2 input pixels. So each output parity (a, b) is a 2×2 convolution of `x` whose
    /// kernel is a product of the two weights (``upsampledConvolutionKernel(upWeight:weight:)``);
    /// the four run as one convolution with 4·O outputs on `x` padded by 1, and
    /// ``interleavingParities(channels:)`` places them. At the decoder's widths this is about half
    /// the multiply-adds of the two convolutions, and the up-sampled map is never formed. Equal to
    /// the two-step form up to the order of the sums; the transposed convolution's bias is the
    /// same for every map, see ``upsampledConvolutionBiasResponse(_:weight:height:width:)``.
    public static func upsampledConv2d(_ x: Tensor, upWeight: Tensor, weight: Tensor) -> Tensor {
        upsampledConv2d(x, kernel: upsampledConvolutionKernel(upWeight: upWeight, weight: weight))
    }

    /// ``upsampledConv2d(_:upWeight:weight:)`` with its composite kernel [4·O, Cin, 2, 2] already
    /// built by ``upsampledConvolutionKernel(upWeight:weight:)`` (which depends on the weights
    /// alone, so callers that convolve many batches build it once): `x` [N, Cin, H, W] → [N, O, 2H, 2W].
    public static func upsampledConv2d(_ x: Tensor, kernel: Tensor) -> Tensor {
        precondition(x.rank == 4 && kernel.rank == 4 && kernel.shape[0] % 4 == 0 && kernel.shape[1] == x.shape[1]
                        && Array(kernel.shape[2...]) == [2, 2],
                     "upsampledConv2d: kernel \(kernel.shape) is not [4·O, \(x.rank == 4 ? x.shape[1] : 0), 2, 2] for input \(x.shape)")
        return conv2d(x, weight: kernel, padding: (1, 1)).interleavingParities(channels: kernel.shape[0] / 4)
    }

    /// What the 3×3 convolution `weight` [O, Cmid, 3, 3] (padding 1) makes of a transposed
    /// convolution's bias `upBias` [Cmid] over a [height, width] map: [1, O, height, width]. The
    /// same for every input map, so it is added once to whatever the maps share.
    public static func upsampledConvolutionBiasResponse(_ upBias: Tensor, weight: Tensor, height: Int, width: Int) -> Tensor {
        precondition(upBias.shape == [weight.shape[1]], "upsampledConvolutionBiasResponse: bias \(upBias.shape) for weight \(weight.shape)")
        let constant = upBias.reshaped([1, weight.shape[1], 1, 1]).broadcast(to: [1, weight.shape[1], height, width])
        return conv2d(constant, weight: weight, padding: (1, 1))
    }

    /// The 2×2 kernels of ``upsampledConv2d(_:upWeight:weight:)`` for `upWeight` [Cin, Cmid, 2, 2] and
    /// `weight` [O, Cmid, 3, 3]: [4·O, Cin, 2, 2], output channel
    /// (2a+b)·O + o for parity (a, b). Tap (u, v) of the 3×3 kernel meets up-sampled row 2i+a+u−1,
    /// which is input row i + ⌊(a+u−1)/2⌋ (padded kernel row (a+u+1)/2 − a) through the transposed
    /// kernel's row (a+u+1) mod 2; columns likewise. Built from differentiable matrix products, so
    /// both weights receive their gradients.
    public static func upsampledConvolutionKernel(upWeight: Tensor, weight: Tensor) -> Tensor {
        precondition(upWeight.rank == 4 && Array(upWeight.shape[2...]) == [2, 2],
                     "upsampledConvolutionKernel: up-sampling weight \(upWeight.shape) is not a 2×2 transposed kernel [Cin, Cmid, 2, 2]")
        precondition(weight.rank == 4 && weight.shape[1] == upWeight.shape[1] && Array(weight.shape[2...]) == [3, 3],
                     "upsampledConvolutionKernel: weight \(weight.shape) is not a 3×3 kernel over the \(upWeight.shape[1]) up-sampled channels")
        let (outChannels, inChannels) = (weight.shape[0], upWeight.shape[0])
        func taps(_ w: Tensor) -> [Tensor] {   // [Cx, Cmid, k, k] → k·k matrices [Cx, Cmid], row-major over taps
            let k = w.shape[2]
            let tapMajor = w.permuted([2, 3, 0, 1]).reshaped([k * k, w.shape[0], w.shape[1]])
            return (0..<(k * k)).map { tapMajor.narrowed(0, start: $0, length: 1).reshaped([w.shape[0], w.shape[1]]) }
        }
        let (convTaps, upTaps) = (taps(weight), taps(upWeight))
        let parities = (0..<4).map { parity -> Tensor in
            let (a, b) = parity.quotientAndRemainder(dividingBy: 2)
            var blocks = [Tensor?](repeating: nil, count: 4)
            for u in 0..<3 {
                for v in 0..<3 {
                    let block = ((a + u + 1) / 2 - a) * 2 + (b + v + 1) / 2 - b
                    let upTap = ((a + u + 1) % 2) * 2 + (b + v + 1) % 2
                    let product = matmul(convTaps[u * 3 + v], upTaps[upTap], transposeB: true)
                    blocks[block] = blocks[block].map { $0 + product } ?? product
                }
            }
            return concat(blocks.map { $0!.reshaped([outChannels, inChannels, 1]) }, along: 2)
                .reshaped([outChannels, inChannels, 2, 2])
        }
        return concat(parities, along: 0)
    }

    /// Parity maps [N, 4·O, H+1, W+1] (channel (2a+b)·O + o) → [N, O, 2H, 2W], where output pixel
    /// (2i+a, 2j+b) is parity map (a, b) at (i+a, j+b).
    func interleavingParities(channels: Int) -> Tensor {
        precondition(rank == 4 && shape[1] == 4 * channels && shape[2] > 1 && shape[3] > 1,
                     "interleavingParities: \(shape) is not four parity maps of \(channels) channels")
        let (n, h, w) = (shape[0], shape[2] - 1, shape[3] - 1)
        let out = Tensor(uninitializedShape: [n, channels, 2 * h, 2 * w])
        Kernels.interleaveParities(pointer, planes: n * channels, channels: channels, height: h, width: w, into: out.pointer)
        return Tensor.record("interleave_parities", inputs: [self], output: out) { gradient in
            let parities = Tensor(uninitializedShape: [n, 4 * channels, h + 1, w + 1])
            Kernels.separateParities(gradient.pointer, planes: n * channels, channels: channels, height: h, width: w,
                                     into: parities.pointer)
            return [parities]
        }
    }
}

extension Kernels {
    /// The forward of ``Tensor/interleavingParities(channels:)`` over `planes` = N·O output planes.
    static func interleaveParities(_ parities: UnsafePointer<Float>, planes: Int, channels: Int, height h: Int, width w: Int,
                                   into out: UnsafeMutablePointer<Float>) {
        forEachParityMap(planes: planes, channels: channels, height: h, width: w) { plane, a, b, map in
            for i in 0..<h {
                let row = parities + map + (i + a) * (w + 1) + b, outRow = out + plane * 4 * h * w + (2 * i + a) * 2 * w + b
                for j in 0..<w { outRow[2 * j] = row[j] }
            }
        }
    }

    /// The backward of ``Tensor/interleavingParities(channels:)``: the gradient [N, O, 2H, 2W] back
    /// into parity maps [N, 4·O, H+1, W+1], zero at the row and column each parity does not use.
    static func separateParities(_ gradient: UnsafePointer<Float>, planes: Int, channels: Int, height h: Int, width w: Int,
                                 into parities: UnsafeMutablePointer<Float>) {
        forEachParityMap(planes: planes, channels: channels, height: h, width: w) { plane, a, b, map in
            // Parity (a, b) uses rows a..<a+H and columns b..<b+W.
            (parities + map + (a == 0 ? h : 0) * (w + 1)).initialize(repeating: 0, count: w + 1)
            for i in 0..<h {
                let row = parities + map + (i + a) * (w + 1), gradientRow = gradient + plane * 4 * h * w + (2 * i + a) * 2 * w + b
                row[b == 0 ? w : 0] = 0
                for j in 0..<w { row[b + j] = gradientRow[2 * j] }
            }
        }
    }

    /// Calls `body(plane, a, b, offset)` for each of the four parity maps of every output plane
    /// (plane = image·O + channel), with the offset of parity map (a, b) [H+1, W+1] in the
    /// [N, 4·O, H+1, W+1] parity tensor; planes are spread over the cores.
    private static func forEachParityMap(planes: Int, channels: Int, height h: Int, width w: Int,
                                         _ body: (_ plane: Int, _ a: Int, _ b: Int, _ offset: Int) -> Void) {
        Parallel.forEach(planes, grain: max(1, 16_384 / (4 * h * w))) { range in
            for plane in range {
                let (image, channel) = plane.quotientAndRemainder(dividingBy: channels)
                for parity in 0..<4 {
                    let (a, b) = parity.quotientAndRemainder(dividingBy: 2)
                    body(plane, a, b, ((image * 4 + parity) * channels + channel) * (h + 1) * (w + 1))
                }
            }
        }
    }
}
