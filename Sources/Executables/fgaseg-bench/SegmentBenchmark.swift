import CLIP
import Data
import Foundation
import IO
import Model
import Tensor
import Training

/// `fgaseg-bench segment --model DIR`: fgaseg-segment's per-image work (quick path: resize to 384²,
/// CLIP image tower, P2Tformer, decoder, up-sampling, argmax) on 384² images with T = 20 classes
/// whose text embeddings are computed once, with the full decoder and with the fast decoder
/// (top-16 rejection), against the CLIP image tower alone on the same images in the same run.
enum SegmentBenchmark {
    static func run(folder: String, images count: Int) throws -> [BenchmarkRow] {
        let clip = try CLIPModel.load(folder: folder)
        let tokenizer = CLIPTokenizer(vocabulary: try TokenizerVocabulary.huggingFace(folder: folder))
        var configuration = FGAsegModel.Configuration()
        configuration.decoder.fast = true
        let model = FGAsegModel(clip: clip, configuration: configuration)
        model.eval()
        let names = Array(ClassNames.names(.ade20k150).prefix(20))
        let classes = noGrad { model.classEmbeddings(names.map { tokenizer.encode(Prompts.prompt(for: $0)).ids }) }
        let scenes = DemoScenes(split: .validation, count: count, size: 96)
        let images = (0..<count).map { scenes.render($0).image.resizedBilinear(width: 384, height: 384) }
        func perImage(_ body: (Raster<UInt8>) -> Void) -> Double {
            body(images[0])  // warm-up
            let start = Date()
            for image in images { body(image) }
            return Date().timeIntervalSince(start) / Double(count)
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
        return rows
    }
}
