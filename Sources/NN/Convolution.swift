import Tensor

/// 2-D convolution: weight [out, in/groups, k, k], bias [out] (PyTorch nn.Conv2d and its init).
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int, dilation: Int, groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true, generator: inout RandomGenerator) {
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "Conv2d: channels \(inChannels)→\(outChannels) not divisible by \(groups) groups")
        let fanIn = inChannels / groups * kernel * kernel
        weight = Initializer.kaimingUniform([outChannels, inChannels / groups, kernel, kernel], fanIn: fanIn, using: &generator)
        self.bias = bias ? Initializer.bias(outChannels, fanIn: fanIn, using: &generator) : nil
        (self.stride, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
        super.init()
        parameter("weight", weight)
        if let b = self.bias { parameter("bias", b) }
    }

    /// `x` [N, in, H, W] → [N, out, H', W'].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding),
                      dilation: (dilation, dilation), groups: groups)
    }
}

/// Transposed 2-D convolution: weight [in, out/groups, k, k], bias [out] (PyTorch nn.ConvTranspose2d).
public final class ConvTranspose2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int, outputPadding: Int, groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                outputPadding: Int = 0, groups: Int = 1, bias: Bool = true, generator: inout RandomGenerator) {
        // PyTorch computes fan_in from weight.size(1) · k² for transposed convolutions.
        let fanIn = outChannels / groups * kernel * kernel
        weight = Initializer.kaimingUniform([inChannels, outChannels / groups, kernel, kernel], fanIn: fanIn, using: &generator)
        self.bias = bias ? Initializer.bias(outChannels, fanIn: fanIn, using: &generator) : nil
        (self.stride, self.padding, self.outputPadding, self.groups) = (stride, padding, outputPadding, groups)
        super.init()
        parameter("weight", weight)
        if let b = self.bias { parameter("bias", b) }
    }

    /// `x` [N, in, H, W] → [N, out, H', W'].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.convTranspose2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding),
                               outputPadding: (outputPadding, outputPadding), groups: groups)
    }
}
