#!/usr/bin/python3
"""compare_report.py: the DP vs DDP comparison, from the runs scripts/compare.sh made.

Standard library only (Debian's /usr/bin/python3).

  compare_report.py build --manifest RUNS.tsv --meta META.json [--cluster CLUSTER.tsv]
                          [--cluster-note TEXT] [--kernels FILE | --kernels-note TEXT]
                          --json OUT.json --md OUT.md [--plots DIR]
      aggregate every run (median and min-max over the repeats), judge the claims of the
      original table, write the JSON, the Markdown and (with --plots) gnuplot data and script.

  compare_report.py render IN.json [--md OUT.md] [--plots DIR]
      the Markdown (stdout without --md) and the plot files from an aggregated JSON; the
      paragraph is generated again from the numbers (tests feed it known figures).

RUNS.tsv, one run a line: model variant workers ranks threads repeat json_file
CLUSTER.tsv: model kind(startup|run) repeat json_file bytes_crossing_hosts
Exit status: 0 done, 1 a run's JSON is missing, malformed or disagrees with the plan, 2 bad usage.
"""

import json
import math
import os
import statistics
import sys

VARIANTS = {
    # name: (label, description)
    "serial": ("serial", "one thread, batch 64 x P"),
    "dp": ("DP", "threads, model replicated every step"),
    "dp-cache": ("DP --dp-cache", "DP, freed replica memory kept mapped"),
    "dp-gil": ("DP --gil", "DP under the emulated interpreter lock"),
    "dp-gil-cache": ("DP --gil --dp-cache", "both"),
    "ddp": ("DDP", "one MPI rank per worker"),
    "hybrid": ("hybrid", "MPI ranks x threads"),
}
ORDER = list(VARIANTS)
SPLIT_KEYS = ["compute", "replicate", "scatter", "gather", "comm", "lock_wait", "optimizer", "other"]
SPLIT_LABELS = {
    "compute": "compute",
    "replicate": "replication",
    "scatter": "scatter",
    "gather": "gather",
    "comm": "exposed comm.",
    "lock_wait": "lock wait",
    "optimizer": "optimizer",
    "other": "other",
}
# two medians differ measurably when their min-max ranges do not overlap and they differ by
# at least this much
MIN_EFFECT = 0.03


class Fail(Exception):
    pass


# ----------------------------------------------------------------------------- numbers

def finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def stats(values):
    vals = sorted(values)
    return {"median": statistics.median(vals), "min": vals[0], "max": vals[-1], "runs": list(values)}


def fmt_sps(x):
    return f"{x:,.0f}"


def fmt_bytes(b):
    b = float(b)
    if b >= 1e9:
        return f"{b / 1e9:.2f} GB"
    if b >= 1e6:
        return f"{b / 1e6:.1f} MB"
    if b >= 1e3:
        return f"{b / 1e3:.1f} kB"
    return f"{b:.0f} B"


def fmt_ratio(r):
    if r >= 10:
        return f"{r:.0f}x"
    if r >= 1.095:
        return f"{r:.1f}x"
    return f"{r:.2f}x"


def fmt_pct(f):
    p = round(100.0 * f, 1)
    if p >= 10 or p == 0:
        return f"{p:.0f}%"
    return f"{p:.1f}%"


def fmt_ms(x):
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def differs(a, b):
    """a, b: samples_per_s stats. True when the medians differ measurably."""
    if b["median"] <= 0 or a["median"] <= 0:
        return False
    overlap = a["min"] <= b["max"] and b["min"] <= a["max"]
    return not overlap and abs(a["median"] / b["median"] - 1.0) >= MIN_EFFECT


def join_and(items):
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# ----------------------------------------------------------------------------- build

def read_tsv(path, ncols):
    out = []
    with open(path) as f:
        for ln, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) != ncols:
                raise Fail(f"{path}:{ln}: expected {ncols} tab-separated columns, got {len(cols)}")
            out.append(cols)
    return out


def load_run(path):
    try:
        with open(path) as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        raise Fail(f"run summary {path}: {e}")
    need = ["train_samples_per_s", "steps", "global_batch", "replicated_bytes_total", "broadcast_bytes",
            "allreduce_bytes_per_step", "comm_seconds", "gil_wait_seconds", "replicate_seconds",
            "scatter_seconds", "compute_seconds", "gather_seconds", "optimizer_seconds", "hosts",
            "world_size", "workers", "params", "test_accuracy", "final_loss"]
    for k in need:
        if k not in j or not finite(j[k]):
            raise Fail(f"run summary {path}: key '{k}' missing or not a number")
    return j


def split_of(variant, j, workers):
    """Per-step wall time (ms) of one run, split so that the parts add up to the step time."""
    steps = j["steps"]
    train_s = steps * j["global_batch"] / j["train_samples_per_s"]
    step = train_s / steps
    per = lambda k: j[k] / steps  # noqa: E731
    s = dict.fromkeys(SPLIT_KEYS, 0.0)
    s["optimizer"] = per("optimizer_seconds")
    if variant.startswith("dp"):
        s["replicate"] = per("replicate_seconds")
        s["scatter"] = per("scatter_seconds")
        s["gather"] = per("gather_seconds")
        compute = per("compute_seconds")
        # gil_wait_seconds sums every thread's waits: the mean per worker is the wall estimate
        s["lock_wait"] = min(compute, j["gil_wait_seconds"] / steps / max(1, workers))
        s["compute"] = compute - s["lock_wait"]
        s["other"] = step - sum(s[k] for k in SPLIT_KEYS if k != "other")
    elif variant in ("ddp", "hybrid"):
        s["comm"] = per("comm_seconds")
        s["compute"] = step - s["comm"] - s["optimizer"]
    else:
        s["compute"] = step - s["optimizer"]
    for k in SPLIT_KEYS:
        s[k] = max(0.0, s[k]) * 1e3
    return step * 1e3, s


def build(args):
    with open(args.meta) as f:
        meta = json.load(f)
    cores = meta["cores"]
    groups = {}
    for model, variant, workers, ranks, threads, repeat, path in read_tsv(args.manifest, 7):
        if variant not in VARIANTS:
            raise Fail(f"{args.manifest}: unknown variant '{variant}'")
        key = (model, variant, int(workers))
        groups.setdefault(key, {"ranks": int(ranks), "threads": int(threads), "runs": []})
        j = load_run(path)
        steps = meta["steps"][model]
        gb = meta["batch_per_worker"] * int(workers)
        if j["steps"] != steps:
            raise Fail(f"{path}: ran {j['steps']} steps, {steps} were asked for")
        if j["global_batch"] != gb:
            raise Fail(f"{path}: global batch {j['global_batch']}, expected {gb}")
        if j["train_samples_per_s"] <= 0:
            raise Fail(f"{path}: no training throughput recorded")
        groups[key]["runs"].append(j)
    if not groups:
        raise Fail(f"{args.manifest}: no runs")
    rows = []
    for (model, variant, workers), g in groups.items():
        runs = g["runs"]
        sps = stats([r["train_samples_per_s"] for r in runs])
        # the split comes from the median run, so that its parts add up to its step time
        by_speed = sorted(runs, key=lambda r: r["train_samples_per_s"])
        med = by_speed[(len(by_speed) - 1) // 2]
        step_ms, split = split_of(variant, med, workers)
        train_s = med["steps"] * med["global_batch"] / med["train_samples_per_s"]
        rows.append({
            "model": model,
            "variant": variant,
            "label": VARIANTS[variant][0],
            "workers": workers,
            "ranks": g["ranks"],
            "threads": g["threads"],
            "over_cores": workers > cores,
            "params": med["params"],
            "global_batch": med["global_batch"],
            "steps": med["steps"],
            "repeats": len(runs),
            "samples_per_s": sps,
            "ratio_to_ddp": 0.0,  # filled below
            "step_ms": step_ms,
            "split_ms": split,
            "replicated_bytes_per_step": med["replicated_bytes_total"] / med["steps"],
            "replicated_bytes_total": med["replicated_bytes_total"],
            "replication_share": med["replicate_seconds"] / train_s,
            "broadcast_bytes": med["broadcast_bytes"],
            "allreduce_bytes_per_step": med["allreduce_bytes_per_step"],
            "lock_wait_seconds": med["gil_wait_seconds"],
            "comm_seconds": med["comm_seconds"],
            "hosts": med["hosts"],
            "test_accuracy": med["test_accuracy"],
            "final_loss": med["final_loss"],
        })
    rows.sort(key=lambda r: (meta["models"].index(r["model"]) if r["model"] in meta["models"] else 99,
                             r["workers"], ORDER.index(r["variant"])))
    for r in rows:
        if find(rows, r["model"], "ddp", r["workers"]) is None:
            raise Fail(f"no DDP run for {r['model']} at {r['workers']} workers")

    cluster = {"measured": False, "note": args.cluster_note or "not run"}
    if args.cluster:
        cluster = build_cluster(args, meta, rows)
    kernels = {"included": False, "note": args.kernels_note or "not asked for (--with-kernels)"}
    if args.kernels:
        with open(args.kernels) as f:
            kernels = {"included": True, "note": "scripts/seed-table.sh", "table": f.read().rstrip("\n")}
    doc = {"schema": "tinyddp-compare/1", "meta": meta, "rows": rows, "cluster": cluster,
           "kernels": kernels}
    finish_doc(doc)
    write_text(args.json, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    write_text(args.md, render_md(doc))
    if args.plots:
        write_plots(doc, args.plots)


def build_cluster(args, meta, rows):
    rec = read_tsv(args.cluster, 5)
    out = []
    for model in meta["models"]:
        startup = [c for c in rec if c[0] == model and c[1] == "startup"]
        runs = [c for c in rec if c[0] == model and c[1] == "run"]
        if not runs:
            continue
        if len(startup) != 1:
            raise Fail(f"{args.cluster}: expected one startup measurement for {model}")
        startup_bytes = int(startup[0][4])
        js = [load_run(c[3]) for c in runs]
        steps = meta["steps"][model]
        for c, j in zip(runs, js):
            if j["steps"] != steps or j["hosts"] != 2:
                raise Fail(f"{c[3]}: expected {steps} steps on 2 hosts, got {j['steps']} on {j['hosts']}")
        per_step = [(int(c[4]) - startup_bytes) / steps for c in runs]
        sps = stats([j["train_samples_per_s"] for j in js])
        local = find(rows, model, "ddp", 2)
        one = find(rows, model, "ddp", 1)
        if local is None or one is None:
            raise Fail("the 2-host DDP run needs DDP at 1 and 2 workers on one host to compare with")
        out.append({
            "model": model,
            "hosts": 2,
            "ranks": 2,
            "steps": steps,
            "samples_per_s": sps,
            "single_host_samples_per_s": local["samples_per_s"]["median"],
            "ratio_to_single_host": sps["median"] / local["samples_per_s"]["median"],
            "one_worker_samples_per_s": one["samples_per_s"]["median"],
            "ratio_to_one_worker": sps["median"] / one["samples_per_s"]["median"],
            "bytes_per_step": statistics.median(per_step),
            "startup_bytes": startup_bytes,
            "allreduce_bytes_per_step": js[0]["allreduce_bytes_per_step"],
            "broadcast_bytes": js[0]["broadcast_bytes"],
            "comm_ms_per_step": statistics.median(j["comm_seconds"] for j in js) / steps * 1e3,
        })
    if not out:
        raise Fail(f"{args.cluster}: no 2-host runs")
    return {"measured": True, "link_rate": meta.get("link_rate", "?"), "hosts": 2, "ranks_per_host": 1,
            "rows": out}


def find(rows, model, variant, workers):
    for r in rows:
        if r["model"] == model and r["variant"] == variant and r["workers"] == workers:
            return r
    return None


def write_text(path, text):
    # compare.sh stages every output in a temporary directory and renames it into place; a
    # direct caller still never sees half a file
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- claims

def headline_workers(doc):
    meta = doc["meta"]
    ws = sorted({r["workers"] for r in doc["rows"]})
    fit = [w for w in ws if 2 <= w <= meta["cores"]]
    return max(fit) if fit else max(ws)


def judge(doc):
    """The verdict on each claim of the original table, with its numbers."""
    P = headline_workers(doc)
    models = [m for m in doc["meta"]["models"] if find(doc["rows"], m, "ddp", P)]
    claims = {"workers": P, "models": models, "replication": [], "speed": [], "lock": []}
    for m in models:
        dp = find(doc["rows"], m, "dp", P)
        ddp = find(doc["rows"], m, "ddp", P)
        cache = find(doc["rows"], m, "dp-cache", P)
        if dp is None:
            continue
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
            rep["cache_speedup"] = cache["samples_per_s"]["median"] / dp["samples_per_s"]["median"]
        claims["replication"].append(rep)
        sp = {"model": m, "ratio": ddp["samples_per_s"]["median"] / dp["samples_per_s"]["median"],
              "differs": differs(ddp["samples_per_s"], dp["samples_per_s"]),
              "ddp_comm_share": ddp["split_ms"]["comm"] / ddp["step_ms"]}
        if cache is not None:
            sp["cache_ratio"] = ddp["samples_per_s"]["median"] / cache["samples_per_s"]["median"]
            sp["cache_differs"] = differs(ddp["samples_per_s"], cache["samples_per_s"])
        claims["speed"].append(sp)
        # the lock's effect: with and without --gil, on the quieter --dp-cache pair when there is one
        pair = None
        if cache is not None and find(doc["rows"], m, "dp-gil-cache", P) is not None:
            pair = (find(doc["rows"], m, "dp-gil-cache", P), cache, "DP --dp-cache")
        elif find(doc["rows"], m, "dp-gil", P) is not None:
            pair = (find(doc["rows"], m, "dp-gil", P), dp, "DP")
        if pair is not None:
            g, base, name = pair
            claims["lock"].append({
                "model": m, "against": name,
                "speed_ratio": g["samples_per_s"]["median"] / base["samples_per_s"]["median"],
                "differs": differs(g["samples_per_s"], base["samples_per_s"]),
                "wait_seconds": g["lock_wait_seconds"],
                "wait_share": g["split_ms"]["lock_wait"] / g["step_ms"],
            })
    return claims


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


def paragraph(doc):
    c = judge(doc)
    P = c["workers"]
    meta = doc["meta"]
    many = len(c["models"]) > 1
    over = " (more workers than cores)" if P > meta["cores"] else ""
    parts = [f"Measured on this machine ({machine_line(meta)}) at {P} workers{over}, medians of "
             f"{meta['repeats']} runs."]

    # replication
    reps = c["replication"]
    if reps:
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
            def cache_bit(r):
                moved = "falls to" if r["cache_share"] < r["dp_share"] else "is"
                sp_ = r["cache_speedup"]
                speed = f"DP runs {fmt_ratio(sp_)} faster" if sp_ >= 1 else f"DP runs at {sp_:.2f}x the speed"
                return f"the share {moved} {fmt_pct(r['cache_share'])} (from {fmt_pct(r['dp_share'])}) and {speed}"
            s += (". With --dp-cache (freed replica memory kept mapped), "
                  + per_model([(r["model"], cache_bit(r)) for r in cached], many))
            if any(r["dp_share"] >= 0.10 and r["cache_share"] < r["dp_share"] / 2 for r in cached):
                s += ", so what costs is fresh memory pages for each replica, not the copy itself"
        parts.append(s + ".")

    # machines
    cl = doc["cluster"]
    if cl.get("measured"):
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
        parts.append(s + ".")
    else:
        parts.append("Machines: DP is one process by construction; DDP across hosts was not measured "
                     f"in this run ({cl.get('note', 'no note')}).")

    # speed
    sp = c["speed"]
    if sp:
        faster = [x for x in sp if x["differs"] and x["ratio"] > 1]
        verdict = ("supported" if len(faster) == len(sp)
                   else "not supported" if not faster else "partly supported")

        def speed_bit(x):
            t = speed_clause(x["ratio"], x["differs"])
            if not (x["differs"] and x["ratio"] > 1):
                t += f", with DDP's exposed communication at {fmt_pct(x['ddp_comm_share'])} of its step time"
            if "cache_ratio" in x:
                t += (", and against DP with --dp-cache "
                      + speed_clause(x["cache_ratio"], x["cache_differs"], b="DP --dp-cache"))
            return t
        s = f"Speed: {verdict} — " + per_model([(x["model"], speed_bit(x)) for x in sp], many)
        parts.append(s + ".")

    # the lock
    lk = c["lock"]
    if lk:
        costs = []
        items = []
        for x in lk:
            r = x["speed_ratio"]
            waited = (f"its threads waited {x['wait_seconds']:.3f} s for it in all, "
                      f"{fmt_pct(x['wait_share'])} of the step time")
            if x["differs"] and r < 1:
                costs.append(x)
                t = f"the lock cost {fmt_pct(1 - r)} of {x['against']}'s speed ({waited})"
            elif x["wait_share"] >= 0.01:
                costs.append(x)
                t = (f"the lock took {fmt_pct(x['wait_share'])} of the step time in waits "
                     f"({x['wait_seconds']:.3f} s in all), a cost the throughput does not resolve "
                     f"({x['against']} with --gil ran at {r:.2f}x the speed without it, within the noise)")
            else:
                noise = ("" if x["differs"] or abs(r - 1) < 0.05
                         else ", a difference within the noise of the runs")
                t = (f"the lock cost nothing measurable ({waited}; {x['against']} with --gil ran at "
                     f"{r:.2f}x the speed without it{noise})")
            items.append((x["model"], t))
        if len(costs) == len(lk):
            head = "Interpreter lock: supported — "
        elif costs:
            head = "Interpreter lock: partly supported — "
        else:
            head = "Interpreter lock: not supported on this machine — "
        s = head + per_model(items, many)
        if not costs:
            s += (". The emulated lock is released around the BLAS kernels, as PyTorch releases "
                  "the GIL")
            slow = [x for x in sp if x["differs"] and x["ratio"] > 1]
            heavy = [r for r in reps if r["dp_share"] >= 0.10]
            if slow and heavy:
                s += "; DP's slowness here comes from replication, not from lock contention"
        parts.append(s + ".")
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


# ----------------------------------------------------------------------------- Markdown

def machine_line(meta):
    s = f"{meta['cores']} cores, {meta.get('cpu', 'unknown CPU')}"
    if meta.get("blas"):
        s += f", {meta['blas']}"
    return s


def cell_workers(r):
    return f"{r['workers']}†" if r["over_cores"] else str(r["workers"])


def render_md(doc):
    meta = doc["meta"]
    rows = doc["rows"]
    text, claims = paragraph(doc)
    P = claims["workers"]
    out = ["# DataParallel vs DistributedDataParallel, measured", ""]
    out.append(f"Machine: {machine_line(meta)}. Data: {meta.get('data', '?')}. "
               f"Batch {meta['batch_per_worker']} per worker (serial: {meta['batch_per_worker']} x P), "
               + ", ".join(f"{m} {meta['steps'][m]} steps" for m in meta["models"])
               + f"; median of {meta['repeats']} runs, spread min-max. "
               f"Command: `{meta.get('command', 'scripts/compare.sh')}`"
               + (f" ({meta['date']})" if meta.get("date") else "") + ".")
    out.append("")
    # the original table, cell by cell
    for m in claims["models"]:
        dp = find(rows, m, "dp", P)
        ddp = find(rows, m, "ddp", P)
        if dp is None:
            continue
        cache = find(rows, m, "dp-cache", P)
        gil = find(rows, m, "dp-gil", P)
        out.append(f"## The table, {m}, {P} workers")
        out.append("")
        out.append("| | DataParallel | DistributedDataParallel |")
        out.append("|---|---|---|")
        rep = (f"replicated every step: {fmt_bytes(dp['replicated_bytes_per_step'])}/step, "
               f"{fmt_bytes(dp['replicated_bytes_total'])} in {dp['steps']} steps, "
               f"{fmt_pct(dp['replication_share'])} of step time")
        if cache is not None:
            rep += f" ({fmt_pct(cache['replication_share'])} with --dp-cache)"
        out.append(f"| replication | {rep} | replicated once: one broadcast of "
                   f"{fmt_bytes(ddp['broadcast_bytes'])}, 0 B/step |")
        cl = doc["cluster"]
        crow = None
        if cl.get("measured"):
            crow = next((r for r in cl["rows"] if r["model"] == m), None)
        if crow is not None:
            mach = (f"2 hosts ({cl['link_rate']} link): {fmt_sps(crow['samples_per_s']['median'])} samples/s, "
                    f"{fmt_bytes(crow['bytes_per_step'])}/step across hosts")
        else:
            mach = f"not measured ({cl.get('note', 'no 2-host run')})"
        out.append(f"| machines | one process, 1 host (by construction) | {mach} |")
        spd = (f"{fmt_sps(dp['samples_per_s']['median'])} samples/s "
               f"({fmt_ratio(dp['ratio_to_ddp'])} DDP)")
        if gil is not None:
            spd += (f"; --gil {fmt_sps(gil['samples_per_s']['median'])} "
                    f"(lock wait {gil['lock_wait_seconds']:.3f} s)")
        if cache is not None:
            spd += f"; --dp-cache {fmt_sps(cache['samples_per_s']['median'])}"
        out.append(f"| speed | {spd} | {fmt_sps(ddp['samples_per_s']['median'])} samples/s |")
        out.append("")
    out.append(text)
    out.append("")

    # speed and time split
    out.append("## Speed and time split")
    out.append("")
    out.append("samples/s: median (min-max). Time split: milliseconds per step of the median run; "
               "the parts add up to the step. † more workers than the "
               f"{meta['cores']} cores. Lock wait: the threads' total wait for the lock divided by "
               "the workers. DDP and hybrid: compute includes everything but exposed communication "
               "and the optimizer.")
    out.append("")
    hdr = ["model", "mode", "workers", "ranks x threads", "samples/s", "min-max", "vs DDP", "ms/step"]
    hdr += [SPLIT_LABELS[k] for k in SPLIT_KEYS]
    out.append("| " + " | ".join(hdr) + " |")
    out.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(hdr) - 2)) + "|")
    for r in rows:
        s = r["samples_per_s"]
        cells = [r["model"], r["label"], cell_workers(r), f"{r['ranks']} x {r['threads']}",
                 fmt_sps(s["median"]), f"{fmt_sps(s['min'])}-{fmt_sps(s['max'])}",
                 f"{r['ratio_to_ddp']:.2f}", fmt_ms(r["step_ms"])]
        cells += [fmt_ms(r["split_ms"][k]) for k in SPLIT_KEYS]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")

    # replication
    out.append("## Replication")
    out.append("")
    out.append("| model | workers | mode | copied per step | copied in total | share of step time | "
               "broadcast once | allreduce per step |")
    out.append("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["variant"] not in ("dp", "dp-cache", "ddp"):
            continue
        out.append(f"| {r['model']} | {cell_workers(r)} | {r['label']} | "
                   f"{fmt_bytes(r['replicated_bytes_per_step'])} | {fmt_bytes(r['replicated_bytes_total'])} | "
                   f"{fmt_pct(r['replication_share'])} | {fmt_bytes(r['broadcast_bytes'])} | "
                   f"{fmt_bytes(r['allreduce_bytes_per_step'])} |")
    out.append("")

    # machines
    out.append("## Machines")
    out.append("")
    cl = doc["cluster"]
    if cl.get("measured"):
        out.append(f"DDP, 2 ranks on 2 simulated hosts (scripts/cluster-sim: network namespaces, TCP "
                   f"over a veth link shaped to {cl['link_rate']} with tc tbf), against 2 ranks on "
                   "one host (shared memory) and one worker. Bytes crossing hosts: the link's "
                   "tx+rx counters around each run, less those of a 0-step run (start-up and the "
                   "broadcast), per step.")
        out.append("")
        out.append("| model | samples/s | min-max | vs 2 ranks on 1 host | vs 1 worker | "
                   "bytes across hosts per step | allreduce payload per step | start-up bytes | "
                   "exposed comm. ms/step |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in cl["rows"]:
            s = r["samples_per_s"]
            out.append(f"| {r['model']} | {fmt_sps(s['median'])} | {fmt_sps(s['min'])}-{fmt_sps(s['max'])} | "
                       f"{r['ratio_to_single_host']:.2f} | {r['ratio_to_one_worker']:.2f} | "
                       f"{fmt_bytes(r['bytes_per_step'])} | {fmt_bytes(r['allreduce_bytes_per_step'])} | "
                       f"{fmt_bytes(r['startup_bytes'])} | {fmt_ms(r['comm_ms_per_step'])} |")
    else:
        out.append(f"Not measured: {cl.get('note', 'no note')}. DP is one process, one host, by "
                   "construction.")
    out.append("")

    kn = doc.get("kernels", {})
    if kn.get("included"):
        out.append("## The notebook's kernels (scripts/seed-table.sh)")
        out.append("")
        out.append(kn["table"])
        out.append("")
    elif meta.get("with_kernels"):
        out.append("## The notebook's kernels")
        out.append("")
        out.append(f"Not included: {kn.get('note', '')}.")
        out.append("")
    if meta.get("plots"):
        out.append("Plots: `compare_speed.png` (samples/s against workers), `compare_split.png` "
                   "(time split per mode).")
        out.append("")
    return "\n".join(out)


# ----------------------------------------------------------------------------- plots

def write_plots(doc, d):
    meta = doc["meta"]
    rows = doc["rows"]
    models = [m for m in meta["models"] if any(r["model"] == m for r in rows)]
    P = headline_workers(doc)
    n = len(models)
    gp = []
    gp.append('if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {\n'
              f'  set terminal pngcairo noenhanced size {480 * n},440 font "DejaVu Sans,9"\n'
              '} else {\n'
              f'  set terminal png noenhanced size {480 * n},440 small\n'
              '}')
    where = f"{meta['cores']} cores, {meta.get('cpu', 'unknown CPU')}"
    gp.append('set datafile separator "\\t"')
    gp.append('set output "compare_speed.png"')
    gp.append(f'set multiplot layout 1,{n} title "samples/s against workers (median, min-max bars), {where}"')
    gp.append("set logscale y")
    gp.append('set format y "%.0f"')
    gp.append('set xlabel ""')
    gp.append('set ylabel "samples/s"')
    gp.append("set grid ytics")
    gp.append("set key below horizontal maxrows 3 samplen 2 font \",8\"")
    ws = sorted({r["workers"] for r in rows})
    gp.append(f"set xrange [{min(ws) - 0.3}:{max(ws) + 0.3}]")
    gp.append("set xtics (" + ", ".join(f'"{w}{"†" if w > meta["cores"] else ""}" {w}' for w in ws) + ")")
    for m in models:
        blocks = []
        titles = []
        for v in ORDER:
            pts = sorted((r for r in rows if r["model"] == m and r["variant"] == v), key=lambda r: r["workers"])
            if not pts:
                continue
            lines = [f"{r['workers']}\t{r['samples_per_s']['median']:.3f}\t{r['samples_per_s']['min']:.3f}\t"
                     f"{r['samples_per_s']['max']:.3f}" for r in pts]
            blocks.append("\n".join(lines))
            titles.append(VARIANTS[v][0] + (" (batch 64 x P)" if v == "serial" else ""))
        fn = f"speed_{m}.dat"
        write_text(os.path.join(d, fn), "\n\n\n".join(blocks) + "\n")
        gp.append(f'set title "{m}: samples/s against workers"')
        plots = [f'"{fn}" index {i} using 1:2:3:4 with yerrorlines lw 1.5 pt {i + 4} title "{t}"'
                 for i, t in enumerate(titles)]
        gp.append("plot " + ", \\\n     ".join(plots))
    gp.append("unset multiplot")
    gp.append("unset logscale y")
    gp.append('set format y "%g"')
    gp.append("unset xtics")
    gp.append("set xtics rotate by -30 font \",8\"")
    gp.append("set xrange [*:*]")
    gp.append('set output "compare_split.png"')
    gp.append(f'set multiplot layout 1,{n} title "time split of one step at {P} workers (median run), {where}"')
    gp.append("set style data histograms")
    gp.append("set style histogram rowstacked")
    gp.append("set style fill solid 0.85 border -1")
    gp.append("set boxwidth 0.7")
    gp.append('set xlabel ""')
    gp.append('set ylabel "ms per step"')
    gp.append("set key below horizontal maxrows 3 samplen 2 font \",8\"")
    for m in models:
        pts = [r for r in rows if r["model"] == m and r["workers"] == P]
        lines = ["mode\t" + "\t".join(SPLIT_LABELS[k] for k in SPLIT_KEYS)]
        for r in pts:
            lines.append(r["label"] + "\t" + "\t".join(f"{r['split_ms'][k]:.6f}" for k in SPLIT_KEYS))
        fn = f"split_{m}.dat"
        write_text(os.path.join(d, fn), "\n".join(lines) + "\n")
        gp.append(f'set title "{m}"')
        gp.append("set yrange [0:*]")
        plots = [f'"{fn}" using {i + 2}{":xtic(1)" if i == 0 else ""} title columnheader({i + 2})'
                 for i in range(len(SPLIT_KEYS))]
        gp.append("plot " + ", \\\n     ".join(plots))
    gp.append("unset multiplot")
    write_text(os.path.join(d, "plots.gp"), "\n".join(gp) + "\n")


# ----------------------------------------------------------------------------- command line

class Args:
    pass


def usage(msg=None):
    if msg:
        print(f"compare_report.py: {msg}", file=sys.stderr)
        sys.exit(2)
    print(__doc__.strip())
    sys.exit(0)


def parse(argv):
    if not argv or argv[0] in ("-h", "--help"):
        usage()
    a = Args()
    a.cmd = argv[0]
    if a.cmd not in ("build", "render"):
        usage(f"unknown command '{a.cmd}' (build, render)")
    opts = {"--manifest": "manifest", "--meta": "meta", "--cluster": "cluster", "--cluster-note": "cluster_note",
            "--kernels": "kernels", "--kernels-note": "kernels_note", "--json": "json", "--md": "md",
            "--plots": "plots"}
    for v in opts.values():
        setattr(a, v, None)
    a.input = None
    i = 1
    while i < len(argv):
        k = argv[i]
        if k in opts:
            if i + 1 >= len(argv):
                usage(f"{k} needs a value")
            setattr(a, opts[k], argv[i + 1])
            i += 2
        elif not k.startswith("-") and a.cmd == "render" and a.input is None:
            a.input = k
            i += 1
        else:
            usage(f"unexpected argument '{k}'")
    if a.cmd == "build":
        for k in ("manifest", "meta", "json", "md"):
            if getattr(a, k) is None:
                usage(f"build needs --{k}")
    elif a.input is None:
        usage("render needs the aggregated JSON file")
    return a


def main(argv):
    a = parse(argv)
    try:
        if a.cmd == "build":
            build(a)
        else:
            try:
                with open(a.input) as f:
                    doc = json.load(f)
            except (OSError, ValueError) as e:
                raise Fail(f"{a.input}: {e}")
            finish_doc(doc)
            md = render_md(doc)
            if a.md:
                write_text(a.md, md)
            else:
                sys.stdout.write(md + "\n")
            if a.plots:
                write_plots(doc, a.plots)
    except Fail as e:
        print(f"compare_report.py: {e}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError) as e:
        print(f"compare_report.py: malformed input: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
