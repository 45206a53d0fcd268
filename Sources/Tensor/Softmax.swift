import Foundation

// Softmax and log-softmax over the last dimension.

extension Tensor {
    /// Softmax over `dim` (moved to the end and back when it is not the last dimension).
    public func softmax(dim: Int = -1) -> Tensor {
        alongLastDimension(dim) { $0.lastDimensionSoftmax(log: false) }
    }

    /// Log-softmax over `dim`.
    public func logSoftmax(dim: Int = -1) -> Tensor {
        alongLastDimension(dim) { $0.lastDimensionSoftmax(log: true) }
    }

    /// Applies a last-dimension operation to dimension `dim`.
    func alongLastDimension(_ dim: Int, _ body: (Tensor) -> Tensor) -> Tensor {
        let a = axis(dim, op: "softmax")
        if a == rank - 1 { return body(self) }
        return body(transposed(a, -1)).transposed(a, -1)
    }

    private func lastDimensionSoftmax(log: Bool) -> Tensor {
        let n = shape.last ?? 1
        let rows = count / Swift.max(n, 1)
        let out = Tensor(uninitializedShape: shape)
        let x = pointer, y = out.pointer
        Parallel.forEach(rows, grain: Swift.max(1, 8192 / Swift.max(n, 1))) { range in
            for row in range {
                let xs = x + row * n, ys = y + row * n
                let (maximum, total) = Kernels.shiftedExponentials(xs, ys, n)
                if log {
                    let logTotal = Foundation.log(total) + maximum
                    for i in 0..<n { ys[i] = xs[i] - logTotal }
                } else {
                    let scale = 1 / total
                    for i in 0..<n { ys[i] *= scale }
                }
            }
        }
        let saved = out.detached()
        return Tensor.record(log ? "log_softmax" : "softmax", inputs: [self], output: out) { g in
            let dx = Tensor(uninitializedShape: g.shape)
            let y = saved.pointer, gp = g.pointer, dp = dx.pointer
            Parallel.forEach(rows, grain: Swift.max(1, 8192 / Swift.max(n, 1))) { range in
                for row in range {
                    let ys = y + row * n, gs = gp + row * n, ds = dp + row * n
                    if log {
                        // dx = g - softmax · Σg
                        let total = Kernels.sum(gs, n)
                        for i in 0..<n { ds[i] = gs[i] - FastMath.exp(ys[i]) * total }
                    } else {
                        Kernels.softmaxGradient(ys, gs, ds, n)
                    }
                }
            }
            return [dx]
        }
    }
}
