"""corun.py: the compute of P ranks that share one machine, measured (scripts/scale-model --measure).

P serial processes (`ddp_train --mode serial`, the DDP runs' per-rank batch and steps, no MPI) are
started together, each bound to its own core when P fits the cores (as mpirun --bind-to core binds
the DDP ranks), unbound otherwise (as the oversubscribed DDP runs are). Each one's step time is its
train_seconds / steps: the co-running ranks' shared caches, memory bandwidth and scheduler are in
it, and past the cores (4 on 2) so is the time-sharing, since a descheduled process's step takes
longer in wall time. The inputs keep, per P, the median over the processes and the rounds.

They start training together: loading the data takes each process a different time (0.4 s for
Fashion-MNIST alone, up to 0.7 s apart for 4 processes on 2 loaded cores, against 0.1-1.5 s of
training), so each one waits at the end of its set-up (ddp_train's TDP_TEST_SETUP_WAIT=FILE hook:
it writes its process id to FILE and polls every millisecond until FILE is removed), and all are
released (their files removed) when the last one has written its file. The wait is before the
loop, so it is never in train_seconds, whatever the machine's speed. held_s keeps the longest
hold of the worst round. (The first barrier stopped each process with SIGSTOP when it printed its
last start-up line: on a fast machine, 4 processes on 2 cores, the stop came after the untimed
evaluation, inside the timed steps, in 3 rounds of 3.)

The lockstep: DDP's ranks end every step in a collective, so each step costs the slower rank's
compute, not the mean. Each process also writes a --metrics record every step (--log-every 1
--progress off: records kept in memory, written at the end, no line printed); step i's time d_p,i
is the difference of the wall clocks of records i-1 and i (step 1 is dropped: its clock starts
before the untimed evaluation and the hold; so is a step across an epoch's end). A round's
lockstep step is the mean over i of max over the P processes of d_p,i (the processes start
together, steps paired by index); lockstep_s keeps the median over the rounds. The model takes it
for P ranks within the cores (bound); past them a time-shared process runs for a scheduler
quantum of several steps, so pairing steps by index means nothing there (lockstep_s is kept, not
used).
"""
import json
import os
import statistics
import subprocess
import time


def corun_once(r, p, steps):
    """one round of p serial processes at once: [(step_s, optimizer_s)] per process, the longest
    time one of them waited at the barrier (s) and the lockstep step (s, lockstep())"""
    res = start_together(r, p, steps)
    return ([(j["train_seconds"] / j["steps"], j.get("optimizer_seconds", 0.0) / j["steps"])
             for j, _h, _d in res], max(h for _j, h, _d in res), lockstep([d for _j, _h, d in res]))


def start_together(r, p, steps):
    """p serial processes started at once, trained together (barrier); [(JSON, hold s, the
    per-step seconds from its metrics: step_times())]"""
    cpus = sorted(os.sched_getaffinity(0))
    bind = p <= len(cpus)
    procs = []
    try:
        for i in range(p):
            r.n += 1
            path = os.path.join(r.tmp, f"c{r.n}.json")
            cmd = r.nice + [x for x in r.train(steps, ["--mode", "serial"]) if x != "--quiet"] + [
                "--json", path, "--progress", "off", "--log-every", "1", "--metrics", path + "l"]
            pin = (lambda c=cpus[i]: os.sched_setaffinity(0, {c})) if bind else None
            ready = os.path.join(r.tmp, f"c{r.n}.ready")
            env = dict(r.env, TDP_TEST_SETUP_WAIT=ready)
            procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           env=env, preexec_fn=pin), path, cmd, ready))
        held = barrier([(q, w) for q, _p, _c, w in procs])
        out = []
        for (proc, path, cmd, _w), h in zip(procs, held):
            text, _ = proc.communicate(timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                                   f"{text.decode(errors='replace')[-2000:]}")
            with open(path) as f:
                out.append((json.load(f), h, step_times(path + "l")))
        return out
    finally:
        for q, _p, _c, w in procs:
            if q.poll() is None:
                q.kill()
                q.wait()
            if os.path.exists(w):
                os.unlink(w)


def barrier(procs, timeout=600.0, poll=0.001, hold=50.0):
    """the processes started together: procs is [(Popen, its TDP_TEST_SETUP_WAIT file)]; each
    writes its file at the end of its set-up and waits until the file is removed. When every
    file exists, all are removed at once. Returns the seconds each was held (the last: 0). A
    process that ends before it writes its file, a wait past timeout, or one held past hold
    seconds (ddp_train waits 60 s at most, then trains alone) raises RuntimeError (the caller
    kills the others)."""
    seen = [None] * len(procs)
    t0 = time.monotonic()
    while None in seen:
        now = time.monotonic()
        for i, (q, w) in enumerate(procs):
            if seen[i] is None and os.path.exists(w):
                seen[i] = now
            elif seen[i] is None and q.poll() is not None:
                text = q.stdout.read().decode(errors="replace") if q.stdout else ""
                raise RuntimeError(f"a co-running process ended (exit {q.returncode}) before its "
                                   f"set-up was done: {' '.join(q.args)}\n{text[-2000:]}")
        if None in seen:
            if now - t0 > timeout:
                raise RuntimeError(f"co-running processes not set up after {timeout:.0f} s")
            first = min((x for x in seen if x is not None), default=now)
            if now - first > hold:
                raise RuntimeError(f"a co-running process was set up and the others not within "
                                   f"{hold:g} s (ddp_train holds for 60 s at most)")
            time.sleep(poll)
    t = max(seen)
    for _q, w in procs:
        os.unlink(w)
    return [t - x for x in seen]


def step_times(path):
    """the seconds of each step from a --metrics file (--log-every 1): the differences of the
    step records' clocks within an epoch; step 1 (its clock starts before the untimed evaluation)
    and a step across an epoch's end (its evaluation) are left out"""
    out, prev = [], None
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("kind") != "step":
                prev = None
                continue
            if prev and prev["epoch"] == rec["epoch"] and rec["step"] == prev["step"] + 1:
                out.append(rec["seconds"] - prev["seconds"])
            prev = rec
    return out


def lockstep(times):
    """E[max over the processes of step i's time]: the mean over the steps every process has of
    the slowest one's time (times: per process, per step, seconds); None without steps"""
    n = min((len(t) for t in times), default=0)
    if n == 0:
        return None
    return statistics.fmean(max(t[i] for t in times) for i in range(n))


def summarize(rounds, bound):
    """the inputs' entry for one P from its rounds ([(per-process (step_s, optimizer_s)), longest
    hold, lockstep s or None])"""
    steps = [s for procs, *_ in rounds for s, _o in procs]
    opts = [o for procs, *_ in rounds for _s, o in procs]
    out = {"step_s": statistics.median(steps), "optimizer_s": statistics.median(opts),
           "held_s": max(rd[1] for rd in rounds), "bound": bound,
           "runs_us": [round(s * 1e6, 1) for s in steps]}
    locks = [rd[2] for rd in rounds if len(rd) > 2 and rd[2]]
    if locks and len(locks) == len(rounds):
        out["lockstep_s"] = statistics.median(locks)
        out["lockstep_runs_us"] = [round(x * 1e6, 1) for x in locks]
    return out


def check(inp):
    """the inputs' corun entries (optional: older files lack them); raises ValueError"""
    for k, v in (inp.get("corun") or {}).items():
        if not (k.isdigit() and int(k) >= 1 and isinstance(v, dict)
                and all(isinstance(v.get(x), (int, float)) for x in ("step_s", "optimizer_s"))
                and v["step_s"] > v["optimizer_s"] >= 0):
            raise ValueError(f"corun: entry '{k}' is not ranks -> {{step_s > optimizer_s >= 0}}: {v}")
        if "lockstep_s" in v and not (isinstance(v["lockstep_s"], (int, float))
                                      and v["lockstep_s"] > v["optimizer_s"]):
            raise ValueError(f"corun: entry '{k}': lockstep_s is not a number > optimizer_s: {v}")


def lockstep_used(v):
    """whether the model takes an entry's lockstep step: it has one, for ranks within the cores"""
    return "lockstep_s" in v and v.get("bound", True)


def compute(inp, ranks):
    """(forward+backward s, optimizer s, lockstep used) per step of `ranks` co-running processes
    in lockstep (the slower one's step: lockstep_s, within the cores), or their median step (older
    inputs, or past the cores); None without a corun entry for ranks"""
    v = (inp.get("corun") or {}).get(str(ranks))
    if not v:
        return None
    step = v["lockstep_s"] if lockstep_used(v) else v["step_s"]
    return step - v["optimizer_s"], v["optimizer_s"], lockstep_used(v)
