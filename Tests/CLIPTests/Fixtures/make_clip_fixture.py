"""Writes tiny-clip/ (a random-weight CLIP saved with save_pretrained) and clip_outputs.safetensors
with what transformers.CLIPModel computes from it. Read by CLIPParityTests.swift.

    /tmp/fixtures/bin/python make_clip_fixture.py     # from this folder; versions: requirements.txt

The model is CLIP-shaped but small (width 32, 12 vision blocks so that blocks 3 and 7 exist,
patch 16 at 224 px, a 1,000-token vocabulary). Outputs, at 224 px and at 384 px (position
embedding resized bicubically, `interpolate_pos_encoding=True`):
  image/<size>/pixels (F16, batch 1), image/<size>/embeds, image/<size>/tap3, image/<size>/tap7,
  image/<size>/dense  — the value-path last block of FGAseg (spec §3.2), built from the HF modules,
  text/ids (flattened, -1 padded) [4, 77], text/embeds [4, 16],
  grad/<parameter> — gradients of L = Σ embeds·w over both sizes and the text, for every q/v weight.
"""
import torch
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPModel

torch.manual_seed(0)
config = CLIPConfig(
    text_config=dict(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=4,
                     max_position_embeddings=77, bos_token_id=998, eos_token_id=999, pad_token_id=999),
    vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=12, num_attention_heads=4,
                       image_size=224, patch_size=16),
    projection_dim=16,
)
model = CLIPModel(config).eval()
with torch.no_grad():  # non-trivial biases and norms everywhere
    for name, p in model.named_parameters():
        if p.dim() == 1 and name != "logit_scale":
            p.add_(torch.randn_like(p) * 0.1)
model.save_pretrained("tiny-clip", safe_serialization=True)

out = {}
loss = 0.0
vision = model.vision_model


def dense_features(pixels):
    """FGAseg's dense image features: last block in value-path mode, post_layernorm on all tokens, projection."""
    hidden = vision.embeddings(pixels, interpolate_pos_encoding=True)
    hidden = vision.pre_layrnorm(hidden)
    layers = vision.encoder.layers
    taps = {}
    for index, layer in enumerate(layers[:-1]):
        hidden = layer(hidden, None)
        taps[index] = hidden
    last = layers[-1]
    y = last.layer_norm1(hidden)
    v = last.self_attn.out_proj(last.self_attn.v_proj(y))
    u = v + hidden[:, :1]
    hidden = u + last.mlp(last.layer_norm2(u))
    return model.visual_projection(vision.post_layernorm(hidden)), taps


for size in (224, 384):
    pixels = torch.randn(1, 3, size, size).half().float()  # exactly representable in F16, stored as F16
    image = model.vision_model(pixel_values=pixels, output_hidden_states=True, interpolate_pos_encoding=True)
    embeds = model.visual_projection(image.pooler_output)
    dense, taps = dense_features(pixels)
    assert torch.allclose(taps[3], image.hidden_states[4], atol=1e-6)
    out[f"image/{size}/pixels"] = pixels.half()
    out[f"image/{size}/embeds"] = embeds.detach()
    out[f"image/{size}/tap3"] = image.hidden_states[4].detach()
    out[f"image/{size}/tap7"] = image.hidden_states[8].detach()
    out[f"image/{size}/dense"] = dense.detach()
    w1, w2 = torch.randn_like(embeds), torch.randn_like(dense)
    out[f"image/{size}/w_embeds"], out[f"image/{size}/w_dense"] = w1, w2
    loss = loss + (embeds * w1).sum() + (dense * w2).sum()

lengths = [5, 12, 3, 9]
ids = torch.full((4, 77), 999, dtype=torch.long)
for row, length in enumerate(lengths):
    ids[row, 0] = 998
    ids[row, 1:length - 1] = torch.randint(0, 998, (length - 2,))
text = model.text_model(input_ids=ids)
text_embeds = model.text_projection(text.pooler_output)
w3 = torch.randn_like(text_embeds)
loss = loss + (text_embeds * w3).sum()
loss.backward()
out["text/ids"] = torch.where(torch.arange(77)[None, :] < torch.tensor(lengths)[:, None], ids, -1).float()
out["text/embeds"] = text_embeds.detach()
out["text/w"] = w3
for name, p in model.named_parameters():
    if name.endswith(("q_proj.weight", "v_proj.weight")):
        out[f"grad/{name}"] = p.grad.clone()
save_file({k: v.contiguous() for k, v in out.items()}, "clip_outputs.safetensors", metadata={"torch": torch.__version__})
print("saved", len(out), "tensors")
