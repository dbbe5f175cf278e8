#!/usr/bin/python3
"""gil_probe.py: what slows CPython threads running an MLP's steps, measured part by part, and the
costs that tinyddp's emulated lock is calibrated with (scripts/gil-calibrate writes them to a file).

  1. per layer, at batch 1 in one thread: the interpreter's cost of a module's forward call, of
     its autograd node in backward, and of the loss (the native kernels are negligible there);
  2. the same work in two long-running threads against one after the other (printed: they overlap
     part of it), and in a DP step's regime, two threads started, each doing one step, joined
     (nothing overlaps, and the work runs contended_factor times longer); all of (1) is written
     as held. (1)-(3) run on the model's layers at width 4: no kernel time is counted;
  3. the master's Python-side costs per parameter tensor: replicate (copy.deepcopy), copying the
     weights into kept replicas, gather (summing the replicas' gradients), the SGD step, and the
     start and join of a threading.Thread; then the same four on the model's own sizes, less the
     skeleton's and less tinyddp's own C time for them (--ddp-train: a ddp_train run), per MB of
     parameters (PyTorch's kernels there are slower than tinyddp's loops, and that is part of
     what the master costs);
  4. the notebook's pure-Python count(n) in two threads against one after the other (the
     kernels' loop_contended_factor);
  5. a numpy-kernel MLP (matmul releases the lock, the rest is interpreter) in threads against one
     after the other, and with sys.setswitchinterval 0.1 ms and 50 ms;
  6. a DP step at batch 64 on the real model, timed from inside the threads: how late worker 1
     begins (quantiles), the threads against the sequential steps, a fresh thread's step against
     the main thread's.

Output: `probe KEY=VALUE` lines (microseconds); with --calibration FILE, the calibration file.

    gil_probe.py --model models/fashion-mlp.cfg [--calibration FILE]
"""
import argparse
import copy
import os
import sys
import threading
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from torch_ref import cfg_sizes, ctxsw, mlp_setup  # noqa: E402


def skeleton(model, width=4):
    """A model file with the layers of `model` but every size `width`: the interpreter's costs per
    layer and per tensor do not depend on the sizes, and at this size the kernels (which tinyddp
    runs itself, in C) cost nothing, so they are not counted twice."""
    import tempfile
    n = len(cfg_sizes(model)) - 1
    f = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
    f.write(f"[net]\ninput = {width}\noutput = {width}\n" + f"[dense]\nunits = {width}\n" * n)
    f.close()
    return f.name


def per_call(fn, n, batches=5):
    """Microseconds per call of fn: the median of `batches` batch means over n calls in all (a
    stray pause of the machine inflates one batch, not the result)."""
    fn()
    m = max(1, n // batches)
    means = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(m):
            fn()
        means.append((time.perf_counter() - t0) / m * 1e6)
    return sorted(means)[len(means) // 2]


def in_threads(fns, n, count=None):
    """Seconds for two threads, thread i calling fns[i] n times (each its own model: a module is
    not safe to train from two threads); count[i] gets thread i's context switches."""
    def body(i):
        c0 = ctxsw()
        fn = fns[i]
        for _ in range(n):
            fn()
        if count is not None:
            count[i] = ctxsw() - c0
    th = [threading.Thread(target=body, args=(i,)) for i in range(2)]
    t0 = time.perf_counter()
    for h in th:
        h.start()
    for h in th:
        h.join()
    return time.perf_counter() - t0


def fb_step(model, batch):
    """A forward and backward step of its own copy of the model at this batch."""
    sizes, net, _, lossf = mlp_setup(model, 0.02)
    x, y = torch.randn(batch, sizes[0]), torch.randint(0, sizes[-1], (batch,))

    def fb():
        net.zero_grad(set_to_none=True)
        lossf(net(x), y).backward()
    return fb


def layer_costs(model, n):
    """Per-layer interpreter costs at batch 1 (forward, backward, loss) in one thread."""
    sizes, net, _, lossf = mlp_setup(model, 0.02)
    x, y = torch.randn(1, sizes[0]), torch.randint(0, sizes[-1], (1,))
    layers = len(sizes) - 1
    fwd = per_call(lambda: net(x), n)
    with torch.no_grad():
        fwd_nograd = per_call(lambda: net(x), n)

    def fb():
        net.zero_grad(set_to_none=True)
        lossf(net(x), y).backward()
    step = per_call(fb, n)
    loss = per_call(lambda: lossf(net(x), y), n) - fwd
    return dict(layers=layers, forward_us=fwd / layers, forward_nograd_us=fwd_nograd / layers,
                backward_us=(step - fwd - loss) / layers, loss_us=loss, step_b1_us=step), \
        [fb, fb_step(model, 1)]


def dp_contention(model, n):
    """The DP step's regime: two threads started per step, each doing one batch-1 forward and
    backward on its own replica, joined; against the same two done one after the other and two
    threads doing nothing. Short-lived threads do not overlap their interpreter work (measured:
    the threads take longer than the sequential work plus the threads' start), unlike two
    long-running loops (held_fraction's): the factor is how much longer the work takes."""
    fb = [fb_step(model, 1), fb_step(model, 1)]

    def threaded(fns):
        th = [threading.Thread(target=f) for f in fns]
        for h in th:
            h.start()
        for h in th:
            h.join()
    noop = [lambda: None, lambda: None]
    seq, thr, empty = [], [], []
    for _ in range(3):  # interleaved rounds, the best of each
        seq.append(per_call(lambda: (fb[0](), fb[1]()), n))
        thr.append(per_call(lambda: threaded(fb), n))
        empty.append(per_call(lambda: threaded(noop), n))
    return dict(dp_seq_b1_us=min(seq), dp_threads_b1_us=min(thr), dp_threads_empty_us=min(empty),
                dp_contended=(min(thr) - min(empty)) / min(seq))


def held_fraction(fb, n):
    """Two threads on the batch-1 step against one after the other: the held part."""
    seq = (per_call(fb[0], n) + per_call(fb[1], n)) * n / 1e6
    count = [0, 0]
    thr = in_threads(fb, n, count)
    ratio = seq / thr  # speed-up of two threads (2: nothing held, 1: everything held)
    return dict(threads_speedup_b1=ratio, held_fraction=min(1.0, max(0.0, 1.0 / ratio - 0.5) * 2),
                handoffs_per_step_b1=(count[0] + count[1]) / (2 * n))


def master_costs(model, workers, n):
    """The master's Python-side costs per parameter tensor, and a thread's start and join."""
    sizes, net, opt, lossf = mlp_setup(model, 0.02)
    tensors = len(list(net.parameters()))
    x, y = torch.randn(1, sizes[0]), torch.randint(0, sizes[-1], (1,))
    reps = [copy.deepcopy(net) for _ in range(workers)]
    for r in reps:
        lossf(r(x), y).backward()
    lossf(net(x), y).backward()
    replicate = per_call(lambda: copy.deepcopy(net), n // 4)

    def copy_in():
        with torch.no_grad():
            for r in reps:
                for rp, mp_ in zip(r.parameters(), net.parameters()):
                    rp.copy_(mp_)
    kept = per_call(copy_in, n) / workers

    def gather():
        with torch.no_grad():
            rps = [list(r.parameters()) for r in reps]
            for j, p in enumerate(net.parameters()):
                g = rps[0][j].grad.clone()
                for r in rps[1:]:
                    g.add_(r[j].grad)
                p.grad = g.div_(workers)
    gath = per_call(gather, n)
    optim = per_call(opt.step, n)

    def start_join():
        h = threading.Thread(target=lambda: None)
        h.start()
        h.join()
    thread = per_call(start_join, n)
    nbytes = sum(p.numel() * 4 for p in net.parameters())
    return dict(tensors=tensors, param_mb=nbytes / 1e6, replicate_us=replicate,
                kept_copy_us=kept, gather_us=gath, optim_us=optim, thread_start_us=thread)


def numpy_mlp(sizes, batch):
    """A numpy MLP step (forward, backward) at this batch: matmul releases the lock."""
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((a, b), dtype=np.float32) * 0.05 for a, b in zip(sizes, sizes[1:])]
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)

    def step():
        acts = [x]
        for w in ws:
            acts.append(np.maximum(acts[-1] @ w, 0))
        g = acts[-1] - 1.0
        for i in range(len(ws) - 1, -1, -1):
            _ = acts[i].T @ g
            g = (g @ ws[i].T) * (acts[i] > 0)
    return step


def numpy_threads(sizes, batch, n):
    steps = [numpy_mlp(sizes, batch), numpy_mlp(sizes, batch)]
    seq = (per_call(steps[0], n) + per_call(steps[1], n)) * n / 1e6
    out = {}
    for si in (None, 0.0001, 0.05):
        old = sys.getswitchinterval()
        if si is not None:
            sys.setswitchinterval(si)
        key = "default" if si is None else f"{si * 1000:g}ms"
        out[f"numpy_b{batch}_speedup_{key}"] = seq / in_threads(steps, n)
        sys.setswitchinterval(old)
    return out


def dp_timeline(model, batch, n):
    """A DP step's two fresh threads at the real batch, timed from inside: when each worker
    begins its forward (from the step's start), against the same two steps one after the other on
    the main thread, and one step in a fresh thread against the main thread. Quantiles over n
    steps (the late start of worker 1 varies with where the scheduler puts the threads)."""
    fb = [fb_step(model, batch), fb_step(model, batch)]
    began = [0.0, 0.0]

    def work(i):
        began[i] = time.perf_counter()
        fb[i]()
    late, thr, seq, main1, fresh1 = [], [], [], [], []
    for _ in range(5):
        fb[0](), fb[1]()
    for _ in range(n):
        t0 = time.perf_counter()
        th = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for h in th:
            h.start()
        for h in th:
            h.join()
        t1 = time.perf_counter()
        late.append((began[1] - t0) * 1e6)
        thr.append((t1 - t0) * 1e6)
        t0 = time.perf_counter()
        fb[0]()
        t1 = time.perf_counter()
        fb[1]()
        seq.append((time.perf_counter() - t0) * 1e6)
        main1.append((t1 - t0) * 1e6)
        h = threading.Thread(target=work, args=(0,))
        h.start()
        h.join()
        fresh1.append((time.perf_counter() - began[0]) * 1e6)

    def q(v, p):
        return sorted(v)[min(len(v) - 1, int(len(v) * p))]
    out = {f"dp_b{batch}_worker1_start_us_p{int(p * 100)}": q(late, p) for p in (0.1, 0.5, 0.9)}
    out.update({f"dp_b{batch}_threads_us_p50": q(thr, 0.5), f"dp_b{batch}_sequential_us_p50": q(seq, 0.5),
                f"dp_b{batch}_fresh_thread_step_over_main": q(fresh1, 0.5) / q(main1, 0.5)})
    return out


def torch_switch(fb, n):
    seq = (per_call(fb[0], n) + per_call(fb[1], n)) * n / 1e6
    out = {}
    for si in (0.0001, 0.05):
        old = sys.getswitchinterval()
        sys.setswitchinterval(si)
        out[f"threads_speedup_b1_{si * 1000:g}ms"] = seq / in_threads(fb, n)
        sys.setswitchinterval(old)
    return out


CAL_KEYS = [
    ("forward_held_us", "per layer, a module's forward call under the lock"),
    ("backward_held_us", "per layer, its autograd node in backward under the lock"),
    ("loss_held_us", "per step and worker, the loss's forward and backward under the lock"),
    ("free_per_layer_us", "per layer, forward and backward interpreter cost run without the lock"),
    ("replicate_us_per_tensor", "master, replicating one parameter tensor (deepcopy)"),
    ("kept_copy_us_per_tensor", "master, copying one tensor into a kept replica"),
    ("gather_us_per_tensor", "master, summing one tensor's gradients over the replicas"),
    ("optim_us_per_tensor", "master, the SGD step's Python side per tensor"),
    ("replicate_us_per_mb", "master, replicate: PyTorch per MB of parameters beyond tinyddp's C"),
    ("kept_copy_us_per_mb", "master, kept copy: PyTorch per MB beyond tinyddp's C"),
    ("gather_us_per_mb", "master, gather: PyTorch per MB beyond tinyddp's C"),
    ("optim_us_per_mb", "master, SGD step: PyTorch per MB beyond tinyddp's C"),
    ("thread_start_us", "starting and joining one worker thread (half master, half the thread)"),
    ("contended_factor", "holds while another thread waits last this many times longer"),
    ("loop_contended_factor", "kernels --gil: count(n), the notebook's loop, in two threads against "
                              "one after the other"),
]


def count(n):
    """The notebook's CPU-bound loop."""
    res = 0
    while n > 0:
        res += n
        n -= 1
    return res


def loop_contention(n):
    """The notebook's count(n) twice in two threads against one after the other: how many times
    slower the pure-Python loop runs while the other thread waits for the lock."""
    t0 = time.perf_counter()
    count(n)
    count(n)
    seq = time.perf_counter() - t0
    thr = in_threads([lambda: count(n), lambda: count(n)], 1)
    return dict(loop_threads_over_serial=thr / seq)


def tinyddp_master(ddp_train, model, steps=200):
    """tinyddp's own C time for the master's phases on `model` (ddp_train --mode dp --workers 2
    --dp-cache, no --gil): replicate per replica, gather and the optimizer per step, microseconds.
    None without a binary (the per-MB costs then count PyTorch's whole time)."""
    import json
    import subprocess
    import tempfile
    if not ddp_train:
        return None
    with tempfile.TemporaryDirectory() as d:
        js = os.path.join(d, "r.json")
        subprocess.run([ddp_train, "--mode", "dp", "--workers", "2", "--dp-cache", "--batch", "16",
                        "--model", model, "--data", "synthetic", "--synthetic-train", "4096",
                        "--synthetic-test", "256", "--epochs", "1000", "--max-steps", str(steps),
                        "--quiet", "--json", js], check=True, stdout=subprocess.DEVNULL)
        with open(js) as f:
            j = json.load(f)
    us = 1e6 / steps
    return dict(replicate_us=j["replicate_seconds"] * us / 2, gather_us=j["gather_seconds"] * us,
                optim_us=j["optimizer_seconds"] * us)


def per_mb(skel, real, tdp):
    """PyTorch's master costs on the real model beyond the skeleton's (the per-tensor part) and
    beyond tinyddp's own C loops for the same bytes, per MB of parameters"""
    mb = real["param_mb"]
    own = tdp or dict(replicate_us=0.0, gather_us=0.0, optim_us=0.0)
    out = {}
    for key, mine in (("replicate_us", "replicate_us"), ("kept_copy_us", "replicate_us"),
                      ("gather_us", "gather_us"), ("optim_us", "optim_us")):
        out[key.replace("_us", "_us_per_mb")] = max(0.0, (real[key] - skel[key] - own[mine]) / mb)
    return out


def calibration(lc, hf, mc, lp, dc, pm):
    # all the interpreter's work is held: in a DP step's short-lived threads nothing of it
    # overlaps (dp_contention); the long loops' partial overlap (held_fraction) is printed only
    f = 1.0
    per_layer = lc["forward_us"] + lc["backward_us"]
    t = mc["tensors"]
    return {
        "forward_held_us": lc["forward_us"] * f,
        "backward_held_us": lc["backward_us"] * f,
        "loss_held_us": lc["loss_us"] * f,
        "free_per_layer_us": per_layer * (1 - f),
        "replicate_us_per_tensor": mc["replicate_us"] / t,
        "kept_copy_us_per_tensor": mc["kept_copy_us"] / t,
        "gather_us_per_tensor": mc["gather_us"] / t,
        "optim_us_per_tensor": mc["optim_us"] / t,
        **{k + "_us_per_mb": pm[k + "_us_per_mb"] for k in ("replicate", "kept_copy", "gather", "optim")},
        "thread_start_us": mc["thread_start_us"],
        # the DP step's two short-lived threads take this much longer than one after the other
        "contended_factor": max(1.0, dc["dp_contended"]),
        "loop_contended_factor": max(1.0, lp["loop_threads_over_serial"]),
    }


def write_calibration(path, cal, note):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("# tinyddp interpreter-lock calibration (ddp_train/kernels --gil-calibration)\n")
        f.write(f"# {note}\n# format: KEY = VALUE (microseconds, >= 0); '#' starts a comment\n")
        for k, doc in CAL_KEYS:
            f.write(f"{k} = {cal[k]:.3g}    # {doc}\n" if "factor" in k else
                    f"{k} = {cal[k]:.2f}    # {doc}\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/fashion-mlp.cfg")
    ap.add_argument("--repeat", type=int, default=400)
    ap.add_argument("--calibration", help="write the calibration file here")
    ap.add_argument("--quick", action="store_true", help="skip the numpy and switch-interval parts")
    ap.add_argument("--loop-n", type=int, default=5_000_000,
                    help="count(N) of the loop-contention part (the notebook: 10^8)")
    ap.add_argument("--mb-model", help="the model whose own sizes give the per-MB costs (default "
                    "--model; the largest shipped, models/wide.cfg, divides the timing noise by its "
                    "7.5 MB)")
    ap.add_argument("--ddp-train", help="tinyddp's ddp_train: the per-MB costs count only what "
                    "PyTorch spends beyond its C loops (without it: PyTorch's whole time)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    sizes = cfg_sizes(a.model)
    skel = skeleton(a.model)
    lc, fb = layer_costs(skel, a.repeat)
    hf = held_fraction(fb, a.repeat)
    mc = master_costs(skel, 2, a.repeat)
    mb_model = a.mb_model or a.model
    real = master_costs(mb_model, 2, max(25, a.repeat // 4))
    tdp = tinyddp_master(a.ddp_train, mb_model)
    pm = per_mb(mc, real, tdp)
    dc = dp_contention(skel, a.repeat // 2)
    os.unlink(skel)
    lp = loop_contention(a.loop_n)
    res = {**lc, **hf, **mc, **lp, **dc, **pm,
           **{"real_" + k: v for k, v in real.items()},
           **{"tinyddp_" + k: v for k, v in (tdp or {}).items()}}
    if not a.quick:
        res.update(torch_switch(fb, a.repeat // 2))
        res.update(numpy_threads(sizes, 1, a.repeat))
        res.update(numpy_threads(sizes, 64, a.repeat // 4))
        res.update(dp_timeline(a.model, 64, a.repeat // 2))
    note = (f"measured by scripts/py/gil_probe.py, torch {torch.__version__}, python "
            f"{sys.version.split()[0]}, model {'-'.join(map(str, sizes))}'s layers at width 4, load "
            f"{os.getloadavg()[0]:.2f}; per MB: {os.path.basename(mb_model)}'s own sizes, "
            f"{'less ddp_train --mode dp --dp-cache' if tdp else 'PyTorch whole (no ddp_train given)'}")
    print(f"# {note}")
    for k, v in res.items():
        print(f"probe {k}={v:.3f}" if isinstance(v, float) else f"probe {k}={v}")
    if a.calibration:
        cal = calibration(lc, hf, mc, lp, dc, pm)
        write_calibration(a.calibration, cal, note)
        for k, _ in CAL_KEYS:
            print(f"calibration {k}={cal[k]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
