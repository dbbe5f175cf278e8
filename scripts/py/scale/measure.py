"""measure.py: the scaling model's inputs, measured on this machine (scripts/scale-model --measure).

A serial run gives the compute per step (forward + backward, and the optimizer), a short traced
serial run the backward share; allreduce_bench with 2 ranks gives each link's latency and bandwidth
(one host: shared memory; across simulated hosts: cluster-sim's shaped links, root only); DDP runs
give the measurements the predictions are checked against. On one host allreduce_bench also times
the call as DDP makes it (--call iallreduce --bucket-kb B: the gradient's bytes in the run's
buckets, fp32 and bf16-sized, and in one call), once per round between the runs (shm_iallreduce:
the median of the rounds); the np=2 fp32 run, the check that decides, runs --np2-repeats times,
spread over the rounds. Once a round, P serial processes run at once for each P of the one-host
checks (2 and 4: corun.py), for the compute of P ranks that share the machine, in lockstep.
"""
import math
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from . import corun, model


def sh(cmd, timeout=600, env=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"failed (exit {r.returncode}): {' '.join(cmd)}\n{r.stdout[-2000:]}")
    return r.stdout


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Runner:
    def __init__(self, a, log):
        self.a, self.log = a, log
        self.root = a.root
        self.bin = a.bin
        self.tmp = tempfile.mkdtemp(prefix="scale-model.")
        self.env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
                        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        self.sim = os.path.join(self.root, "scripts", "cluster-sim")
        self.nice = ["nice", "-n", str(a.nice)] if a.nice else []
        self.n = 0

    def train(self, steps, extra=()):
        self.n += 1
        return [os.path.join(self.bin, "ddp_train"), "--model", self.a.model_path, "--max-steps",
                str(steps), "--epochs", "1000000", "--seed", "42", "--quiet", "--batch",
                str(self.a.batch), *extra]

    def run_json(self, cmd):
        path = os.path.join(self.tmp, f"r{self.n}.json")
        sh(self.nice + cmd + ["--json", path], env=self.env)
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            raise RuntimeError(f"no readable JSON ({e}) from: {' '.join(cmd)}") from None

    def mpirun(self, np_, hosts=None):
        if hosts:
            hl = ",".join(f"tdp{i + 1}:1" for i in range(hosts))
            return [self.sim, "mpirun", "--host", hl, "-np", str(np_)]
        m = ["mpirun", "-np", str(np_), "-x", "OPENBLAS_NUM_THREADS"]
        cores = os.cpu_count() or 1
        m += ["--oversubscribe", "--bind-to", "none"] if np_ > cores else ["--bind-to", "core"]
        return m

    def ddp_bench(self, kb, bucket_kb):
        """seconds of one message of kb KB as DDP sends it: MPI_Iallreduce per bucket_kb bucket
        (0: one call), all started, then MPI_Waitall; 2 ranks on this host"""
        cmd = self.mpirun(2) + [os.path.join(self.bin, "allreduce_bench"), "--call", "iallreduce",
                                "--bucket-kb", str(bucket_kb), "--sizes-kb", str(kb), "--iters",
                                str(DDP_BENCH_ITERS), "--warmup", "20"]
        for line in sh(self.nice + cmd, env=self.env).splitlines():
            f = line.split()
            if len(f) == 6 and f[0].isdigit() and f[5] == "ok":
                return float(f[2]) * 1e-6
        raise RuntimeError(f"allreduce_bench --call iallreduce: no valid row: {' '.join(cmd)}")

    def bench(self, hosts=None):
        return fit_link(self.bench_rows(hosts))

    def bench_rows(self, hosts=None):
        """[bytes, seconds] of allreduce_bench's plain MPI_Allreduce, 2 ranks (hosts: one each)"""
        cmd = self.mpirun(2, hosts) + [os.path.join(self.bin, "allreduce_bench"), "--sizes-kb",
                                       "4,64,256,1024,4096", "--iters", str(self.a.bench_iters),
                                       "--warmup", "3"]
        rows = []
        for line in sh(self.nice + cmd, env=self.env).splitlines():
            f = line.split()
            if len(f) == 6 and f[0].isdigit():
                rows.append([int(f[0]), float(f[2]) * 1e-6])
        return rows


DDP_BENCH_ITERS = 200  # allreduce_bench --call iallreduce: ~0.1 s a shape on this machine


def ddp_shapes(grad_bytes, bucket_kb):
    """(KB, bucket KB) of the bench shapes that stand for the run's allreduce: the fp32 gradient
    in the run's buckets, the bf16 gradient (half the bytes, buckets of the same floats: half the
    KB), and the fp32 gradient in one call (--no-overlap). The KB are rounded up (the model scales
    a row's time to the exact bytes)."""
    kb = math.ceil(grad_bytes / 1024)
    shapes = [(kb, bucket_kb), (math.ceil(grad_bytes / 2 / 1024), bucket_kb // 2), (kb, 0)]
    return list(dict.fromkeys(shapes))


def spread(item, others, m):
    """others with m copies of item spread evenly among them (the first at the start)"""
    out, n = [], len(others)
    for i, o in enumerate(others):
        out += [item] * (sum(1 for j in range(m) if (j * n) // m == i))
        out.append(o)
    return out


def round_plan(cfgs, np2, r, repeats, np2_repeats, bench):
    """round r's runs: every configuration once, np=2's fp32 run its share of np2_repeats
    (np2_repeats spread over the rounds), and the DDP-shaped bench ('bench') last"""
    m = np2_repeats // repeats + (1 if r < np2_repeats % repeats else 0)
    others = [c for c in cfgs if c != np2]
    return spread(np2, others, m) + [bench]


def fit_link(rows, nominal_Bps=None):
    """alpha and B of a link from (bytes, seconds) of allreduce_bench with 2 ranks.

    What the bench ran (Open MPI 4.1 coll/tuned at P = 2, costs.tuned_choice): ring at 4 KB,
    segmented ring at 64 KB, Rabenseifner from 256 KB: each is two phases in which both ranks send
    n/2 to each other at once, so a call puts n on the link in each direction, 2n in all, with
    both directions loaded together. The slope over the sizes of 256 KB and up read per direction
    is duplex_Bps = n / t (what each direction moves while the other is loaded too); read as the
    link's total it is 2n / t. A shaped link (nominal_Bps: its tbf rate in one direction) whose
    total is within 10% of that rate carried the rate once for both directions together (the
    long two-way flows shared it): its one-way rate B is that total, at most the nominal rate.
    Otherwise (shared memory, or a total above the rate: each direction moved on its own, as far
    as the cores let it) B is the per-direction rate. alpha: the 4 KB time less its bytes at the
    per-direction rate, halved (2 phases)."""
    big = [(n, t) for n, t in rows if n >= 256 * 1024] or rows
    mn = statistics.fmean(n for n, _ in big)
    mt = statistics.fmean(t for _, t in big)
    sxx = sum((n - mn) ** 2 for n, _ in big)
    slope = sum((n - mn) * (t - mt) for n, t in big) / sxx if sxx else mt / mn
    if slope <= 0:
        slope = mt / mn
    duplex = 1 / slope
    B, two_way = duplex, "duplex"
    if nominal_Bps and abs(2 * duplex - nominal_Bps) <= 0.1 * nominal_Bps:
        B, two_way = min(2 * duplex, nominal_Bps), "shared"
    n0, t0 = min(rows)
    alpha = max(1e-7, (t0 - n0 / duplex) / 2)
    return {"alpha_s": alpha, "bandwidth_Bps": B, "duplex_Bps": duplex, "two_way": two_way,
            "bench": [list(r) for r in rows]}


def refit(name, lk):
    """a saved link refitted from its bench rows by fit_link (unchanged if it has none)"""
    rows = lk.get("bench")
    if not rows:
        return lk
    bps = model.link_bps(name)
    return fit_link([(int(n), float(t)) for n, t in rows], bps / 8 if bps else None)


def trace_backward_share(path):
    """backward / (forward + backward) from a Chrome trace of a serial run"""
    with open(path) as f:
        ev = json.load(f)["traceEvents"]
    fwd = sum(e.get("dur", 0) for e in ev if e.get("name") == "forward")
    bwd = sum(e.get("dur", 0) for e in ev if str(e.get("name", "")).startswith("backward"))
    return bwd / (fwd + bwd) if fwd + bwd > 0 else 0.5


def step_terms(j):
    """where a DDP run's step went, per step, means over the ranks (ranktime.h): compute (data,
    forward, backward; the optimizer added), exposed comm (of it, the wait for the slowest rank),
    the step (train_seconds) and the rest (the step less both); None without the per-rank arrays"""
    rc, rm, rw = (j.get(k) or [] for k in ("rank_compute_seconds", "rank_comm_seconds", "rank_wait_seconds"))
    steps = j.get("steps") or 0
    if not rc or not rm or not steps or len(rc) != len(rm):
        return None
    mean = statistics.fmean
    t = {"step_s": j["train_seconds"] / steps,
         "compute_s": (mean(rc) + j.get("optimizer_seconds", 0.0)) / steps,
         "comm_s": mean(rm) / steps, "wait_s": (mean(rw) if rw else 0.0) / steps}
    t["rest_s"] = t["step_s"] - t["compute_s"] - t["comm_s"]
    return t


def sps(j):
    return j["train_samples_per_s"]


def measure(a, log):
    """the inputs and the checks, measured; the runs' temporary files removed"""
    r = Runner(a, log)
    try:
        return measure_all(a, log, r)
    finally:
        shutil.rmtree(r.tmp, ignore_errors=True)


def measure_all(a, log, r):
    t0 = time.time()
    out = {"version": 1, "model": os.path.basename(a.model_path).removesuffix(".cfg"),
           "batch": a.batch, "bucket_kb": 256, "cores": os.cpu_count(),
           "load_before": loadavg(), "commit": commit(a.root), "machine": machine(),
           "command": "scripts/scale-model " + " ".join(a.argv), "links": {}, "measured": []}
    help_txt = sh([os.path.join(a.bin, "ddp_train"), "--help"], env=r.env)
    has_bf16 = "--grad-compress" in help_txt
    # compute: serial at the per-rank batch, median of the repeats
    ser = [r.run_json(r.train(a.steps, ["--mode", "serial"])) for _ in range(a.repeats)]
    log(f"serial: {statistics.median(sps(j) for j in ser):.0f} samples/s (load {loadavg()})")
    tr = os.path.join(r.tmp, "serial.trace")
    sh(r.nice + r.train(60, ["--mode", "serial", "--trace", tr]), env=r.env)
    steps = ser[0]["steps"]
    out["params"] = ser[0]["params"]
    out["compute"] = {
        "step_s": statistics.median(j["train_seconds"] for j in ser) / steps,
        "optimizer_s": statistics.median(j["optimizer_seconds"] for j in ser) / steps,
        "backward_fraction": trace_backward_share(tr),
        "compress_s_per_byte": 0.0,
    }
    out["links"]["shm"] = r.bench()
    log(f"shm link: {fmt_link(out['links']['shm'])}")
    # DDP on one host, rounds outermost; the DDP-shaped bench once a round, after the runs
    bucket_kb = default_bucket_kb(help_txt)
    out["bucket_kb"] = bucket_kb
    cfgs = [(p, 1, "shm", False) for p in (1, 2, 4)]
    if has_bf16:
        cfgs.append((2, 1, "shm", True))
    np2 = (2, 1, "shm", False)
    runs = {c: [] for c in cfgs}
    shm_rows = {}
    co = {p: [] for p in sorted({c[0] for c in cfgs if c[0] > 1})}  # the ranks of each one-host check
    for rnd in range(a.repeats):
        for c in round_plan(cfgs + [("corun", p) for p in co], np2, rnd, a.repeats,
                            max(a.np2_repeats, a.repeats), "bench"):
            if c[0] == "corun":
                co[c[1]].append(corun.corun_once(r, c[1], a.steps))
                procs, held, lock = co[c[1]][-1]
                log(f"{c[1]} serial processes at once: {statistics.median(s for s, _ in procs) * 1e6:.0f} us "
                    f"a step, lockstep (the slower one's) {(lock or 0) * 1e6:.0f} us (started together: "
                    f"held up to {held * 1e3:.0f} ms, load {loadavg()})")
                continue
            if c == "bench":
                gb = out.get("grad_bytes", out["params"] * 4 + 8)
                for kb, bkb in ddp_shapes(gb, bucket_kb):
                    shm_rows.setdefault((kb, bkb), []).append(r.ddp_bench(kb, bkb))
                log(f"shm MPI_Iallreduce as DDP calls it: " + ", ".join(
                    f"{kb} KB/{bkb} KB {t[-1] * 1e6:.0f} us" for (kb, bkb), t in shm_rows.items())
                    + f" (load {loadavg()})")
                continue
            p, _h, _l, bf = c
            extra = ["--mode", "ddp"] + (["--grad-compress", "bf16"] if bf else [])
            j = r.run_json(r.mpirun(p) + r.train(a.steps, extra))
            runs[c].append(j)
            if j.get("allreduce_bytes_per_step") and not bf:
                out["grad_bytes"] = j["allreduce_bytes_per_step"]
            if p > 1 and j.get("bucket_kb") not in (None, bucket_kb):
                log(f"warning: the run used {j['bucket_kb']} KB buckets, not {bucket_kb}: "
                    "the model falls back to the formula")
                out["bucket_kb"] = j["bucket_kb"]
            log(f"np={p} 1 host{' bf16' if bf else ''}: {sps(j):.0f} samples/s (load {loadavg()})")
    out["shm_iallreduce"] = {
        "ranks": 2, "call": "allreduce_bench --call iallreduce", "iters": DDP_BENCH_ITERS,
        "rows": [[kb * 1024, bkb * 1024, statistics.median(ts)] for (kb, bkb), ts in shm_rows.items()],
        "runs": {f"{kb}/{bkb}": [round(t * 1e6, 1) for t in ts] for (kb, bkb), ts in shm_rows.items()}}
    out.setdefault("grad_bytes", out["params"] * 4 + 4)
    ncpu = len(os.sched_getaffinity(0))
    out["corun"] = {str(p): corun.summarize(rs, p <= ncpu) for p, rs in co.items()}
    if a.cluster:
        cluster(a, r, out, runs, has_bf16, log)
    for (p, h, lk, bf), js in runs.items():
        m = {"ranks": p, "hosts": h, "link": lk, "compress": bf, "zero": False,
             "samples_per_s": statistics.median(sps(j) for j in js),
             "runs": [round(sps(j), 1) for j in js]}
        t = [step_terms(j) for j in js]
        if p > 1 and all(t):
            m["terms"] = {k: statistics.median(x[k] for x in t) for k in t[0]}
        out["measured"].append(m)
    out["load_after"] = loadavg()
    out["seconds"] = round(time.time() - t0, 1)
    return out


def cluster(a, r, out, runs, has_bf16, log):
    if os.geteuid() != 0:
        log("simulated hosts skipped: scripts/cluster-sim needs root")
        return
    if sh([r.sim, "status"]).strip():
        log("simulated hosts skipped: cluster-sim hosts are already up (another job?)")
        return
    for rate in a.rates:
        sh([r.sim, "up", "4", "--rate", rate])
        try:
            cfgs = [(2, 2, rate, False), (4, 4, rate, False)] + ([(2, 2, rate, True)] if has_bf16 else [])
            for c in cfgs:
                runs[c] = []
            benches = []
            for _ in range(a.repeats):
                # the link's bench once a round: one sample decided whether the tbf or the cores
                # limited the link (fit_link's two_way), and a busy moment could flip it
                benches.append(r.bench_rows(hosts=2))
                for c in cfgs:
                    p, h, _l, bf = c
                    steps = max(20, a.steps // (4 if rate_slow(rate) else 1))
                    extra = ["--mode", "ddp"] + (["--grad-compress", "bf16"] if bf else [])
                    j = r.run_json(r.mpirun(p, hosts=h) + r.train(steps, extra))
                    runs[c].append(j)
                    log(f"{h} hosts at {rate}{' bf16' if bf else ''}: {sps(j):.0f} samples/s (load {loadavg()})")
            rows = median_rows(benches)
            if not rows:
                raise RuntimeError(f"the {rate} link's allreduce_bench printed no rows")
            out["links"][rate] = refit(rate, {"bench": rows})
            out["links"][rate]["bench_runs"] = benches
            log(f"{rate} link: {fmt_link(out['links'][rate])} (median of {len(benches)} benches)")
        finally:
            sh([r.sim, "down"])


def median_rows(benches):
    """per size, the median time over benches ([[bytes, seconds], ...] each), in size order"""
    times = {}
    for rows in benches:
        for n, t in rows:
            times.setdefault(int(n), []).append(float(t))
    return [[n, statistics.median(ts)] for n, ts in sorted(times.items())]


def default_bucket_kb(help_txt):
    """ddp_train's default --bucket-kb from its --help ([256]); 256 if it is not a number"""
    for line in help_txt.splitlines():
        if line.strip().startswith("--bucket-kb"):
            d = line.rsplit("[", 1)[-1].rstrip("]").strip()
            return int(d) if d.isdigit() else 256
    return 256


def rate_slow(rate):
    return (model.link_bps(rate) or 0) < 5e9


def fmt_link(lk):
    return f"alpha {lk['alpha_s'] * 1e6:.1f} us, B {lk['bandwidth_Bps'] / 1e9:.3f} GB/s"


def commit(root):
    try:
        return sh(["git", "-C", root, "rev-parse", "--short", "HEAD"]).strip()
    except Exception:
        return "unknown"


def machine():
    name = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"
