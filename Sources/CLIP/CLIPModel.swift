import Foundation
import IO
import NN
import Tensor

/// OpenAI CLIP with Hugging Face's module names: `text_model`, `vision_model`,
/// `text_projection`, `visual_projection`, `logit_scale`.
public final class CLIPModel: Module {
    public let configuration: CLIPConfiguration
    public let textModel: CLIPTextTransformer
    public let visionModel: CLIPVisionTransformer
    public let textProjection: Linear, visualProjection: Linear
    public let logitScale: Tensor

    public init(_ configuration: CLIPConfiguration, seed: UInt64 = 0) {
        self.configuration = configuration
        var generator = RandomGenerator(seed: seed)
        textModel = CLIPTextTransformer(configuration.textConfig, generator: &generator)
        visionModel = CLIPVisionTransformer(configuration.visionConfig, generator: &generator)
        textProjection = Linear(configuration.textConfig.hiddenSize, configuration.projectionDim, bias: false, generator: &generator)
        visualProjection = Linear(configuration.visionConfig.hiddenSize, configuration.projectionDim, bias: false, generator: &generator)
        logitScale = Tensor(scalar: 2.6592)
        super.init()
        child("text_model", textModel)
        child("vision_model", visionModel)
        child("visual_projection", visualProjection)
        child("text_projection", textProjection)
        parameter("logit_scale", logitScale)
    }

    /// Projected text features [T, projection] (not normalised).
    public func encodeText(_ prompts: [[Int32]]) -> Tensor { textProjection(textModel(prompts)) }

    /// Projected image features [B, projection] (not normalised).
    public func encodeImage(_ pixels: Tensor) -> Tensor { visualProjection(visionModel(pixels).pooled!) }

    /// FGAseg's image path: dense projected features [B, 1 + g², projection] (CLS first) and the
    /// outputs of blocks `taps` [B, 1 + g², width].
    public func denseImageFeatures(_ pixels: Tensor, taps: Set<Int>) -> (dense: Tensor, taps: [Int: Tensor]) {
        let output = visionModel(pixels, taps: taps, dense: true)
        return (visualProjection(output.dense!), output.taps)
    }

    /// Makes only the q- and v-projection weights of every attention layer trainable (FGAseg's
    /// "attention" fine-tuning strategy); everything else in CLIP is frozen.
    public func trainOnlyAttentionQueryAndValueWeights() {
        for (name, tensor) in namedParameters() {
            tensor.requiresGrad = name.hasSuffix("self_attn.q_proj.weight") || name.hasSuffix("self_attn.v_proj.weight")
        }
    }

    /// Loads a Hugging Face CLIP folder: `config.json` and `model.safetensors`, or only
    /// `pytorch_model.bin` (read natively, see ``PyTorchCheckpoint``). Buffers that are not
    /// parameters (the int64 `position_ids` of older checkpoints) are skipped by name.
    public static func load(folder: String) throws -> CLIPModel {
        let model = CLIPModel(try CLIPConfiguration.load(folder: folder))
        let safetensors = folder + "/model.safetensors", bin = folder + "/pytorch_model.bin"
        if FileManager.default.fileExists(atPath: safetensors) || !FileManager.default.fileExists(atPath: bin) {
            try model.loadWeights(Safetensors.read(path: safetensors, skipping: ignoredCheckpointTensors).tensors, source: safetensors)
        } else {
            let checkpoint = try PyTorchCheckpoint(path: bin)
            var tensors: [String: Tensor] = [:]
            for name in checkpoint.tensors.keys where !ignoredCheckpointTensors.contains(name) { tensors[name] = try checkpoint.tensor(name) }
            try model.loadWeights(tensors, source: bin)
        }
        return model
    }

    /// Tensors a Hugging Face checkpoint may hold that are not parameters.
    static let ignoredCheckpointTensors: Set<String> = ["text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"]

    /// Copies `tensors` (Hugging Face names) into the parameters. Missing or unexpected tensors and
    /// shape mismatches are one error that lists every offending name.
    public func loadWeights(_ tensors: [String: Tensor], source: String) throws {
        // A scalar such as logit_scale may be stored with shape [] or [1].
        let problems = copyNamedTensors(tensors, includeBuffers: false, ignoring: Self.ignoredCheckpointTensors) {
            $0 == $1 || ($0.reduce(1, *) == 1 && $1.reduce(1, *) == 1)
        }
        if !problems.isEmpty {
            throw IOError(source, "does not fit the CLIP model:\n  " + problems.joined(separator: "\n  "))
        }
    }
}
