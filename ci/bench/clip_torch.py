"""PyTorch baseline of `fgaseg-bench clip`: the same work on the same random CLIP folder.

    python clip_torch.py MODEL_DIR [--threads N] [--vision-only]       # torch==2.15.0, transformers==5.23.0

Vision tower at 384 px (interpolated position embedding), batch 1: forward, and forward+backward
with only the q/v projection weights trainable. Text tower on the 171 COCO-Stuff prompts: forward
+ backward at 77 tokens (what the reference code does) and at the true prompt length. Prints one
JSON object per measurement (median of 3 after a warm-up) with peak RSS.
"""
import argparse
import json
import os
import resource
import statistics
import time

import torch
from transformers import CLIPModel, CLIPTokenizer

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("--threads", type=int, default=os.cpu_count())
parser.add_argument("--vision-only", action="store_true", help="skip the text tower (ci/bench/clip_pairs.py)")
parser.add_argument("--classes", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "../../Sources/Data/Resources/classnames/coco_stuff_171.txt"))
args = parser.parse_args()
torch.set_num_threads(args.threads)
model = CLIPModel.from_pretrained(args.model)
for name, p in model.named_parameters():
    p.requires_grad_(name.endswith(("q_proj.weight", "v_proj.weight")))
tokenizer = CLIPTokenizer.from_pretrained(args.model)
names = [line.strip() for line in open(args.classes) if line.strip()]
prompts = [f"A photo of a {n.split(', ')[0]} in the scene" for n in names]


def median_time(fn, repetitions=3):
    fn()
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(name, seconds):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"suite": "clip", "name": name, "baseline": f"pytorch {torch.__version__}", "baseline_s": round(seconds, 4),
                      "threads": args.threads, "peak_rss_mb": peak}), flush=True)


pixels = torch.randn(1, 3, 384, 384)
with torch.no_grad():
    report("vision_384_forward", median_time(lambda: model.get_image_features(pixel_values=pixels, interpolate_pos_encoding=True)))


def vision_step():
    model.zero_grad(set_to_none=True)
    model.vision_model(pixel_values=pixels, interpolate_pos_encoding=True).last_hidden_state.sum().backward()


report("vision_384_forward_backward", median_time(vision_step))
for label, padding in () if args.vision_only else (("77_tokens", "max_length"), ("true_length", "longest")):
    ids = tokenizer(prompts, padding=padding, max_length=77, truncation=True, return_tensors="pt")["input_ids"]

    def text_step(ids=ids):
        model.zero_grad(set_to_none=True)
        model.text_model(input_ids=ids).pooler_output.sum().backward()

    report(f"text_171_prompts_{label}_forward_backward", median_time(text_step))
