/// The activation between an MLP's two linear layers (``Tensor/linear(_:activation:weight:bias:)``).
public enum Activation: Sendable, Equatable {
    /// max(x, 0).
    case relu
    /// x · Φ(x) with the exact erf (PyTorch's `nn.GELU()`).
    case gelu
    /// CLIP's x · σ(1.702 x).
    case quickGelu
}

extension Tensor {
    /// The activation applied elementwise (``relu()``, ``gelu()`` or ``quickGelu()``).
    public func activated(_ activation: Activation) -> Tensor {
        switch activation {
        case .relu: relu()
        case .gelu: gelu()
        case .quickGelu: quickGelu()
        }
    }

    /// `activation(x)` [..., in] · `weight`ᵀ [out, in] + `bias` [out] → [..., out]: an MLP's second
    /// layer with its activation folded in. The same values and gradients as
    /// `linear(x.activated(activation), weight:, bias:)`, but only `x` is kept for backward, which
    /// recomputes the activation (one elementwise pass) instead of keeping that hidden-width
    /// tensor alive from forward to backward.
    public static func linear(_ x: Tensor, activation: Activation, weight: Tensor, bias: Tensor?) -> Tensor {
        switch activation {
        case .relu: activatedLinear(x, ReLUFunction(), weight: weight, bias: bias)
        case .gelu: activatedLinear(x, GELUFunction(), weight: weight, bias: bias)
        case .quickGelu: activatedLinear(x, QuickGELUFunction(), weight: weight, bias: bias)
        }
    }

    private static func activatedLinear<F: ElementwiseFunction>(_ x: Tensor, _ f: F, weight: Tensor, bias: Tensor?) -> Tensor {
        let out = noGrad { linear(x.map("activation", f), weight: weight, bias: bias) }
        let input = x.detached(), kernel = x.requiresGrad ? weight.detached() : nil
        let (needsWeightGradient, biasShape) = (weight.requiresGrad, bias.map(\.shape))
        let needsBiasGradient = bias?.requiresGrad ?? false
        return record("activated_linear", inputs: [x, weight] + (bias.map { [$0] } ?? []), output: out) { g in
            let activated = input.map("activation", f)
            // The linear layer's gradients, with its bias [out] as one position-bias row.
            var gradients = linearGradients(g, input: needsWeightGradient ? activated : nil, weight: kernel, inputShape: input.shape,
                                            biasShape: needsBiasGradient ? [1, 1, g.shape.last ?? 1] : nil)
            // d(activation input) = d(activation output) ⊙ f′(x), the product taken in place.
            if let upstream = gradients[0] {
                f.parallelChainRule(x: input.pointer, y: activated.pointer, gradient: upstream.pointer, into: upstream.pointer,
                                    count: upstream.count)
            }
            gradients[2] = gradients[2].map { $0.reshaped(biasShape ?? []) }
            return biasShape == nil ? Array(gradients.prefix(2)) : gradients
        }
    }
}
