"""A PyTorch reference of FGAseg's modules written from ../../../../shared/FGASEG_SPEC.md
(§3.5–3.13), with the Swift modules' parameter names. Imported by the fixture scripts here.

Checked locally (not in CI) against the official FGA-seg modules (LiBingyu01/FGA-seg,
FGA_seg/modeling/transformer/*.py) on shared weights: P2Tformer, Local_align, the Swin pair,
ClassTransformerLayer and the whole Decoder (cat/add fusion, pooling 1/2, top-N above the
padding length) agree to ~1e-6.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def sine_positions(h, w, features):
    """DETR sine encoding, normalised, [h*w, 2*features] (row features, then column features)."""
    y = torch.arange(1, h + 1, dtype=torch.float32)[:, None].expand(h, w) / (h + 1e-6) * 2 * math.pi
    x = torch.arange(1, w + 1, dtype=torch.float32)[None, :].expand(h, w) / (w + 1e-6) * 2 * math.pi
    dim_t = 10000 ** (2 * (torch.arange(features) // 2) / features)
    py, px = y[..., None] / dim_t, x[..., None] / dim_t
    py = torch.stack((py[..., 0::2].sin(), py[..., 1::2].cos()), dim=3).flatten(2)
    px = torch.stack((px[..., 0::2].sin(), px[..., 1::2].cos()), dim=3).flatten(2)
    return torch.cat((py, px), dim=2).reshape(h * w, 2 * features)


class Attention(nn.Module):
    """Multi-head attention, batch-first, separate q/k/v projections (as torch's MHA math)."""
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(width, width) for _ in range(4))

    def forward(self, query, key, value):
        b, l, c = query.shape
        d = c // self.heads
        split = lambda t: t.reshape(b, -1, self.heads, d).transpose(1, 2)
        q, k, v = split(self.q_proj(query)) * d ** -0.5, split(self.k_proj(key)), split(self.v_proj(value))
        out = (q @ k.transpose(-1, -2)).softmax(-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, l, c))


class PixelToTextLayer(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.multihead_attn = Attention(width, heads)
        self.MLP = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, text, pixels, positions):
        return self.norm(text + self.MLP(self.multihead_attn(text, pixels + positions, pixels)))


class P2Tformer(nn.Module):
    def __init__(self, width, heads, layers=1):
        super().__init__()
        self.cross_atten_text = nn.ModuleList([PixelToTextLayer(width, heads) for _ in range(layers)])
        self.gamma_text = nn.Parameter(torch.ones(width) * 0.1)

    def forward(self, image, text):
        b, c, h, w = image.shape
        positions = sine_positions(h, w, c // 2)
        pixels = image.flatten(2).transpose(1, 2)
        initial = text[None].expand(b, -1, -1)
        current = initial
        for layer in self.cross_atten_text:
            current = layer(current, pixels, positions)
        return initial + self.gamma_text * current


class LocalCategoryCost(nn.Module):
    def __init__(self, text_width, channels, k):
        super().__init__()
        self.k, self.channels = k, channels
        self.txt = nn.Linear(text_width, channels * k * k + 1)

    def forward(self, image, text):
        b, t, _ = text.shape
        u = self.txt(F.normalize(text, dim=-1))
        taps = u[..., :-1].reshape(b, t, self.channels, self.k * self.k).softmax(-1).reshape(b, t, self.channels, self.k, self.k)
        bias = u[..., -1]
        x = F.normalize(image, dim=1)
        return torch.cat([F.conv2d(x[i:i + 1], taps[i], bias[i], padding=self.k // 2) for i in range(b)])


class Mlp(nn.Module):
    def __init__(self, width, hidden, act):
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(width, hidden), nn.Linear(hidden, width), act

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class WindowAttention(nn.Module):
    def __init__(self, width, guidance, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k = nn.Linear(width + guidance, width), nn.Linear(width + guidance, width)
        self.v, self.proj = nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, tokens, guided, mask):
        w, n, c = tokens.shape
        d = c // self.heads
        split = lambda t: t.reshape(w, n, self.heads, d).transpose(1, 2)
        scores = split(self.q(guided)) * d ** -0.5 @ split(self.k(guided)).transpose(-1, -2)
        if mask is not None:
            scores = (scores.view(w // mask.shape[0], mask.shape[0], self.heads, n, n) + mask[None, :, None]).view(w, self.heads, n, n)
        out = scores.softmax(-1) @ split(self.v(tokens))
        return self.proj(out.transpose(1, 2).reshape(w, n, c))


def partition(x, s):
    b, h, w, c = x.shape
    return x.view(b, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, s * s, c)


def reverse(windows, s, h, w):
    b = windows.shape[0] // (h * w // s // s)
    return windows.view(b, h // s, w // s, s, s, -1).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, -1)


class SwinBlock(nn.Module):
    def __init__(self, width, guidance, resolution, heads, window, shift):
        super().__init__()
        self.h, self.w = resolution
        if min(resolution) <= window:
            window, shift = min(resolution), 0
        self.window, self.shift = window, shift
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = WindowAttention(width, guidance, heads)
        self.mlp = Mlp(width, 4 * width, F.gelu)
        self.mask = None
        if shift > 0:  # standard Swin region mask
            labels = torch.zeros(1, self.h, self.w, 1)
            count = 0
            for hs in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
                for ws in (slice(0, -window), slice(-window, -shift), slice(-shift, None)):
                    labels[:, hs, ws, :] = count
                    count += 1
            windows = partition(labels, window).squeeze(-1)
            diff = windows[:, None, :] - windows[:, :, None]
            self.mask = diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)

    def forward(self, x, guidance):
        n, _, c = x.shape
        m = torch.cat([self.norm1(x), guidance], -1).view(n, self.h, self.w, -1)
        if self.shift:
            m = torch.roll(m, (-self.shift, -self.shift), (1, 2))
        guided = partition(m, self.window)
        out = reverse(self.attn(guided[..., :c], guided, self.mask), self.window, self.h, self.w)
        if self.shift:
            out = torch.roll(out, (self.shift, self.shift), (1, 2))
        h = x + out.reshape(n, self.h * self.w, c)
        return h + self.mlp(self.norm2(h))


class SpatialAggregation(nn.Module):
    def __init__(self, width, guidance, resolution, heads, window):
        super().__init__()
        self.block_1 = SwinBlock(width, guidance, resolution, heads, window, 0)
        self.block_2 = SwinBlock(width, guidance, resolution, heads, window, window // 2)
        self.guidance_norm = nn.LayerNorm(guidance)

    def forward(self, x, guidance):
        b, c, t, h, w = x.shape
        tokens = x.permute(0, 2, 3, 4, 1).reshape(b * t, h * w, c)
        g = self.guidance_norm(guidance.flatten(2).transpose(1, 2))[:, None].expand(b, t, h * w, -1).reshape(b * t, h * w, -1)
        out = self.block_2(self.block_1(tokens, g), g)
        return out.reshape(b, t, h, w, c).permute(0, 4, 1, 2, 3)


class LinearAttention(nn.Module):
    def __init__(self, width, guidance, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(width + guidance, width), nn.Linear(width + guidance, width), nn.Linear(width, width)

    def forward(self, x, guidance):
        n, l, c = x.shape
        guided = torch.cat([x, guidance], -1)
        split = lambda t: t.reshape(n, l, self.heads, c // self.heads)
        q, k, v = F.elu(split(self.q(guided))) + 1, F.elu(split(self.k(guided))) + 1, split(self.v(x))
        kv = torch.einsum("nshd,nshv->nhdv", k, v)
        z = 1 / (torch.einsum("nlhd,nhd->nlh", q, k.sum(1)) + 1e-6)
        return torch.einsum("nlhd,nhdv,nlh->nlhv", q, kv, z).reshape(n, l, c)


class ClassAggregation(nn.Module):
    def __init__(self, width, guidance, heads, pooling, pad):
        super().__init__()
        self.pooling, self.pad = pooling, pad
        self.attention = LinearAttention(width, guidance, heads)
        self.MLP = Mlp(width, 4 * width, F.relu)
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.padding_tokens = nn.Parameter(torch.zeros(width))
        self.padding_guidance = nn.Parameter(torch.zeros(guidance))

    def forward(self, x, guidance):
        b, c, t, h, w = x.shape
        pooled = F.avg_pool2d(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), self.pooling)
        ph, pw = pooled.shape[-2:]
        classes = pooled.reshape(b, t, c, ph, pw)
        g = guidance
        if t < self.pad:
            classes = torch.cat([classes, self.padding_tokens[None, None, :, None, None].expand(b, self.pad - t, c, ph, pw)], 1)
            g = torch.cat([g, self.padding_guidance[None, None].expand(b, self.pad - t, -1)], 1)
        tp = classes.shape[1]
        tokens = classes.permute(0, 3, 4, 1, 2).reshape(b * ph * pw, tp, c)
        g = g[:, None].expand(b, ph * pw, tp, -1).reshape(b * ph * pw, tp, -1)
        tokens = tokens + self.attention(self.norm1(tokens), g)
        tokens = tokens + self.MLP(self.norm2(tokens))
        maps = tokens.reshape(b, ph, pw, tp, c).permute(0, 3, 4, 1, 2).reshape(b * tp, c, ph, pw)
        up = F.interpolate(maps, size=(h, w), mode="bilinear", align_corners=True).reshape(b, tp, c, h, w)[:, :t]
        return x + up.permute(0, 2, 1, 3, 4)


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.double_conv = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.GroupNorm(cout // 16, cout), nn.ReLU(),
                                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.GroupNorm(cout // 16, cout), nn.ReLU())

    def forward(self, x):
        return self.double_conv(x)


class UpStage(nn.Module):
    def __init__(self, cin, cout, guidance):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin - guidance, 2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x, guidance):
        x = self.up(x)
        t = x.shape[0] // guidance.shape[0]
        return self.conv(torch.cat([x, guidance.repeat_interleave(t, dim=0)], 1))


class CostAggregationDecoder(nn.Module):
    """Spec §3.6-3.10, §3.13, with the Swift module's parameter names."""
    def __init__(self, text=32, channels=32, hidden=32, tg=16, ag=16, dims=(16, 16), gdims=(24, 12), gproj=(8, 4), layers=2,
                 heads=4, resolution=12, window=6, pooling=2, pad=8, k=3, fusion="cat", fast=False):
        super().__init__()
        self.fast = fast
        if fast:  # SED-style rejection heads (spec §3.12), not detached
            self.head_auxi_0, self.head_auxi_1 = nn.Conv2d(hidden, 1, 3, padding=1), nn.Conv2d(hidden, 1, 3, padding=1)
            self.head_auxi_2 = nn.Conv2d(hidden // 2, 1, 3, padding=1)
        self.hidden, self.pad, self.fusion = hidden, pad, fusion
        self.conv1, self.conv2 = nn.Conv2d(1, hidden, 7, padding=3), nn.Conv2d(1, hidden, 7, padding=3)
        if fusion == "cat":
            self.conv_cat, self.conv_cat_decoder_1 = nn.Linear(2 * hidden, hidden), nn.Linear(2 * hidden, hidden)
            self.conv_cat_decoder_2 = nn.Linear(hidden, hidden // 2)
        self.corr_local_decoder_projection = nn.Sequential(nn.ConvTranspose2d(hidden, hidden // 2, 2, stride=2), DoubleConv(hidden // 2, hidden // 2))
        self.guidance_projection = nn.Sequential(nn.Conv2d(channels, ag, 3, padding=1))
        self.text_guidance_projection = nn.Sequential(nn.Linear(text, tg))
        self.decoder_guidance_projection = nn.ModuleList([nn.Sequential(nn.Conv2d(d, p, 3, padding=1)) for d, p in zip(gdims, gproj)])
        self.decoder1, self.decoder2 = UpStage(hidden, dims[0], gproj[0]), UpStage(dims[0], dims[1], gproj[1])
        self.head = nn.Conv2d(dims[1], 1, 3, padding=1)
        self.Local_align = LocalCategoryCost(text, channels, k)
        self.layers = nn.ModuleList()
        for _ in range(layers):
            layer = nn.Module()
            layer.swin_block = SpatialAggregation(hidden, ag, (resolution, resolution), heads, window)
            layer.attention = ClassAggregation(hidden, tg, heads, pooling, pad)
            self.layers.append(layer)

    def fuse(self, layer, a, b):
        if self.fusion != "cat":
            return a + b
        x = torch.cat([a, b], 1)
        order = [0] + list(range(2, x.dim())) + [1]
        inverse = [order.index(i) for i in range(x.dim())]
        return layer(x.permute(order)).permute(inverse)

    def embed(self, cost, conv):
        b, t, h, w = cost.shape
        return conv(cost.reshape(b * t, 1, h, w)).reshape(b, t, self.hidden, h, w).permute(0, 2, 1, 3, 4)

    def forward(self, image, text, g1, g2):
        b, total = text.shape[:2]
        kept = None
        if self.pad > 0 and total > self.pad:
            best = torch.einsum("bchw,btc->bthw", F.normalize(image, dim=1), F.normalize(text, dim=-1)).flatten(2).max(-1)[0]
            kept = best.topk(self.pad, dim=-1)[1].sort(dim=-1)[0]
            text = torch.gather(text, 1, kept[..., None].expand(-1, -1, text.shape[-1]))
        t = text.shape[1]
        cg = torch.einsum("bchw,btc->bthw", F.normalize(image, dim=1), F.normalize(text, dim=-1))
        ge, le = self.embed(cg, self.conv1), self.embed(self.Local_align(image, text), self.conv2)
        appearance = F.relu(self.guidance_projection(image))
        tguid = F.relu(self.text_guidance_projection(F.normalize(text, dim=-1)))
        guides = [F.relu(p(g)) for p, g in zip(self.decoder_guidance_projection, (g1, g2))]
        cost = self.fuse(getattr(self, "conv_cat", None), ge, le)
        c0, h0, w0 = self.hidden, cost.shape[3], cost.shape[4]
        aux = []
        if self.fast:
            aux.append(self.head_auxi_0(cost.permute(0, 2, 1, 3, 4).reshape(b * t, c0, h0, w0)).reshape(b, t, h0, w0))
        for layer in self.layers:
            cost = layer.attention(layer.swin_block(cost, appearance), tguid)
        c, h, w = self.hidden, cost.shape[3], cost.shape[4]
        per_class = lambda x: x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        local = per_class(le)
        maps = self.fuse(getattr(self, "conv_cat_decoder_1", None), per_class(cost), local)
        if self.fast:
            aux.append(self.head_auxi_1(maps).reshape(b, t, h, w))
        maps = self.decoder1(maps, guides[0])
        maps = self.fuse(getattr(self, "conv_cat_decoder_2", None), maps, F.relu(self.corr_local_decoder_projection(local)))
        if self.fast:
            aux.append(self.head_auxi_2(maps).reshape(b, t, 2 * h, 2 * w))
        maps = self.decoder2(maps, guides[1])
        logits = self.head(maps).reshape(b, t, 4 * h, 4 * w)
        self.auxiliary = aux
        if kept is None:
            return logits
        out = torch.full((b, total, 4 * h, 4 * w), -100.0)
        return out.scatter(1, kept[..., None, None].expand(-1, -1, 4 * h, 4 * w), logits)




class TextToPixelProjector(nn.Module):
    """T2P branch (spec §3.11), names as the Swift module (the reference's Projector layout)."""
    def __init__(self, channels, text):
        super().__init__()
        half = channels // 2
        self.half = half
        stage = lambda cin, cout: nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
        self.vis = nn.Module()
        self.vis.add_module("1", stage(channels, channels))
        self.vis.add_module("3", stage(channels, half))
        self.vis.add_module("4", nn.Conv2d(half, half, 1))
        self.txt = nn.Linear(text, half * 9 + 1)

    def forward(self, image, text):
        v = getattr(self.vis, "1"), getattr(self.vis, "3"), getattr(self.vis, "4")
        x = F.relu(v[0](F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)))
        x = F.relu(v[1](F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)))
        x = v[2](x)
        b, t, _ = text.shape
        u = self.txt(text)
        kernels, bias = u[..., :-1].reshape(b, t, self.half, 3, 3), u[..., -1]
        return torch.cat([F.conv2d(x[i:i + 1], kernels[i], bias[i], padding=1) for i in range(b)])


def clip_dense_features(clip, pixels, taps):
    """FGAseg's CLIP image path (spec §3.2): dense value-path features and block taps."""
    vision = clip.vision_model
    hidden = vision.pre_layrnorm(vision.embeddings(pixels, interpolate_pos_encoding=True))
    outputs = {}
    layers = vision.encoder.layers
    for index, layer in enumerate(layers[:-1]):
        hidden = layer(hidden, None)
        outputs[index] = hidden
    last = layers[-1]
    u = last.self_attn.out_proj(last.self_attn.v_proj(last.layer_norm1(hidden))) + hidden[:, :1]
    hidden = u + last.mlp(last.layer_norm2(u))
    return clip.visual_projection(vision.post_layernorm(hidden)), outputs


class FGAseg(nn.Module):
    """Spec §2: CLIP → P2Tformer → decoder (+ T2P in training)."""
    def __init__(self, clip, guidance=(24, 12), blocks=(3, 7), p2t_heads=4, decoder=None):
        super().__init__()
        self.clip, self.blocks = clip, blocks
        width, embedding = clip.config.vision_config.hidden_size, clip.config.projection_dim
        self.upsample1 = nn.ConvTranspose2d(width, guidance[0], 2, stride=2)
        self.upsample2 = nn.ConvTranspose2d(width, guidance[1], 4, stride=4)
        self.p2tformer = P2Tformer(embedding, p2t_heads, 1)
        self.decoder = decoder
        self.projector = TextToPixelProjector(embedding, embedding)

    def class_embeddings(self, ids):
        return F.normalize(self.clip.text_projection(self.clip.text_model(input_ids=ids).pooler_output), dim=-1)

    def forward(self, pixels, classes, training):
        dense, taps = clip_dense_features(self.clip, pixels, self.blocks)
        b, n, c = dense.shape
        g = int(round((n - 1) ** 0.5))
        grid = lambda x: x[:, 1:].transpose(1, 2).reshape(b, x.shape[2], g, g)
        image = grid(dense)
        guidance = [self.upsample1(grid(taps[self.blocks[0]])), self.upsample2(grid(taps[self.blocks[1]]))]
        text = self.p2tformer(image, classes)
        for layer in self.decoder.layers:
            layer.attention.pooling = self.pooling if training else 1
        logits = self.decoder(image, text, guidance[0], guidance[1])
        return logits, (self.projector(image, text) if training else None)


def fgaseg_losses(logits, t2p, labels, t2p_weight=0.02, auxiliary=(), auxiliary_weights=(0.2, 1.0, 1.0)):
    """Spec §4 (code): BCE on bilinearly up-sampled logits vs one-hot (ignored pixels all-negative)
    and BCE of the T2P logits vs nearest-down-sampled one-hot."""
    b, t = logits.shape[:2]
    h, w = labels.shape[-2:]
    onehot = torch.zeros(b, t, h, w)
    valid = labels < t
    onehot.scatter_(1, torch.where(valid, labels, 0)[:, None], valid[:, None].float())
    main = F.binary_cross_entropy_with_logits(F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False), onehot)
    small = F.interpolate(onehot, size=t2p.shape[-2:], mode="nearest")
    align = F.binary_cross_entropy_with_logits(t2p, small)
    total = main + t2p_weight * align
    for head, weight in zip(auxiliary, auxiliary_weights):  # fast decoder: each head up-sampled like the main logits
        total = total + weight * F.binary_cross_entropy_with_logits(F.interpolate(head, size=(h, w), mode="bilinear", align_corners=False), onehot)
    return main, align, total
