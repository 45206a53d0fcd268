import FGASeg

// The README's "Use from Swift" example, verbatim between the markers; LibraryTests checks that
// the README shows exactly this text and runs it.
// README-EXAMPLE-BEGIN
/// Segments one image file with any class names and prints the share of each class present.
func segmentAndDescribe(imageAt path: String, checkpoint: String, classes: [String]) throws -> SegmentationResult {
    let segmenter = try Segmenter(checkpoint: checkpoint)       // .h5, an exported folder, or .pth + config
    let image = try Segmenter.readImage(at: path)               // JPEG or PNG, turned upright by EXIF
    let result = try segmenter.segment(image, classes: classes) // options: sliding window, fast top-K
    for entry in result.classFractions {
        print("\(entry.name): \(Int((entry.fraction * 100).rounded()))%")
    }
    try result.writeLabelMap(base: path + ".segmented")         // class index per pixel, palette PNG
    return result
}
// README-EXAMPLE-END
