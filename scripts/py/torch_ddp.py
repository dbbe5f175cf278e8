#!/usr/bin/python3
"""PyTorch DistributedDataParallel (gloo backend) on this machine, for the DDP benchmark: the
same MLP as ddp_train, batch 64 per process, one thread per process, the same data path as
torch_mlp.py (uint8 pixels, per-batch gather and standardisation; both from torch_ref.py); each
process takes its slice of every global batch. Prints the global samples/s of the training loop
alone.

    torch_ddp.py --np 2 --model models/fashion-mlp.cfg --batch 64 --steps 1000 [--synthetic]
"""
import os
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from torch_ref import bench_parser, load_train, mlp_setup, sgd_step, standardise


def worker(rank, a, init_file, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank,
                            world_size=a.np)
    sizes, net, opt, lossf = mlp_setup(a.model, a.lr,
                                       wrap=torch.nn.parallel.DistributedDataParallel)
    if a.synthetic:  # random data of the same shape (compare.sh --data synthetic)
        g0 = torch.Generator().manual_seed(1)
        x_all = torch.randint(0, 256, (60000, sizes[0]), dtype=torch.uint8, generator=g0)
        y_all = torch.randint(0, sizes[-1], (60000,), generator=g0)
        mean, std = torch.tensor(0.286), torch.tensor(0.353)
    else:
        x_all, y_all, mean, std = load_train(sizes[0])
    n = x_all.shape[0]
    g = a.batch * a.np
    per_epoch = n // g
    gen = torch.Generator().manual_seed(1)
    order = torch.randperm(n, generator=gen)
    t0 = None
    for s in range(a.warmup + a.steps):
        if s == a.warmup:
            dist.barrier()
            t0 = time.perf_counter()
        b = s % per_epoch
        if b == 0:
            order = torch.randperm(n, generator=gen)
        idx = order[b * g + rank * a.batch:b * g + (rank + 1) * a.batch]
        loss = sgd_step(net, opt, lossf, standardise(x_all[idx], mean, std), y_all[idx])
    dist.barrier()
    el = time.perf_counter() - t0
    if rank == 0:
        out.put((el, loss.item()))
    dist.destroy_process_group()


def main():
    ap = bench_parser(steps=1000, warmup=50, ranks=2)
    ap.add_argument("--synthetic", action="store_true", help="random data of the same shape")
    a = ap.parse_args()
    ctx = mp.get_context("spawn")
    out = ctx.SimpleQueue()
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(worker, args=(a, os.path.join(tmp, "init"), out), nprocs=a.np,
                           start_method="spawn")
        el, loss = out.get()
    print(f"torch {torch.__version__} DDP gloo np {a.np} model {a.model} batch {a.batch} "
          f"steps {a.steps} seconds {el:.3f} loss {loss:.4f}")
    print(f"torch_ddp_samples_per_s {a.steps * a.batch * a.np / el:.1f}")


if __name__ == "__main__":
    sys.exit(main())
