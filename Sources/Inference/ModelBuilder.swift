import CLIP
import Foundation
import IO
import Model
import Tensor

/// Builds the model and tokenizer a configuration describes, and the class prompts.
public enum ModelBuilder {
    /// The demo's CLIP-shaped encoders: 8 vision blocks (taps 3 and 7) with 8-pixel patches,
    /// 2 text blocks over the byte-level vocabulary, a 16-dimensional joint space.
    public static func tinyCLIPConfiguration(imageSize: Int) -> CLIPConfiguration {
        CLIPConfiguration(
            textConfig: .init(vocabSize: 514, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, eosTokenId: 513),
            visionConfig: .init(hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 8, numAttentionHeads: 4, imageSize: imageSize, patchSize: 8),
            projectionDim: 16)
    }

    /// The CLIP model (HF weights, or the random tiny one) and its tokenizer. With
    /// `loadWeights` false, a HF folder needs only `config.json` and the tokenizer files (the
    /// weights then come from a checkpoint or an export).
    public static func clip(_ configuration: TrainingConfiguration, loadWeights: Bool = true) throws -> (CLIPModel, CLIPTokenizer) {
        let spec = configuration.model
        if spec.clip == "tiny" {
            let clip = CLIPModel(tinyCLIPConfiguration(imageSize: configuration.data.cropSize), seed: UInt64(spec.initSeed) &+ 1)
            return (clip, CLIPTokenizer(vocabulary: .byteLevel()))
        }
        guard FileManager.default.fileExists(atPath: spec.clip + "/config.json") else {
            throw ConfigurationError(key: "model.clip", source: "configuration", "\(spec.clip) is neither `tiny` nor a Hugging Face CLIP folder (no config.json)")
        }
        let clip = loadWeights ? try CLIPModel.load(folder: spec.clip) : CLIPModel(try CLIPConfiguration.load(folder: spec.clip))
        return (clip, CLIPTokenizer(vocabulary: try .huggingFace(folder: spec.clip)))
    }

    /// Checks every value's range (``ConfigurationRules``, for configurations built in code) and that
    /// the architecture fits the CLIP model and the crop size; errors name the keys.
    public static func validate(_ configuration: TrainingConfiguration, clip: CLIPConfiguration) throws {
        try ConfigurationRules.check(configuration, sources: [:], fallbackSource: "configuration")
        let a = configuration.model.architecture, vision = clip.visionConfig
        let grid = configuration.data.cropSize / vision.patchSize
        func fail(_ key: String, _ message: String) -> ConfigurationError {
            ConfigurationError(key: key, source: "configuration with CLIP \(configuration.model.clip)", message)
        }
        guard configuration.data.cropSize % vision.patchSize == 0 else {
            throw fail("data.crop_size", "\(configuration.data.cropSize) is not a multiple of the CLIP patch size \(vision.patchSize)")
        }
        guard a.decoder.resolution == grid else {
            throw fail("model.architecture.decoder.resolution", "is \(a.decoder.resolution) but data.crop_size / patch = \(grid)")
        }
        guard a.decoder.textWidth == clip.projectionDim, a.decoder.imageChannels == clip.projectionDim else {
            throw fail("model.architecture.decoder.text_width", "text_width and image_channels must equal the CLIP projection dim \(clip.projectionDim)")
        }
        guard a.guidanceBlocks.allSatisfy({ $0 < vision.numHiddenLayers }) else {
            throw fail("model.architecture.guidance_blocks", "\(a.guidanceBlocks) must name two of the \(vision.numHiddenLayers) vision blocks")
        }
        // DoubleConv uses GroupNorm(channels / 16): those widths must be multiples of 16.
        for (key, width) in [("hidden", a.decoder.hidden / 2)] + a.decoder.decoderDims.enumerated().map({ ("decoder_dims[\($0.offset)]", $0.element) }) {
            guard width % 16 == 0 else {
                throw fail("model.architecture.decoder.\(key)", "\(key == "hidden" ? "hidden / 2 = " : "")\(width) must be a positive multiple of 16 (GroupNorm of 16-channel groups)")
            }
        }
        guard a.decoder.hidden % a.decoder.heads == 0 else {
            throw fail("model.architecture.decoder.hidden", "\(a.decoder.hidden) is not divisible by heads \(a.decoder.heads)")
        }
        guard a.decoder.pooling <= grid else {
            throw fail("model.architecture.decoder.pooling", "\(a.decoder.pooling) is larger than the \(grid)² feature grid")
        }
        guard grid % a.decoder.window == 0 else {
            throw fail("model.architecture.decoder.window", "\(a.decoder.window) must divide the feature grid \(grid)")
        }
    }

    /// The FGAseg model of `configuration`, with its tokenizer.
    public static func model(_ configuration: TrainingConfiguration, loadCLIPWeights: Bool = true) throws -> (FGAsegModel, CLIPTokenizer) {
        let (clip, tokenizer) = try Self.clip(configuration, loadWeights: loadCLIPWeights)
        try validate(configuration, clip: clip.configuration)
        let model = FGAsegModel(clip: clip, configuration: configuration.model.architecture, seed: UInt64(configuration.model.initSeed))
        return (model, tokenizer)
    }

    /// Tokenised prompts of `classNames` (first synonym, prompt template); a prompt longer than
    /// the 77-token context is truncated and reported through `warn`.
    public static func prompts(_ classNames: [String], tokenizer: CLIPTokenizer, template: String,
                               warn: (String) -> Void = { _ in }) -> [[Int32]] {
        classNames.map { name in
            let encoded = tokenizer.encode(Prompts.prompt(for: name, template: template))
            if encoded.truncated { warn("the prompt for class '\(name)' is longer than \(CLIPTokenizer.contextLength) tokens and was truncated") }
            return encoded.ids
        }
    }
}
