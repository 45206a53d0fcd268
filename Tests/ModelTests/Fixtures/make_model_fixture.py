"""Writes model.safetensors: the whole FGAseg model (fgaseg_reference.py) on the tiny random CLIP of
../../CLIPTests/Fixtures/tiny-clip, at 64 px (4×4 grid), for T = 5 (batch 2) and T = 300 (batch 1,
top-256 selection), in training (pooling 2, T2P branch) and evaluation (pooling 1). Read by
ModelParityTests.swift.

    /tmp/fixtures/bin/python make_model_fixture.py     # from this folder; versions: requirements.txt

A third case, T5_fast, uses the fast decoder (rejection heads, auxiliary losses; training only).

Tensors: `param/<name>` and `fast_param/<name>` (every non-CLIP parameter, Swift names), `<case>/pixels`, `<case>/ids`
(prompt token ids, −1 padded), `<case>/labels` (class ids as floats; ignored pixels are 65535, the value
the product's readers map every dataset's ignore value to; in T300 some pixels are class 255, a real
class when T > 255 (spec §3.13), which the official loss would have ignored), `<case>/train_logits`,
`<case>/eval_logits`, `<case>/loss_seg|loss_t2p|loss_total`, `<case>/grad/<name>` for every trainable
parameter (CLIP q/v weights and everything outside CLIP).
"""
import torch
from safetensors.torch import save_file
from transformers import CLIPModel

from fgaseg_reference import CostAggregationDecoder, FGAseg, fgaseg_losses

out = {}
IGNORE = 65535  # Sources/Data/SegmentationSample.swift: ignoreLabel


def make_model(fast, prefix):
    torch.manual_seed(0)
    clip = CLIPModel.from_pretrained("../../CLIPTests/Fixtures/tiny-clip").eval()
    decoder = CostAggregationDecoder(text=16, channels=16, hidden=32, tg=16, ag=16, dims=(16, 16), gdims=(24, 12), gproj=(8, 4),
                                     layers=2, heads=4, resolution=4, window=2, pooling=2, pad=256, k=3, fast=fast)
    model = FGAseg(clip, decoder=decoder)
    model.pooling = 2
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith("clip."):
                p.add_(torch.randn_like(p) * 0.05)
    for name, p in model.named_parameters():
        p.requires_grad_(not name.startswith("clip.") or name.endswith(("self_attn.q_proj.weight", "self_attn.v_proj.weight")))
    out.update({f"{prefix}/{k}": v.detach().clone() for k, v in model.named_parameters() if not k.startswith("clip.")})
    return model


model = make_model(False, "param")
fast_model = make_model(True, "fast_param")
torch.manual_seed(1)
for case, classes, batch in (("T5", 5, 2), ("T300", 300, 1), ("T5_fast", 5, 2)):
    if case == "T5_fast":
        model = fast_model
    pixels = torch.randn(batch, 3, 64, 64)
    lengths = torch.randint(4, 12, (classes,))
    ids = torch.full((classes, 77), 999, dtype=torch.long)
    for row, length in enumerate(lengths.tolist()):
        ids[row, 0] = 998
        ids[row, 1:length - 1] = torch.randint(0, 998, (length - 2,))
    labels = torch.randint(0, classes, (batch, 64, 64))
    labels[:, :8, :] = IGNORE
    if classes > 255:
        labels[:, 8, :16] = 255
    model.zero_grad(set_to_none=True)
    model.train()
    text = model.class_embeddings(ids)
    logits, t2p = model(pixels, text, training=True)
    seg, align, total = fgaseg_losses(logits, t2p, labels, auxiliary=model.decoder.auxiliary)
    total.backward()
    model.eval()
    with torch.no_grad():
        eval_logits, _ = model(pixels, model.class_embeddings(ids), training=False)
    out[f"{case}/pixels"] = pixels
    out[f"{case}/ids"] = torch.where(torch.arange(77)[None] < lengths[:, None], ids, -1).float()
    out[f"{case}/labels"] = labels.float()
    out[f"{case}/train_logits"] = logits.detach()
    out[f"{case}/eval_logits"] = eval_logits
    out[f"{case}/loss_seg"], out[f"{case}/loss_t2p"], out[f"{case}/loss_total"] = seg.detach()[None], align.detach()[None], total.detach()[None]
    for name, p in model.named_parameters():
        if p.requires_grad:
            out[f"{case}/grad/{name}"] = p.grad.clone() if p.grad is not None else torch.zeros_like(p)
save_file({k: v.contiguous() for k, v in out.items()}, "model.safetensors", metadata={"torch": torch.__version__})
print({k: round(out[k].item(), 5) for k in out if "loss" in k})
