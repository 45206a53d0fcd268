import NN
import Tensor

extension Linear {
    /// `self([x; g])` for tokens `x` whose guidance `g` is the same for every class (or position)
    /// of an image: the weight is split by input columns, `W·[x; g] + b = W_x·x + (W_g·g + b)`,
    /// and the guidance half is computed once per image instead of once per token copy
    /// (DESIGN §7, shared guidance).
    /// - Parameters:
    ///   - x: [images·R·…, C] tokens, ordered image first; each image's R blocks repeat its guidance.
    ///   - guidance: [images·…, G], one block per image, of the shape of one of x's blocks.
    ///   - images: the number of images.
    /// - Returns: [x's leading dimensions, out].
    func guided(_ x: Tensor, sharedGuidance guidance: Tensor, images: Int) -> Tensor {
        let (c, g) = (x.shape[x.rank - 1], guidance.shape[guidance.rank - 1])
        let perToken = Tensor.linear(x, weight: weight.narrowed(1, start: 0, length: c), bias: nil)
        let shared = Tensor.linear(guidance, weight: weight.narrowed(1, start: c, length: g), bias: bias)
        let block = shared.count / images
        return (perToken.reshaped([images, -1, block]) + shared.reshaped([images, 1, block])).reshaped(perToken.shape)
    }
}
