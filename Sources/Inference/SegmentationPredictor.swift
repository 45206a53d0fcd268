import Data
import Foundation
import IO
import Model
import Tensor

/// Inference on whole images of any size (spec §8), shared by evaluation and `fgaseg-segment`:
/// the quick path (image resized to the model's input size S, σ of the decoder's logits resized
/// to the image) or the sliding-window protocol with tile K (384 in the official code whatever the
/// CLIP resolution): image resized to ⌊K·5/3⌉² (640²), K² tiles at stride ⌊K·(1 − 0.333)⌋ (256)
/// plus the whole image at K², each resized to S² for the model (ViT-L/14: 336²) and its σ
/// probabilities resized back to K², averaged over tile overlaps, then averaged with the global view.
public struct SegmentationPredictor {
    public let model: FGAsegModel
    /// The model's input size S (the training crop size).
    public let inputSize: Int
    /// The sliding window's tile K (``officialSlidingTile`` unless given).
    public let slidingTile: Int
    /// With a value, the fast decoder's top-K class rejection (spec §3.12) instead of the full decoder.
    public let fastTopK: Int?
    /// The quick path first pads the normalised image with zeros (bottom and right) to a multiple
    /// of this, as detectron2's `ImageList` does in the official code (spec §3.1), and the
    /// prediction of the padded image is stretched over the original one (spec §11), after the
    /// official crop (``officialCrop(_:imageSize:applies:)``). 1 (the default) resizes the image
    /// itself; 32 reproduces the official quick path exactly.
    public let sizeDivisibility: Int
    /// The class aggregation's pooling window: 1 for the evaluation protocol (spec §8), the
    /// training value (2) for the quick validation during training (spec §7).
    public let classPooling: Int

    /// The tile of the official sliding window (`inference_sliding_window(kernel=384)` in FGA-seg
    /// and CAT-Seg, for ViT-B/16 at 384 and ViT-L/14 at 336 alike).
    public static let officialSlidingTile = 384

    public init(model: FGAsegModel, inputSize: Int, fastTopK: Int? = nil, sizeDivisibility: Int = 1, classPooling: Int = 1,
                slidingTile: Int = officialSlidingTile) {
        self.model = model
        self.inputSize = inputSize
        self.slidingTile = slidingTile
        self.fastTopK = fastTopK
        self.sizeDivisibility = max(1, sizeDivisibility)
        self.classPooling = classPooling
    }

    /// Probabilities [B, T, h, w] (`size`) of a batch of S × S inputs: σ(logits) bilinearly
    /// up-sampled (spec §8), or the fast path's probabilities up-sampled.
    func probabilities(batch: Tensor, classes: Tensor, size: (Int, Int)) -> Tensor {
        if let topK = fastTopK {
            return model.fastProbabilities(batch, classes: classes, topK: topK, classPooling: classPooling).bilinearResized(to: size, alignCorners: false)
        }
        return model(batch, classes: classes, decoderClassChunk: Self.decoderClassChunk, classPooling: classPooling).logits
            .bilinearResized(to: size, alignCorners: false).sigmoid()
    }

    /// Class probabilities [1, T, H, W] at the image's own size for `classes` [T, D]
    /// (``FGAsegModel/classEmbeddings(_:)``). The model must be in evaluation mode.
    public func probabilities(_ image: Raster<UInt8>, classes: Tensor, slidingWindow: Bool) -> Tensor {
        noGrad {
            let pixels = Self.normalized(image)
            let size = (image.height, image.width)
            guard slidingWindow else {
                let (h, w) = size, d = sizeDivisibility
                let padded = d > 1 ? pixels.padded([(0, 0), (0, 0), (0, (d - h % d) % d), (0, (d - w % d) % d)]) : pixels
                let input = padded.bilinearResized(to: (inputSize, inputSize), alignCorners: false)
                // As the official code: σ at the decoder's resolution, then resized.
                let decoded = fastTopK.map { model.fastProbabilities(input, classes: classes, topK: $0, classPooling: classPooling) }
                    ?? model(input, classes: classes, decoderClassChunk: Self.decoderClassChunk, classPooling: classPooling).logits.sigmoid()
                return Self.officialCrop(decoded, imageSize: size, applies: d > 1).bilinearResized(to: size, alignCorners: false)
            }
            let s = slidingTile, big = Int((Double(s) * 5 / 3).rounded()), stride = Int(Double(s) * (1 - 0.333))
            let resized = pixels.bilinearResized(to: (big, big), alignCorners: false)
            var offsets = Array(Swift.stride(from: 0, to: big - s, by: stride))
            if offsets.last != big - s { offsets.append(big - s) }
            var tiles = [Tensor](), origins = [(Int, Int)]()
            for y in offsets { for x in offsets {
                tiles.append(resized.narrowed(2, start: y, length: s).narrowed(3, start: x, length: s))
                origins.append((y, x))
            } }
            tiles.append(pixels.bilinearResized(to: (s, s), alignCorners: false))
            let batch = Tensor.concat(tiles, along: 0)
            let input = s == inputSize ? batch : batch.bilinearResized(to: (inputSize, inputSize), alignCorners: false)
            let probabilities = probabilities(batch: input, classes: classes, size: (s, s))
            let t = probabilities.shape[1]
            let sum = Tensor(repeating: 0, shape: [1, t, big, big]), overlap = [Float](repeating: 0, count: big * big)
            var counts = overlap
            for (k, (y0, x0)) in origins.enumerated() {
                let tile = probabilities.pointer + k * t * s * s
                for c in 0..<t { for y in 0..<s {
                    let row = sum.pointer + (c * big + y0 + y) * big + x0, source = tile + (c * s + y) * s
                    for x in 0..<s { row[x] += source[x] }
                } }
                for y in 0..<s { for x in 0..<s { counts[(y0 + y) * big + x0 + x] += 1 } }
            }
            for c in 0..<t { for p in 0..<(big * big) { sum.pointer[c * big * big + p] /= counts[p] } }
            let global = probabilities.narrowed(0, start: origins.count, length: 1).bilinearResized(to: (big, big), alignCorners: false)
            return ((sum + global) * 0.5).bilinearResized(to: size, alignCorners: false)
        }
    }

    /// detectron2's `sem_seg_postprocess` as the official quick path uses it: the prediction
    /// [B, T, p, p] is cropped to the image's size measured in prediction pixels, which matters only
    /// for images smaller than p (`applies` false: `prediction` unchanged).
    public static func officialCrop(_ prediction: Tensor, imageSize: (Int, Int), applies: Bool) -> Tensor {
        let (ph, pw) = (prediction.shape[2], prediction.shape[3])
        guard applies, imageSize.0 < ph || imageSize.1 < pw else { return prediction }
        return prediction.narrowed(2, start: 0, length: min(ph, imageSize.0)).narrowed(3, start: 0, length: min(pw, imageSize.1))
    }

    /// The class id of every pixel [H·W] (argmax over classes).
    public func labels(_ image: Raster<UInt8>, classes: Tensor, slidingWindow: Bool) -> [Int32] {
        probabilities(image, classes: classes, slidingWindow: slidingWindow).argmax(axis: 1)
    }

    /// Classes the per-class decoder runs at a time: its maps then stay in cache (the logits do
    /// not depend on it).
    static let decoderClassChunk = 16

    /// An 8-bit RGB image as CLIP-normalised pixels [1, 3, H, W].
    public static func normalized(_ image: Raster<UInt8>) -> Tensor {
        let pixels = Tensor(repeating: 0, shape: [1, 3, image.height, image.width])
        CLIPNormalization.write(image, to: pixels.pointer)
        return pixels
    }
}
