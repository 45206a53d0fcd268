import NN
import Tensor

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
