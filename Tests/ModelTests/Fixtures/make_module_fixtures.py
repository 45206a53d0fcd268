"""Writes modules.safetensors: a PyTorch reference of FGAseg's modules, written from
../../../../shared/FGASEG_SPEC.md (§3.5–3.10, 3.13; fgaseg_reference.py), run on random weights. Read by ModuleParityTests.swift.

    /tmp/fixtures/bin/python make_module_fixtures.py     # from this folder; versions: requirements.txt

Parameter names are the Swift modules' names. Per case: `<case>/param/<name>`, `<case>/in/<name>`,
`<case>/out`, `<case>/w` (weights of the loss sum(out * w)), `<case>/grad/param/<name>`,
`<case>/grad/in/<name>`. Metadata "cases": [{"name", "module", "args", "inputs"}].
"""
import json

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from fgaseg_reference import (P2Tformer, LocalCategoryCost, SpatialAggregation, ClassAggregation, UpStage,
                              CostAggregationDecoder)

torch.manual_seed(0)
tensors, cases = {}, []


def add_case(name, module_name, module, inputs, args):
    with torch.no_grad():  # non-trivial values everywhere, including zero-initialised tokens
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    out = module(**leaves)
    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    for pname, p in module.named_parameters():
        tensors[f"{name}/param/{pname}"] = p.detach().clone()
        tensors[f"{name}/grad/param/{pname}"] = p.grad.clone() if p.grad is not None else torch.zeros_like(p)
    for k, v in inputs.items():
        tensors[f"{name}/in/{k}"] = v.clone()
        tensors[f"{name}/grad/in/{k}"] = leaves[k].grad.clone()
    tensors[f"{name}/out"] = out.detach().clone()
    tensors[f"{name}/w"] = weights
    cases.append({"name": name, "module": module_name, "args": args, "inputs": list(inputs)})


add_case("p2tformer", "p2tformer", P2Tformer(32, 4, layers=1),
         {"image": torch.randn(2, 32, 6, 6), "text": F.normalize(torch.randn(5, 32), dim=-1)}, {"width": 32, "heads": 4, "layers": 1})
add_case("p2tformer_2layers", "p2tformer", P2Tformer(32, 4, layers=2),
         {"image": torch.randn(1, 32, 4, 5), "text": F.normalize(torch.randn(3, 32), dim=-1)}, {"width": 32, "heads": 4, "layers": 2})
for k in (3, 9):
    add_case(f"lcs_k{k}", "lcs", LocalCategoryCost(16, 12, k), {"image": torch.randn(2, 12, 7, 6), "text": torch.randn(2, 5, 16)},
             {"text_width": 16, "channels": 12, "kernel": k})
add_case("swin_pair_shifted", "swin", SpatialAggregation(16, 8, (12, 12), 4, 6),
         {"x": torch.randn(1, 16, 3, 12, 12), "guidance": torch.randn(1, 8, 12, 12)},
         {"width": 16, "guidance": 8, "height": 12, "width_px": 12, "heads": 4, "window": 6})
add_case("swin_pair_single_window", "swin", SpatialAggregation(16, 8, (6, 6), 4, 6),
         {"x": torch.randn(2, 16, 2, 6, 6), "guidance": torch.randn(2, 8, 6, 6)},
         {"width": 16, "guidance": 8, "height": 6, "width_px": 6, "heads": 4, "window": 6})
for pooling, t, pad in ((2, 5, 12), (1, 5, 12), (2, 14, 12)):
    add_case(f"class_agg_pool{pooling}_T{t}_pad{pad}", "class", ClassAggregation(16, 8, 4, pooling, pad),
             {"x": torch.randn(2, 16, t, 6, 6), "guidance": torch.randn(2, t, 8)},
             {"width": 16, "guidance": 8, "heads": 4, "pooling": pooling, "pad": pad})

decoder_stage = UpStage(32, 16, 8)
add_case("decoder_stage", "up", decoder_stage, {"x": torch.randn(6, 32, 6, 6), "guidance": torch.randn(2, 8, 12, 12)},
         {"in": 32, "out": 16, "guidance": 8})
for name, t, pooling, fusion in (("decoder_T5_pool2_cat", 5, 2, "cat"), ("decoder_T11_top8_pool1_add", 11, 1, "add")):
    add_case(name, "decoder", CostAggregationDecoder(pooling=pooling, fusion=fusion),
             {"image": torch.randn(1, 32, 12, 12), "text": torch.randn(1, t, 32), "g1": torch.randn(1, 24, 24, 24),
              "g2": torch.randn(1, 12, 48, 48)}, {"pooling": pooling, "cat": int(fusion == "cat")})

save_file({k: v.contiguous() for k, v in tensors.items()}, "modules.safetensors",
          metadata={"cases": json.dumps(cases), "torch": torch.__version__})
print(len(cases), "cases")
