"""PyTorch gloo all-reduce of gradient-sized buffers, the baseline for `fgaseg-bench allreduce`.

    python allreduce_gloo.py --ranks 2 --millions 34 86      # torch==2.15.0 (see requirements.txt)

Spawns the ranks on this host (TCP on 127.0.0.1), times a barrier-aligned in-place SUM
all-reduce of float32 tensors (median of 5 after 1 warm-up, the slowest rank), and prints one
JSON object per size in fgaseg-bench's format.
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank, ranks, millions, port, results):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=ranks)
    for m in millions:
        buffer = torch.ones(m * 1_000_000)
        times = []
        for repetition in range(6):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(buffer)
            times.append(time.perf_counter() - start)
        median = torch.tensor([statistics.median(times[1:])], dtype=torch.float64)
        dist.all_reduce(median, op=dist.ReduceOp.MAX)
        if rank == 0:
            results.append({"suite": "allreduce", "name": f"gloo_{m}M_floats_n{ranks}", "baseline": "torch.distributed gloo",
                            "baseline_s": round(median.item(), 5), "gbps": round(m * 4e6 / median.item() / 1e9, 2),
                            "torch": torch.__version__})
    dist.destroy_process_group()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--millions", type=int, nargs="+", default=[34, 86])
    parser.add_argument("--port", type=int, default=29517)
    args = parser.parse_args()
    with mp.Manager() as manager:
        results = manager.list()
        mp.spawn(worker, args=(args.ranks, args.millions, args.port, results), nprocs=args.ranks)
        for row in results:
            print(json.dumps(row))
