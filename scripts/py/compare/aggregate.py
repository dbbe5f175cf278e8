"""The runs scripts/compare.sh made, aggregated: one row per (model, variant, workers) with the
median and min-max of the repeats and the time split of the median run; the 2-host DDP runs."""

import json
import math
import statistics

from .table import ORDER, SPLIT_KEYS, VARIANTS, Fail, find

RUN_KEYS = ["train_samples_per_s", "steps", "global_batch", "replicated_bytes_total", "broadcast_bytes",
            "allreduce_bytes_per_step", "comm_seconds", "gil_wait_seconds", "replicate_seconds",
            "scatter_seconds", "compute_seconds", "gather_seconds", "optimizer_seconds", "hosts",
            "world_size", "workers", "params", "test_accuracy", "final_loss"]


def finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def stats(values):
    vals = sorted(values)
    return {"median": statistics.median(vals), "min": vals[0], "max": vals[-1], "runs": list(values)}


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
    """One run's summary (ddp_train --json), every key the report reads a finite number."""
    try:
        with open(path) as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        raise Fail(f"run summary {path}: {e}")
    for k in RUN_KEYS:
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


def read_groups(manifest, meta):
    """RUNS.tsv's runs, checked against the plan, grouped by (model, variant, workers)."""
    groups = {}
    for model, variant, workers, ranks, threads, repeat, path in read_tsv(manifest, 7):
        if variant not in VARIANTS:
            raise Fail(f"{manifest}: unknown variant '{variant}'")
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
        raise Fail(f"{manifest}: no runs")
    return groups


def make_row(model, variant, workers, g, cores):
    runs = g["runs"]
    sps = stats([r["train_samples_per_s"] for r in runs])
    # the split comes from the median run, so that its parts add up to its step time
    by_speed = sorted(runs, key=lambda r: r["train_samples_per_s"])
    med = by_speed[(len(by_speed) - 1) // 2]
    step_ms, split = split_of(variant, med, workers)
    train_s = med["steps"] * med["global_batch"] / med["train_samples_per_s"]
    return {
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
        "ratio_to_ddp": 0.0,  # verdicts.finish_doc fills it
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
    }


def aggregate_rows(manifest, meta):
    """The report's rows: by model (in meta's order), workers, variant; each with its DDP row."""
    groups = read_groups(manifest, meta)
    rows = [make_row(m, v, w, g, meta["cores"]) for (m, v, w), g in groups.items()]
    rows.sort(key=lambda r: (meta["models"].index(r["model"]) if r["model"] in meta["models"] else 99,
                             r["workers"], ORDER.index(r["variant"])))
    for r in rows:
        if find(rows, r["model"], "ddp", r["workers"]) is None:
            raise Fail(f"no DDP run for {r['model']} at {r['workers']} workers")
    return rows


def cluster_row(path, rec, model, meta, rows):
    """One model's 2-host DDP runs, against DDP at 2 and 1 workers on one host."""
    startup = [c for c in rec if c[0] == model and c[1] == "startup"]
    runs = [c for c in rec if c[0] == model and c[1] == "run"]
    if not runs:
        return None
    if len(startup) != 1:
        raise Fail(f"{path}: expected one startup measurement for {model}")
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
    return {
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
    }


def aggregate_cluster(path, meta, rows):
    rec = read_tsv(path, 5)
    out = [c for c in (cluster_row(path, rec, m, meta, rows) for m in meta["models"]) if c is not None]
    if not out:
        raise Fail(f"{path}: no 2-host runs")
    return {"measured": True, "link_rate": meta.get("link_rate", "?"), "hosts": 2, "ranks_per_host": 1,
            "rows": out}


def aggregate(manifest, meta_path, cluster=None, cluster_note=None, kernels=None, kernels_note=None,
              torch=None, torch_note=None):
    """The report's document before the verdicts: schema, meta, rows, cluster, kernels, torch."""
    with open(meta_path) as f:
        meta = json.load(f)
    rows = aggregate_rows(manifest, meta)
    cl = {"measured": False, "note": cluster_note or "not run"}
    if cluster:
        cl = aggregate_cluster(cluster, meta, rows)
    kn = {"included": False, "note": kernels_note or "not asked for (--with-kernels)"}
    if kernels:
        with open(kernels) as f:
            kn = {"included": True, "note": "scripts/seed-table.sh", "table": f.read().rstrip("\n")}
    from .cpython import aggregate_torch  # (it reads TSVs with this module's helpers)
    tc = aggregate_torch(torch, meta) if torch else {"measured": False, "note": torch_note or "not run"}
    return {"schema": "tinyddp-compare/1", "meta": meta, "rows": rows, "cluster": cl, "kernels": kn,
            "torch": tc}
