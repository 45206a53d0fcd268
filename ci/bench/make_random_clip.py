"""Writes a Hugging Face folder with a random-weight CLIP of a real size, for benchmarks:
config.json, model.safetensors, and vocab.json + merges.txt built from OpenAI's BPE file.

    python make_random_clip.py OUT_DIR [--size vit-b-16|vit-l-14-336] [--bpe ../../../shared/clip/bpe_simple_vocab_16e6.txt.gz]

Nothing it writes is committed; the weights are random (seed 0).
"""
import argparse
import gzip
import json
import os

import torch
from transformers import CLIPConfig, CLIPModel

SIZES = {
    "vit-b-16": dict(text=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8),
                     vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                                 image_size=224, patch_size=16), projection_dim=512),
    "vit-l-14-336": dict(text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12),
                         vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                                     image_size=336, patch_size=14), projection_dim=768),
}

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--size", default="vit-b-16", choices=SIZES)
parser.add_argument("--bpe", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "../../../shared/clip/bpe_simple_vocab_16e6.txt.gz"))
args = parser.parse_args()
torch.manual_seed(0)
size = SIZES[args.size]
config = CLIPConfig(text_config=dict(vocab_size=49408, max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407,
                                     pad_token_id=49407, **size["text"]),
                    vision_config=size["vision"], projection_dim=size["projection_dim"])
CLIPModel(config).save_pretrained(args.out, safe_serialization=True)

printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
characters, n = printable[:], 0
for b in range(256):
    if b not in printable:
        characters.append(256 + n)
        n += 1
alphabet = [chr(c) for c in characters]
lines = gzip.open(args.bpe).read().decode("utf-8").split("\n")
merges = [tuple(line.split()) for line in lines[1:49152 - 256 - 2 + 1]]
vocab = alphabet + [a + "</w>" for a in alphabet] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
json.dump({t: i for i, t in enumerate(vocab)}, open(os.path.join(args.out, "vocab.json"), "w"))
with open(os.path.join(args.out, "merges.txt"), "w") as f:
    f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
print("wrote", args.out)
