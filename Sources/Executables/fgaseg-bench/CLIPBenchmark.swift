import CLIP
import Data
import Foundation
import NN
import Tensor

/// `fgaseg-bench clip --model DIR`: loading a Hugging Face CLIP folder, the vision tower at 384 px
/// and the text tower on the 171 COCO-Stuff prompts (true length), with only q/v weights
/// trainable. The PyTorch numbers for the same work come from `ci/bench/clip_torch.py`;
/// `ci/bench/clip_pairs.py` alternates the two for a paired comparison of the vision tower.
enum CLIPBenchmark {
    static func run(folder: String, visionOnly: Bool) throws -> [BenchmarkRow] {
        var rows: [BenchmarkRow] = []
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let model = try CLIPModel.load(folder: folder)
        let tokenizer = CLIPTokenizer(vocabulary: try TokenizerVocabulary.huggingFace(folder: folder))
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
        rows.append(BenchmarkRow(suite: "clip", name: "load_hf_folder", ours: loadSeconds, baselineName: "5 s target", baseline: 5))
        model.trainOnlyAttentionQueryAndValueWeights()

        var generator = RandomGenerator(seed: 0)
        let pixels = Tensor.normal([1, 3, 384, 384], using: &generator)
        let forward = medianSeconds(warmup: 1, repetitions: 3) { _ = noGrad { model.encodeImage(pixels) } }
        rows.append(BenchmarkRow(suite: "clip", name: "vision_384_forward", ours: forward, baselineName: "-", baseline: forward))
        let step = medianSeconds(warmup: 1, repetitions: 3) {
            for (_, tensor) in model.trainableParameters() { tensor.grad = nil }
            model.visionModel(pixels).pooled!.sum().backward()
        }
        rows.append(BenchmarkRow(suite: "clip", name: "vision_384_forward_backward", ours: step, baselineName: "-", baseline: step))
        if visionOnly { return rows }

        let prompts = ClassNames.names(.cocoStuff171).map { tokenizer.encode(Prompts.prompt(for: $0)).ids }
        CachingAllocator.shared.resetPeak()
        let before = CachingAllocator.shared.liveBytes
        let text = medianSeconds(warmup: 1, repetitions: 3) {
            for (_, tensor) in model.trainableParameters() { tensor.grad = nil }
            model.textModel(prompts).sum().backward()
        }
        rows.append(BenchmarkRow(suite: "clip", name: "text_171_prompts_true_length_forward_backward", ours: text, baselineName: "-", baseline: text))
        print("  text tower forward+backward: peak tensor memory \((CachingAllocator.shared.peakLiveBytes - before) / 1_000_000) MB above the loaded model")
        return rows
    }
}
