import NN
import Tensor

/// CLIP's text tower (Hugging Face `text_model`): token + position embeddings, causal pre-LN
/// blocks, final LayerNorm, and the feature at each prompt's end-of-text token.
public final class CLIPTextTransformer: Module {
    public let configuration: CLIPConfiguration.Text
    public let tokenEmbedding: Embedding, positionEmbedding: Embedding
    public let layers: ModuleList<CLIPEncoderLayer>
    public let finalLayerNorm: LayerNorm

    public init(_ configuration: CLIPConfiguration.Text, generator: inout RandomGenerator) {
        self.configuration = configuration
        let c = configuration
        tokenEmbedding = Embedding(c.vocabSize, c.hiddenSize, generator: &generator)
        positionEmbedding = Embedding(c.maxPositionEmbeddings, c.hiddenSize, generator: &generator)
        layers = CLIPEncoderLayer.stack(c.numHiddenLayers, width: c.hiddenSize, intermediate: c.intermediateSize,
                                        heads: c.numAttentionHeads, eps: c.layerNormEps, activation: c.hiddenAct, generator: &generator)
        finalLayerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        super.init()
        let embeddings = Module()
        embeddings.child("token_embedding", tokenEmbedding)
        embeddings.child("position_embedding", positionEmbedding)
        child("embeddings", embeddings)
        let encoder = Module()
        encoder.child("layers", layers)
        child("encoder", encoder)
        child("final_layer_norm", finalLayerNorm)
    }

    /// Pooled features [T, width] of `prompts` (token ids with SOT … EOT, any lengths ≤ the context).
    ///
    /// The batch is run at the length of its longest prompt, not the full 77-token context: with
    /// the causal mask a position never sees later ones, so the end-of-text feature is the same
    /// (a test proves it) at a fraction of the cost.
    public func callAsFunction(_ prompts: [[Int32]]) -> Tensor {
        let length = prompts.map(\.count).max() ?? 0
        precondition(length > 0 && length <= configuration.maxPositionEmbeddings,
                     "text encoder: prompt lengths must be 1...\(configuration.maxPositionEmbeddings), got \(length)")
        let eot = Int32(configuration.eosTokenId)
        let padded = prompts.flatMap { $0.map(Int.init) + [Int](repeating: Int(eot), count: length - $0.count) }
        for id in padded where id < 0 || id >= configuration.vocabSize {
            fatalError("text encoder: token id \(id) is outside the vocabulary of \(configuration.vocabSize)")
        }
        let tokens = tokenEmbedding(padded).reshaped([prompts.count, length, configuration.hiddenSize])
        var x = tokens + positionEmbedding(Array(0..<length))
        let mask = Self.causalMask(length)
        for layer in layers.elements { x = layer(x, mask: mask) }
        x = finalLayerNorm(x)
        // The end-of-text position: the first EOT (legacy configs: the largest id).
        let positions = prompts.enumerated().map { row, ids -> Int in
            let end = configuration.eosTokenId == 2 ? ids.indices.max { ids[$0] < ids[$1] }! : (ids.firstIndex(of: eot) ?? ids.count - 1)
            return row * length + end
        }
        return x.reshaped([prompts.count * length, configuration.hiddenSize]).indexSelect(0, positions)
    }

    /// [L, L] additive mask: −∞ above the diagonal.
    static func causalMask(_ length: Int) -> Tensor {
        let mask = Tensor(repeating: 0, shape: [length, length])
        for i in 0..<length { for j in (i + 1)..<max(length, i + 1) { mask.pointer[i * length + j] = -.infinity } }
        return mask
    }
}
