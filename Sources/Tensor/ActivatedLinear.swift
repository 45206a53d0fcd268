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
        let (inFeatures, outFeatures) = (weight.shape[1], weight.shape[0])
        let rows = x.count / Swift.max(inFeatures, 1)
        let input = x.detached(), kernel = x.requiresGrad ? weight.detached() : nil
        let (needsWeightGradient, needsBiasGradient, hasBias) = (weight.requiresGrad, bias?.requiresGrad ?? false, bias != nil)
        return record("activated_linear", inputs: [x, weight] + (bias.map { [$0] } ?? []), output: out) { g in
            let gradients = g.reshaped([rows, outFeatures])
            let activated = input.map("activation", f).reshaped([rows, inFeatures])
            let dw = needsWeightGradient ? matmul(gradients, activated, transposeA: true) : nil
            let db = needsBiasGradient ? gradients.sum(axes: [0]) : nil
            // d(activation input) = (g · W) ⊙ f′(x), the product taken in place.
            let dx: Tensor? = kernel.map { kernel in
                let upstream = matmul(gradients, kernel)
                let (xs, ys, ds) = (input.pointer, activated.pointer, upstream.pointer)
                Parallel.forEach(upstream.count) { range in
                    f.chainRule(x: xs + range.lowerBound, y: ys + range.lowerBound, gradient: ds + range.lowerBound,
                                into: ds + range.lowerBound, count: range.count)
                }
                return upstream.reshaped(input.shape)
            }
            return [dx, dw] + (hasBias ? [db] : [])
        }
    }
}
