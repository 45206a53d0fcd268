// Matrix products on BLAS.

extension Tensor {
    /// Matrix product of the last two dimensions: `a` [..., M, K] · `b` [..., K, N] → [..., M, N].
    /// `b` may be 2-D (shared by every batch entry); otherwise the batch dimensions must match.
    /// `transposeA`/`transposeB` use the stored tensors transposed in their last two dimensions
    /// without materialising the transpose.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank >= 2 && b.rank >= 2, "matmul: operands need at least 2 dimensions, got \(a.shape) and \(b.shape)")
        let (aRows, aCols) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (bRows, bCols) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (aCols, aRows) : (aRows, aCols)
        let (kb, n) = transposeB ? (bCols, bRows) : (bRows, bCols)
        let batchShape = Array(a.shape.dropLast(2))
        precondition(k == kb, "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        precondition(!(transposeA && b.rank == 2 && a.rank > 2), "matmul: a transposed batched operand needs a batched right operand")
        precondition(b.rank == 2 || Array(b.shape.dropLast(2)) == batchShape,
                     "matmul: batch dimensions of \(a.shape) and \(b.shape) differ")
        let batch = batchShape.reduce(1, *)
        let out = Tensor(uninitializedShape: batchShape + [m, n])
        if b.rank == 2 && !transposeA {
            // One GEMM over all batch rows.
            BLAS.gemm(transposeA: false, transposeB: transposeB, m: batch * m, n: n, k: k, a: a.pointer, lda: aCols,
                      b: b.pointer, ldb: bCols, c: out.pointer, ldc: n)
        } else {
            let bStride = b.rank == 2 ? 0 : bRows * bCols
            let (aBase, bBase, cBase) = (a.pointer, b.pointer, out.pointer)
            BLAS.forEachBatchEntry(batch, flopsPerEntry: 2 * m * n * k) { i in
                BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                          a: aBase + i * aRows * aCols, lda: aCols, b: bBase + i * bStride, ldb: bCols,
                          c: cBase + i * m * n, ldc: n)
            }
        }
        // dA = g · op(B)ᵀ needs only B and dB = op(A)ᵀ · g only A, so each operand is kept for
        // backward only when the other one needs a gradient.
        let bForGradA = a.requiresGrad ? b.detached() : nil, aForGradB = b.requiresGrad ? a.detached() : nil
        let sharedB = b.rank == 2
        return record("matmul", inputs: [a, b], output: out) { g in
            // dA in A's stored orientation, dB in B's.
            let gradA: Tensor? = bForGradA.map { bValue in
                transposeA ? matmul(bValue, g, transposeA: transposeB, transposeB: true) : matmul(g, bValue, transposeB: !transposeB)
            }
            let gradB: Tensor? = aForGradB.map {
                gradientOfRightOperand($0, g, transposeA: transposeA, transposeB: transposeB, shared: sharedB)
            }
            return [gradA, gradB]
        }
    }

    /// d(loss)/d(B) for `C = op(A) · op(B)`; sums over the batch when B is shared.
    private static func gradientOfRightOperand(_ a: Tensor, _ g: Tensor, transposeA: Bool, transposeB: Bool, shared: Bool) -> Tensor {
        if shared {
            // Flatten the batch into rows: A' [batch·M, K], G [batch·M, N].
            let k = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1]
            let n = g.shape[g.rank - 1]
            let rowsA = transposeA ? nil : a.reshaped([-1, k])
            let rowsG = g.reshaped([-1, n])
            if let rowsA {
                return transposeB ? matmul(rowsG, rowsA, transposeA: true) : matmul(rowsA, rowsG, transposeA: true)
            }
            // op(A) = Aᵀ per batch entry: sum the per-entry products.
            let perEntry = transposeB ? matmul(g, a, transposeA: true, transposeB: true) : matmul(a, g)
            return perEntry.sum(axes: Array(0..<(perEntry.rank - 2)))
        }
        if transposeB {
            // B stored [N, K]: dB = gᵀ · op(A).
            return matmul(g, a, transposeA: true, transposeB: transposeA)
        }
        return matmul(a, g, transposeA: !transposeA)
    }

    /// `x` [..., in] · `weight`ᵀ [out, in] + `bias` [out] → [..., out] (PyTorch's Linear). One
    /// GEMM with the bias as its initial value, so no separate pass adds it.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 2 && x.shape.last == weight.shape[1],
                     "linear: input \(x.shape) does not match weight \(weight.shape) ([out, in])")
        guard let bias else { return matmul(x, weight, transposeB: true) }
        precondition(bias.shape == [weight.shape[0]], "linear: bias \(bias.shape) does not match weight \(weight.shape)")
        return linear(x, weight: weight, positionBias: bias.reshaped([1, 1, weight.shape[0]]))
    }

    /// A Linear whose bias differs by image and position: `x` [images, R, P, in] (any leading
    /// shape with that element order) · `weight`ᵀ [out, in] + `positionBias` [images, P, out]
    /// → [..., out], where each image's R blocks of P rows share its bias rows. This is
    /// `W·[x; g] + b` for tokens that repeat their image's guidance g (`positionBias` = W_g·g + b,
    /// computed once per image). One GEMM with the bias as its initial value, as ``linear(_:weight:bias:)``.
    public static func linear(_ x: Tensor, weight: Tensor, positionBias bias: Tensor) -> Tensor {
        precondition(weight.rank == 2 && x.shape.last == weight.shape[1],
                     "linear: input \(x.shape) does not match weight \(weight.shape) ([out, in])")
        let (inFeatures, outFeatures) = (weight.shape[1], weight.shape[0])
        let rows = x.count / Swift.max(inFeatures, 1)
        precondition(bias.rank == 3 && bias.shape[2] == outFeatures && bias.shape[0] * bias.shape[1] > 0
                        && rows % (bias.shape[0] * bias.shape[1]) == 0,
                     "linear: bias \(bias.shape) is not [images, P, \(outFeatures)] with images·P dividing the \(rows) rows of \(x.shape)")
        let (positions, rowsPerImage) = (bias.shape[1], rows / bias.shape[0])
        let out = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outFeatures])
        let y = out.pointer, b = bias.pointer
        Parallel.forEach(rows, grain: Swift.max(1, 16_384 / Swift.max(outFeatures, 1))) { range in
            for row in range {
                let biasRow = (row / rowsPerImage) * positions + row % positions
                (y + row * outFeatures).update(from: b + biasRow * outFeatures, count: outFeatures)
            }
        }
        BLAS.gemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures, a: x.pointer, lda: inFeatures,
                  b: weight.pointer, ldb: inFeatures, beta: 1, c: y, ldc: outFeatures)
        // The input is kept only for the weight's gradient and the weight only for the input's
        // (a frozen layer keeps no activation alive until backward).
        let input = weight.requiresGrad ? x.detached() : nil, kernel = x.requiresGrad ? weight.detached() : nil
        let (inputShape, biasShape) = (x.shape, bias.requiresGrad ? bias.shape : nil)
        return record("linear", inputs: [x, weight, bias], output: out) { g in
            linearGradients(g, input: input, weight: kernel, inputShape: inputShape, biasShape: biasShape)
        }
    }

    /// The gradients [input, weight, bias] of ``linear(_:weight:positionBias:)`` from its output's
    /// gradient `g` [..., out]: the input's [`inputShape`] when `weight` [out, in] is given, the
    /// weight's when `input` is given, the bias's when `biasShape` ([images, P, out]) is given.
    static func linearGradients(_ g: Tensor, input: Tensor?, weight: Tensor?, inputShape: [Int], biasShape: [Int]?) -> [Tensor?] {
        let (inFeatures, outFeatures) = (inputShape.last ?? 1, g.shape.last ?? 1)
        let rows = g.count / Swift.max(outFeatures, 1)
        let gradients = g.reshaped([rows, outFeatures])
        let dx: Tensor? = weight.map { matmul(gradients, $0).reshaped(inputShape) }
        let dw: Tensor? = input.map { matmul(gradients, $0.reshaped([rows, inFeatures]), transposeA: true) }
        let db: Tensor? = biasShape.map {
            gradients.reshaped([$0[0], rows / ($0[0] * $0[1]), $0[1] * outFeatures]).sum(axes: [1]).reshaped($0)
        }
        return [dx, dw, db]
    }
}
