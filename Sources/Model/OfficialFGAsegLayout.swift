import CLIP
import Tensor

/// The state-dict names of the official FGA-seg code (github.com/LiBingyu01/FGA-seg, the
/// `model` of a detectron2 `model_final.pth`) translated to this package's names:
///
/// | official | ours |
/// |---|---|
/// | `sem_seg_head.predictor.clip_model.…` | `clip.…` (``OpenAICLIPLayout``) |
/// | `sem_seg_head.predictor.transformer.…` | `decoder.…`; class attention `MLP.0/MLP.2` → `MLP.fc1/MLP.fc2`; `padding_tokens/guidance` [1, 1, C] → [C] |
/// | `sem_seg_head.predictor.DCDT.…` | `p2tformer.…`; `multihead_attn.in_proj_{weight,bias}` → `multihead_attn.{q,k,v}_proj.{weight,bias}` |
/// | `sem_seg_head.predictor.proj.…` | `projector.…` |
/// | `upsample1.…`, `upsample2.…` | the same |
///
/// Buffers the official modules derive from their configuration (the Swin `attn_mask`s,
/// BatchNorm's `num_batches_tracked`) are dropped: this package computes them.
public enum OfficialFGAsegLayout {
    /// Official tensors (names without detectron2's `model.` prefix) under our names; names that
    /// fit no rule are returned in `unknown`.
    public static func ours(from tensors: [String: Tensor]) -> (tensors: [String: Tensor], unknown: [String]) {
        var result: [String: Tensor] = [:], unknown: [String] = [], clip: [String: Tensor] = [:]
        for (name, tensor) in tensors {
            if derivedBuffers.contains(where: { name.hasSuffix($0) }) { continue }
            if name.hasPrefix(clipPrefix) {
                clip[String(name.dropFirst(clipPrefix.count))] = tensor
                continue
            }
            guard let (theirs, ours) = prefixes.first(where: { name.hasPrefix($0.0) }) else { unknown.append(name); continue }
            var translated = ours + name.dropFirst(theirs.count)
            var value = tensor
            switch ours {
            case "decoder.":
                (translated, value) = decoderTensor(translated, tensor, toOurs: true)
            case "p2tformer.":
                for suffix in ["weight", "bias"] where translated.hasSuffix("multihead_attn.in_proj_" + suffix) {
                    guard let parts = OpenAICLIPLayout.stackedProjections(tensor) else { break }
                    let block = translated.dropLast(("in_proj_" + suffix).count)
                    for (part, piece) in zip(["q_proj.", "k_proj.", "v_proj."], parts) { result[block + part + suffix] = piece }
                    translated = ""
                }
            default: break
            }
            if !translated.isEmpty { result[translated] = value }
        }
        let (clipTensors, clipUnknown) = OpenAICLIPLayout.ours(from: clip)
        for (name, tensor) in clipTensors { result["clip." + name] = tensor }
        return (result, (unknown + clipUnknown.map { clipPrefix + $0 }).sorted())
    }

    /// Every parameter and buffer of `model` under the official names, with the Swin blocks'
    /// `attn_mask` buffers, so that the official `FGASeg` module's `load_state_dict` accepts it
    /// (BatchNorm's `num_batches_tracked`, absent here, is filled in by PyTorch).
    public static func official(model: FGAsegModel) -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for (name, tensor) in model.namedParameters() + model.namedBuffers() { tensors[name] = tensor }
        var result = official(from: tensors)
        for (index, layer) in model.decoder.spatialLayers.enumerated() {
            for (name, block) in [("block_1", layer.block1), ("block_2", layer.block2)] {
                if let mask = block.mask { result["sem_seg_head.predictor.transformer.layers.\(index).swin_block.\(name).attn_mask"] = mask }
            }
        }
        return result
    }

    /// Our tensors under the official names (the inverse of ``ours(from:)``, without the derived
    /// buffers).
    static func official(from tensors: [String: Tensor]) -> [String: Tensor] {
        var result: [String: Tensor] = [:], clip: [String: Tensor] = [:]
        // The P2Tformer's q/k/v parts by the official fused name (`…in_proj_weight`, `…in_proj_bias`).
        var fusedParts: [String: [String: Tensor]] = [:]
        for (name, tensor) in tensors {
            if name.hasPrefix("clip.") {
                clip[String(name.dropFirst(5))] = tensor
                continue
            }
            guard let (theirs, ours) = prefixes.first(where: { name.hasPrefix($0.1) }) else { continue }
            var translated = theirs + name.dropFirst(ours.count)
            var value = tensor
            switch ours {
            case "decoder.":
                (translated, value) = decoderTensor(translated, tensor, toOurs: false)
            case "p2tformer.":
                if let range = translated.range(of: #"multihead_attn\.[qkv]_proj\.(weight|bias)$"#, options: .regularExpression) {
                    let part = String(translated[range].dropFirst("multihead_attn.".count).prefix(1))
                    let fused = String(translated[..<range.lowerBound]) + "multihead_attn.in_proj_" + (translated.hasSuffix("weight") ? "weight" : "bias")
                    fusedParts[fused, default: [:]][part] = tensor
                    continue
                }
            default: break
            }
            result[translated] = value
        }
        for (name, parts) in fusedParts {
            result[name] = Tensor.concat(["q", "k", "v"].compactMap { parts[$0] }, along: 0)
        }
        for (name, tensor) in OpenAICLIPLayout.official(from: clip) { result[clipPrefix + name] = tensor }
        return result
    }

    /// The decoder's differences: the class attention's MLP is a Sequential there (`MLP.0`,
    /// `MLP.2`), and its padding token and guidance are [1, 1, C] there, [C] here.
    private static func decoderTensor(_ name: String, _ tensor: Tensor, toOurs: Bool) -> (String, Tensor) {
        var name = name
        for (theirs, ours) in [(".attention.MLP.0.", ".attention.MLP.fc1."), (".attention.MLP.2.", ".attention.MLP.fc2.")] {
            name = toOurs ? name.replacingOccurrences(of: theirs, with: ours) : name.replacingOccurrences(of: ours, with: theirs)
        }
        guard name.hasSuffix(".padding_tokens") || name.hasSuffix(".padding_guidance") else { return (name, tensor) }
        return (name, tensor.reshaped(toOurs ? [tensor.count] : [1, 1, tensor.count]))
    }

    private static let clipPrefix = "sem_seg_head.predictor.clip_model."

    /// Official prefix → ours.
    private static let prefixes: [(String, String)] = [
        ("sem_seg_head.predictor.transformer.", "decoder."),
        ("sem_seg_head.predictor.DCDT.", "p2tformer."),
        ("sem_seg_head.predictor.proj.", "projector."),
        ("upsample1.", "upsample1."),
        ("upsample2.", "upsample2."),
    ]

    /// Buffers the official modules compute from their configuration.
    private static let derivedBuffers = [".attn_mask", ".num_batches_tracked"]
}
