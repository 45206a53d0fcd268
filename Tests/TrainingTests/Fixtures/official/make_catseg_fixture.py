"""Writes the CAT-Seg fixtures read by OfficialCheckpointTests.swift: the official CAT-Seg model
(github.com/cvlab-kaist/CAT-Seg) with the same shared-view random weights as
make_official_fixture.py, saved with torch.save in detectron2's layout, and its outputs on photo.png,
for both released configurations (each with a single prompt template, as the repository's configs
set PROMPT_ENSEMBLE_TYPE):
- configs/vitb_384.yaml: ViT-B/16 at 384, guidance taps after blocks 3 and 7;
- configs/vitl_336.yaml: ViT-L/14 at 336 (24 blocks of width 1024, 768-wide joint space, guidance
  taps after blocks 7 and 15, 1024 → 256/128 guidance up-samplers); the sliding window still cuts
  384² tiles from the 640² image and resizes each to 336² for CLIP.

    /tmp/venv/bin/python make_catseg_fixture.py CATSEG_ROOT    # from this folder, after make_official_fixture.py

CATSEG_ROOT is an extracted checkout of the CAT-Seg repository (never committed); detectron2 and
friends are stubbed by ../../../../../shared/bench/official_step.py.

Writes catseg_vitb16.pth and catseg_vitl14.pth (≈ 4 MB each) and their _outputs.safetensors
(`quick`, `sliding`).
"""
import importlib
import os
import sys
import types

import torch

from make_official_fixture import evaluate_fixture_classes, official_step, write_fixture


def vit_l14_336_loader(model_vpt):
    """`clip.load` for "ViT-L/14@336px" with random weights: the dimensions build_model reads from
    OpenAI's ViT-L-14-336px.pt (joint 768, 336 px, 24 × 1024 vision blocks of patch 14, text
    12 × 768 with 12 heads)."""
    def load(name, device="cpu", jit=False, prompt_depth=0, prompt_length=0):
        assert name == "ViT-L/14@336px", name
        m = model_vpt.CLIP(768, 336, 24, 1024, 14, 77, 49408, 768, 12, 12,
                           prompt_depth=prompt_depth, prompt_length=prompt_length)
        torch.nn.init.normal_(m.token_embedding.weight, std=0.02)
        torch.nn.init.normal_(m.positional_embedding, std=0.01)
        torch.nn.init.normal_(m.text_projection, std=768 ** -0.5)
        return m.eval(), None
    return load


def build(root, config="configs/vitb_384.yaml"):
    official_step.install_stubs()
    for name, path in [("cat_seg", "cat_seg"), ("cat_seg.modeling", "cat_seg/modeling")]:
        package = types.ModuleType(name)
        package.__path__ = [os.path.join(root, path)]
        sys.modules[name] = package
    sys.path.insert(0, root)
    modules = {name: importlib.import_module(name) for name in [
        "cat_seg.config", "cat_seg.third_party.clip", "cat_seg.third_party.model_vpt", "cat_seg.modeling.transformer.model",
        "cat_seg.modeling.transformer.cat_seg_predictor", "cat_seg.modeling.heads.cat_seg_head", "cat_seg.cat_seg_model"]}
    torch.Tensor.cuda = lambda self, *a, **k: self
    loader = vit_l14_336_loader if "vitl" in config else official_step.random_clip_loader
    modules["cat_seg.third_party.clip"].load = loader(modules["cat_seg.third_party.model_vpt"])
    cfg = official_step.CfgNode()
    cfg.merge({"MODEL": {"SEM_SEG_HEAD": {}}, "INPUT": {"CROP": {}}, "DATASETS": {}, "TEST": {},
               "SOLVER": {"WEIGHT_DECAY": 0.0001, "WEIGHT_DECAY_NORM": 0.0, "MOMENTUM": 0.9, "CLIP_GRADIENTS": {}}})
    modules["cat_seg.config"].add_cat_seg_config(cfg)
    cfg.merge(official_step.load_yaml_config(root, config))
    evaluate_fixture_classes(cfg)
    return modules["cat_seg.cat_seg_model"].CATSeg(cfg).eval()


if __name__ == "__main__":
    root = os.path.abspath(sys.argv[1])
    torch.manual_seed(0)
    write_fixture(build(root), "catseg_vitb16")
    torch.manual_seed(0)
    write_fixture(build(root, "configs/vitl_336.yaml"), "catseg_vitl14")
