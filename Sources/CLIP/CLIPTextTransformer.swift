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
    /// With the causal mask a position never sees later ones, so the end-of-text feature depends
    /// only on the tokens up to it. The prompts are therefore grouped by that length and each group
    /// runs at its own length, not at the longest prompt's or the 77-token context: no position
    /// after any prompt's end-of-text token is computed (a test proves the features equal a run at
    /// the full context).
    public func callAsFunction(_ prompts: [[Int32]]) -> Tensor {
        let ends = prompts.map(endOfTextPosition)
        let groups = Dictionary(grouping: prompts.indices) { ends[$0] + 1 }.sorted { $0.key < $1.key }
        guard groups.count > 1 else { return pooledFeatures(prompts, length: (ends.max() ?? -1) + 1) }
        let features = groups.map { length, members in pooledFeatures(members.map { prompts[$0] }, length: length) }
        var row = [Int](repeating: 0, count: prompts.count)
        for (position, prompt) in groups.flatMap(\.value).enumerated() { row[prompt] = position }
        return Tensor.concat(features, along: 0).indexSelect(0, row)
    }

    /// Pooled features [T, width] of `prompts` run as one batch [T, length, width]: each prompt is
    /// cut or padded (with EOT) to `length`, which must reach every prompt's end-of-text token.
    func pooledFeatures(_ prompts: [[Int32]], length: Int) -> Tensor {
        precondition(length > 0 && length <= configuration.maxPositionEmbeddings,
                     "text encoder: prompt lengths must be 1...\(configuration.maxPositionEmbeddings), got \(length)")
        let eot = Int32(configuration.eosTokenId)
        let padded = prompts.flatMap { ids in
            (ids.prefix(length) + [Int32](repeating: eot, count: max(0, length - ids.count))).map(Int.init)
        }
        for id in padded where id < 0 || id >= configuration.vocabSize {
            fatalError("text encoder: token id \(id) is outside the vocabulary of \(configuration.vocabSize)")
        }
        let tokens = tokenEmbedding(padded).reshaped([prompts.count, length, configuration.hiddenSize])
        var x = tokens + positionEmbedding(Array(0..<length))
        let mask = Self.causalMask(length)
        for layer in layers.elements { x = layer(x, mask: mask) }
        x = finalLayerNorm(x)
        let positions = prompts.enumerated().map { row, ids in
            let end = endOfTextPosition(ids)
            precondition(end < length, "text encoder: a prompt ends at position \(end), beyond the length \(length)")
            return row * length + end
        }
        return x.reshaped([prompts.count * length, configuration.hiddenSize]).indexSelect(0, positions)
    }

    /// Where a prompt's feature is read: its first EOT token (legacy configs whose EOT id is 2:
    /// the largest id, as Hugging Face does), or its last token if it has none.
    private func endOfTextPosition(_ ids: [Int32]) -> Int {
        if configuration.eosTokenId == 2 { return ids.indices.max { ids[$0] < ids[$1] } ?? 0 }
        return ids.firstIndex(of: Int32(configuration.eosTokenId)) ?? max(ids.count - 1, 0)
    }

    /// [L, L] additive mask: −∞ above the diagonal.
    static func causalMask(_ length: Int) -> Tensor {
        let mask = Tensor(repeating: 0, shape: [length, length])
        for i in 0..<length { for j in (i + 1)..<max(length, i + 1) { mask.pointer[i * length + j] = -.infinity } }
        return mask
    }
}
