#!/usr/bin/python3
"""PyTorch side of the benchmarks: train the same MLP as ddp_train on the same data path
(uint8 pixels in memory, per-batch gather, standardise, float32), one thread, and print the
samples/s of the training loop alone (data loading and evaluation excluded).

    torch_mlp.py --model models/fashion-mlp.cfg --batch 64 --steps 2000
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            raw = gzip.open(p).read() if p.endswith(".gz") else open(p, "rb").read()
            nd = raw[3]
            dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
            return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)
    raise FileNotFoundError(path)


def cfg_sizes(path):
    sizes, cur = [], None
    for line in open(path):
        line = line.split("#")[0].split(";")[0].strip()
        if line.startswith("["):
            cur = line
        elif "=" in line:
            k, v = (s.strip() for s in line.split("=", 1))
            if cur == "[net]" and k == "input":
                sizes.insert(0, int(v))
            if cur == "[dense]" and k == "units":
                sizes.append(int(v))
    return sizes


def mlp_setup(model, lr, wrap=lambda net: net):
    """The MLP of a model file (seeded like every benchmark run), wrapped by `wrap` (e.g. in
    DistributedDataParallel), its SGD (ddp_train's defaults) and loss: sizes, net, opt, lossf."""
    torch.manual_seed(0)
    sizes = cfg_sizes(model)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = wrap(torch.nn.Sequential(*layers))
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    return sizes, net, opt, torch.nn.CrossEntropyLoss()


def load_train(n_in):
    """The Fashion-MNIST training set as ddp_train keeps it: uint8 pixels (rows of n_in), int64
    labels, and the mean and standard deviation that standardise a batch."""
    x_all = torch.from_numpy(read_idx(os.path.join(DATA, "train-images-idx3-ubyte"))
                             .reshape(-1, n_in).copy())
    y_all = torch.from_numpy(read_idx(os.path.join(DATA, "train-labels-idx1-ubyte"))
                             .astype(np.int64))
    mean, std = x_all.float().mean() / 255, (x_all.float() / 255).std()
    return x_all, y_all, mean, std


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/fashion-mlp.cfg")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.02)
    a = ap.parse_args()
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
        x = (x_all[idx].float() / 255 - mean) / std
        y = y_all[idx]
        opt.zero_grad(set_to_none=True)
        loss = lossf(net(x), y)
        loss.backward()
        opt.step()
    el = time.perf_counter() - t0
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} model "
          f"{'-'.join(map(str, sizes))} batch {a.batch} steps {a.steps} seconds {el:.3f} "
          f"loss {loss.item():.4f}")
    print(f"torch_samples_per_s {a.steps * a.batch / el:.1f}")


if __name__ == "__main__":
    sys.exit(main())
