"""Alternating pairs against the official FGA-seg code: our training step (`fgaseg-bench step`) or
one 384² inference crop at T = 150 (`fgaseg-bench segment`) against `official_step.py` of the
shared bench folder, run back to back in the same minutes.

    python3 ci/bench/official_pairs.py step|infer MODEL_DIR FGA_ROOT --torch-python VENV/bin/python
        [--pairs 3] [--threads 2] [--jemalloc /usr/lib/x86_64-linux-gnu/libjemalloc.so.2]

MODEL_DIR is a Hugging Face CLIP ViT-B/16 folder (ci/bench/make_random_clip.py writes one with
random weights); FGA_ROOT an extracted checkout of LiBingyu01/FGA-seg, outside this project and
never committed. The official side runs with `--true-length` (step) and, when --jemalloc is given,
once with glibc's allocator and once with jemalloc, and the faster of the two counts, as the issue
asks. The order within a pair alternates (ours first, then official first), so a steady drift
of the machine's speed favours neither; the verdict is the median of the per-pair ratios
ours / official. Every pair is printed. Needs only the standard library; the official side needs
ci/bench/requirements.txt plus pillow, torchvision, einops and timm in --torch-python.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
parser = argparse.ArgumentParser()
parser.add_argument("mode", choices=["step", "infer"])
parser.add_argument("model")
parser.add_argument("fga_root")
parser.add_argument("--torch-python", required=True)
parser.add_argument("--official-script", default=os.path.join(HERE, "../../../shared/bench/official_step.py"))
parser.add_argument("--bench", default=os.path.join(HERE, "../../.build/release/fgaseg-bench"))
parser.add_argument("--pairs", type=int, default=3)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--jemalloc", help="path of libjemalloc.so.2: also time the official side with it")
args = parser.parse_args()


def run(command, env=None):
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result.stdout


def ours():
    """Seconds of our warm step or of one T=150 crop."""
    if args.mode == "step":
        command = [args.bench, "step", "--model", args.model, "--threads", str(args.threads), "--no-scaling", "--json"]
        prefix = "fgaseg_vitb16_384_T171_train_step"
    else:
        command = [args.bench, "segment", "--model", args.model, "--threads", str(args.threads), "--no-sliding-window", "--json"]
        prefix = "segment_384_T150_one_crop"
    rows = [json.loads(line) for line in run(command).splitlines() if line.startswith("{")]
    return next(row["ours_s"] for row in rows if row["name"].startswith(prefix))


def official():
    """Seconds of the official step or crop: the faster allocator's, and every allocator's time."""
    command = [args.torch_python, args.official_script, args.fga_root, "--mode", "train" if args.mode == "step" else "infer",
               "--threads", str(args.threads), "--warmup", "1", "--steps", "1", "--json"]
    if args.mode == "step":
        command.append("--true-length")
    allocators = {"glibc": None}
    if args.jemalloc:
        allocators["jemalloc"] = dict(os.environ, LD_PRELOAD=args.jemalloc)
    times = {}
    for name, env in allocators.items():
        lines = [line for line in run(command, env).splitlines() if line.startswith("{")]
        times[name] = json.loads(lines[-1])["median_s"]
    return min(times.values()), times


ratios = []
for pair in range(args.pairs):
    if pair % 2 == 0:
        mine = ours()
        theirs, detail = official()
    else:
        theirs, detail = official()
        mine = ours()
    ratios.append(mine / theirs)
    allocators = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in detail.items())
    print(f"pair {pair + 1}: ours {mine:.2f} s, official {theirs:.2f} s ({allocators}): ratio {ratios[-1]:.3f}", flush=True)
values = sorted(ratios)
print(f"{args.mode}: median ours/official {statistics.median(values):.3f} (range {values[0]:.3f}–{values[-1]:.3f}, {len(values)} pairs)")
