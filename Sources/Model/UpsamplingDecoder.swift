import NN
import Tensor

/// (3×3 conv, no bias → GroupNorm(channels/16) → ReLU) × 2, on [N, in, H, W] → [N, out, H, W].
/// Parameter names follow the reference's `nn.Sequential` indices (0, 1, 3, 4).
public final class DoubleConv: Module {
    public let conv1: Conv2d, norm1: GroupNorm, conv2: Conv2d, norm2: GroupNorm

    public init(_ inChannels: Int, _ outChannels: Int, generator: inout RandomGenerator) {
        conv1 = Conv2d(inChannels, outChannels, kernel: 3, padding: 1, bias: false, generator: &generator)
        norm1 = GroupNorm(groups: outChannels / 16, channels: outChannels)
        conv2 = Conv2d(outChannels, outChannels, kernel: 3, padding: 1, bias: false, generator: &generator)
        norm2 = GroupNorm(groups: outChannels / 16, channels: outChannels)
        super.init()
        let sequence = Module()
        sequence.child("0", conv1)
        sequence.child("1", norm1)
        sequence.child("3", conv2)
        sequence.child("4", norm2)
        child("double_conv", sequence)
    }

    /// `x` [N, in, H, W] → [N, out, H, W].
    public func callAsFunction(_ x: Tensor) -> Tensor { afterFirstConvolution(conv1(x)) }

    /// The block from the first convolution's output [N, out, H, W] on.
    func afterFirstConvolution(_ y: Tensor) -> Tensor { norm2(conv2(norm1(y, relu: true)), relu: true) }
}

/// One up-sampling stage (spec §3.10): 2×2 transposed conv to `in − guidance` channels, the
/// decoder guidance (shared by every class) concatenated, then a DoubleConv to `out` channels.
public final class UpStage: Module {
    public let up: ConvTranspose2d
    public let conv: DoubleConv

    public init(_ inChannels: Int, _ outChannels: Int, guidanceChannels: Int, generator: inout RandomGenerator) {
        up = ConvTranspose2d(inChannels, inChannels - guidanceChannels, kernel: 2, stride: 2, generator: &generator)
        conv = DoubleConv(inChannels, outChannels, generator: &generator)
        super.init()
        child("up", up)
        child("conv", conv)
    }

    /// `x` [B·T, in, H, W] (T class maps per image), `guidance` [B, g, 2H, 2W] → [B·T, out, 2H, 2W].
    public func callAsFunction(_ x: Tensor, guidance: Tensor) -> Tensor { self(x, shared: sharedTerms(guidance: guidance)) }

    /// `x` [B·T, in, H, W] → [B·T, out, 2H, 2W] with the terms that ``sharedTerms(guidance:)`` made
    /// of its images' guidance (once for any number of class batches).
    public func callAsFunction(_ x: Tensor, shared: SharedUpsamplingTerms) -> Tensor {
        conv.afterFirstConvolution(upsampledConvolution(x, shared))
    }

    /// What every class map of the images of `guidance` [B, g, 2H, 2W] shares in this stage.
    ///
    /// The first convolution sees [up(x); guidance], and convolution is linear in its input
    /// channels, so it runs as `conv(W_x, up(x)) + conv(W_g, guidance)`: the guidance half is
    /// computed once per image instead of once per class (DESIGN §7, shared guidance) and joins
    /// the up-sampling bias's response in the shared addend [B, out, 2H, 2W]; the per-class half
    /// uses the composite kernel of ``Tensor/upsampledConv2d(_:kernel:)``.
    public func sharedTerms(guidance: Tensor) -> SharedUpsamplingTerms {
        let g = guidance.shape[1]
        let first = conv.conv1.weight
        let c = first.shape[1] - g
        var terms = SharedUpsamplingTerms(up: up, weight: first.narrowed(1, start: 0, length: c),
                                          height: guidance.shape[2], width: guidance.shape[3])
        let guided = Tensor.conv2d(guidance, weight: first.narrowed(1, start: c, length: g), padding: (1, 1))
        terms.addend = terms.addend.map { guided + $0 } ?? guided
        return terms
    }
}

/// What a bias-free 3×3 convolution `weight` [O, Cmid, 3, 3] (padding 1) after a 2×2 stride-2
/// up-sampling `up` [Cin, Cmid, 2, 2] shares across every map it is applied to: the composite
/// kernel [4·O, Cin, 2, 2] that computes both at the input's resolution without forming the
/// up-sampled map (``Tensor/upsampledConvolutionKernel(upWeight:weight:)``), and the addend every
/// map receives, [1 or B, O, 2H, 2W] (one per image), or nil. Built once per forward, they serve
/// every class chunk.
public struct SharedUpsamplingTerms {
    /// [4·O, Cin, 2, 2].
    public var kernel: Tensor
    /// [1 or B, O, 2H, 2W]: the up-sampling bias's response, plus whatever else the maps share.
    public var addend: Tensor?

    /// The terms of `up` then `weight` on maps up-sampled to [height, width].
    public init(up: ConvTranspose2d, weight: Tensor, height: Int, width: Int) {
        precondition(up.stride == 2 && up.padding == 0 && up.outputPadding == 0 && up.groups == 1,
                     "SharedUpsamplingTerms: \(up.weight.shape) with stride \(up.stride) is not a 2×2 stride-2 up-sampling")
        kernel = Tensor.upsampledConvolutionKernel(upWeight: up.weight, weight: weight)
        addend = up.bias.map { Tensor.upsampledConvolutionBiasResponse($0, weight: weight, height: height, width: width) }
    }

    init(kernel: Tensor, addend: Tensor?) { (self.kernel, self.addend) = (kernel, addend) }

    /// The tensors, in a fixed order (``replacingTensors(_:)`` takes them back).
    public var tensors: [Tensor] { [kernel] + (addend.map { [$0] } ?? []) }

    /// The same terms made of `replacements` (as many as ``tensors``, in its order), e.g. detached copies.
    public func replacingTensors(_ replacements: [Tensor]) -> SharedUpsamplingTerms {
        precondition(replacements.count == tensors.count, "SharedUpsamplingTerms: \(replacements.count) tensors for \(tensors.count)")
        return SharedUpsamplingTerms(kernel: replacements[0], addend: addend == nil ? nil : replacements[1])
    }
}

/// `x` [B·T, Cin, H, W] (T maps per image) up-sampled and convolved with `terms` → [B·T, O, 2H, 2W].
func upsampledConvolution(_ x: Tensor, _ terms: SharedUpsamplingTerms) -> Tensor {
    let maps = Tensor.upsampledConv2d(x, kernel: terms.kernel)
    guard let addend = terms.addend else { return maps }
    let (images, perMap) = (addend.shape[0], addend.count / addend.shape[0])
    precondition(maps.count == maps.shape[0] * perMap && maps.shape[0] % images == 0,
                 "upsampledConvolution: maps \(maps.shape) do not take an addend \(addend.shape)")
    return (maps.reshaped([images, maps.shape[0] / images, perMap]) + addend.reshaped([images, 1, perMap])).reshaped(maps.shape)
}

/// `Linear` over the channel axis of a [N, C, ...] map (PyTorch's `linear(x.permute(...))`),
/// computed as a 1×1 convolution of the map as it lies: [N, C, ...] → [N, out, ...], with no
/// permutation either way.
func channelLinear(_ layer: Linear, _ x: Tensor) -> Tensor {
    let (n, c, rest) = (x.shape[0], x.shape[1], Array(x.shape.dropFirst(2)))
    let out = layer.weight.shape[0]
    let y = Tensor.conv2d(x.reshaped([n, c, rest.reduce(1, *), 1]), weight: layer.weight.reshaped([out, c, 1, 1]), bias: layer.bias)
    return y.reshaped([n, out] + rest)
}
