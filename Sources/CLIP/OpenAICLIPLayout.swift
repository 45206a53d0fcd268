import IO
import Tensor

/// OpenAI's CLIP state-dict layout (`clip.load`, and the `clip_model` inside FGA-seg and CAT-Seg
/// checkpoints) translated to and from this package's Hugging Face names:
///
/// | OpenAI | ours |
/// |---|---|
/// | `visual.conv1.weight`, `visual.class_embedding`, `visual.positional_embedding` | `vision_model.embeddings.{patch_embedding.weight, class_embedding, position_embedding.weight}` |
/// | `visual.ln_pre`, `visual.ln_post` | `vision_model.pre_layrnorm`, `vision_model.post_layernorm` |
/// | `visual.proj` [width, projection] | `visual_projection.weight` [projection, width] (transposed) |
/// | `token_embedding.weight`, `positional_embedding` | `text_model.embeddings.{token_embedding, position_embedding}.weight` |
/// | `ln_final`, `text_projection` [width, projection] | `text_model.final_layer_norm`, `text_projection.weight` (transposed) |
/// | `[visual.]transformer.resblocks.N.` | `{vision,text}_model.encoder.layers.N.` |
/// | `attn.in_proj_weight` [3·width, width], `attn.in_proj_bias` | `self_attn.{q,k,v}_proj.{weight,bias}` (split in thirds) |
/// | `attn.{q,k,v}_proj_weight` (FGA-seg's `model_vpt`) | `self_attn.{q,k,v}_proj.weight` |
/// | `attn.out_proj`, `ln_1`, `ln_2`, `mlp.c_fc`, `mlp.c_proj` | `self_attn.out_proj`, `layer_norm1`, `layer_norm2`, `mlp.fc1`, `mlp.fc2` |
public enum OpenAICLIPLayout {
    /// Tensors under OpenAI names (without any prefix) translated to ours. Names it does not know
    /// are returned in `unknown`; a fused projection whose first axis is not divisible by 3 is
    /// reported there too.
    public static func ours(from tensors: [String: Tensor]) -> (tensors: [String: Tensor], unknown: [String]) {
        var result: [String: Tensor] = [:], unknown: [String] = []
        for (name, tensor) in tensors {
            guard let translated = translate(name) else { unknown.append(name); continue }
            switch translated {
            case .renamed(let ours): result[ours] = tensor
            case .transposed(let ours): result[ours] = tensor.shape.count == 2 ? tensor.transposed() : tensor
            case .split(let prefix, let suffix):
                guard let parts = stackedProjections(tensor) else { unknown.append("\(name) (shape \(tensor.shape) is not 3 stacked projections)"); continue }
                for (part, value) in zip(["q_proj", "k_proj", "v_proj"], parts) { result[prefix + part + suffix] = value }
            }
        }
        return (result, unknown.sorted())
    }

    /// The query, key and value thirds of a fused `in_proj_weight` [3·width, width] or
    /// `in_proj_bias` [3·width], as PyTorch's `nn.MultiheadAttention` stacks them; nil when the
    /// first axis is not divisible by 3.
    public static func stackedProjections(_ tensor: Tensor) -> [Tensor]? {
        guard let first = tensor.shape.first, first % 3 == 0 else { return nil }
        return (0..<3).map { tensor.narrowed(0, start: $0 * first / 3, length: first / 3) }
    }

    /// Our CLIP tensors under OpenAI names, in the layout of FGA-seg's `model_vpt` (separate
    /// `attn.{q,k,v}_proj_weight`, one fused `attn.in_proj_bias`), which the official FGA-seg
    /// code loads. Names outside the CLIP layout are left out.
    public static func official(from tensors: [String: Tensor]) -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        var biases: [String: [Tensor?]] = [:]
        for (name, tensor) in tensors {
            if let theirs = transposedNames.first(where: { $0.value == name })?.key {
                result[theirs] = tensor.transposed()
                continue
            }
            guard let (theirs, ours) = renamedPrefixes.first(where: { name.hasPrefix($0.1) }) else { continue }
            let rest = String(name.dropFirst(ours.count))
            guard theirs.hasSuffix("resblocks."), let dot = rest.firstIndex(of: ".") else {
                result[theirs + rest] = tensor
                continue
            }
            let block = theirs + rest[...dot], part = String(rest[rest.index(after: dot)...])
            if let index = ["q", "k", "v"].firstIndex(where: { part.hasPrefix("self_attn.\($0)_proj.") }) {
                if part.hasSuffix(".weight") {
                    result[block + "attn.\(["q", "k", "v"][index])_proj_weight"] = tensor
                } else {
                    biases[block, default: [nil, nil, nil]][index] = tensor
                }
            } else if let (from, to) = blockParts.first(where: { part.hasPrefix($0.1) }) {
                result[block + from + part.dropFirst(to.count)] = tensor
            }
        }
        for (block, parts) in biases where parts.allSatisfy({ $0 != nil }) {
            result[block + "attn.in_proj_bias"] = Tensor.concat(parts.map { $0! }, along: 0)
        }
        return result
    }

    private enum Translation {
        case renamed(String)
        case transposed(String)
        /// A fused q/k/v tensor: `prefix + {q,k,v}_proj + suffix`.
        case split(prefix: String, suffix: String)
    }

    /// Whole-name translations of the OpenAI tensors that are stored transposed.
    private static let transposedNames = ["visual.proj": "visual_projection.weight", "text_projection": "text_projection.weight"]

    /// OpenAI prefix → ours, longest first.
    private static let renamedPrefixes: [(String, String)] = [
        ("visual.transformer.resblocks.", "vision_model.encoder.layers."),
        ("transformer.resblocks.", "text_model.encoder.layers."),
        ("visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight"),
        ("visual.class_embedding", "vision_model.embeddings.class_embedding"),
        ("visual.positional_embedding", "vision_model.embeddings.position_embedding.weight"),
        ("visual.ln_pre.", "vision_model.pre_layrnorm."),
        ("visual.ln_post.", "vision_model.post_layernorm."),
        ("token_embedding.weight", "text_model.embeddings.token_embedding.weight"),
        ("positional_embedding", "text_model.embeddings.position_embedding.weight"),
        ("ln_final.", "text_model.final_layer_norm."),
        ("logit_scale", "logit_scale"),
    ]

    /// Parts of a residual block: OpenAI → ours.
    private static let blockParts: [(String, String)] = [
        ("attn.out_proj.", "self_attn.out_proj."), ("ln_1.", "layer_norm1."), ("ln_2.", "layer_norm2."),
        ("mlp.c_fc.", "mlp.fc1."), ("mlp.c_proj.", "mlp.fc2."),
    ]

    private static func translate(_ name: String) -> Translation? {
        if let ours = transposedNames[name] { return .transposed(ours) }
        guard let (theirs, ours) = renamedPrefixes.first(where: { name.hasPrefix($0.0) }) else { return nil }
        let rest = String(name.dropFirst(theirs.count))
        guard theirs.hasSuffix("resblocks.") else { return rest.isEmpty || theirs.hasSuffix(".") ? .renamed(ours + rest) : nil }
        // rest = "N.<part>"
        guard let dot = rest.firstIndex(of: "."), Int(rest[..<dot]) != nil else { return nil }
        let block = ours + rest[...dot], part = String(rest[rest.index(after: dot)...])
        switch part {
        case "attn.in_proj_weight": return .split(prefix: block + "self_attn.", suffix: ".weight")
        case "attn.in_proj_bias": return .split(prefix: block + "self_attn.", suffix: ".bias")
        case "attn.q_proj_weight", "attn.k_proj_weight", "attn.v_proj_weight":
            return .renamed(block + "self_attn." + part.dropFirst(5).prefix(6) + ".weight")
        default:
            guard let (from, to) = blockParts.first(where: { part.hasPrefix($0.0) }) else { return nil }
            return .renamed(block + to + part.dropFirst(from.count))
        }
    }
}
