#!/usr/bin/env python3
"""plot_curves.py: the training curves of several runs on one PNG, from their --metrics files
(ddp_train --metrics FILE --log-every N: one JSON object per line, docs/usage.md).

    scripts/py/plot_curves.py --out curves.png serial=serial.jsonl dp=dp.jsonl ddp=ddp.jsonl

Four panels: the training loss against optimizer steps and against wall-clock seconds (the
"step" records, else the epochs'), and the accuracy (test: solid, training: dashed; the "epoch"
records) against steps and against seconds. Runs on the same global batch follow the same curve
on the step axis and reach it at their own speed on the time axis. Drawn with gnuplot into a
temporary file renamed into place: a failure leaves nothing. Exit status: 0 done, 1 gnuplot
failed, 2 bad arguments or unreadable metrics."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

WIDTH, HEIGHT = 1400, 1000


def die(msg, code=2):
    print(f"plot_curves.py: {msg}", file=sys.stderr)
    sys.exit(code)


def read_metrics(path):
    """The step records and the epoch records of one --metrics file."""
    steps, epochs = [], []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    kind = rec["kind"]
                    float(rec["step"]), float(rec["seconds"]), float(rec["loss"])
                except (ValueError, KeyError, TypeError) as e:
                    die(f"{path}:{n}: not a metrics record ({e})")
                (steps if kind == "step" else epochs).append(rec)
    except OSError as e:
        die(f"cannot read {path}: {e.strerror}")
    if not steps and not epochs:
        die(f"{path}: no records (was the run given --metrics?)")
    return steps, epochs


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_data(d, k, steps, epochs):
    """run{k}_loss.dat (step, seconds, loss) and run{k}_acc.dat (step, seconds, test, train)."""
    loss = steps or epochs
    with open(os.path.join(d, f"run{k}_loss.dat"), "w") as f:
        for r in loss:
            f.write(f"{r['step']}\t{r['seconds']}\t{r['loss']}\n")
    with open(os.path.join(d, f"run{k}_acc.dat"), "w") as f:
        for r in epochs:
            te, tr = r.get("test_accuracy"), r.get("train_accuracy")
            f.write(f"{r['step']}\t{r['seconds']}\t{'NaN' if te is None else te}\t"
                    f"{'NaN' if tr is None else tr}\n")


def script(runs, title, png):
    gp = ['if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {',
          f'  set terminal pngcairo noenhanced size {WIDTH},{HEIGHT} font "DejaVu Sans,11"',
          "} else {",
          f"  set terminal png noenhanced size {WIDTH},{HEIGHT} medium",
          "}",
          f"set output {quote(png)}",
          'set datafile separator "\\t"',
          "set grid",
          "set key top right",
          f"set multiplot layout 2,2 title {quote(title)}"]
    panels = [("loss", 1, "optimizer step", "training loss (mean per sample, log scale)",
               "loss against steps"),
              ("loss", 2, "wall-clock time (s)", "training loss (mean per sample, log scale)",
               "loss against time"),
              ("acc", 1, "optimizer step", "accuracy (fraction correct)",
               "accuracy against steps (solid: test, dashed: training)"),
              ("acc", 2, "wall-clock time (s)", "accuracy (fraction correct)",
               "accuracy against time (solid: test, dashed: training)")]
    for what, x, xl, yl, t in panels:
        gp += [f"set title {quote(t)}", f"set xlabel {quote(xl)}", f"set ylabel {quote(yl)}",
               "set logscale y" if what == "loss" else "unset logscale y"]
        plots = []
        for k, (label, _, epochs) in enumerate(runs):
            if what == "loss":
                plots.append(f'"run{k}_loss.dat" using {x}:3 with lines lw 2 lc {k + 1} '
                             f"title {quote(label)}")
            elif epochs:
                plots.append(f'"run{k}_acc.dat" using {x}:3 with linespoints lw 2 pt 7 lc {k + 1} '
                             f"title {quote(label + ' test')}")
                plots.append(f'"run{k}_acc.dat" using {x}:4 with linespoints lw 1 dt 2 pt 6 '
                             f"lc {k + 1} title {quote(label + ' train')}")
        if not plots:  # no epoch records in any run
            plots = ['NaN notitle']
        gp.append("plot " + ", \\\n     ".join(plots))
    gp.append("unset multiplot")
    return "\n".join(gp) + "\n"


def main():
    ap = argparse.ArgumentParser(description="Plot the curves of ddp_train --metrics files.")
    ap.add_argument("--out", required=True, help="the PNG to write")
    ap.add_argument("--title", default="training curves", help="the picture's title")
    ap.add_argument("runs", nargs="+", metavar="LABEL=FILE", help="a run's label and its metrics")
    a = ap.parse_args()
    runs = []
    for spec in a.runs:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            die(f"'{spec}' is not LABEL=FILE")
        runs.append((label,) + read_metrics(path))
    if shutil.which("gnuplot") is None:
        die("gnuplot not found (scripts/setup.sh installs gnuplot-nox)")
    out = os.path.abspath(a.out)
    if os.path.isdir(out) or not os.path.isdir(os.path.dirname(out)):
        die(f"--out {a.out}: not a file in an existing directory")
    with tempfile.TemporaryDirectory(prefix="plot_curves.") as d:
        for k, (_, steps, epochs) in enumerate(runs):
            write_data(d, k, steps, epochs)
        png = os.path.join(d, "curves.png")
        with open(os.path.join(d, "curves.gp"), "w") as f:
            f.write(script(runs, a.title, png))
        r = subprocess.run(["gnuplot", "curves.gp"], cwd=d, capture_output=True, text=True)
        if r.returncode != 0 or not os.path.exists(png) or os.path.getsize(png) == 0:
            die(f"gnuplot failed: {r.stderr.strip()[-500:]}", 1)
        tmp = f"{out}.tmp.{os.getpid()}"
        try:
            shutil.copyfile(png, tmp)
            os.replace(tmp, out)
        except OSError as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            die(f"cannot write {a.out}: {e.strerror}", 1)


if __name__ == "__main__":
    main()
