"""corun.py: the compute of P ranks that share one machine, measured (scripts/scale-model --measure).

P serial processes (`ddp_train --mode serial`, the DDP runs' per-rank batch and steps, no MPI) are
started together, each bound to its own core when P fits the cores (as mpirun --bind-to core binds
the DDP ranks), unbound otherwise (as the oversubscribed DDP runs are). Each one's step time is its
train_seconds / steps: the co-running ranks' shared caches, memory bandwidth and scheduler are in
it, and past the cores (4 on 2) so is the time-sharing, since a descheduled process's step takes
longer in wall time. The inputs keep, per P, the median over the processes and the rounds.

They start training together: loading the data takes each process a different time (0.4 s for
Fashion-MNIST alone, up to 0.7 s apart for 4 processes on 2 loaded cores, against 0.3-1.5 s of
training), so each one is stopped (SIGSTOP) when it prints its last start-up line (`blas:`,
flushed before the training loop) and all are continued (SIGCONT) when the last one has printed
it. The stop falls in the untimed evaluation of the test set that opens trainer_run (about 70 ms
alone); a round where a process's JSON shows otherwise (outside_hold) is run again. held_s keeps
the longest hold of the worst round.

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
import selectors
import signal
import statistics
import subprocess
import time


READY = b"\nblas: "  # ddp_train's last start-up line, printed (and flushed) just before training


def corun_once(r, p, steps, tries=3):
    """one round of p serial processes at once: [(step_s, optimizer_s)] per process, the longest
    time one of them waited at the barrier (s) and the lockstep step (s, lockstep()); a round whose hold fell inside a
    process's timed training (outside_hold) runs again, up to `tries` times"""
    for _ in range(tries):
        res = start_together(r, p, steps)
        if outside_hold([(j, h) for j, h, _d in res]):
            return ([(j["train_seconds"] / j["steps"], j.get("optimizer_seconds", 0.0) / j["steps"])
                     for j, _h, _d in res], max(h for _j, h, _d in res), lockstep([d for _j, _h, d in res]))
    raise RuntimeError(f"{p} serial processes at once: the barrier's stop fell inside the timed "
                       f"training {tries} times (a loaded machine?)")


def outside_hold(res):
    """whether every hold fell before the timed training: a held process's loop (JSON seconds)
    includes its hold, its train_seconds must not; so its seconds - train_seconds (evaluations
    and hold) is at least its hold plus half the evaluations of the process never held"""
    free = [j["seconds"] - j["train_seconds"] for j, h in res if h == 0.0]
    ev = min(free) if free else 0.0
    return all(j["seconds"] - j["train_seconds"] >= h + ev / 2 for j, h in res if h > 0.0)


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
            procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           env=r.env, preexec_fn=pin), path, cmd))
        held = barrier([q for q, _p, _c in procs])
        out = []
        for (proc, path, cmd), h in zip(procs, held):
            text, _ = proc.communicate(timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                                   f"{text.decode(errors='replace')[-2000:]}")
            with open(path) as f:
                out.append((json.load(f), h, step_times(path + "l")))
        return out
    finally:
        for q, _p, _c in procs:
            if q.poll() is None:
                q.send_signal(signal.SIGCONT)
                q.kill()
                q.wait()


def barrier(procs):
    """the processes started together: each one stopped (SIGSTOP) as soon as it prints its last
    start-up line, all continued (SIGCONT) when the last one has; returns the seconds each was
    held. A process that ends or fails before it prints it releases the others."""
    sel = selectors.DefaultSelector()
    seen = {}
    for i, q in enumerate(procs):
        sel.register(q.stdout, selectors.EVENT_READ, i)
        seen[i] = b"\n"
    held, waiting = [0.0] * len(procs), set(range(len(procs)))
    while waiting:
        for key, _ev in sel.select(timeout=600):
            i = key.data
            chunk = os.read(key.fileobj.fileno(), 65536)
            seen[i] += chunk
            if READY in seen[i] or not chunk:
                sel.unregister(key.fileobj)
                waiting.discard(i)
                if waiting and chunk:
                    procs[i].send_signal(signal.SIGSTOP)
                    held[i] = -time.monotonic()
    t = time.monotonic()
    for i, q in enumerate(procs):
        if held[i]:
            q.send_signal(signal.SIGCONT)
            held[i] += t
    return held


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
