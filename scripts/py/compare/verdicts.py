"""The claims of the original DP/DDP table (replication, machines, speed, the interpreter lock),
judged from the measured rows, and the paragraph that says so."""

from .cpython import comparisons
from .fmt import fmt_bytes, fmt_pct, fmt_ratio, fmt_sps, machine_line
from .table import find, headline_workers

# two medians differ measurably when their min-max ranges do not overlap and they differ by
# at least this much
MIN_EFFECT = 0.03


def differs(a, b):
    """a, b: samples_per_s stats. True when the medians differ measurably."""
    if b["median"] <= 0 or a["median"] <= 0:
        return False
    overlap = a["min"] <= b["max"] and b["min"] <= a["max"]
    return not overlap and abs(a["median"] / b["median"] - 1.0) >= MIN_EFFECT


def median_ratio(a, b):
    return a["samples_per_s"]["median"] / b["samples_per_s"]["median"]


# ----------------------------------------------------------------------------- the numbers


def judge_replication(m, dp, ddp, cache):
    rep = {
        "model": m,
        "dp_bytes_per_step": dp["replicated_bytes_per_step"],
        "dp_bytes_total": dp["replicated_bytes_total"],
        "steps": dp["steps"],
        "dp_share": dp["replication_share"],
        "ddp_broadcast_bytes": ddp["broadcast_bytes"],
        "ddp_bytes_per_step": ddp["replicated_bytes_per_step"],
    }
    if cache is not None:
        rep["cache_share"] = cache["replication_share"]
        rep["cache_speedup"] = median_ratio(cache, dp)
    return rep


def judge_speed(m, dp, ddp, cache):
    sp = {"model": m, "ratio": median_ratio(ddp, dp),
          "differs": differs(ddp["samples_per_s"], dp["samples_per_s"]),
          "ddp_comm_share": ddp["split_ms"]["comm"] / ddp["step_ms"]}
    if cache is not None:
        sp["cache_ratio"] = median_ratio(ddp, cache)
        sp["cache_differs"] = differs(ddp["samples_per_s"], cache["samples_per_s"])
    return sp


def judge_lock(rows, m, P, dp, cache):
    """The lock's effect: with and without --gil, on the quieter --dp-cache pair when there is one."""
    pair = None
    if cache is not None and find(rows, m, "dp-gil-cache", P) is not None:
        pair = (find(rows, m, "dp-gil-cache", P), cache, "DP --dp-cache")
    elif find(rows, m, "dp-gil", P) is not None:
        pair = (find(rows, m, "dp-gil", P), dp, "DP")
    if pair is None:
        return None
    g, base, name = pair
    return {
        "model": m, "against": name,
        "speed_ratio": median_ratio(g, base),
        "differs": differs(g["samples_per_s"], base["samples_per_s"]),
        "wait_seconds": g["lock_wait_seconds"],
        "wait_share": g["split_ms"]["lock_wait"] / g["step_ms"],
    }


def judge(doc):
    """The verdict on each claim of the original table, with its numbers."""
    rows = doc["rows"]
    P = headline_workers(doc)
    models = [m for m in doc["meta"]["models"] if find(rows, m, "ddp", P)]
    claims = {"workers": P, "models": models, "replication": [], "speed": [], "lock": [],
              "cpython": comparisons(doc, models, P)}
    for m in models:
        dp = find(rows, m, "dp", P)
        ddp = find(rows, m, "ddp", P)
        cache = find(rows, m, "dp-cache", P)
        if dp is None:
            continue
        claims["replication"].append(judge_replication(m, dp, ddp, cache))
        claims["speed"].append(judge_speed(m, dp, ddp, cache))
        lock = judge_lock(rows, m, P, dp, cache)
        if lock is not None:
            claims["lock"].append(lock)
    return claims


# ----------------------------------------------------------------------------- the words


def speed_clause(ratio, measurable, a="DDP", b="DP"):
    if not measurable:
        if abs(ratio - 1) < 0.05:
            return f"{a} and {b} ran at the same speed ({a}/{b} = {ratio:.2f})"
        return (f"{a} and {b} differ only within the noise ({a}/{b} = {ratio:.2f}, but the runs' "
                "min-max ranges overlap)")
    if ratio >= 1:
        return f"{a} is {fmt_ratio(ratio)} faster than {b}"
    return f"{b} is {fmt_ratio(1 / ratio)} faster than {a}"


def per_model(items, many):
    """'for m, clause' items joined: one model, the bare clause; several, '; '."""
    if not many:
        return items[0][1] if items else ""
    return "; ".join(f"for {m}, {text}" for m, text in items)


def cache_bit(r):
    moved = "falls to" if r["cache_share"] < r["dp_share"] else "is"
    sp_ = r["cache_speedup"]
    speed = f"DP runs {fmt_ratio(sp_)} faster" if sp_ >= 1 else f"DP runs at {sp_:.2f}x the speed"
    return f"the share {moved} {fmt_pct(r['cache_share'])} (from {fmt_pct(r['dp_share'])}) and {speed}"


def say_replication(reps, P, many):
    costly = any(r["dp_share"] >= 0.10 for r in reps)
    head = "supported" if costly else "supported in bytes, not in time"
    s = (f"Replication: {head} — DP copied the model into its {P} replicas every step where DDP "
         "broadcast it once and copied 0 bytes per step: "
         + per_model([(r["model"],
                       f"{fmt_bytes(r['dp_bytes_per_step'])} per step ({fmt_bytes(r['dp_bytes_total'])} "
                       f"over {r['steps']} steps, {fmt_pct(r['dp_share'])} of its step time) against "
                       f"one broadcast of {fmt_bytes(r['ddp_broadcast_bytes'])}") for r in reps], many))
    if not costly:
        s += "; the copying is cheap here, under 10% of DP's step time"
    cached = [r for r in reps if "cache_share" in r]
    if cached:
        s += (". With --dp-cache (freed replica memory kept mapped), "
              + per_model([(r["model"], cache_bit(r)) for r in cached], many))
        if any(r["dp_share"] >= 0.10 and r["cache_share"] < r["dp_share"] / 2 for r in cached):
            s += ", so what costs is fresh memory pages for each replica, not the copy itself"
    return s + "."


def say_machines(cl, many):
    if not cl.get("measured"):
        return ("Machines: DP is one process by construction; DDP across hosts was not measured "
                f"in this run ({cl.get('note', 'no note')}).")
    s = (f"Machines: supported — DP is one process by construction; DDP ran across 2 simulated "
         f"hosts over a {cl['link_rate']} link: "
         + per_model([(r["model"],
                       f"{fmt_sps(r['samples_per_s']['median'])} samples/s "
                       f"({fmt_ratio(r['ratio_to_one_worker'])} the speed of one worker, "
                       f"{fmt_ratio(r['ratio_to_single_host'])} that of two ranks on one host), "
                       f"moving {fmt_bytes(r['bytes_per_step'])} across hosts per step")
                      for r in cl["rows"]], many and len(cl["rows"]) > 1))
    if all(r["ratio_to_one_worker"] < 1 for r in cl["rows"]):
        s += ". It runs across machines, but on this link two hosts are slower than one worker"
    elif all(r["ratio_to_one_worker"] > 1 + MIN_EFFECT for r in cl["rows"]):
        s += ". Two hosts beat one worker on this link"
    return s + "."


def speed_bit(x):
    t = speed_clause(x["ratio"], x["differs"])
    if not (x["differs"] and x["ratio"] > 1):
        t += f", with DDP's exposed communication at {fmt_pct(x['ddp_comm_share'])} of its step time"
    if "cache_ratio" in x:
        t += (", and against DP with --dp-cache "
              + speed_clause(x["cache_ratio"], x["cache_differs"], b="DP --dp-cache"))
    return t


def say_speed(sp, many):
    faster = [x for x in sp if x["differs"] and x["ratio"] > 1]
    verdict = ("supported" if len(faster) == len(sp)
               else "not supported" if not faster else "partly supported")
    return f"Speed: {verdict} — " + per_model([(x["model"], speed_bit(x)) for x in sp], many) + "."


def lock_bit(x):
    """(costs, clause): whether the lock measurably cost this model, and the words."""
    r = x["speed_ratio"]
    waited = (f"its threads waited {x['wait_seconds']:.3f} s for it in all, "
              f"{fmt_pct(x['wait_share'])} of the step time")
    if x["differs"] and r < 1:
        return True, f"the lock cost {fmt_pct(1 - r)} of {x['against']}'s speed ({waited})"
    if x["wait_share"] >= 0.01:
        return True, (f"the lock took {fmt_pct(x['wait_share'])} of the step time in waits "
                      f"({x['wait_seconds']:.3f} s in all), a cost the throughput does not resolve "
                      f"({x['against']} with --gil ran at {r:.2f}x the speed without it, within the noise)")
    noise = "" if x["differs"] or abs(r - 1) < 0.05 else ", a difference within the noise of the runs"
    return False, (f"the lock cost nothing measurable ({waited}; {x['against']} with --gil ran at "
                   f"{r:.2f}x the speed without it{noise})")


def cpython_bit(x):
    """(costs, clause): CPython's threads against its serial, beside the emulation's prediction."""
    kept, rep = x["cpython_kept"], x["cpython_replicate"]
    seen = kept if kept is not None else rep
    ran = f"CPython threads ran at {seen:.2f}x the speed of serial"
    if kept is not None and rep is not None:
        ran += f" (replicas kept; {rep:.2f}x replicated every step)"
    elif kept is None:
        ran += " (replicated every step)"
    pred = x["tinyddp_gil_cache"] if kept is not None and x["tinyddp_gil_cache"] is not None else x["tinyddp_gil"]
    if pred is not None:
        which = "--gil --dp-cache" if pred is x["tinyddp_gil_cache"] else "--gil"
        ran += f" where tinyddp's emulation predicts {pred:.2f}x ({which})"
        if kept is not None and rep is not None and x["tinyddp_gil"] is not None and which != "--gil":
            ran += f" and {x['tinyddp_gil']:.2f}x (--gil)"
    return seen < 1 - MIN_EFFECT, ran


def say_cpython(c, many):
    """The lock's verdict from the real interpreter: two threads that cannot beat one thread on
    the same global batch, with nothing replicated, are held back by the lock."""
    bits = [cpython_bit(x) for x in c["cpython"]]
    costs = sum(1 for cost, _ in bits if cost)
    head = ("supported" if costs == len(bits) else "partly supported" if costs
            else "not supported on this machine")
    s = (f"Interpreter lock: {head} — measured with real CPython threads (PyTorch DataParallel, the "
         f"same model, steps and batch), at {c['workers']} workers: "
         + per_model([(x["model"], t) for x, (_, t) in zip(c["cpython"], bits)], many))
    if costs:
        s += "; two threads gain nothing over one, so the lock, not the copying, holds them back"
    return s + "."


def say_lock(c, many):
    if c.get("cpython"):
        s = say_cpython(c, many)
        if c["lock"]:
            s += " In the emulation alone, " + per_model(
                [(x["model"], lock_bit(x)[1]) for x in c["lock"]], many) + "."
        return s
    lk, sp, reps = c["lock"], c["speed"], c["replication"]
    bits = [lock_bit(x) for x in lk]
    costs = sum(1 for cost, _ in bits if cost)
    if costs == len(lk):
        head = "Interpreter lock: supported — "
    elif costs:
        head = "Interpreter lock: partly supported — "
    else:
        head = "Interpreter lock: not supported on this machine — "
    s = head + per_model([(x["model"], t) for x, (_, t) in zip(lk, bits)], many)
    if not costs:
        s += (". The emulated lock is released around the BLAS kernels, as PyTorch releases "
              "the GIL")
        slow = [x for x in sp if x["differs"] and x["ratio"] > 1]
        heavy = [r for r in reps if r["dp_share"] >= 0.10]
        if slow and heavy:
            s += "; DP's slowness here comes from replication, not from lock contention"
    return s + "."


def paragraph(doc):
    """The paragraph under the table, and the claims it was written from."""
    c = judge(doc)
    P = c["workers"]
    meta = doc["meta"]
    many = len(c["models"]) > 1
    over = " (more workers than cores)" if P > meta["cores"] else ""
    parts = [f"Measured on this machine ({machine_line(meta)}) at {P} workers{over}, medians of "
             f"{meta['repeats']} runs."]
    if c["replication"]:
        parts.append(say_replication(c["replication"], P, many))
    parts.append(say_machines(doc["cluster"], many))
    if c["speed"]:
        parts.append(say_speed(c["speed"], many))
    if c["lock"] or c["cpython"]:
        parts.append(say_lock(c, many))
    return " ".join(parts), c


def finish_doc(doc):
    """Everything derived from the measurements, derived again: ratios, verdicts, paragraph."""
    for r in doc["rows"]:
        ddp = find(doc["rows"], r["model"], "ddp", r["workers"])
        if ddp is not None:
            r["ratio_to_ddp"] = r["samples_per_s"]["median"] / ddp["samples_per_s"]["median"]
    text, claims = paragraph(doc)
    doc["claims"] = claims
    doc["paragraph"] = text
