import Tensor

/// `y = x·Wᵀ + b`: weight [out, in] (kaiming-uniform a=√5), bias [out] (PyTorch nn.Linear).
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: inout RandomGenerator) {
        weight = Initializer.kaimingUniform([outFeatures, inFeatures], fanIn: inFeatures, using: &generator)
        self.bias = bias ? Initializer.bias(outFeatures, fanIn: inFeatures, using: &generator) : nil
        super.init()
        parameter("weight", weight)
        if let b = self.bias { parameter("bias", b) }
    }

    /// `x` [..., in] → [..., out].
    public func callAsFunction(_ x: Tensor) -> Tensor { Tensor.linear(x, weight: weight, bias: bias) }
}

/// Two linear layers with an activation between: in → hidden → out.
public final class MLP: Module {
    public let fc1: Linear
    public let fc2: Linear
    public let activation: Activation

    public init(_ inFeatures: Int, hidden: Int, _ outFeatures: Int, activation: Activation, generator: inout RandomGenerator) {
        fc1 = Linear(inFeatures, hidden, generator: &generator)
        fc2 = Linear(hidden, outFeatures, generator: &generator)
        self.activation = activation
        super.init()
        child("fc1", fc1)
        child("fc2", fc2)
    }

    /// `x` [..., in] → [..., out]. The activation is folded into the second layer, so backward keeps
    /// only the hidden pre-activation [..., hidden] (``Tensor/linear(_:activation:weight:bias:)``).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.linear(fc1(x), activation: activation, weight: fc2.weight, bias: fc2.bias)
    }
}
