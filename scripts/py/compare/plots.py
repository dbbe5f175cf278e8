"""The plots as gnuplot data files and one script, plots.gp (compare.sh runs gnuplot in DIR):
compare_speed.png, samples/s against workers, and compare_split.png, one step's time split."""

import os

from .table import ORDER, SPLIT_KEYS, SPLIT_LABELS, VARIANTS, headline_workers, write_text


def terminal(n):
    return ('if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {\n'
            f'  set terminal pngcairo noenhanced size {480 * n},440 font "DejaVu Sans,9"\n'
            '} else {\n'
            f'  set terminal png noenhanced size {480 * n},440 small\n'
            '}')


def speed_data(rows, m):
    """One data block per variant (gnuplot's index), and the variants' titles."""
    blocks, titles = [], []
    for v in ORDER:
        pts = sorted((r for r in rows if r["model"] == m and r["variant"] == v), key=lambda r: r["workers"])
        if not pts:
            continue
        lines = [f"{r['workers']}\t{r['samples_per_s']['median']:.3f}\t{r['samples_per_s']['min']:.3f}\t"
                 f"{r['samples_per_s']['max']:.3f}" for r in pts]
        blocks.append("\n".join(lines))
        titles.append(VARIANTS[v][0] + (" (batch 64 x P)" if v == "serial" else ""))
    return "\n\n\n".join(blocks) + "\n", titles


def speed_plot(doc, models, d, where):
    meta, rows = doc["meta"], doc["rows"]
    ws = sorted({r["workers"] for r in rows})
    gp = ['set datafile separator "\\t"',
          'set output "compare_speed.png"',
          f'set multiplot layout 1,{len(models)} title "samples/s against workers (median, min-max bars), {where}"',
          "set logscale y",
          'set format y "%.0f"',
          'set xlabel ""',
          'set ylabel "samples/s"',
          "set grid ytics",
          "set key below horizontal maxrows 3 samplen 2 font \",8\"",
          f"set xrange [{min(ws) - 0.3}:{max(ws) + 0.3}]",
          "set xtics (" + ", ".join(f'"{w}{"†" if w > meta["cores"] else ""}" {w}' for w in ws) + ")"]
    for m in models:
        data, titles = speed_data(rows, m)
        fn = f"speed_{m}.dat"
        write_text(os.path.join(d, fn), data)
        gp.append(f'set title "{m}: samples/s against workers"')
        plots = [f'"{fn}" index {i} using 1:2:3:4 with yerrorlines lw 1.5 pt {i + 4} title "{t}"'
                 for i, t in enumerate(titles)]
        gp.append("plot " + ", \\\n     ".join(plots))
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
    gp = ["unset logscale y",
          'set format y "%g"',
          "unset xtics",
          "set xtics rotate by -30 font \",8\"",
          "set xrange [*:*]",
          'set output "compare_split.png"',
          f'set multiplot layout 1,{len(models)} title "time split of one step at {P} workers (median run), {where}"',
          "set style data histograms",
          "set style histogram rowstacked",
          "set style fill solid 0.85 border -1",
          "set boxwidth 0.7",
          'set xlabel ""',
          'set ylabel "ms per step"',
          "set key below horizontal maxrows 3 samplen 2 font \",8\""]
    for m in models:
        fn = f"split_{m}.dat"
        write_text(os.path.join(d, fn), split_data(doc["rows"], m, P))
        gp.append(f'set title "{m}"')
        gp.append("set yrange [0:*]")
        plots = [f'"{fn}" using {i + 2}{":xtic(1)" if i == 0 else ""} title columnheader({i + 2})'
                 for i in range(len(SPLIT_KEYS))]
        gp.append("plot " + ", \\\n     ".join(plots))
    gp.append("unset multiplot")
    return gp


def write_plots(doc, d):
    """The data files and plots.gp into directory d."""
    meta = doc["meta"]
    models = [m for m in meta["models"] if any(r["model"] == m for r in doc["rows"])]
    where = f"{meta['cores']} cores, {meta.get('cpu', 'unknown CPU')}"
    gp = [terminal(len(models))] + speed_plot(doc, models, d, where) + split_plot(doc, models, d, where)
    write_text(os.path.join(d, "plots.gp"), "\n".join(gp) + "\n")
