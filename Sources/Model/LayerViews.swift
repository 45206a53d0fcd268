import NN
import Tensor

// Raw views of layers for the fused inference paths (GuidedSwinBlockInference.swift,
// ClassAggregationInference.swift), applied to rows in a worker's scratch on the calling thread.

/// A raw view of a `Linear` layer for the fused inference paths: `y = x·Wᵀ + b` on `rows` rows,
/// computed as `Tensor.linear` computes it (bias rows first, then the GEMM adds into them).
struct RowAffine {
    let weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, inputs: Int, outputs: Int

    init(_ layer: Linear) {
        weight = UnsafePointer(layer.weight.pointer)
        bias = layer.bias.map { UnsafePointer($0.pointer) }
        (inputs, outputs) = (layer.weight.shape[1], layer.weight.shape[0])
    }

    /// `x` [rows, inputs] → `y` [rows, outputs], on the calling thread when it is a worker.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        for row in 0..<rows {
            if let bias { (y + row * outputs).update(from: bias, count: outputs) } else { (y + row * outputs).update(repeating: 0, count: outputs) }
        }
        BLAS.gemm(transposeB: true, m: rows, n: outputs, k: inputs, a: x, lda: inputs, b: weight, ldb: inputs, beta: 1, c: y, ldc: outputs)
    }
}

/// A raw view of a `LayerNorm` for the fused inference paths: each row as `Tensor.layerNorm` computes it.
struct RowLayerNorm {
    let weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float

    init(_ layer: LayerNorm) {
        (weight, bias, eps) = (UnsafePointer(layer.weight.pointer), UnsafePointer(layer.bias.pointer), layer.eps)
    }

    /// `x` [C] → `y` [C] (`y` may not be `x`).
    func apply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ c: Int) {
        _ = Kernels.layerNormRow(x, normalized: y, y, c, weight: weight, bias: bias, eps: eps)
    }
}
