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

/// The outputs of several Linears on the same tokens, side by side in one tensor: first the
/// `guided` ones, which see `[x; g]` for a guidance g shared per image (as
/// ``Linear/guided(_:sharedGuidance:images:)``), then the `plain` ones, which see x alone.
/// The token halves of all weights are stacked into one GEMM over the tokens; the guidance halves
/// and every bias make one per-image bias (``Tensor/linear(_:weight:positionBias:)``), so the
/// guidance terms cost no pass of their own, and backward needs one GEMM for the tokens' gradient.
/// - Parameters:
///   - x: [images·R·…, C] tokens, ordered image first; each image's R blocks repeat its guidance.
///   - guidance: [images·…, G], one block per image, of the shape of one of x's blocks.
///   - images: the number of images.
/// - Returns: [x's leading dimensions, Σ out].
func packedProjections(_ x: Tensor, guided: [Linear], plain: [Linear], sharedGuidance guidance: Tensor, images: Int) -> Tensor {
    let (c, g) = (x.shape[x.rank - 1], guidance.shape[guidance.rank - 1])
    let positions = guidance.count / g / images
    precondition(guided.allSatisfy { $0.weight.shape[1] == c + g } && plain.allSatisfy { $0.weight.shape[1] == c },
                 "packedProjections: weights \(guided.map(\.weight.shape)) and \(plain.map(\.weight.shape)) for tokens of width \(c) and guidance of width \(g)")
    let tokenWeight = Tensor.concat(guided.map { $0.weight.narrowed(1, start: 0, length: c) } + plain.map(\.weight), along: 0)
    func bias(_ layer: Linear) -> Tensor { layer.bias ?? Tensor(repeating: 0, shape: [layer.weight.shape[0]]) }
    let rows = images * positions
    var biasParts: [Tensor] = []
    if !guided.isEmpty {
        let guidanceWeight = Tensor.concat(guided.map { $0.weight.narrowed(1, start: c, length: g) }, along: 0)
        biasParts.append(Tensor.linear(guidance.reshaped([rows, g]), weight: guidanceWeight, bias: Tensor.concat(guided.map(bias), along: 0)))
    }
    if !plain.isEmpty {
        let plainBias = Tensor.concat(plain.map(bias), along: 0)
        biasParts.append(plainBias.broadcast(to: [rows, plainBias.count]))
    }
    let positionBias = Tensor.concat(biasParts, along: 1).reshaped([images, positions, -1])
    return Tensor.linear(x, weight: tokenWeight, positionBias: positionBias)
}
