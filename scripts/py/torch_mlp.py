#!/usr/bin/python3
"""PyTorch side of the benchmarks: train the same MLP as ddp_train on the same data path
(uint8 pixels in memory, per-batch gather, standardise, float32), one thread, and print the
samples/s of the training loop alone (data loading and evaluation excluded). The model and
data code is torch_ref.py's.

    torch_mlp.py --model models/fashion-mlp.cfg --batch 64 --steps 2000
"""
import sys
import time

import torch

from torch_ref import bench_parser, load_train, mlp_setup, sgd_step, standardise


def main():
    a = bench_parser(steps=2000, warmup=100).parse_args()
    torch.set_num_threads(1)
    sizes, net, opt, lossf = mlp_setup(a.model, a.lr)
    x_all, y_all, mean, std = load_train(sizes[0])
    n = x_all.shape[0]
    per_epoch = n // a.batch
    order = torch.randperm(n)
    t0 = None
    for s in range(a.warmup + a.steps):
        if s == a.warmup:
            t0 = time.perf_counter()
        b = s % per_epoch
        if b == 0:
            order = torch.randperm(n)
        idx = order[b * a.batch:(b + 1) * a.batch]
        loss = sgd_step(net, opt, lossf, standardise(x_all[idx], mean, std), y_all[idx])
    el = time.perf_counter() - t0
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} model "
          f"{'-'.join(map(str, sizes))} batch {a.batch} steps {a.steps} seconds {el:.3f} "
          f"loss {loss.item():.4f}")
    print(f"torch_samples_per_s {a.steps * a.batch / el:.1f}")


if __name__ == "__main__":
    sys.exit(main())
