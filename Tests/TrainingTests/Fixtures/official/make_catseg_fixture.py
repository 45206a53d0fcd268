"""Writes the CAT-Seg fixtures read by OfficialCheckpointTests.swift: the official CAT-Seg model
(github.com/cvlab-kaist/CAT-Seg, configs/vitb_384.yaml: ViT-B/16 at 384, 2 aggregation layers,
single prompt template) with the same shared-view random weights as make_official_fixture.py,
saved with torch.save in detectron2's layout, and its outputs on photo.png.

    /tmp/venv/bin/python make_catseg_fixture.py CATSEG_ROOT    # from this folder, after make_official_fixture.py

CATSEG_ROOT is an extracted checkout of the CAT-Seg repository (never committed); detectron2 and
friends are stubbed by ../../../../../shared/bench/official_step.py.

Writes catseg_vitb16.pth (≈ 4 MB) and catseg_vitb16_outputs.safetensors (`quick`, `sliding`).
"""
import importlib
import os
import sys
import types

import torch

from make_official_fixture import evaluate_fixture_classes, official_step, write_fixture


def build(root):
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
    modules["cat_seg.third_party.clip"].load = official_step.random_clip_loader(modules["cat_seg.third_party.model_vpt"])
    cfg = official_step.CfgNode()
    cfg.merge({"MODEL": {"SEM_SEG_HEAD": {}}, "INPUT": {"CROP": {}}, "DATASETS": {}, "TEST": {},
               "SOLVER": {"WEIGHT_DECAY": 0.0001, "WEIGHT_DECAY_NORM": 0.0, "MOMENTUM": 0.9, "CLIP_GRADIENTS": {}}})
    modules["cat_seg.config"].add_cat_seg_config(cfg)
    cfg.merge(official_step.load_yaml_config(root, "configs/vitb_384.yaml"))
    evaluate_fixture_classes(cfg)
    return modules["cat_seg.cat_seg_model"].CATSeg(cfg).eval()


if __name__ == "__main__":
    torch.manual_seed(0)
    write_fixture(build(os.path.abspath(sys.argv[1])), "catseg_vitb16")
