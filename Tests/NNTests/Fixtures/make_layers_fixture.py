"""Writes layers.safetensors: every NN layer's output and the gradients of its inputs and
parameters, computed by PyTorch from random weights (Swift parameter names; the fused MHA
in-projection is split into q_proj/k_proj/v_proj). Read by LayerParityTests.swift.

    /tmp/fixtures/bin/python make_layers_fixture.py     # versions: requirements.txt

Per case: `<case>/param/<name>`, `<case>/in/<name>`, `<case>/out`, `<case>/w` (weights of the
loss sum(out * w)), `<case>/grad/in/<name>`, `<case>/grad/param/<name>`, and for BatchNorm in
training `<case>/after/running_mean|running_var`. Metadata "cases": [{name, layer, args, inputs}].
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
tensors, cases = {}, []


def rand(*shape):
    return torch.rand(shape) * 2 - 1


def swift_params(module):
    out = {}
    for name, p in module.named_parameters():
        if name.endswith("in_proj_weight") or name.endswith("in_proj_bias"):
            prefix = name[: -len("in_proj_weight")] if name.endswith("weight") else name[: -len("in_proj_bias")]
            kind = "weight" if name.endswith("weight") else "bias"
            for part, chunk in zip("qkv", p.chunk(3)):
                out[f"{prefix}{part}_proj.{kind}"] = chunk
        else:
            out[name] = p
    return out


def add_case(name, layer, module, inputs, forward, args=None):
    for p in module.parameters():  # random, not default, values for norms' affine parameters too
        with torch.no_grad():
            if p.dim() == 1 and isinstance(module, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)):
                p.copy_(rand(*p.shape))
    module.zero_grad(set_to_none=True)
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    out = forward(module, **leaves)
    weights = rand(*out.shape)
    for k, v in swift_params(module).items():
        tensors[f"{name}/param/{k}"] = v.detach().clone().contiguous()
    tensors[f"{name}/w"] = weights
    (out * weights).sum().backward()
    params = swift_params(module)
    grads = {}
    for pname, p in module.named_parameters():
        if pname.endswith(("in_proj_weight", "in_proj_bias")):
            prefix = pname[: -len("in_proj_weight")] if pname.endswith("weight") else pname[: -len("in_proj_bias")]
            kind = "weight" if pname.endswith("weight") else "bias"
            for part, chunk in zip("qkv", p.grad.chunk(3)):
                grads[f"{prefix}{part}_proj.{kind}"] = chunk
        else:
            grads[pname] = p.grad
    assert set(grads) == set(params)
    for k, v in inputs.items():
        tensors[f"{name}/in/{k}"] = v.contiguous()
        tensors[f"{name}/grad/in/{k}"] = leaves[k].grad.contiguous()
    for k, v in grads.items():
        tensors[f"{name}/grad/param/{k}"] = v.clone().contiguous()
    tensors[f"{name}/out"] = out.detach().contiguous()
    if isinstance(module, nn.BatchNorm2d):
        tensors[f"{name}/after/running_mean"] = module.running_mean.clone()
        tensors[f"{name}/after/running_var"] = module.running_var.clone()
    cases.append({"name": name, "layer": layer, "args": args or {}, "inputs": list(inputs)})


add_case("linear", "linear", nn.Linear(12, 7), {"x": rand(3, 5, 12)}, lambda m, x: m(x), {"in": 12, "out": 7})
mlp = nn.Sequential()
mlp.add_module("fc1", nn.Linear(8, 16))
mlp.add_module("fc2", nn.Linear(16, 8))
add_case("mlp_gelu", "mlp", mlp, {"x": rand(4, 8)}, lambda m, x: m.fc2(F.gelu(m.fc1(x))), {"in": 8, "hidden": 16, "out": 8})
add_case("conv2d", "conv2d", nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), {"x": rand(2, 4, 9, 9)},
         lambda m, x: m(x), {"in": 4, "out": 6, "kernel": 3, "stride": 2, "padding": 1, "groups": 2})
add_case("conv_transpose2d", "conv_transpose2d", nn.ConvTranspose2d(6, 4, 4, stride=4), {"x": rand(1, 6, 3, 3)},
         lambda m, x: m(x), {"in": 6, "out": 4, "kernel": 4, "stride": 4})
add_case("layer_norm", "layer_norm", nn.LayerNorm(10), {"x": rand(3, 10) * 3}, lambda m, x: m(x), {"features": 10})
add_case("group_norm", "group_norm", nn.GroupNorm(4, 8), {"x": rand(2, 8, 5, 5) * 2}, lambda m, x: m(x),
         {"groups": 4, "channels": 8})
add_case("batch_norm_train", "batch_norm", nn.BatchNorm2d(5), {"x": rand(3, 5, 4, 4) * 2 + 0.5}, lambda m, x: m(x),
         {"channels": 5, "training": 1})
bn_eval = nn.BatchNorm2d(5)
bn_eval.running_mean.copy_(rand(5))
bn_eval.running_var.copy_(torch.rand(5) + 0.5)
bn_eval.eval()
tensors["batch_norm_eval/buffer/running_mean"] = bn_eval.running_mean.clone()
tensors["batch_norm_eval/buffer/running_var"] = bn_eval.running_var.clone()
add_case("batch_norm_eval", "batch_norm", bn_eval, {"x": rand(2, 5, 4, 4)}, lambda m, x: m(x),
         {"channels": 5, "training": 0})
mha = nn.MultiheadAttention(16, 4, batch_first=True)
with torch.no_grad():
    mha.in_proj_bias.copy_(rand(48) * 0.5)
    mha.out_proj.bias.copy_(rand(16) * 0.5)
add_case("mha_self", "mha", mha, {"x": rand(2, 7, 16)},
         lambda m, x: m(x, x, x, need_weights=False)[0], {"embed": 16, "heads": 4})
mask = torch.triu(torch.full((5, 9), float("-inf")), diagonal=5)
tensors["mha_cross_masked/mask"] = mask
add_case("mha_cross_masked", "mha", mha, {"query": rand(2, 5, 16), "key": rand(2, 9, 16), "value": rand(2, 9, 16)},
         lambda m, query, key, value: m(query, key, value, attn_mask=mask, need_weights=False)[0],
         {"embed": 16, "heads": 4, "masked": 1})

save_file(tensors, "layers.safetensors", metadata={"cases": json.dumps(cases), "torch": torch.__version__})
print(f"wrote {len(cases)} cases")
