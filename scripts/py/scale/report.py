"""report.py: the scaling model's tables (checked against measurements, and extended)."""
from . import model

VARIANTS = {"fp32": (False, False), "bf16": (True, False), "fp32+zero": (False, True),
            "bf16+zero": (True, True)}


def label(m):
    where = "1 host" if m["hosts"] == 1 else f"{m['hosts']} hosts, {m['link']}"
    extra = (" bf16" if m.get("compress") else "") + (" zero" if m.get("zero") else "")
    return f"np={m['ranks']}, {where}{extra}"


def checked_rows(inp, a):
    rows = []
    for m in inp.get("measured", []):
        p = model.predict(inp, m["ranks"], m["hosts"], m["link"], m.get("compress", False),
                          m.get("zero", False), a.algorithm, not a.no_overlap, a.bucket_kb,
                          cores=inp.get("cores"))
        err = (p["samples_per_s"] - m["samples_per_s"]) / m["samples_per_s"] * 100
        note = []
        if str(m.get("calibrates", "")).startswith("clamped"):
            note.append(f"the bf16 CPU cost derived from this run came out {m['calibrates'].split()[1]} us "
                        "a step (the model's 16-bit comm here exceeds the run's extra time): taken as 0")
        elif m.get("calibrates"):
            note.append("the bf16 CPU cost is derived from this run: not a check")
        if p["oversub"] > 1:
            note.append(f"{m['ranks']} ranks on {inp.get('cores')} cores: " + (
                "compute co-run (time-sharing in it)" if p["compute_source"].startswith("co-run")
                else f"compute x{p['oversub']:g}"))
        if p.get("comm_source") == "cores":
            note.append("comm: all the bytes at the cores' total rate (model.cores_bound)")
        rows.append((label(m), p, m["samples_per_s"], err, "; ".join(note)))
    return rows


def checked_table(inp, a):
    out = ["| configuration | algorithm | compute | exposed comm | predicted samples/s | measured | error | limited by | note |",
           "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for name, p, meas, err, note in checked_rows(inp, a):
        out.append(f"| {name} | {p['algorithm']} | {p['compute_s'] * 1e6:.0f} us | {p['exposed_s'] * 1e6:.0f} us "
                   f"| {p['samples_per_s']:,.0f} | {meas:,.0f} | {err:+.1f}% | {p['limit']} | {note} |")
    out.append("")
    out.append(f"Note: {model.shm_source(inp)}" + (
        "; --algorithm other than auto uses the formula" if a.algorithm != "auto" else "") + ".")
    out.append(f"Note: {model.compute_source(inp)}.")
    return "\n".join(out)


def terms_table(inp, a):
    """where the measured steps went (the runs' per-rank compute and exposed comm, ranktime.h)
    beside the model's terms; None if no measurement has them"""
    rows = [(n, p, m["terms"]) for (n, p, _meas, _e, _note), m in zip(checked_rows(inp, a), inp.get("measured", []))
            if m.get("terms")]
    if not rows:
        return None
    out = ["| configuration | step predicted | step measured | compute predicted | compute measured "
           "| exposed comm predicted | exposed comm measured | of it, wait for the slower rank | rest |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    us = lambda x: f"{x * 1e6:.0f} us"  # noqa: E731
    for n, p, t in rows:
        rest = t.get("rest_s", t["step_s"] - t["compute_s"] - t["comm_s"])
        out.append(f"| {n} | {us(p['step_s'])} | {us(t['step_s'])} | {us(p['compute_s'])} | {us(t['compute_s'])} "
                   f"| {us(p['exposed_s'])} | {us(t['comm_s'])} | {us(t['wait_s'])} | {us(rest)} |")
    out.append("")
    out.append("Measured: per step, the mean over ranks of each run's rank_compute_seconds (+ optimizer_seconds) "
               "and rank_comm_seconds (its rank_wait_seconds), median over the runs; rest: the step less both (each run's, median).")
    return "\n".join(out)


def extension_table(inp, a):
    out = ["| ranks | link | variant | algorithm | compute | comm | exposed | predicted samples/s | efficiency | limited by |",
           "|---:|---|---|---|---:|---:|---:|---:|---:|---|"]
    notes = set()
    for link in a.links:
        for r in a.ranks:
            for v in a.variants:
                comp, zero = VARIANTS[v]
                p = model.predict(inp, r, r, link, comp, zero, a.algorithm, not a.no_overlap, a.bucket_kb)
                notes.add(f"{link}: {p['link_note']}")
                out.append(f"| {r} | {link} | {v} | {p['algorithm']} | {p['compute_s'] * 1e3:.3f} ms "
                           f"| {p['comm_s'] * 1e3:.3f} ms | {p['exposed_s'] * 1e3:.3f} ms "
                           f"| {p['samples_per_s']:,.0f} | {p['efficiency']:.2f} | {p['limit']} |")
    out.append("")
    out.append("One rank per host, each computing as this machine's serial run; links: "
               + "; ".join(sorted(notes)) + ".")
    return "\n".join(out)


def predict_line(inp, a, spec):
    r, h, link = spec
    comp, zero = VARIANTS[a.variants[0]]
    p = model.predict(inp, r, h, link, comp, zero, a.algorithm, not a.no_overlap, a.bucket_kb,
                      cores=inp.get("cores") if a.shared_cores else None)
    return (f"predict ranks={r} hosts={h} link={p['link']} variant={a.variants[0]} algorithm={p['algorithm']}: "
            f"compute {p['compute_s'] * 1e6:.3f} us, comm {p['comm_s'] * 1e6:.3f} us "
            f"(latency {p['lat_s'] * 1e6:.3f} us, bandwidth {p['bw_s'] * 1e6:.3f} us exposed), "
            f"exposed {p['exposed_s'] * 1e6:.3f} us, step {p['step_s'] * 1e6:.3f} us, "
            f"{p['samples_per_s']:.1f} samples/s, efficiency {p['efficiency']:.4f}, limited by {p['limit']}"
            + (f", comm from {'the DDP-shaped bench' if p['comm_source'] == 'measured' else 'the alpha-beta fit'}"
               if h == 1 and r > 1 else ""))


def header(inp):
    c = inp["compute"]
    lines = [f"# scale-model: {inp.get('model', '?')}, {inp.get('params', '?')} parameters, "
             f"{inp['grad_bytes']} gradient bytes per step, batch {inp['batch']} per rank, "
             f"buckets {inp.get('bucket_kb')} KB",
             f"# inputs measured on {inp.get('machine', '?')}, commit {inp.get('commit', '?')}, "
             f"load {inp.get('load_before', '?')} before, {inp.get('load_after', '?')} after",
             f"# compute per step: forward+backward {(c['step_s'] - c['optimizer_s']) * 1e6:.1f} us "
             f"(backward {c['backward_fraction']:.2f} of it), optimizer {c['optimizer_s'] * 1e6:.1f} us"]
    if c.get("compress_s_per_byte"):
        lines.append(f"# bf16 CPU cost: {c['compress_s_per_byte'] * 1e9:.3f} ns per fp32 gradient byte "
                     f"({c['compress_s_per_byte'] * inp['grad_bytes'] * 1e6:.0f} us per step)")
    co = inp.get("corun") or {}
    if co:
        lines.append("# co-running serial processes (compute of P ranks on this machine): " + ", ".join(
            f"P={k} {v['step_s'] * 1e6:.1f} us a step ({v['step_s'] / c['step_s']:.2f}x serial"
            + (f", lockstep {v['lockstep_s'] * 1e6:.1f} us" if "lockstep_s" in v else "")
            + (f", barrier held up to {v['held_s'] * 1e3:.0f} ms" if "held_s" in v else "") + ")"
            for k, v in sorted(co.items(), key=lambda t: int(t[0]))))
    sh = (inp.get("shm_iallreduce") or {}).get("rows")
    if sh:
        lines.append("# shm MPI_Iallreduce as DDP calls it (2 ranks): " + ", ".join(
            f"{r[0]} B {f'in {r[1] // 1024} KB buckets' if r[1] else 'in one call'} {r[2] * 1e6:.1f} us"
            for r in sh))
    for k, lk in inp["links"].items():
        extra = ""
        if "duplex_Bps" in lk:
            extra = (f" (bench: {lk['duplex_Bps'] / 1e9:.4f} GB/s each way with both directions loaded; "
                     + ("the two directions shared the link's rate" if lk["two_way"] == "shared"
                        else "each direction on its own") + ")")
        lines.append(f"# link {k}: alpha {lk['alpha_s'] * 1e6:.2f} us, B {lk['bandwidth_Bps'] / 1e9:.4f} GB/s{extra}")
    return "\n".join(lines)
