"""The plots as gnuplot data files and one script, plots.gp (compare.sh runs gnuplot in DIR):
compare_speed.png, samples/s against workers, and compare_split.png, one step's time split."""

import os

from .cpython import TORCH_VARIANTS
from .table import ORDER, SPLIT_KEYS, SPLIT_LABELS, VARIANTS, headline_workers, write_text


# the PNGs: panels of PANEL px side by side, a legend column of LEGEND px on their right, at
# least 1200 px wide in all
PANEL, LEGEND, HEIGHT = 520, 250, 680


def width(n):
    return max(1200, PANEL * n + LEGEND)


def terminal(n):
    size = f"{width(n)},{HEIGHT}"
    return ('if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {\n'
            f'  set terminal pngcairo noenhanced size {size} font "DejaVu Sans,11"\n'
            '} else {\n'
            f'  set terminal png noenhanced size {size} medium\n'
            '}')


def multiplot(n, title, bottom):
    """n panels side by side under a title, above `bottom` (a screen fraction: below it their
    x labels and the caption) and left of the legend column."""
    right = 1 - LEGEND / width(n)
    return (f'set multiplot layout 1,{n} title "{title}" '
            f"margins {100 / width(n):.3f},{right:.3f},{bottom},0.90 spacing {110 / width(n):.3f},0")


def legend_and_caption(n, text):
    """One legend for every panel, in the column on their right, and a line of text at the
    bottom: the first panel draws both (first_panel removes them for the others)."""
    x = 1 - (LEGEND - 20) / width(n)
    return [f'set key at screen {x:.3f}, screen 0.88 left top vertical reverse Left samplen 2 font ",10"',
            f'set label 1 "{text}" at screen 0.5, screen 0.03 center font ",10"']


def first_panel(gp, first):
    """After the first panel's plot: the legend and the caption are drawn once."""
    if first:
        gp += ["unset key", "unset label 1"]


def speed_data(rows, m, batch, torch_rows=()):
    """One data block per variant (gnuplot's index), and the variants' titles; the PyTorch rows
    (real CPython threads, PyTorch DDP) after tinyddp's."""
    blocks, titles = [], []
    series = [(v, rows, VARIANTS[v][0]) for v in ORDER]
    series += [(v, torch_rows, label) for v, label in TORCH_VARIANTS.items()]
    for v, src, label in series:
        pts = sorted((r for r in src if r["model"] == m and r["variant"] == v), key=lambda r: r["workers"])
        if not pts:
            continue
        lines = [f"{r['workers']}\t{r['samples_per_s']['median']:.3f}\t{r['samples_per_s']['min']:.3f}\t"
                 f"{r['samples_per_s']['max']:.3f}" for r in pts]
        blocks.append("\n".join(lines))
        titles.append(label + (f", batch {batch} x workers" if v == "serial" else ""))
    return "\n\n\n".join(blocks) + "\n", titles


def speed_plot(doc, models, d, where):
    meta, rows = doc["meta"], doc["rows"]
    ws = sorted({r["workers"] for r in rows})
    over = [w for w in ws if w > meta["cores"]]
    note = "bars: min-max of the runs"
    if over:
        note = f"† more workers than the {meta['cores']} cores: they take turns on the cores.   " + note
    gp = ['set datafile separator "\\t"',
          'set output "compare_speed.png"',
          multiplot(len(models), f"training throughput against workers: median of {meta['repeats']} runs, "
                    f"{where}", 0.18),
          "set logscale y",
          'set format y "%.0f"',
          'set xlabel "workers (DP: threads; DDP: MPI ranks; hybrid: ranks x threads)"',
          'set ylabel "samples/s (log scale)"',
          "set grid ytics",
          f"set xrange [{min(ws) - 0.3}:{max(ws) + 0.3}]",
          "set xtics (" + ", ".join(f'"{w}{"†" if w > meta["cores"] else ""}" {w}' for w in ws) + ")",
] + legend_and_caption(len(models), note)
    for i, m in enumerate(models):
        torch_rows = doc.get("torch", {}).get("rows", []) if doc.get("torch", {}).get("measured") else []
        data, titles = speed_data(rows, m, meta["batch_per_worker"], torch_rows)
        fn = f"speed_{m}.dat"
        write_text(os.path.join(d, fn), data)
        gp.append(f'set title "{m}"')
        plots = [f'"{fn}" index {k} using 1:2:3:4 with yerrorlines lw 1.5 pt {k + 4} title "{t}"'
                 for k, t in enumerate(titles)]
        gp.append("plot " + ", \\\n     ".join(plots))
        first_panel(gp, i == 0)
    gp.append("unset multiplot")
    return gp


def split_data(rows, m, P):
    lines = ["mode\t" + "\t".join(SPLIT_LABELS[k] for k in SPLIT_KEYS)]
    for r in rows:
        if r["model"] == m and r["workers"] == P:
            lines.append(r["label"] + "\t" + "\t".join(f"{r['split_ms'][k]:.6f}" for k in SPLIT_KEYS))
    return "\n".join(lines) + "\n"


def split_plot(doc, models, d, where):
    P = headline_workers(doc)
    at = f"{P}† workers (more than the {doc['meta']['cores']} cores)" if P > doc["meta"]["cores"] else f"{P} workers"
    gp = ["unset logscale y",
          'set format y "%g"',
          "unset xtics",
          "set xtics rotate by -30 font \",10\"",
          "set xrange [*:*]",
          'set output "compare_split.png"',
          multiplot(len(models), f"time split of one training step at {at} (median run), {where}", 0.27),
          "set style data histograms",
          "set style histogram rowstacked",
          "set style fill solid 0.85 border -1",
          "set boxwidth 0.7",
          f'set xlabel "mode (each with {P} workers)"',
          'set ylabel "milliseconds per step"',
] + legend_and_caption(len(models), "the parts add up to the step's wall time; DDP and hybrid: compute is all but "
                                    "exposed communication and the optimizer")
    for i, m in enumerate(models):
        fn = f"split_{m}.dat"
        write_text(os.path.join(d, fn), split_data(doc["rows"], m, P))
        gp.append(f'set title "{m}"')
        gp.append("set yrange [0:*]")
        plots = [f'"{fn}" using {k + 2}{":xtic(1)" if k == 0 else ""} title columnheader({k + 2})'
                 for k in range(len(SPLIT_KEYS))]
        gp.append("plot " + ", \\\n     ".join(plots))
        first_panel(gp, i == 0)
    gp.append("unset multiplot")
    return gp


def write_plots(doc, d):
    """The data files and plots.gp into directory d."""
    meta = doc["meta"]
    models = [m for m in meta["models"] if any(r["model"] == m for r in doc["rows"])]
    where = f"{meta['cores']} cores, {meta.get('cpu', 'unknown CPU')}"
    gp = [terminal(len(models))] + speed_plot(doc, models, d, where) + split_plot(doc, models, d, where)
    write_text(os.path.join(d, "plots.gp"), "\n".join(gp) + "\n")
