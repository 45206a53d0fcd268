import Foundation

// Losses with fused, numerically stable forward and backward passes.

extension Tensor {
    /// Mean binary cross-entropy with logits: mean(max(x,0) − x·z + log(1 + e^−|x|)) over all
    /// elements (PyTorch's `BCEWithLogitsLoss`). `targets` has the logits' shape.
    public static func binaryCrossEntropyWithLogits(_ logits: Tensor, targets: Tensor) -> Tensor {
        precondition(logits.shape == targets.shape, "bce_with_logits: logits \(logits.shape) and targets \(targets.shape) differ")
        let n = logits.count
        let x = logits.pointer, z = targets.pointer
        let partial = Tensor(uninitializedShape: [n])
        Kernels.zip(x, z, partial.pointer, n, BinaryCrossEntropyTerm())
        let loss = Tensor(scalar: Kernels.sum(partial.pointer, n) / Float(n))
        let savedLogits = logits.detached(), savedTargets = targets.detached()
        return record("bce_with_logits", inputs: [logits], output: loss) { g in
            let dx = Tensor(uninitializedShape: savedLogits.shape)
            let scale = g.item / Float(n)
            Kernels.zip(savedLogits.pointer, savedTargets.pointer, dx.pointer, n, BinaryCrossEntropyGradient(scale: scale))
            return [dx]
        }
    }

    /// Mean cross-entropy of `logits` [N, C, ...] against class indices `targets` [N, ...];
    /// positions whose target equals `ignoreIndex` are left out of the mean (PyTorch semantics).
    public static func crossEntropy(_ logits: Tensor, targets: [Int32], ignoreIndex: Int32 = 255) -> Tensor {
        precondition(logits.rank >= 2, "cross_entropy: logits \(logits.shape) must be [N, C, ...]")
        let c = logits.shape[1], inner = logits.shape[2...].reduce(1, *), n = logits.shape[0]
        precondition(targets.count == n * inner, "cross_entropy: \(targets.count) targets for logits \(logits.shape)")
        for t in targets where t != ignoreIndex && (t < 0 || Int(t) >= c) {
            fatalError("cross_entropy: target \(t) is outside 0..<\(c) (ignore index \(ignoreIndex))")
        }
        // Log-probabilities with classes last: [N·inner, C].
        let logProbabilities = noGrad { logits.reshaped([n, c, inner]).transposed(1, 2).logSoftmax(dim: -1) }
        let valid = targets.filter { $0 != ignoreIndex }.count
        var total: Double = 0
        for (position, t) in targets.enumerated() where t != ignoreIndex {
            total -= Double(logProbabilities.pointer[position * c + Int(t)])
        }
        let loss = Tensor(scalar: valid > 0 ? Float(total / Double(valid)) : .nan)
        return record("cross_entropy", inputs: [logits], output: loss) { [shape = logits.shape] g in
            // d/dlogits = (softmax − onehot) / valid, zero at ignored positions.
            let scale = g.item / Float(Swift.max(valid, 1))
            let gradient = Tensor(uninitializedShape: [n, inner, c])
            for (position, t) in targets.enumerated() {
                let row = gradient.pointer + position * c, source = logProbabilities.pointer + position * c
                if t == ignoreIndex {
                    row.initialize(repeating: 0, count: c)
                } else {
                    for k in 0..<c { row[k] = FastMath.exp(source[k]) * scale }
                    row[Int(t)] -= scale
                }
            }
            return [gradient.transposed(1, 2).reshaped(shape)]
        }
    }

    /// Mean squared error over all elements.
    public static func meanSquaredError(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        precondition(prediction.shape == target.shape, "mse: shapes \(prediction.shape) and \(target.shape) differ")
        return (prediction - target).square().mean()
    }
}

/// max(x, 0) − x·z + log(1 + e^−|x|): one element's binary cross-entropy of logit x against target z.
private struct BinaryCrossEntropyTerm: BinaryElementFunction {
    func callAsFunction(_ x: Float, _ z: Float) -> Float {
        Swift.max(x, 0) - x * z + FastMath.log1pOfUnitInterval(FastMath.exp(-Swift.abs(x)))
    }
}

/// (σ(x) − z)·scale: the gradient of ``BinaryCrossEntropyTerm`` scaled by the upstream gradient over the count.
private struct BinaryCrossEntropyGradient: BinaryElementFunction {
    let scale: Float
    func callAsFunction(_ x: Float, _ z: Float) -> Float { (FastMath.sigmoid(x) - z) * scale }
}
