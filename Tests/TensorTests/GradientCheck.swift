import Testing
import Tensor

/// Random test input of `shape`, values in [-1, 1), kept `margin` away from 0 (away from the
/// kinks of ReLU-like functions, which finite differences cannot check).
func randomInput(_ shape: [Int], seed: UInt64, margin: Float = 0, scale: Float = 1) -> Tensor {
    var generator = RandomGenerator(seed: seed)
    let t = Tensor.uniform(shape, low: -1, high: 1, using: &generator)
    for i in 0..<t.count {
        var v = t.pointer[i]
        if abs(v) < margin { v = v < 0 ? -margin - abs(v) : margin + v }
        t.pointer[i] = v * scale
    }
    return t
}

/// Compares the autodiff gradient of `Σ f(inputs) ⊙ w` (w fixed random weights) with central
/// finite differences whose loss is accumulated in Double. Checks up to `samples` elements of
/// every input; the error bound is `atol + rtol·|numeric|`.
func checkGradients(_ name: String, _ inputs: [Tensor], eps: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 1e-2,
                    samples: Int = 40, sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor) {
    for input in inputs { input.requiresGrad = true; input.grad = nil }
    let output = f(inputs)
    let weights = randomInput(output.shape, seed: 99)
    (output * weights).sum().backward()

    func loss() -> Double {
        let out = noGrad { f(inputs) }
        var total = 0.0
        for i in 0..<out.count { total += Double(out.pointer[i]) * Double(weights.pointer[i]) }
        return total
    }
    for (index, input) in inputs.enumerated() {
        guard let grad = input.grad else {
            Issue.record("\(name): input \(index) received no gradient", sourceLocation: sourceLocation)
            continue
        }
        #expect(grad.shape == input.shape, "\(name): gradient shape", sourceLocation: sourceLocation)
        let step = max(1, input.count / samples)
        var worst = (error: 0.0, element: 0, analytic: 0.0, numeric: 0.0)
        for element in stride(from: 0, to: input.count, by: step) {
            let saved = input.pointer[element]
            input.pointer[element] = saved + eps
            let plus = loss()
            input.pointer[element] = saved - eps
            let minus = loss()
            input.pointer[element] = saved
            let numeric = (plus - minus) / (2 * Double(eps))
            let analytic = Double(grad.pointer[element])
            let excess = abs(analytic - numeric) - (atol + rtol * abs(numeric))
            if excess > worst.error { worst = (excess, element, analytic, numeric) }
        }
        #expect(worst.error <= 0,
                "\(name): input \(index) element \(worst.element): autodiff \(worst.analytic) vs finite difference \(worst.numeric)",
                sourceLocation: sourceLocation)
    }
}
