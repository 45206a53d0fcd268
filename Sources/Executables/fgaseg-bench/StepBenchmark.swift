import CLIP
import Data
import Foundation
import Model
import NN
import Tensor

/// `fgaseg-bench step --model DIR`: one full FGAseg training step (CLIP from a Hugging Face
/// folder, 384² image, the 171 COCO-Stuff classes, random labels): forward, losses, backward and
/// AdamW, with a per-part breakdown, peak RSS and the machine's `cblas_sgemm` rate for scale.
enum StepBenchmark {
    /// `classChunk` > 0 runs the per-class decoder in chunks of that many classes.
    static func run(folder: String, classChunk: Int) throws -> [BenchmarkRow] {
        let clip = try CLIPModel.load(folder: folder)
        let tokenizer = CLIPTokenizer(vocabulary: try TokenizerVocabulary.huggingFace(folder: folder))
        let model = FGAsegModel(clip: clip, configuration: FGAsegModel.Configuration())
        let flat = FlatParameters(model)
        let optimizer = AdamW(flat) { name in
            AdamW.Group(learningRateScale: name.hasPrefix("clip.") ? 0.01 : 1,
                        weightDecay: name.contains("norm") ? 0 : 1e-4)
        }
        let prompts = ClassNames.names(.cocoStuff171).map { tokenizer.encode(Prompts.prompt(for: $0)).ids }
        var generator = RandomGenerator(seed: 0)
        let image = Tensor.normal([1, 3, 384, 384], using: &generator)
        let labels = (0..<(384 * 384)).map { _ in Int32(generator.next() % 172) }.map { $0 == 171 ? Int32(255) : $0 }

        var parts: [(String, Double)] = []
        func timed<T>(_ name: String, _ body: () -> T) -> T {
            let start = DispatchTime.now().uptimeNanoseconds
            let result = body()
            parts.append((name, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            return result
        }
        model.train()
        let stepStart = DispatchTime.now().uptimeNanoseconds
        flat.zeroGradients()
        let classes = timed("text tower forward (171 prompts, true length)") { model.classEmbeddings(prompts) }
        let values: (total: Float, segmentation: Float, textToPixel: Float)
        if classChunk > 0 {
            let result = timed("forward + backward, decoder in chunks of \(classChunk) classes") {
                model.chunkedTrainingStep(image, classes: classes, labels: labels, size: 384, classChunk: classChunk)
            }
            values = (result.total, result.segmentation, result.textToPixel)
        } else {
            let output = timed("image tower + decoder + T2P forward") { model(image, classes: classes) }
            let losses = timed("losses") { model.losses(output, labels: labels, size: 384) }
            timed("backward") { losses.total.backward() }
            values = (losses.total.item, losses.segmentation.item, losses.textToPixel.item)
        }
        timed("clip-grad + AdamW") {
            flat.clipGradientNorm(0.01)
            optimizer.update(learningRate: 2e-4)
        }
        let step = Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e9
        // The machine's GEMM rate, measured now, for scale.
        let a = Tensor.normal([1024, 1024], using: &generator), c = Tensor(repeating: 0, shape: [1024, 1024])
        let gemm = medianSeconds { BLAS.gemm(m: 1024, n: 1024, k: 1024, a: a.pointer, lda: 1024, b: a.pointer, ldb: 1024, c: c.pointer, ldc: 1024) }
        for (name, seconds) in parts { print(String(format: "  %-48@ %8.2f s", name as NSString, seconds)) }
        print(String(format: "  loss %.4f (segmentation %.4f, T2P %.4f); peak RSS %d MB; peak live tensors %d MB",
                     values.total, values.segmentation, values.textToPixel, peakResidentMegabytes(),
                     CachingAllocator.shared.peakLiveBytes / 1_000_000))
        return [BenchmarkRow(suite: "step", name: "fgaseg_vitb16_384_T171_train_step_chunk\(classChunk)", ours: step, baselineName: "15 s target", baseline: 15),
                BenchmarkRow(suite: "step", name: "sgemm_1024", ours: gemm, baselineName: "-", baseline: gemm, flops: 2 * 1024 * 1024 * 1024)]
    }
}
