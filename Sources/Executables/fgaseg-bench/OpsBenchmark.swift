import CBLAS
import Foundation
import Model
import Tensor

/// `fgaseg-bench ops`: engine kernels against raw BLAS / memcpy on ViT-B/16 @384 shapes.
enum OpsBenchmark {
    static func run() -> [BenchmarkRow] {
        var rows: [BenchmarkRow] = []
        var generator = RandomGenerator(seed: 1)
        // Linear layers of ViT-B/16 at 384² (577 tokens): forward and forward+backward.
        for (m, k, n) in [(577, 768, 768), (577, 768, 3072), (577, 3072, 768)] {
            let x = Tensor.normal([m, k], using: &generator)
            let w = Tensor.normal([n, k], std: 0.02, using: &generator)
            let c = Tensor(repeating: 0, shape: [m, n])
            let raw = medianSeconds { BLAS.gemm(transposeB: true, m: m, n: n, k: k, a: x.pointer, lda: k, b: w.pointer, ldb: k, c: c.pointer, ldc: n) }
            let forward = medianSeconds { _ = noGrad { Tensor.linear(x, weight: w, bias: nil) } }
            rows.append(BenchmarkRow(suite: "ops", name: "linear_fwd_\(m)x\(k)x\(n)", ours: forward,
                                     baselineName: "cblas_sgemm", baseline: raw, flops: 2.0 * Double(m * k * n)))
            w.requiresGrad = true
            let trainStep = medianSeconds {
                w.grad = nil
                Tensor.linear(x, weight: w, bias: nil).sum().backward()
            }
            w.requiresGrad = false
            // Backward of a linear layer is two more GEMMs of the same size (dW; dX skipped for a leaf input).
            let rawTrain = medianSeconds {
                BLAS.gemm(transposeB: true, m: m, n: n, k: k, a: x.pointer, lda: k, b: w.pointer, ldb: k, c: c.pointer, ldc: n)
                let dw = Tensor(uninitializedShape: [n, k])
                BLAS.gemm(transposeA: true, m: n, n: k, k: m, a: c.pointer, lda: n, b: x.pointer, ldb: k, c: dw.pointer, ldc: k)
            }
            rows.append(BenchmarkRow(suite: "ops", name: "linear_fwd_bwd_\(m)x\(k)x\(n)", ours: trainStep,
                                     baselineName: "2x cblas_sgemm", baseline: rawTrain, flops: 4.0 * Double(m * k * n)))
        }
        // conv2d 3×3, [1,128,96,96] → 128 channels, vs the GEMM it reduces to (im2col excluded).
        do {
            let x = Tensor.normal([1, 128, 96, 96], using: &generator)
            let w = Tensor.normal([128, 128, 3, 3], std: 0.03, using: &generator)
            let columns = Tensor.normal([128 * 9, 96 * 96], using: &generator)
            let out = Tensor(uninitializedShape: [128, 96 * 96])
            let raw = medianSeconds { BLAS.gemm(m: 128, n: 9216, k: 1152, a: w.pointer, lda: 1152, b: columns.pointer, ldb: 9216, c: out.pointer, ldc: 9216) }
            let ours = medianSeconds { _ = noGrad { Tensor.conv2d(x, weight: w, padding: (1, 1)) } }
            rows.append(BenchmarkRow(suite: "ops", name: "conv2d_3x3_128x96x96", ours: ours, baselineName: "sgemm lower bound",
                                     baseline: raw, flops: 2.0 * 128 * 1152 * 9216))
        }
        rows += decoderConvolutionRows(using: &generator)
        rows += attentionRows(using: &generator)
        rows += segmentationLossRows(using: &generator)
        rows += layoutRows(using: &generator)
        // Memory-bound kernels on 577×3072 activations: bytes read + written vs memcpy of the same bytes.
        let x = Tensor.normal([577 * 4, 3072], using: &generator)
        let bytes = Double(x.count * 8)
        let copy = memcpySeconds(x)
        for (name, op) in [("gelu_erf", { _ = noGrad { x.gelu() } }), ("quick_gelu", { _ = noGrad { x.quickGelu() } }),
                           ("layer_norm", { _ = noGrad { x.layerNorm(weight: nil, bias: nil) } }),
                           ("softmax", { _ = noGrad { x.softmax(dim: -1) } })] as [(String, () -> Void)] {
            rows.append(BenchmarkRow(suite: "ops", name: "\(name)_2308x3072", ours: medianSeconds(op), baselineName: "memcpy",
                                     baseline: copy, bytes: bytes))
        }
        // Backward of the elementwise activations: reads x, y and the gradient, writes dx.
        let upstream = Tensor.normal(x.shape, using: &generator)
        let copy4 = copy * 2
        for (name, op) in [("gelu_erf_bwd", { (t: Tensor) in t.gelu() }), ("quick_gelu_bwd", { (t: Tensor) in t.quickGelu() })]
            as [(String, (Tensor) -> Tensor)] {
            let input = x.detached()
            input.requiresGrad = true
            let seconds = medianSeconds {
                input.grad = nil
                op(input).backward(gradient: upstream)
            }
            rows.append(BenchmarkRow(suite: "ops", name: "\(name)_2308x3072", ours: seconds, baselineName: "2× memcpy",
                                     baseline: copy4, bytes: 2 * bytes))
        }
        rows += activatedLinearRows(using: &generator)
        rows += windowSoftmaxRows(using: &generator)
        return rows
    }

    /// An MLP's second layer with the activation folded in (kept: the pre-activation; backward
    /// recomputes the activation and takes the chain rule in place) against the two operations it
    /// replaces, forward + backward, at the spatial aggregation's widths on a 16-class chunk:
    /// [9216, 512] → 128. Below 1 the folding costs time (it should cost only the recomputation).
    private static func activatedLinearRows(using generator: inout RandomGenerator) -> [BenchmarkRow] {
        let hidden = Tensor.normal([16 * 576, 512], using: &generator)
        let weight = Tensor.normal([128, 512], std: 0.04, using: &generator), bias = Tensor.normal([128], using: &generator)
        let upstream = Tensor.normal([16 * 576, 128], using: &generator)
        hidden.requiresGrad = true
        weight.requiresGrad = true
        func run(_ forward: () -> Tensor) -> Double {
            medianSeconds {
                hidden.grad = nil
                weight.grad = nil
                forward().backward(gradient: upstream)
            }
        }
        let rows = [Activation.gelu, .quickGelu].map { activation in
            let folded = run { Tensor.linear(hidden, activation: activation, weight: weight, bias: bias) }
            let composed = run { Tensor.linear(hidden.activated(activation), weight: weight, bias: bias) }
            return BenchmarkRow(suite: "ops", name: "activated_linear_\(activation)_fwd_bwd_9216x512x128", ours: folded,
                                baselineName: "activation, then linear", baseline: composed, flops: 6.0 * 9216 * 512 * 128)
        }
        guard SIMDKernel.avx512IsAvailable else { return rows }
        // The activations alone on the same hidden tensor, the AVX-512 loops against the portable
        // ones (forward; forward + backward with the chain rule), alternating.
        let input = hidden.detached(), gradient = Tensor.normal(hidden.shape, using: &generator)
        let activations: [(String, (Tensor, SIMDKernel) -> Tensor)] = [("gelu", { $0.gelu(kernel: $1) }),
                                                                       ("quick_gelu", { $0.quickGelu(kernel: $1) })]
        return rows + activations.flatMap { name, activation in
            let (wideForward, portableForward) = alternatingMedianSeconds({ _ = noGrad { activation(input, .avx512) } },
                                                                          { _ = noGrad { activation(input, .portable) } })
            let (wide, portable) = alternatingMedianSeconds({
                hidden.grad = nil
                activation(hidden, .avx512).backward(gradient: gradient)
            }, {
                hidden.grad = nil
                activation(hidden, .portable).backward(gradient: gradient)
            })
            return [BenchmarkRow(suite: "ops", name: "\(name)_avx512_fwd_9216x512", ours: wideForward,
                                 baselineName: "portable 8-lane loop", baseline: portableForward),
                    BenchmarkRow(suite: "ops", name: "\(name)_avx512_fwd_bwd_9216x512", ours: wide,
                                 baselineName: "portable 8-lane loop", baseline: portable)]
        }
    }

    /// The window attention's row softmax with the shifted windows' mask, on a 16-class chunk's
    /// score matrices (16 maps × 4 windows × 4 heads of [144, 144]): AVX-512 against portable.
    private static func windowSoftmaxRows(using generator: inout RandomGenerator) -> [BenchmarkRow] {
        guard SIMDKernel.avx512IsAvailable else { return [] }
        let (blocks, n) = (16 * 4 * 4, 144)
        let scores = Tensor.normal([blocks, n, n], std: 3, using: &generator)
        let mask = Tensor(Tensor.uniform([n, n], using: &generator).scalars.map { $0 < 0.3 ? -100 : 0 }, shape: [n, n])
        let work = Tensor(uninitializedShape: scores.shape)
        func run(_ kernel: SIMDKernel) {
            work.pointer.update(from: scores.pointer, count: scores.count)
            Parallel.forEach(blocks, grain: 1) { range in
                for block in range {
                    Kernels.softmaxRows(work.pointer + block * n * n, rows: n, columns: n, mask: mask.pointer, kernel: kernel)
                }
            }
        }
        let (wide, portable) = alternatingMedianSeconds({ run(.avx512) }, { run(.portable) })
        return [BenchmarkRow(suite: "ops", name: "softmax_avx512_masked_256x144x144", ours: wide,
                             baselineName: "portable 8-lane loop", baseline: portable)]
    }

    /// The spatial aggregation's layout changes on the 171 class maps of one image: the cost
    /// embedding [1, 128, 171, 24, 24] to tokens [1, 171, 24, 24, 128] and back (what its forward
    /// and backward do around the Swin blocks), against memcpy of the same bytes.
    private static func layoutRows(using generator: inout RandomGenerator) -> [BenchmarkRow] {
        let x = Tensor.normal([1, 128, 171, 24, 24], using: &generator)
        let copy = memcpySeconds(x)
        let tokens = noGrad { x.permuted([0, 2, 3, 4, 1]) }
        return [("BCTHW_to_BTHWC", x, [0, 2, 3, 4, 1]), ("BTHWC_to_BCTHW", tokens, [0, 4, 1, 2, 3])].map { name, source, order in
            BenchmarkRow(suite: "ops", name: "permute_\(name)_128x171x24x24", ours: medianSeconds { _ = noGrad { source.permuted(order) } },
                         baselineName: "memcpy", baseline: copy, bytes: Double(x.count * 8))
        }
    }

    /// The training step's per-chunk segmentation loss (logits of a 16-class chunk [1, 16, 96, 96]
    /// up-sampled to 384², one-hot targets, BCE with logits), forward + backward, on all threads
    /// against the same on one thread: the loss's speed-up from the extra cores.
    private static func segmentationLossRows(using generator: inout RandomGenerator) -> [BenchmarkRow] {
        let logits = Tensor.normal([1, 16, 96, 96], using: &generator)
        logits.requiresGrad = true
        let labels = (0..<(384 * 384)).map { _ in Int32(generator.next() % 171) }
        func step() {
            logits.grad = nil
            SegmentationLosses.segmentation(logits, labels: labels, firstClass: 16, height: 384, width: 384).backward()
        }
        let one = withThreads(1) { medianSeconds(step) }
        return [BenchmarkRow(suite: "ops", name: "segmentation_loss_fwd_bwd_16x96_to_384", ours: medianSeconds(step),
                             baselineName: "same on 1 thread", baseline: one)]
    }

    /// The 3×3 convolutions of the per-class decoder on one 16-class chunk (ViT-B/16 at 384²),
    /// forward + backward (input and weight gradients): `conv2d` as dispatched vs their three
    /// GEMMs per image on columns that are already unfolded (the im2col-free GEMM bound), the
    /// direct kernel vs im2col + GEMM on the same tensors, alternating, and, where the CPU has
    /// AVX-512, the direct forward on 16-lane vectors vs the portable 8-lane kernel.
    private static func decoderConvolutionRows(using generator: inout RandomGenerator) -> [BenchmarkRow] {
        let maps = 16
        let cases: [(name: String, channels: Int, size: Int, out: Int)] = [
            ("up1_conv1", 96, 48, 64), ("up1_conv2", 64, 48, 64), ("up2_conv1", 48, 96, 32), ("up2_conv2", 32, 96, 32),
            ("head", 32, 96, 1),
        ]
        return cases.flatMap { c in
            let (k, l) = (c.channels * 9, c.size * c.size)
            let x = Tensor.normal([maps, c.channels, c.size, c.size], using: &generator)
            x.requiresGrad = true
            let w = Tensor.normal([c.out, c.channels, 3, 3], std: 0.03, using: &generator)
            w.requiresGrad = true
            let columns = Tensor.normal([k, l], using: &generator), y = Tensor.normal([c.out, l], using: &generator)
            let (dw, dx) = (Tensor(uninitializedShape: [c.out, k]), Tensor(uninitializedShape: [k, l]))
            let raw = medianSeconds {
                for _ in 0..<maps {
                    BLAS.gemm(m: c.out, n: l, k: k, a: w.pointer, lda: k, b: columns.pointer, ldb: l, c: y.pointer, ldc: l)
                    BLAS.gemm(transposeB: true, m: c.out, n: k, k: l, a: y.pointer, lda: l, b: columns.pointer, ldb: l, c: dw.pointer, ldc: k)
                    BLAS.gemm(transposeA: true, m: k, n: l, k: c.out, a: w.pointer, lda: k, b: y.pointer, ldb: l, c: dx.pointer, ldc: l)
                }
            }
            let ours = medianSeconds {
                (x.grad, w.grad) = (nil, nil)
                Tensor.conv2d(x, weight: w, padding: (1, 1)).sum().backward()
            }
            let flops = 6.0 * Double(maps * c.out * k * l), shape = "\(c.name)_16x\(c.channels)x\(c.size)²→\(c.out)"
            let dispatched = BenchmarkRow(suite: "ops", name: "conv2d_fwd_bwd_\(shape)", ours: ours,
                                          baselineName: "3 sgemm, no im2col", baseline: raw, flops: flops)
            guard c.out > 1 else { return [dispatched] }
            let geometry = Convolution2DGeometry(kernel: (3, 3), padding: (1, 1))
            let (direct, im2col) = alternatingMedianSeconds({
                (x.grad, w.grad) = (nil, nil)
                Tensor.conv2dDirect3x3(x, weight: w).sum().backward()
            }, {
                (x.grad, w.grad) = (nil, nil)
                Tensor.conv2dByIm2col(x, weight: w, bias: nil, geometry, groups: 1).sum().backward()
            })
            let (input, kernel) = (x.detached(), w.detached())
            let (directForward, im2colForward) = alternatingMedianSeconds({
                _ = Tensor.conv2dDirect3x3(input, weight: kernel)
            }, {
                _ = Tensor.conv2dByIm2col(input, weight: kernel, bias: nil, geometry, groups: 1)
            })
            let rows = [dispatched,
                        BenchmarkRow(suite: "ops", name: "conv2d_direct_fwd_\(shape)", ours: directForward,
                                     baselineName: "im2col + GEMM", baseline: im2colForward, flops: flops / 3),
                        BenchmarkRow(suite: "ops", name: "conv2d_direct_fwd_bwd_\(shape)", ours: direct,
                                     baselineName: "im2col + GEMM", baseline: im2col, flops: flops)]
            guard SIMDKernel.avx512IsAvailable else { return rows }
            let (wide, portable) = alternatingMedianSeconds({
                _ = Tensor.conv2dDirect3x3(input, weight: kernel, kernel: .avx512)
            }, {
                _ = Tensor.conv2dDirect3x3(input, weight: kernel, kernel: .portable)
            })
            return rows + [BenchmarkRow(suite: "ops", name: "conv2d_direct_avx512_fwd_\(shape)", ours: wide,
                                        baselineName: "portable 8-lane kernel", baseline: portable, flops: flops / 3)]
        }
    }

    /// ViT-B/16 @384 self-attention (577 tokens, 12 heads of 64): the fused op against the same
    /// computation composed of head-split copies, batched matmuls and a softmax, and against
    /// `cblas_sgemm` on the op's FLOPs (two [577, 768]·[768, 577]-sized products).
    private static func attentionRows(using generator: inout RandomGenerator) -> [BenchmarkRow] {
        let (tokens, width, heads) = (577, 768, 12)
        let d = width / heads
        let (q, k, v) = (Tensor.normal([1, tokens, width], using: &generator), Tensor.normal([1, tokens, width], using: &generator),
                         Tensor.normal([1, tokens, width], using: &generator))
        func composed(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> Tensor {
            func split(_ x: Tensor) -> Tensor { x.reshaped([1, tokens, heads, d]).permuted([0, 2, 1, 3]) }
            let scores = Tensor.matmul(split(q) * Float(1 / Double(d).squareRoot()), split(k), transposeB: true)
            return Tensor.matmul(scores.softmax(dim: -1), split(v)).permuted([0, 2, 1, 3]).reshaped([1, tokens, width])
        }
        func fused(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> Tensor { Tensor.attention(query: q, key: k, value: v, heads: heads) }
        let flops = 4.0 * Double(tokens * tokens * width)
        let scores = Tensor(uninitializedShape: [tokens, tokens])
        let raw = medianSeconds {
            for _ in 0..<2 {
                BLAS.gemm(transposeB: true, m: tokens, n: tokens, k: width, a: q.pointer, lda: width, b: k.pointer, ldb: width,
                          c: scores.pointer, ldc: tokens)
            }
        }
        var rows: [BenchmarkRow] = []
        for (name, op) in [("fused", fused), ("composed", composed)] as [(String, (Tensor, Tensor, Tensor) -> Tensor)] {
            let forward = medianSeconds { _ = noGrad { op(q, k, v) } }
            rows.append(BenchmarkRow(suite: "ops", name: "attention_\(name)_fwd_577x768_12h", ours: forward,
                                     baselineName: "cblas_sgemm", baseline: raw, flops: flops))
        }
        for input in [q, k, v] { input.requiresGrad = true }
        for (name, op) in [("fused", fused), ("composed", composed)] as [(String, (Tensor, Tensor, Tensor) -> Tensor)] {
            let trainStep = medianSeconds {
                for input in [q, k, v] { input.grad = nil }
                op(q, k, v).sum().backward()
            }
            rows.append(BenchmarkRow(suite: "ops", name: "attention_\(name)_fwd_bwd_577x768_12h", ours: trainStep,
                                     baselineName: "3x cblas_sgemm", baseline: raw * 3, flops: 3 * flops))
        }
        return rows
    }
}
