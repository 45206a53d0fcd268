import Tensor

/// FGAseg's training losses (spec §4, the code's variant): per-class binary cross-entropy against
/// one-hot targets in which ignored pixels are all-negative.
public enum SegmentationLosses {
    /// One-hot targets [B, T, H, W] for the classes `firstClass ..< firstClass + T` from class ids
    /// [B·H·W] (other ids, e.g. 255, give all zeros).
    public static func oneHot(_ labels: [Int32], batch: Int, classes: Int, firstClass: Int = 0, height: Int, width: Int) -> Tensor {
        precondition(labels.count == batch * height * width, "one-hot: \(labels.count) labels for [\(batch), \(height), \(width)]")
        let out = Tensor(repeating: 0, shape: [batch, classes, height, width])
        let plane = height * width
        for (index, label) in labels.enumerated() where Int(label) >= firstClass && Int(label) < firstClass + classes {
            let (b, position) = (index / plane, index % plane)
            out.pointer[(b * classes + Int(label) - firstClass) * plane + position] = 1
        }
        return out
    }

    /// Nearest-neighbour down-sampling of labels [B, H, W] by `factor` (pixel (f·i, f·j)).
    public static func downsample(_ labels: [Int32], batch: Int, height: Int, width: Int, factor: Int) -> [Int32] {
        let (h, w) = (height / factor, width / factor)
        var out = [Int32](repeating: 255, count: batch * h * w)
        for b in 0..<batch { for i in 0..<h { for j in 0..<w {
            out[(b * h + i) * w + j] = labels[(b * height + i * factor) * width + j * factor]
        } } }
        return out
    }

    /// Main loss: BCE-with-logits of `logits` [B, T, h, w] (classes `firstClass ..< firstClass + T`)
    /// bilinearly up-sampled to the label size, against one-hot `labels` [B·H·W], averaged over B·T·H·W.
    public static func segmentation(_ logits: Tensor, labels: [Int32], firstClass: Int = 0, height: Int, width: Int) -> Tensor {
        let (b, t) = (logits.shape[0], logits.shape[1])
        let upsampled = logits.bilinearResized(to: (height, width), alignCorners: false)
        let targets = oneHot(labels, batch: b, classes: t, firstClass: firstClass, height: height, width: width)
        return Tensor.binaryCrossEntropyWithLogits(upsampled, targets: targets)
    }

    /// T2P loss: BCE-with-logits of `logits` [B, T, h, w] against the labels down-sampled
    /// (nearest) to h × w.
    public static func textToPixel(_ logits: Tensor, labels: [Int32], height: Int, width: Int) -> Tensor {
        let (b, t, h, w) = (logits.shape[0], logits.shape[1], logits.shape[2], logits.shape[3])
        let small = downsample(labels, batch: b, height: height, width: width, factor: height / h)
        return Tensor.binaryCrossEntropyWithLogits(logits, targets: oneHot(small, batch: b, classes: t, height: h, width: w))
    }
}
