import NN
import Tensor

/// The T2P branch (FGAseg's `Projector`, spec §3.11), used for its auxiliary loss only: the
/// image features are up-sampled 4× by two (bilinear ×2 → 3×3 conv + BatchNorm + ReLU) stages and
/// a 1×1 conv; every class embedding becomes a 3×3 kernel plus bias convolved with them.
public final class TextToPixelProjector: Module {
    public let conv1: Conv2d, norm1: BatchNorm2d, conv2: Conv2d, norm2: BatchNorm2d, conv3: Conv2d
    public let textToKernel: Linear
    public let channels: Int
    static let kernel = 3

    /// `imageChannels` = 2 × `channels` as in the reference (512 → 256 for ViT-B/16).
    public init(imageChannels: Int, textWidth: Int, generator: inout RandomGenerator) {
        channels = imageChannels / 2
        conv1 = Conv2d(imageChannels, imageChannels, kernel: 3, padding: 1, bias: false, generator: &generator)
        norm1 = BatchNorm2d(imageChannels)
        conv2 = Conv2d(imageChannels, channels, kernel: 3, padding: 1, bias: false, generator: &generator)
        norm2 = BatchNorm2d(channels)
        conv3 = Conv2d(channels, channels, kernel: 1, generator: &generator)
        textToKernel = Linear(textWidth, channels * Self.kernel * Self.kernel + 1, generator: &generator)
        super.init()
        let stage1 = Module(), stage2 = Module(), vision = Module()
        stage1.child("0", conv1)
        stage1.child("1", norm1)
        stage2.child("0", conv2)
        stage2.child("1", norm2)
        vision.child("1", stage1)
        vision.child("3", stage2)
        vision.child("4", conv3)
        child("vis", vision)
        child("txt", textToKernel)
    }

    /// `image` [B, C, H, W], `text` [B, T, D] (not re-normalised) → logits [B, T, 4H, 4W].
    public func callAsFunction(image: Tensor, text: Tensor) -> Tensor {
        let (h, w) = (image.shape[2], image.shape[3])
        var x = norm1(conv1(image.bilinearResized(to: (2 * h, 2 * w), alignCorners: false))).relu()
        x = norm2(conv2(x.bilinearResized(to: (4 * h, 4 * w), alignCorners: false))).relu()
        x = conv3(x)
        let (b, t, k) = (text.shape[0], text.shape[1], Self.kernel)
        let generated = textToKernel(text)
        let kernels = generated.narrowed(2, start: 0, length: channels * k * k)
        let bias = generated.narrowed(2, start: channels * k * k, length: 1)
        let maps = (0..<b).map { index in
            Tensor.conv2d(x.narrowed(0, start: index, length: 1),
                          weight: kernels.narrowed(0, start: index, length: 1).reshaped([t, channels, k, k]),
                          bias: bias.narrowed(0, start: index, length: 1).reshaped([t]), padding: (k / 2, k / 2))
        }
        return Tensor.concat(maps, along: 0)
    }
}
