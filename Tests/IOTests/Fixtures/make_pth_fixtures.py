"""Writes the PyTorch-checkpoint fixtures read by PyTorchCheckpointTests.swift (a few KB each).

    /tmp/venv/bin/python make_pth_fixtures.py     # from this folder; versions: ../../ModelTests/Fixtures/requirements.txt

- state.pth: torch.save of a detectron2-style {"model": state_dict, "iteration": 4321, "optimizer": …}
  whose tensors cover float32/float16/bfloat16/float64/int64 storages, a transposed view, two
  views of one storage at different offsets, an nn.Parameter, a 0-d tensor and an empty one;
  state_expected.safetensors holds each floating tensor as contiguous float32 (same names).
- legacy.pth: the same model dict saved with _use_new_zipfile_serialization=False.
- os_system.pth, recursive.pth, shared_blowup.pth: ZIP archives in torch.save's layout whose
  data.pkl calls os.system, holds a list that contains itself, or refers to one tuple 2^40 times
  through the memo. Each must be refused with a named error.
"""
import io
import pickle
import zipfile
from collections import OrderedDict

import torch
from safetensors.torch import save_file

g = torch.Generator().manual_seed(7)
base = torch.randn(40, generator=g)
model = OrderedDict()
model["linear.weight"] = torch.randn(3, 4, generator=g)
model["linear.weight_t"] = torch.randn(4, 3, generator=g).t()          # non-contiguous
model["half"] = torch.randn(2, 5, generator=g).half()
model["bfloat"] = torch.randn(6, generator=g).bfloat16()
model["double"] = torch.randn(2, 2, generator=g).double()
model["view_a"] = base[2:12].view(2, 5)                                  # two views of one storage
model["view_b"] = base[20:40:2]                                          # strided
model["parameter"] = torch.nn.Parameter(torch.randn(3, generator=g))
model["scalar"] = torch.tensor(2.5)
model["empty"] = torch.zeros(0, 3)
model["counter"] = torch.tensor(17, dtype=torch.long)
checkpoint = {"model": model, "iteration": 4321,
              "optimizer": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.ones(3)}},
                            "param_groups": [{"lr": 2e-4, "betas": (0.9, 0.999), "params": [0]}]}}
torch.save(checkpoint, "state.pth")
torch.save(checkpoint, "legacy.pth", _use_new_zipfile_serialization=False)
save_file({k: v.detach().float().contiguous() for k, v in model.items() if v.is_floating_point()}, "state_expected.safetensors")


def archive(name, payload):
    with zipfile.ZipFile(name + ".pth", "w", zipfile.ZIP_STORED) as z:
        z.writestr(name + "/data.pkl", payload)
        z.writestr(name + "/byteorder", "little")


archive("os_system", b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.")
recursive = []
recursive.append(recursive)
archive("recursive", pickle.dumps({"model": recursive}, protocol=2))
# t0 = (); t(k+1) = (tk, tk): 40 levels of a doubling tuple through the memo.
blowup = io.BytesIO()
blowup.write(b"\x80\x02)q\x000")
for level in range(40):
    blowup.write(b"h" + bytes([level]) + b"h" + bytes([level]) + b"\x86q" + bytes([level + 1]) + b"0")
blowup.write(b"h" + bytes([40]) + b".")
archive("shared_blowup", blowup.getvalue())
