"""Writes adamw.safetensors: a small network that uses every NN layer, trained for 10 steps of
AdamW (two parameter groups, weight decay 0 for norms, global gradient clipping, cosine
schedule) by PyTorch. The Swift test (TrainingParityTests.swift) builds the same network from
the initial weights and must reproduce every step's loss and the final weights.

    /tmp/fixtures/bin/python make_adamw_fixture.py     # versions: requirements.txt

Tensors: `init/<name>` (initial weights, Swift names: the fused MHA in-projection is split into
q_proj/k_proj/v_proj), `final/<name>`, `x` [2,3,6,6], `target` [2,36] (class ids as floats),
`losses` [10].
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)  # a bias before BatchNorm has zero gradient
        self.bn = nn.BatchNorm2d(8)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.gn = nn.GroupNorm(2, 4)
        self.proj = nn.Linear(4, 16)
        self.attn = nn.MultiheadAttention(16, 4, batch_first=True)
        self.norm = nn.LayerNorm(16)
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 3)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = F.gelu(self.gn(self.up(x)))
        x = F.avg_pool2d(x, 2)                      # [2, 4, 6, 6]
        tokens = self.proj(x.flatten(2).transpose(1, 2))  # [2, 36, 16]
        attended, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        h = self.norm(tokens + attended)
        return self.fc2(F.gelu(self.fc1(h)))         # [2, 36, 3]


def swift_names(model):
    """State with Swift's parameter names (MHA in-projection split into q/k/v)."""
    out = {}
    for name, p in model.named_parameters():
        if name == "attn.in_proj_weight":
            for part, chunk in zip("qkv", p.detach().chunk(3)):
                out[f"attn.{part}_proj.weight"] = chunk.clone()
        elif name == "attn.in_proj_bias":
            for part, chunk in zip("qkv", p.detach().chunk(3)):
                out[f"attn.{part}_proj.bias"] = chunk.clone()
        else:
            out[name] = p.detach().clone()
    return out


model = Net()
x = torch.rand(2, 3, 6, 6) * 2 - 1
target = torch.randint(0, 3, (2, 36))
tensors = {f"init/{k}": v.contiguous() for k, v in swift_names(model).items()}

norms = [p for n, p in model.named_parameters() if n.startswith(("bn.", "gn.", "norm."))]
slow = [p for n, p in model.named_parameters() if n == "attn.out_proj.weight"]
rest = [p for n, p in model.named_parameters() if not n.startswith(("bn.", "gn.", "norm.")) and n != "attn.out_proj.weight"]
base_lr, steps = 1e-2, 10
optimizer = torch.optim.AdamW([
    {"params": rest, "weight_decay": 1e-2, "scale": 1.0},
    {"params": slow, "weight_decay": 1e-2, "scale": 0.1},
    {"params": norms, "weight_decay": 0.0, "scale": 1.0},
], lr=base_lr, betas=(0.9, 0.999), eps=1e-8)
losses = []
for step in range(steps):
    lr = base_lr * 0.5 * (1 + math.cos(math.pi * step / steps))
    for group in optimizer.param_groups:
        group["lr"] = lr * group["scale"]
    optimizer.zero_grad()
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, 3), target.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    optimizer.step()
    losses.append(loss.item())

tensors.update({f"final/{k}": v.contiguous() for k, v in swift_names(model).items()})
tensors["running_mean"] = model.bn.running_mean.clone()
tensors["running_var"] = model.bn.running_var.clone()
tensors["x"] = x
tensors["target"] = target.float()
tensors["losses"] = torch.tensor(losses)
save_file(tensors, "adamw.safetensors", metadata={"torch": torch.__version__})
print("losses", [round(v, 5) for v in losses])
