import Foundation
import Tensor

/// AdamW with decoupled weight decay (PyTorch `torch.optim.AdamW`, same update order and bias
/// correction) over ``FlatParameters``, with per-parameter learning-rate multipliers and weight
/// decay (parameter groups).
public final class AdamW {
    /// Optimisation settings of one parameter, chosen by name.
    public struct Group: Sendable {
        public var learningRateScale: Float
        public var weightDecay: Float
        public init(learningRateScale: Float = 1, weightDecay: Float) {
            self.learningRateScale = learningRateScale
            self.weightDecay = weightDecay
        }
    }

    public let parameters: FlatParameters
    public let beta1: Float, beta2: Float, eps: Float
    /// First and second moments [parameters.count].
    public let firstMoment: Tensor, secondMoment: Tensor
    /// Steps taken so far.
    public private(set) var step = 0
    /// (range in the flat buffer, group) for every parameter.
    public let segments: [(range: Range<Int>, group: Group)]

    /// `group(name)` picks each parameter's group from its dotted name.
    public init(_ parameters: FlatParameters, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                group: (String) -> Group) {
        self.parameters = parameters
        (self.beta1, self.beta2, self.eps) = (beta1, beta2, eps)
        firstMoment = Tensor(repeating: 0, shape: [parameters.count])
        secondMoment = Tensor(repeating: 0, shape: [parameters.count])
        segments = parameters.entries.map { ($0.offset..<($0.offset + $0.count), group($0.name)) }
    }

    /// Restores the step counter (checkpoint resume).
    public func restore(step: Int) { self.step = step }

    /// One update with base learning rate `learningRate` from the current gradients
    /// (times `parameters.gradientScale`).
    public func update(learningRate: Float) {
        step += 1
        let correction1 = 1 - Foundation.pow(Double(beta1), Double(step))
        let correction2 = 1 - Foundation.pow(Double(beta2), Double(step))
        let correction2Root = Float(correction2.squareRoot())
        let p = parameters.values.pointer, g = parameters.gradients.pointer
        let m = firstMoment.pointer, v = secondMoment.pointer
        let (b1, b2, eps, scale) = (beta1, beta2, self.eps, parameters.gradientScale)
        for (range, group) in segments {
            let lr = learningRate * group.learningRateScale
            let decay = 1 - lr * group.weightDecay
            let stepSize = Float(Double(lr) / correction1)
            Parallel.forEach(range.count) { local in
                for i in (range.lowerBound + local.lowerBound)..<(range.lowerBound + local.upperBound) {
                    let gradient = g[i] * scale
                    p[i] *= decay
                    m[i] = b1 * m[i] + (1 - b1) * gradient
                    v[i] = b2 * v[i] + (1 - b2) * gradient * gradient
                    let denominator = v[i].squareRoot() / correction2Root + eps
                    p[i] -= stepSize * m[i] / denominator
                }
            }
        }
    }
}
