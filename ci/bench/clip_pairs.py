"""Paired, interleaved timing of the CLIP vision tower: ours (`fgaseg-bench clip --vision-only`)
against PyTorch (`clip_torch.py --vision-only`) on the same folder and thread count.

    python3 ci/bench/clip_pairs.py MODEL_DIR --torch-python /path/to/venv/bin/python [--pairs 6] [--threads 2]

On a shared or virtualised machine the speed of both drifts by ±30% from minute to minute, so two
separate runs say little. Here each pair runs the two programs back to back (the order alternates,
ABBA, so a steady drift favours neither), and the verdict is the median of the per-pair ratios
ours / PyTorch (below 1: ours is faster). Needs only the standard library; the PyTorch side needs
ci/bench/requirements.txt in the interpreter given by --torch-python.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("--torch-python", required=True, help="a Python interpreter with torch and transformers")
parser.add_argument("--bench", default=os.path.join(HERE, "../../.build/release/fgaseg-bench"))
parser.add_argument("--pairs", type=int, default=6)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()


def measurements(command):
    """Runs `command` and returns {name: seconds} from the JSON lines it prints."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {row["name"]: row.get("ours_s", row.get("baseline_s")) for row in rows}


ours_command = [args.bench, "clip", "--model", args.model, "--threads", str(args.threads), "--vision-only", "--json"]
torch_command = [args.torch_python, os.path.join(HERE, "clip_torch.py"), args.model, "--threads", str(args.threads), "--vision-only"]
names = ["vision_384_forward", "vision_384_forward_backward"]
ratios = {name: [] for name in names}
for pair in range(args.pairs):
    runs = [("ours", ours_command), ("torch", torch_command)][::1 if pair % 2 == 0 else -1]
    timed = {label: measurements(command) for label, command in runs}
    ours, torch = timed["ours"], timed["torch"]
    cells = []
    for name in names:
        ratios[name].append(ours[name] / torch[name])
        cells.append(f"{name} {ours[name]:.3f} s vs {torch[name]:.3f} s ({ratios[name][-1]:.2f})")
    print(f"pair {pair + 1}: " + "; ".join(cells), flush=True)
for name in names:
    values = sorted(ratios[name])
    print(f"{name}: median ours/PyTorch {statistics.median(values):.2f} (range {values[0]:.2f}–{values[-1]:.2f}, {len(values)} pairs)")
