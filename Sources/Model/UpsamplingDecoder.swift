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
    ///
    /// The first convolution sees [up(x); guidance], and convolution is linear in its input
    /// channels, so it runs as `conv(W_x, up(x)) + conv(W_g, guidance)` with the guidance half
    /// computed once per image instead of once per class (DESIGN §7, shared guidance); the
    /// per-class half is ``upsampledConvolution(_:up:weight:)``, whose bias response joins the
    /// shared half.
    public func callAsFunction(_ x: Tensor, guidance: Tensor) -> Tensor {
        let (bt, h, w) = (x.shape[0], 2 * x.shape[2], 2 * x.shape[3])
        let (b, g) = (guidance.shape[0], guidance.shape[1])
        let first = conv.conv1
        let out = first.weight.shape[0], c = first.weight.shape[1] - g
        let (perClass, biasResponse) = upsampledConvolution(x, up: up, weight: first.weight.narrowed(1, start: 0, length: c))
        let guided = Tensor.conv2d(guidance, weight: first.weight.narrowed(1, start: c, length: g), padding: (1, 1))
        let shared = biasResponse.map { guided + $0 } ?? guided
        let sum = perClass.reshaped([b, bt / b, out * h * w]) + shared.reshaped([b, 1, out * h * w])
        return conv.afterFirstConvolution(sum.reshaped([bt, out, h, w]))
    }
}

/// A bias-free 3×3 convolution `weight` [O, C, 3, 3] (padding 1) of `up(x)`, for the decoder's
/// 2×2 stride-2 up-sampling `up` and `x` [N, Cin, H, W], in two parts: the maps [N, O, 2H, 2W],
/// computed at the input's resolution without forming `up(x)` (``Tensor/upsampledConv2d(_:upWeight:weight:)``),
/// and the response to `up`'s bias [1, O, 2H, 2W] (nil without one), the same for every map, for
/// the caller to add where it costs least.
func upsampledConvolution(_ x: Tensor, up: ConvTranspose2d, weight: Tensor) -> (maps: Tensor, biasResponse: Tensor?) {
    precondition(up.stride == 2 && up.padding == 0 && up.outputPadding == 0 && up.groups == 1,
                 "upsampledConvolution: \(up.weight.shape) with stride \(up.stride) is not a 2×2 stride-2 up-sampling")
    let maps = Tensor.upsampledConv2d(x, upWeight: up.weight, weight: weight)
    let biasResponse = up.bias.map {
        Tensor.upsampledConvolutionBiasResponse($0, weight: weight, height: 2 * x.shape[2], width: 2 * x.shape[3])
    }
    return (maps, biasResponse)
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
