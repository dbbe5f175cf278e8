"""The report as Markdown: the original table cell by cell with the generated paragraph, then
the speed and time split of every run, replication, machines, the notebook's kernels."""

from .cpython import torch_section
from .fmt import cell_workers, fmt_bytes, fmt_ms, fmt_pct, fmt_ratio, fmt_sps, machine_line
from .table import SPLIT_KEYS, SPLIT_LABELS, find
from .verdicts import paragraph


def header(meta):
    return [
        "# DataParallel vs DistributedDataParallel, measured", "",
        f"Machine: {machine_line(meta)}. Data: {meta.get('data', '?')}. "
        f"Batch {meta['batch_per_worker']} per worker (serial: {meta['batch_per_worker']} x P), "
        + ", ".join(f"{m} {meta['steps'][m]} steps" for m in meta["models"])
        + f"; median of {meta['repeats']} runs, spread min-max. "
        f"Command: `{meta.get('command', 'scripts/compare.sh')}`"
        + (f" ({meta['date']})" if meta.get("date") else "") + ".",
        "",
    ]


def machines_cell(cl, m):
    crow = None
    if cl.get("measured"):
        crow = next((r for r in cl["rows"] if r["model"] == m), None)
    if crow is None:
        return f"not measured ({cl.get('note', 'no 2-host run')})"
    return (f"2 hosts ({cl['link_rate']} link): {fmt_sps(crow['samples_per_s']['median'])} samples/s, "
            f"{fmt_bytes(crow['bytes_per_step'])}/step across hosts")


def original_table(doc, m, P):
    """The original table's three rows for one model at P workers, measured."""
    rows = doc["rows"]
    dp = find(rows, m, "dp", P)
    ddp = find(rows, m, "ddp", P)
    if dp is None:
        return []
    cache = find(rows, m, "dp-cache", P)
    gil = find(rows, m, "dp-gil", P)
    rep = (f"replicated every step: {fmt_bytes(dp['replicated_bytes_per_step'])}/step, "
           f"{fmt_bytes(dp['replicated_bytes_total'])} in {dp['steps']} steps, "
           f"{fmt_pct(dp['replication_share'])} of step time")
    if cache is not None:
        rep += f" ({fmt_pct(cache['replication_share'])} with --dp-cache)"
    mach = machines_cell(doc["cluster"], m)
    spd = (f"{fmt_sps(dp['samples_per_s']['median'])} samples/s "
           f"({fmt_ratio(dp['ratio_to_ddp'])} DDP)")
    if gil is not None:
        spd += (f"; --gil {fmt_sps(gil['samples_per_s']['median'])} "
                f"(lock wait {gil['lock_wait_seconds']:.3f} s)")
    if cache is not None:
        spd += f"; --dp-cache {fmt_sps(cache['samples_per_s']['median'])}"
    return [
        f"## The table, {m}, {P} workers", "",
        "| | DataParallel | DistributedDataParallel |",
        "|---|---|---|",
        f"| replication | {rep} | replicated once: one broadcast of "
        f"{fmt_bytes(ddp['broadcast_bytes'])}, 0 B/step |",
        f"| machines | one process, 1 host (by construction) | {mach} |",
        f"| speed | {spd} | {fmt_sps(ddp['samples_per_s']['median'])} samples/s |",
        "",
    ]


def split_table(doc):
    out = ["## Speed and time split", "",
           "samples/s: median (min-max). Time split: milliseconds per step of the median run; "
           "the parts add up to the step. † more workers than the "
           f"{doc['meta']['cores']} cores. Lock wait: the threads' total wait for the lock divided by "
           "the workers. DDP and hybrid: compute includes everything but exposed communication "
           "and the optimizer.", ""]
    hdr = ["model", "mode", "workers", "ranks x threads", "samples/s", "min-max", "vs DDP", "ms/step"]
    hdr += [SPLIT_LABELS[k] for k in SPLIT_KEYS]
    out.append("| " + " | ".join(hdr) + " |")
    out.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(hdr) - 2)) + "|")
    for r in doc["rows"]:
        s = r["samples_per_s"]
        cells = [r["model"], r["label"], cell_workers(r), f"{r['ranks']} x {r['threads']}",
                 fmt_sps(s["median"]), f"{fmt_sps(s['min'])}-{fmt_sps(s['max'])}",
                 f"{r['ratio_to_ddp']:.2f}", fmt_ms(r["step_ms"])]
        cells += [fmt_ms(r["split_ms"][k]) for k in SPLIT_KEYS]
        out.append("| " + " | ".join(cells) + " |")
    return out + [""]


def replication_table(rows):
    out = ["## Replication", "",
           "| model | workers | mode | copied per step | copied in total | share of step time | "
           "broadcast once | allreduce per step |",
           "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["variant"] not in ("dp", "dp-cache", "ddp"):
            continue
        out.append(f"| {r['model']} | {cell_workers(r)} | {r['label']} | "
                   f"{fmt_bytes(r['replicated_bytes_per_step'])} | {fmt_bytes(r['replicated_bytes_total'])} | "
                   f"{fmt_pct(r['replication_share'])} | {fmt_bytes(r['broadcast_bytes'])} | "
                   f"{fmt_bytes(r['allreduce_bytes_per_step'])} |")
    return out + [""]


def machines_section(cl):
    out = ["## Machines", ""]
    if not cl.get("measured"):
        return out + [f"Not measured: {cl.get('note', 'no note')}. DP is one process, one host, by "
                      "construction.", ""]
    out += [f"DDP, 2 ranks on 2 simulated hosts (scripts/cluster-sim: network namespaces, TCP "
            f"over a veth link shaped to {cl['link_rate']} with tc tbf), against 2 ranks on "
            "one host (shared memory) and one worker. Bytes crossing hosts: the link's "
            "tx+rx counters around each run, less those of a 0-step run (start-up and the "
            "broadcast), per step.", "",
            "| model | samples/s | min-max | vs 2 ranks on 1 host | vs 1 worker | "
            "bytes across hosts per step | allreduce payload per step | start-up bytes | "
            "exposed comm. ms/step |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in cl["rows"]:
        s = r["samples_per_s"]
        out.append(f"| {r['model']} | {fmt_sps(s['median'])} | {fmt_sps(s['min'])}-{fmt_sps(s['max'])} | "
                   f"{r['ratio_to_single_host']:.2f} | {r['ratio_to_one_worker']:.2f} | "
                   f"{fmt_bytes(r['bytes_per_step'])} | {fmt_bytes(r['allreduce_bytes_per_step'])} | "
                   f"{fmt_bytes(r['startup_bytes'])} | {fmt_ms(r['comm_ms_per_step'])} |")
    return out + [""]


def kernels_and_plots(doc):
    meta = doc["meta"]
    kn = doc.get("kernels", {})
    out = []
    if kn.get("included"):
        out += ["## The notebook's kernels (scripts/seed-table.sh)", "", kn["table"], ""]
    elif meta.get("with_kernels"):
        out += ["## The notebook's kernels", "", f"Not included: {kn.get('note', '')}.", ""]
    if meta.get("plots"):
        out += ["Plots: `compare_speed.png` (samples/s against workers), `compare_split.png` "
                "(time split per mode).", ""]
    if meta.get("curves"):
        out += ["Curves: `compare_curves.png` (the training loss and accuracy of serial, DP and DDP on "
                "the same global batch, against steps and against wall-clock time).", ""]
    return out


def render_md(doc):
    """The whole report (doc: after verdicts.finish_doc)."""
    text, claims = paragraph(doc)
    P = claims["workers"]
    out = header(doc["meta"])
    for m in claims["models"]:
        out += original_table(doc, m, P)
    out += [text, ""]
    out += split_table(doc)
    out += replication_table(doc["rows"])
    out += machines_section(doc["cluster"])
    if doc.get("torch", {}).get("measured") or doc.get("torch", {}).get("note"):
        out += torch_section(doc, P)
    out += kernels_and_plots(doc)
    return "\n".join(out)
