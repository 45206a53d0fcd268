import CLIP
import Data
import Foundation
import IO
import Inference
import Model
import Tensor
import Training

/// `fgaseg-bench segment --model DIR`: fgaseg-segment's per-image work (quick path: resize to 384²,
/// CLIP image tower, P2Tformer, decoder, up-sampling, argmax) on 384² images with T = 20 classes
/// whose text embeddings are computed once, with the full decoder and with the fast decoder
/// (top-16 rejection); and with the 150 ADE20K classes, one 384² crop and the sliding-window protocol
/// (a 640² resize, four 384² tiles and the global view), with a per-section profile of the crop.
/// All against the CLIP image tower alone on the same images in the same run.
enum SegmentBenchmark {
    /// `slidingWindow` adds the sliding-window row (≈ 5 crops per image, the longest part).
    static func run(folder: String, images count: Int, slidingWindow: Bool) throws -> [BenchmarkRow] {
        let clip = try CLIPModel.load(folder: folder)
        let tokenizer = CLIPTokenizer(vocabulary: try TokenizerVocabulary.huggingFace(folder: folder))
        var configuration = FGAsegModel.Configuration()
        configuration.decoder.fast = true
        let model = FGAsegModel(clip: clip, configuration: configuration)
        model.eval()
        func embeddings(_ names: [String]) -> Tensor {
            noGrad { model.classEmbeddings(names.map { tokenizer.encode(Prompts.prompt(for: $0)).ids }) }
        }
        let names = ClassNames.names(.ade20k150)
        let classes = embeddings(Array(names.prefix(20))), allClasses = embeddings(names)
        let scenes = DemoScenes(split: .validation, count: count, size: 96)
        let images = (0..<count).map { scenes.render($0).image.resizedBilinear(width: 384, height: 384) }
        /// Seconds per image over the first `limit` images, after a warm-up run.
        func perImage(limit: Int = count, _ body: (Raster<UInt8>) -> Void) -> Double {
            body(images[0])
            let start = Date()
            for image in images.prefix(limit) { body(image) }
            return Date().timeIntervalSince(start) / Double(min(limit, count))
        }
        let encoderOnly = perImage { image in
            _ = noGrad { model.clip.denseImageFeatures(SegmentationPredictor.normalized(image), taps: [3, 7]) }
        }
        var rows = [BenchmarkRow]()
        for (name, topK) in [("segment_384_T20_full", nil), ("segment_384_T20_fast_top16", 16)] as [(String, Int?)] {
            let predictor = SegmentationPredictor(model: model, inputSize: 384, fastTopK: topK)
            let seconds = perImage { _ = predictor.labels($0, classes: classes, slidingWindow: false) }
            rows.append(BenchmarkRow(suite: "segment", name: String(format: "%@ (%.2f images/s)", name, 1 / seconds),
                                     ours: seconds, baselineName: "clip_image_tower_only", baseline: encoderOnly))
        }
        let predictor = SegmentationPredictor(model: model, inputSize: 384)
        let protocols = [("segment_384_T150_one_crop", false)] + (slidingWindow ? [("segment_640_T150_sliding_window_5_crops", true)] : [])
        for (name, sliding) in protocols {
            let seconds = perImage(limit: 2) { _ = predictor.labels($0, classes: allClasses, slidingWindow: sliding) }
            rows.append(BenchmarkRow(suite: "segment", name: name, ours: seconds, baselineName: "clip_image_tower_only", baseline: encoderOnly))
        }
        Profiler.start()
        _ = predictor.labels(images[0], classes: allClasses, slidingWindow: false)
        print("  one 384² crop, T = 150, by section:       seconds    GFLOP  GFLOP/s")
        for entry in Profiler.stop() {
            let rate = entry.flops > 0 ? String(format: "%8.1f", entry.flops / entry.forwardSeconds / 1e9) : ""
            print(String(format: "    %@ %7.3f %8.1f %@", indentedSectionName(entry).padding(toLength: 36, withPad: " ", startingAt: 0),
                         entry.forwardSeconds, entry.flops / 1e9, rate as NSString))
        }
        return rows
    }
}
