"""Writes ops.safetensors: inputs, outputs and gradients of every tensor op, computed by PyTorch.

    python3 -m venv /tmp/fixtures && /tmp/fixtures/bin/pip install -r requirements.txt
    /tmp/fixtures/bin/python make_ops_fixtures.py          # run from this folder

For each case the file holds `<case>/in/<input>`, `<case>/out`, `<case>/w` (weights of the scalar
loss sum(out * w)) and `<case>/grad/<input>` for the inputs that require gradients. The metadata
entry "cases" is a JSON list of {"name", "op", "args", "inputs", "grads"} that the Swift test
(OpsParityTests.swift) reads, so this script is the single description of the cases.
"""
import json

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
torch.set_default_dtype(torch.float32)

tensors = {}
cases = []


def rand(*shape, low=-1.0, high=1.0):
    return torch.rand(shape) * (high - low) + low


def add_case(name, op, inputs, fn, args=None, grads=None):
    """Runs fn(**inputs) and records outputs and gradients of sum(out * w)."""
    grads = list(inputs) if grads is None else grads
    leaves = {}
    for key, value in inputs.items():
        leaf = value.clone().detach()
        leaf.requires_grad_(key in grads)
        leaves[key] = leaf
        tensors[f"{name}/in/{key}"] = value.clone().detach().float().contiguous()
    out = fn(**leaves)
    weights = rand(*out.shape)
    (out * weights).sum().backward()
    tensors[f"{name}/out"] = out.detach().contiguous()
    tensors[f"{name}/w"] = weights.contiguous()
    for key in grads:
        tensors[f"{name}/grad/{key}"] = leaves[key].grad.contiguous()
    cases.append({"name": name, "op": op, "args": args or {}, "inputs": list(inputs), "grads": grads})


# Elementwise with broadcasting.
for i, (sa, sb) in enumerate([((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((5,), ())]):
    a, b = rand(*sa), rand(*sb, low=0.5, high=1.5)
    add_case(f"add{i}", "add", {"a": a, "b": b}, lambda a, b: a + b)
    add_case(f"sub{i}", "sub", {"a": a, "b": b}, lambda a, b: a - b)
    add_case(f"mul{i}", "mul", {"a": a, "b": b}, lambda a, b: a * b)
    add_case(f"div{i}", "div", {"a": a, "b": b}, lambda a, b: a / b)

x = rand(4, 37, low=-4, high=4)
positive = rand(4, 37, low=0.1, high=3)
add_case("exp", "exp", {"x": x}, lambda x: torch.exp(x))
add_case("log", "log", {"x": positive}, lambda x: torch.log(x))
add_case("sqrt", "sqrt", {"x": positive}, lambda x: torch.sqrt(x))
add_case("rsqrt", "rsqrt", {"x": positive}, lambda x: torch.rsqrt(x))
add_case("pow", "pow", {"x": positive}, lambda x: x.pow(1.7), {"p": 1.7})
add_case("clamp", "clamp", {"x": x}, lambda x: x.clamp(-0.5, 0.7), {"min": -0.5, "max": 0.7})
add_case("sigmoid", "sigmoid", {"x": x}, lambda x: torch.sigmoid(x))
add_case("relu", "relu", {"x": x}, lambda x: torch.relu(x))
add_case("gelu", "gelu", {"x": x}, lambda x: F.gelu(x))  # exact erf form
add_case("quick_gelu", "quick_gelu", {"x": x}, lambda x: x * torch.sigmoid(1.702 * x))
add_case("elu_plus_one", "elu_plus_one", {"x": x}, lambda x: F.elu(x) + 1)

# Reductions and softmax.
r = rand(3, 5, 7)
add_case("sum_axis1", "sum", {"x": r}, lambda x: x.sum(1), {"axes": [1], "keep": False})
add_case("sum_keep", "sum", {"x": r}, lambda x: x.sum((0, 2), keepdim=True), {"axes": [0, 2], "keep": True})
add_case("mean_last", "mean", {"x": r}, lambda x: x.mean(-1), {"axes": [-1], "keep": False})
add_case("max_axis1", "max", {"x": r}, lambda x: x.max(1).values, {"axis": 1})
long_rows = rand(4, 1000, low=-6, high=6)
add_case("softmax", "softmax", {"x": long_rows}, lambda x: x.softmax(-1), {"dim": -1})
add_case("softmax_dim1", "softmax", {"x": r}, lambda x: x.softmax(1), {"dim": 1})
add_case("log_softmax", "log_softmax", {"x": long_rows}, lambda x: x.log_softmax(-1), {"dim": -1})
add_case("l2_normalize", "l2_normalize", {"x": r}, lambda x: F.normalize(x, dim=-1), {"dim": -1})

# Shape operations.
add_case("permute", "permute", {"x": r}, lambda x: x.permute(2, 0, 1), {"order": [2, 0, 1]})
add_case("narrow", "narrow", {"x": r}, lambda x: x.narrow(2, 1, 4), {"dim": 2, "start": 1, "length": 4})
add_case("concat", "concat", {"a": r, "b": rand(3, 2, 7)}, lambda a, b: torch.cat([a, b], 1), {"dim": 1})
add_case("pad", "pad", {"x": r}, lambda x: F.pad(x, (2, 1, 0, 3), value=0.5), {"padding": [[0, 3], [2, 1]], "value": 0.5})
add_case("roll", "roll", {"x": r}, lambda x: torch.roll(x, (-2, 3), (1, 2)), {"shifts": [-2, 3], "dims": [1, 2]})
add_case("repeat", "repeat", {"x": rand(2, 3)}, lambda x: x.repeat(3, 1, 2), {"times": [3, 1, 2]})

gather_index = torch.randint(0, 5, (3, 4, 7))
add_case("gather", "gather", {"x": r, "index": gather_index.float()},
         lambda x, index: torch.gather(x, 1, index.long()), {"dim": 1}, grads=["x"])
window_map = rand(2, 8, 12, 3)
add_case("window_partition", "window_partition", {"x": window_map},
         lambda x: x.view(2, 2, 4, 3, 4, 3).permute(0, 1, 3, 2, 4, 5).reshape(-1, 16, 3), {"size": 4})

# Matrix products.
add_case("matmul_batched", "matmul", {"a": rand(2, 5, 6), "b": rand(2, 6, 3)}, lambda a, b: a @ b)
add_case("matmul_shared", "matmul", {"a": rand(2, 5, 6), "b": rand(6, 3)}, lambda a, b: a @ b)
vit_x = rand(577, 64)
add_case("linear", "linear", {"x": vit_x, "weight": rand(48, 64) * 0.1, "bias": rand(48)},
         lambda x, weight, bias: F.linear(x, weight, bias))

# Convolutions.
for name, shape, out, k, s, p, d, g in [
    ("conv3x3", (2, 8, 12, 10), 6, 3, 1, 1, 1, 1),
    ("conv7x7", (1, 1, 16, 16), 8, 7, 1, 3, 1, 1),
    ("conv_stride2_groups2", (1, 4, 9, 9), 6, 3, 2, 1, 1, 2),
    ("conv_dilated", (1, 3, 11, 11), 4, 3, 1, 2, 2, 1),
    ("conv_depthwise", (2, 6, 8, 8), 6, 3, 1, 1, 1, 6),
    ("conv_patch16", (1, 3, 32, 48), 8, 16, 16, 0, 1, 1),
]:
    add_case(name, "conv2d", {"x": rand(*shape), "weight": rand(out, shape[1] // g, k, k) * 0.3, "bias": rand(out)},
             lambda x, weight, bias, s=s, p=p, d=d, g=g: F.conv2d(x, weight, bias, s, p, d, g),
             {"stride": s, "padding": p, "dilation": d, "groups": g})
add_case("conv_nobias", "conv2d", {"x": rand(1, 4, 6, 6), "weight": rand(5, 4, 3, 3)},
         lambda x, weight: F.conv2d(x, weight, None, 1, 1), {"stride": 1, "padding": 1, "dilation": 1, "groups": 1})
for name, shape, out, k, s, p, op, g in [
    ("convT_k2s2", (1, 12, 6, 6), 5, 2, 2, 0, 0, 1),
    ("convT_k4s4", (2, 6, 3, 3), 4, 4, 4, 0, 0, 1),
    ("convT_general", (1, 4, 5, 4), 6, 3, 2, 1, 1, 2),
]:
    add_case(name, "conv_transpose2d",
             {"x": rand(*shape), "weight": rand(shape[1], out // g, k, k) * 0.3, "bias": rand(out)},
             lambda x, weight, bias, s=s, p=p, op=op, g=g: F.conv_transpose2d(x, weight, bias, s, p, op, g),
             {"stride": s, "padding": p, "output_padding": op, "groups": g})

# Pooling and resampling.
m = rand(2, 3, 12, 10)
add_case("avg_pool2", "avg_pool2d", {"x": m}, lambda x: F.avg_pool2d(x, 2), {"kernel": 2})
for align in (False, True):
    for size in ((24, 20), (7, 5), (25, 13)):
        add_case(f"bilinear_{size[0]}x{size[1]}_{int(align)}", "bilinear", {"x": m},
                 lambda x, size=size, align=align: F.interpolate(x, size=size, mode="bilinear", align_corners=align),
                 {"size": list(size), "align_corners": align})
add_case("nearest_up", "nearest", {"x": m}, lambda x: F.interpolate(x, size=(24, 40), mode="nearest"), {"size": [24, 40]})
add_case("nearest_down", "nearest", {"x": rand(1, 2, 96, 96)}, lambda x: F.interpolate(x, size=(24, 24), mode="nearest"),
         {"size": [24, 24]})
add_case("bicubic_posembed", "bicubic", {"x": rand(1, 16, 14, 14)},
         lambda x: F.interpolate(x, size=(24, 24), mode="bicubic", align_corners=False), {"size": [24, 24]})

# Normalisation.
ln_x = rand(6, 64, low=-3, high=3)
add_case("layer_norm", "layer_norm", {"x": ln_x, "weight": rand(64), "bias": rand(64)},
         lambda x, weight, bias: F.layer_norm(x, (64,), weight, bias, 1e-5), {"eps": 1e-5})
gn_x = rand(2, 32, 6, 6, low=-2, high=2)
add_case("group_norm", "group_norm", {"x": gn_x, "weight": rand(32), "bias": rand(32)},
         lambda x, weight, bias: F.group_norm(x, 2, weight, bias, 1e-5), {"groups": 2, "eps": 1e-5})
add_case("batch_norm_train", "batch_norm_train", {"x": rand(1, 8, 6, 6), "weight": rand(8), "bias": rand(8)},
         lambda x, weight, bias: F.batch_norm(x, None, None, weight, bias, training=True, eps=1e-5), {"eps": 1e-5})
add_case("embedding", "embedding", {"table": rand(10, 6), "indices": torch.tensor([3.0, 1, 3, 9])},
         lambda table, indices: F.embedding(indices.long(), table), grads=["table"])

# Losses.
logits = rand(2, 5, 6, 6, low=-4, high=4)
onehot = (torch.rand(2, 5, 6, 6) < 0.3).float()
add_case("bce_with_logits", "bce_with_logits", {"x": logits, "target": onehot},
         lambda x, target: F.binary_cross_entropy_with_logits(x, target), grads=["x"])
labels = torch.randint(0, 5, (2, 6, 6))
labels[:, 0, :] = 255
add_case("cross_entropy", "cross_entropy", {"x": logits, "target": labels.float()},
         lambda x, target: F.cross_entropy(x, target.long(), ignore_index=255), grads=["x"])
add_case("mse", "mse", {"a": logits, "b": rand(2, 5, 6, 6)}, lambda a, b: F.mse_loss(a, b))

# Fused multi-head attention: [B, L, H*D] projections, heads interleaved by columns; the mask
# [M, L, S] repeats over the batch with period M (shifted-window masks).
def attention(query, key, value, heads, mask=None):
    b, l, width = query.shape
    s = key.shape[1]

    def split(x, length):
        return x.view(b, length, heads, width // heads).transpose(1, 2)

    attn_mask = None if mask is None else mask.repeat(b // mask.shape[0], 1, 1)[:, None]
    out = F.scaled_dot_product_attention(split(query, l), split(key, s), split(value, s), attn_mask=attn_mask)
    return out.transpose(1, 2).reshape(b, l, width)


add_case("attention", "attention", {"q": rand(2, 7, 12), "k": rand(2, 9, 12), "v": rand(2, 9, 12)},
         lambda q, k, v: attention(q, k, v, 3), {"heads": 3})
window_mask = torch.where(torch.rand(2, 6, 6) < 0.3, -100.0, 0.0)
add_case("attention_masked", "attention",
         {"q": rand(4, 6, 8, low=-3, high=3), "k": rand(4, 6, 8, low=-3, high=3), "v": rand(4, 6, 8), "mask": window_mask},
         lambda q, k, v, mask: attention(q, k, v, 2, mask), {"heads": 2}, grads=["q", "k", "v"])

save_file(tensors, "ops.safetensors", metadata={"cases": json.dumps(cases), "torch": torch.__version__})
print(f"wrote {len(cases)} cases, {len(tensors)} tensors")
