#!/usr/bin/python3
"""torch_dp.py: DataParallel on the CPU as torch does it, in real CPython threads, beside serial:
the real-interpreter-lock reference for tinyddp's `ddp_train --mode dp --gil`. The model and data
code is torch_ref.py's (the same model files and data path as ddp_train).

Variants (run interleaved, round by round, so that their ratios come from one run):
  serial         one thread, the global batch (workers x batch)
  dp-replicate   per step: replicate the model (copy.deepcopy: torch.nn.parallel.replicate needs
                 CUDA devices), scatter the batch, one threading.Thread per worker doing forward
                 and backward on its slice (parallel_apply), gather (sum the replicas' gradients
                 on the master), optimizer step
  dp-kept        the same with the replicas made once and the master weights copied into them
                 every step
  dp-sequential  dp-kept with the workers run one after the other on the main thread (control)
  dp-procs       control of the cores: `workers` processes each running the per-worker forward
                 and backward on their own model, no lock shared (samples/s summed)

Output, machine-readable, one line per variant:
  dp_result variant=V samples_per_s=S step_us=U replicate_us=.. scatter_us=.. compute_us=..
            gather_us=.. optim_us=.. ctxsw_per_step=..
(times are per step; ctxsw_per_step, with --count-switches, counts the voluntary context switches of
 the worker threads per step, a proxy for the interpreter lock's hand-offs: a thread that finds the lock taken
 sleeps on it.)

    torch_dp.py --model models/fashion-mlp.cfg --batch 64 --workers 2 --steps 400
"""
import copy
import multiprocessing as mp
import os
import sys
import threading
import time

# One BLAS thread in every thread: torch.set_num_threads(1) limits the main thread's intra-op
# pool, but Debian's torch calls OpenBLAS (pthreads build), whose own pool serves every calling
# thread; left at its default (the cores), two worker threads each start a 2-thread GEMM on 2
# cores (measured: the threads then run at half the speed of the same work done sequentially).
# TORCH_DP_BLAS_DEFAULT=1 keeps the libraries' defaults, to measure that.
if os.environ.get("TORCH_DP_BLAS_DEFAULT") != "1":
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import torch  # noqa: E402

from torch_ref import bench_parser, cfg_sizes, ctxsw, mlp_setup, read_idx, DATA  # noqa: E402

VARIANTS = ["serial", "dp-replicate", "dp-kept", "dp-sequential"]


def load_data(n_in, synthetic):
    """uint8 pixels and int64 labels, as ddp_train keeps them (Fashion-MNIST or random)."""
    if not synthetic:
        try:
            x = torch.from_numpy(read_idx(os.path.join(DATA, "train-images-idx3-ubyte"))
                                 .reshape(-1, n_in).copy())
            y = torch.from_numpy(read_idx(os.path.join(DATA, "train-labels-idx1-ubyte"))
                                 .astype("int64"))
            return x, y
        except (FileNotFoundError, ValueError):
            pass
    g = torch.Generator().manual_seed(1)
    return (torch.randint(0, 256, (60000, n_in), dtype=torch.uint8, generator=g),
            torch.randint(0, 10, (60000,), generator=g))


class Runner:
    """One variant's state: the master model, its optimizer, replicas, the timing sums."""

    def __init__(self, a, variant):
        self.a, self.variant = a, variant
        self.sizes, self.net, self.opt, self.lossf = mlp_setup(a.model, a.lr)
        self.replicas = None
        if variant in ("dp-kept", "dp-sequential"):
            self.replicas = [copy.deepcopy(self.net) for _ in range(a.workers)]
        self.t = dict(replicate=0.0, scatter=0.0, compute=0.0, gather=0.0, optim=0.0)
        self.ctxsw = 0
        self.steps = 0

    def batch(self, x_all, y_all, s):
        """The step's global batch, standardised float32 (the same rows for every variant)."""
        gb = self.a.batch * self.a.workers
        lo = (s * gb) % (x_all.shape[0] - gb)
        return (x_all[lo:lo + gb].float() / 255 - 0.286) / 0.353, y_all[lo:lo + gb]

    def step(self, x_all, y_all, s):
        a, t = self.a, self.t
        x, y = self.batch(x_all, y_all, s)
        t0 = time.perf_counter()
        if self.variant == "serial":
            self.net.zero_grad(set_to_none=True)
            self.lossf(self.net(x), y).backward()
            t3 = time.perf_counter()
            t["compute"] += t3 - t0
        else:
            if self.variant == "dp-replicate":
                reps = [copy.deepcopy(self.net) for _ in range(a.workers)]
            else:
                reps = self.replicas
                with torch.no_grad():
                    for r in reps:
                        for rp, mp_ in zip(r.parameters(), self.net.parameters()):
                            rp.copy_(mp_)
            t1 = time.perf_counter()
            xs, ys = x.chunk(a.workers), y.chunk(a.workers)
            t2 = time.perf_counter()
            sw = [0] * a.workers

            count = a.count_switches

            def work(i):
                c0 = ctxsw() if count else 0
                r = reps[i]
                r.zero_grad(set_to_none=True)
                self.lossf(r(xs[i]), ys[i]).backward()
                if count:
                    sw[i] = ctxsw() - c0

            if self.variant == "dp-sequential":
                for i in range(a.workers):
                    work(i)
            else:
                th = [threading.Thread(target=work, args=(i,)) for i in range(a.workers)]
                for h in th:
                    h.start()
                for h in th:
                    h.join()
            t3 = time.perf_counter()
            with torch.no_grad():
                rps = [list(r.parameters()) for r in reps]
                for j, p in enumerate(self.net.parameters()):
                    g = rps[0][j].grad.clone()
                    for r in rps[1:]:
                        g.add_(r[j].grad)
                    p.grad = g.div_(a.workers)
            t["replicate"] += t1 - t0
            t["scatter"] += t2 - t1
            t["compute"] += t3 - t2
            t["gather"] += time.perf_counter() - t3
            self.ctxsw += sum(sw)
        t4 = time.perf_counter()
        self.opt.step()
        t["optim"] += time.perf_counter() - t4
        self.steps += 1
        return time.perf_counter() - t0

    def line(self, seconds):
        n = max(self.steps, 1)
        gb = self.a.batch * self.a.workers
        us = {k: f"{v / n * 1e6:.1f}" for k, v in self.t.items()}
        return (f"dp_result variant={self.variant} samples_per_s={self.steps * gb / seconds:.1f} "
                f"step_us={seconds / n * 1e6:.1f} replicate_us={us['replicate']} "
                f"scatter_us={us['scatter']} compute_us={us['compute']} "
                f"gather_us={us['gather']} optim_us={us['optim']} "
                f"ctxsw_per_step={self.ctxsw / n:.2f}")


def proc_worker(a, steps, q):
    """dp-procs: one process running the per-worker forward and backward on its own model."""
    torch.set_num_threads(1)
    sizes, net, opt, lossf = mlp_setup(a.model, a.lr)
    x = torch.randn(a.batch, sizes[0])
    y = torch.randint(0, sizes[-1], (a.batch,))
    q.get()  # start together
    t0 = time.perf_counter()
    for _ in range(steps):
        net.zero_grad(set_to_none=True)
        lossf(net(x), y).backward()
    q.put(time.perf_counter() - t0)


def run_procs(a):
    """Samples/s of `workers` independent processes (each at the per-worker batch)."""
    ctx = mp.get_context("fork")
    qs = [ctx.Queue() for _ in range(a.workers)]
    ps = [ctx.Process(target=proc_worker, args=(a, a.steps, q)) for q in qs]
    for p in ps:
        p.start()
    time.sleep(0.2)
    for q in qs:
        q.put(1)
    times = []
    for q in qs:
        while True:
            v = q.get()
            if isinstance(v, float):
                times.append(v)
                break
            q.put(v)
    for p in ps:
        p.join()
    return a.workers * a.steps * a.batch / max(times)


def main():
    ap = bench_parser(steps=300, warmup=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help="comma-separated: " + ", ".join(VARIANTS + ["dp-procs"]))
    ap.add_argument("--rounds", type=int, default=3,
                    help="the steps are run in this many interleaved rounds")
    ap.add_argument("--synthetic", action="store_true", help="random data of the same shape")
    ap.add_argument("--count-switches", action="store_true",
                    help="count the worker threads' voluntary context switches (costs ~20 us "
                         "per worker per step: off for timing)")
    ap.add_argument("--switch-interval", type=float, default=None,
                    help="sys.setswitchinterval, in ms (CPython's default: 5)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.switch_interval is not None:
        sys.setswitchinterval(a.switch_interval / 1000.0)
    names = a.variants.split(",")
    for v in names:
        if v not in VARIANTS + ["dp-procs"]:
            ap.error(f"--variants: unknown variant {v!r}")
    sizes = cfg_sizes(a.model)
    x_all, y_all = load_data(sizes[0], a.synthetic)
    runners = [Runner(a, v) for v in names if v != "dp-procs"]
    for r in runners:
        for s in range(a.warmup):
            r.step(x_all, y_all, s)
        r.t = {k: 0.0 for k in r.t}
        r.steps, r.ctxsw = 0, 0
    elapsed = {r.variant: 0.0 for r in runners}
    per_round = max(a.steps // a.rounds, 1)
    for rnd in range(a.rounds):
        for r in runners:
            for s in range(per_round):
                elapsed[r.variant] += r.step(x_all, y_all, rnd * per_round + s)
    print(f"torch {torch.__version__} python {sys.version.split()[0]} intra-op threads "
          f"{torch.get_num_threads()} model {'-'.join(map(str, sizes))} batch/worker {a.batch} "
          f"workers {a.workers} steps {per_round * a.rounds} switch_interval_ms "
          f"{sys.getswitchinterval() * 1000:g} load {os.getloadavg()[0]:.2f}")
    for r in runners:
        print(r.line(elapsed[r.variant]))
    if "dp-procs" in names:
        print(f"dp_result variant=dp-procs samples_per_s={run_procs(a):.1f}")


if __name__ == "__main__":
    sys.exit(main())
