"""The real thing beside the emulation: PyTorch's DataParallel in CPython threads (the real
interpreter lock; scripts/py/torch_dp.py: serial, dp-replicate, dp-kept) and PyTorch DDP (gloo;
scripts/py/torch_ddp.py) on the same model, steps and batch as the C rows; their aggregation,
their comparison with tinyddp's `dp --gil` and the report's table of them."""

from .aggregate import read_tsv, stats
from .fmt import cell_workers, fmt_sps
from .table import Fail, find

TORCH_VARIANTS = {
    # name: label
    "serial": "PyTorch serial",
    "dp-replicate": "PyTorch DP threads (replicated every step)",
    "dp-kept": "PyTorch DP threads (replicas kept)",
    "ddp": "PyTorch DDP (gloo)",
}


def aggregate_torch(path, meta):
    """TORCH.tsv (model variant workers repeat samples_per_s): one row per (model, variant,
    workers), the median and min-max of the repeats."""
    groups = {}
    for model, variant, workers, _repeat, sps in read_tsv(path, 5):
        if variant not in TORCH_VARIANTS:
            raise Fail(f"{path}: unknown PyTorch variant '{variant}'")
        try:
            v = float(sps)
        except ValueError:
            raise Fail(f"{path}: samples/s '{sps}' is not a number")
        if not v > 0:
            raise Fail(f"{path}: no throughput recorded for {model} {variant} at {workers} workers")
        groups.setdefault((model, variant, int(workers)), []).append(v)
    if not groups:
        raise Fail(f"{path}: no PyTorch runs")
    order = list(TORCH_VARIANTS)
    rows = [{"model": m, "variant": v, "label": TORCH_VARIANTS[v], "workers": w, "over_cores": w > meta["cores"],
             "samples_per_s": stats(vals)} for (m, v, w), vals in groups.items()]
    rows.sort(key=lambda r: (meta["models"].index(r["model"]) if r["model"] in meta["models"] else 99,
                             r["workers"], order.index(r["variant"])))
    return {"measured": True, "rows": rows}


def ratio(a, b):
    if a is None or b is None or b["samples_per_s"]["median"] <= 0:
        return None
    return a["samples_per_s"]["median"] / b["samples_per_s"]["median"]


def compare_row(doc, m, P):
    """CPython's threads / serial beside tinyddp's --gil / serial, one model at P workers."""
    tr, rows = doc["torch"]["rows"], doc["rows"]
    ser = find(tr, m, "serial", P)
    c_ser = find(rows, m, "serial", P)
    return {
        "model": m, "workers": P,
        "cpython_replicate": ratio(find(tr, m, "dp-replicate", P), ser),
        "cpython_kept": ratio(find(tr, m, "dp-kept", P), ser),
        "tinyddp_gil": ratio(find(rows, m, "dp-gil", P), c_ser),
        "tinyddp_gil_cache": ratio(find(rows, m, "dp-gil-cache", P), c_ser),
        "torch_ddp": ratio(find(tr, m, "ddp", P), ser),
        "tinyddp_ddp": ratio(find(rows, m, "ddp", P), c_ser),
    }


def comparisons(doc, models, P):
    """The rows of compare_row for which CPython's threads were measured."""
    if not doc.get("torch", {}).get("measured"):
        return []
    out = [compare_row(doc, m, P) for m in models]
    return [c for c in out if c["cpython_replicate"] is not None or c["cpython_kept"] is not None]


def fr(x):
    return "-" if x is None else f"{x:.2f}"


def torch_section(doc, P):
    """The report's table of the PyTorch rows, beside the C rows of the same work."""
    tc = doc.get("torch", {})
    out = ["## PyTorch beside the emulation (real CPython threads, real interpreter lock)", ""]
    if not tc.get("measured"):
        return out + [f"Not measured: {tc.get('note', 'no note')}.", ""]
    out += ["The same model, steps and batch per worker as the C rows (serial: batch x workers). "
            "PyTorch DP: scripts/py/torch_dp.py (one threading.Thread per worker per step, gradients "
            "gathered on the master, one BLAS thread); PyTorch DDP: scripts/py/torch_ddp.py (gloo, one "
            "process per worker). samples/s: median (min-max) of the repeats.", "",
            "| model | workers | mode | samples/s | min-max | vs PyTorch serial |",
            "|---|---:|---|---:|---:|---:|"]
    for r in tc["rows"]:
        s = r["samples_per_s"]
        rel = ratio(r, find(tc["rows"], r["model"], "serial", r["workers"]))
        out.append(f"| {r['model']} | {cell_workers(r)} | {r['label']} | {fmt_sps(s['median'])} | "
                   f"{fmt_sps(s['min'])}-{fmt_sps(s['max'])} | {fr(rel)} |")
    out += ["", f"DP / serial at {P} workers, CPython's threads beside tinyddp's emulation of them "
            "(each against its own serial at the same global batch):", "",
            "| model | CPython threads, replicated | CPython threads, kept | tinyddp `dp --gil` | "
            "tinyddp `dp --gil --dp-cache` | PyTorch DDP | tinyddp DDP |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for c in comparisons(doc, doc["meta"]["models"], P):
        out.append(f"| {c['model']} | {fr(c['cpython_replicate'])} | {fr(c['cpython_kept'])} | "
                   f"{fr(c['tinyddp_gil'])} | {fr(c['tinyddp_gil_cache'])} | {fr(c['torch_ddp'])} | "
                   f"{fr(c['tinyddp_ddp'])} |")
    return out + [""]
