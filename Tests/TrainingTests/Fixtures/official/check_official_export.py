"""Checks that the official FGA-seg model loads what `fgaseg-export --official` wrote from
official_vitb16.pth, with load_state_dict(strict=True), and that every tensor equals the original.
A local check (PyTorch and the official checkout are not needed in CI):

    fgaseg-export official_vitb16.pth --config CONFIG --official --out /tmp/official_export.safetensors
    /tmp/venv/bin/python check_official_export.py FGA_ROOT /tmp/official_export.safetensors

CONFIG is the ViT-B/16 config with model.clip naming a folder that has the CLIP config.json and tokenizer.
"""
import os
import sys

import torch
from safetensors.torch import load_file

from make_official_fixture import HERE, build

model = build(os.path.abspath(sys.argv[1]))
exported = load_file(sys.argv[2])
original = {k: v.float() for k, v in torch.load(os.path.join(HERE, "official_vitb16.pth"))["model"].items() if v.is_floating_point()}
model.load_state_dict(exported, strict=True)  # BatchNorm fills in its num_batches_tracked itself
worst = max(float((exported[k] - original[k]).abs().max()) for k in original)
assert set(original) == set(exported), sorted(set(original) ^ set(exported))
print(f"official FGASeg loads the export: {len(exported)} tensors, none missing or unexpected "
      f"(num_batches_tracked filled in by PyTorch); max |difference| from the original checkpoint {worst}")
