import NN
import Tensor

/// The global cosine cost (GCS, spec §3.6): `image` [B, C, H, W] and `text` [B, T, C] →
/// cosine similarity of every pixel with every class [B, T, H, W].
public func cosineCost(image: Tensor, text: Tensor) -> Tensor {
    let (b, c, h, w) = (image.shape[0], image.shape[1], image.shape[2], image.shape[3])
    let pixels = image.l2Normalized(dim: 1).reshaped([b, c, h * w])
    return Tensor.matmul(text.l2Normalized(dim: -1), pixels).reshaped([b, text.shape[1], h, w])
}

/// The local category cost (LCS, FGAseg's `Local_align`, spec §3.7): each class embedding is
/// turned into a k×k convolution kernel over all image channels (softmax over the k² taps of
/// every channel) plus a bias, and convolved with the channel-normalised image.
public final class LocalCategoryCost: Module {
    public let textToKernel: Linear
    public let kernelSize: Int
    public let channels: Int

    public init(textWidth: Int, imageChannels: Int, kernelSize: Int, generator: inout RandomGenerator) {
        textToKernel = Linear(textWidth, imageChannels * kernelSize * kernelSize + 1, generator: &generator)
        (self.kernelSize, self.channels) = (kernelSize, imageChannels)
        super.init()
        child("txt", textToKernel)
    }

    /// `image` [B, C, H, W], `text` [B, T, D] → [B, T, H, W].
    public func callAsFunction(image: Tensor, text: Tensor) -> Tensor {
        let (b, t) = (text.shape[0], text.shape[1])
        let k = kernelSize
        let generated = textToKernel(text.l2Normalized(dim: -1))                  // [B, T, C·k²+1]
        let taps = generated.narrowed(2, start: 0, length: channels * k * k)
            .reshaped([b, t, channels, k * k]).softmax(dim: -1)
            .reshaped([b, t, channels, k, k])
        let bias = generated.narrowed(2, start: channels * k * k, length: 1).reshaped([b, t])
        let normalized = image.l2Normalized(dim: 1)
        let maps = (0..<b).map { index in
            Tensor.conv2d(normalized.narrowed(0, start: index, length: 1),
                          weight: taps.narrowed(0, start: index, length: 1).reshaped([t, channels, k, k]),
                          bias: bias.narrowed(0, start: index, length: 1).reshaped([t]),
                          padding: (k / 2, k / 2))
        }
        return Tensor.concat(maps, along: 0)
    }
}
