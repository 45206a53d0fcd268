import Foundation
import IO

/// The sizes of a CLIP model, read from a Hugging Face `config.json` (any CLIP size).
public struct CLIPConfiguration: Codable, Sendable, Equatable {
    public struct Text: Codable, Sendable, Equatable {
        public var vocabSize: Int
        public var hiddenSize: Int
        public var intermediateSize: Int
        public var numHiddenLayers: Int
        public var numAttentionHeads: Int
        public var maxPositionEmbeddings: Int
        public var layerNormEps: Float
        public var hiddenAct: String
        /// Id of the end-of-text token whose feature is pooled; legacy configs say 2, which
        /// means "the position of the largest id" (EOT is the largest id in CLIP's vocabulary).
        public var eosTokenId: Int

        public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                    maxPositionEmbeddings: Int = 77, layerNormEps: Float = 1e-5, hiddenAct: String = "quick_gelu", eosTokenId: Int) {
            (self.vocabSize, self.hiddenSize, self.intermediateSize) = (vocabSize, hiddenSize, intermediateSize)
            (self.numHiddenLayers, self.numAttentionHeads, self.maxPositionEmbeddings) = (numHiddenLayers, numAttentionHeads, maxPositionEmbeddings)
            (self.layerNormEps, self.hiddenAct, self.eosTokenId) = (layerNormEps, hiddenAct, eosTokenId)
        }
    }

    public struct Vision: Codable, Sendable, Equatable {
        public var hiddenSize: Int
        public var intermediateSize: Int
        public var numHiddenLayers: Int
        public var numAttentionHeads: Int
        public var imageSize: Int
        public var patchSize: Int
        public var layerNormEps: Float
        public var hiddenAct: String

        public init(hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, imageSize: Int,
                    patchSize: Int, layerNormEps: Float = 1e-5, hiddenAct: String = "quick_gelu") {
            (self.hiddenSize, self.intermediateSize, self.numHiddenLayers) = (hiddenSize, intermediateSize, numHiddenLayers)
            (self.numAttentionHeads, self.imageSize, self.patchSize) = (numAttentionHeads, imageSize, patchSize)
            (self.layerNormEps, self.hiddenAct) = (layerNormEps, hiddenAct)
        }

        /// Patches per side at the configured image size.
        public var grid: Int { imageSize / patchSize }
    }

    public var textConfig: Text
    public var visionConfig: Vision
    public var projectionDim: Int

    public init(textConfig: Text, visionConfig: Vision, projectionDim: Int) {
        (self.textConfig, self.visionConfig, self.projectionDim) = (textConfig, visionConfig, projectionDim)
    }

    /// Reads `folder/config.json`; a missing or mistyped key is an error naming it and the file.
    public static func load(folder: String) throws -> CLIPConfiguration {
        let path = folder + "/config.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw IOError(path, "cannot read the file") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(CLIPConfiguration.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw IOError(path, "missing key \((context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw IOError(path, "key \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type: \(context.debugDescription)")
        } catch {
            throw IOError(path, "not a CLIP config: \(error)")
        }
    }

    /// OpenAI CLIP ViT-B/16.
    public static let vitB16 = CLIPConfiguration(
        textConfig: Text(vocabSize: 49408, hiddenSize: 512, intermediateSize: 2048, numHiddenLayers: 12, numAttentionHeads: 8, eosTokenId: 49407),
        visionConfig: Vision(hiddenSize: 768, intermediateSize: 3072, numHiddenLayers: 12, numAttentionHeads: 12, imageSize: 224, patchSize: 16),
        projectionDim: 512)

    /// OpenAI CLIP ViT-L/14 at 336 px.
    public static let vitL14at336 = CLIPConfiguration(
        textConfig: Text(vocabSize: 49408, hiddenSize: 768, intermediateSize: 3072, numHiddenLayers: 12, numAttentionHeads: 12, eosTokenId: 49407),
        visionConfig: Vision(hiddenSize: 1024, intermediateSize: 4096, numHiddenLayers: 24, numAttentionHeads: 16, imageSize: 336, patchSize: 14),
        projectionDim: 768)
}
