import Tensor

/// LayerNorm over the last dimension with weight (1) and bias (0) [features].
public final class LayerNorm: Module {
    public let weight: Tensor, bias: Tensor
    public let eps: Float

    public init(_ features: Int, eps: Float = 1e-5) {
        weight = Tensor(repeating: 1, shape: [features])
        bias = Tensor(repeating: 0, shape: [features])
        self.eps = eps
        super.init()
        parameter("weight", weight)
        parameter("bias", bias)
    }

    /// `x` [..., features] → same shape.
    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }
}

/// GroupNorm of [N, C, ...] with per-channel weight (1) and bias (0) [C].
public final class GroupNorm: Module {
    public let weight: Tensor, bias: Tensor
    public let groups: Int, eps: Float

    public init(groups: Int, channels: Int, eps: Float = 1e-5) {
        precondition(channels % groups == 0, "GroupNorm: \(channels) channels are not divisible into \(groups) groups")
        weight = Tensor(repeating: 1, shape: [channels])
        bias = Tensor(repeating: 0, shape: [channels])
        (self.groups, self.eps) = (groups, eps)
        super.init()
        parameter("weight", weight)
        parameter("bias", bias)
    }

    /// `x` [N, C, ...] → same shape; with `relu`, rectified in the same pass (``Tensor/groupNorm(groups:weight:bias:eps:relu:)``).
    public func callAsFunction(_ x: Tensor, relu: Bool = false) -> Tensor {
        x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps, relu: relu)
    }
}

/// BatchNorm2d: batch statistics in training (updating running mean/variance with `momentum`),
/// running statistics in evaluation. Weight (1), bias (0), buffers `running_mean`, `running_var`.
public final class BatchNorm2d: Module {
    public let weight: Tensor, bias: Tensor
    public let runningMean: Tensor, runningVariance: Tensor
    public let eps: Float, momentum: Float

    public init(_ channels: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        weight = Tensor(repeating: 1, shape: [channels])
        bias = Tensor(repeating: 0, shape: [channels])
        runningMean = Tensor(repeating: 0, shape: [channels])
        runningVariance = Tensor(repeating: 1, shape: [channels])
        (self.eps, self.momentum) = (eps, momentum)
        super.init()
        parameter("weight", weight)
        parameter("bias", bias)
        buffer("running_mean", runningMean)
        buffer("running_var", runningVariance)
    }

    /// `x` [N, C, H, W] → same shape.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining else {
            return x.batchNormInference(mean: runningMean, variance: runningVariance, weight: weight, bias: bias, eps: eps)
        }
        let (output, mean, variance) = x.batchNormTraining(weight: weight, bias: bias, eps: eps)
        for c in 0..<mean.count {
            runningMean.pointer[c] = (1 - momentum) * runningMean.pointer[c] + momentum * mean[c]
            runningVariance.pointer[c] = (1 - momentum) * runningVariance.pointer[c] + momentum * variance[c]
        }
        return output
    }
}
