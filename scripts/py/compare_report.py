#!/usr/bin/python3
"""compare_report.py: the DP vs DDP comparison, from the runs scripts/compare.sh made.

Standard library only (Debian's /usr/bin/python3).

  compare_report.py build --manifest RUNS.tsv --meta META.json [--cluster CLUSTER.tsv]
                          [--cluster-note TEXT] [--kernels FILE | --kernels-note TEXT]
                          [--torch TORCH.tsv | --torch-note TEXT]
                          --json OUT.json --md OUT.md [--plots DIR]
      aggregate every run (median and min-max over the repeats), judge the claims of the
      original table, write the JSON, the Markdown and (with --plots) gnuplot data and script.

  compare_report.py render IN.json [--md OUT.md] [--plots DIR]
      the Markdown (stdout without --md) and the plot files from an aggregated JSON; the
      paragraph is generated again from the numbers (tests feed it known figures).

RUNS.tsv, one run a line: model variant workers ranks threads repeat json_file
CLUSTER.tsv: model kind(startup|run) repeat json_file bytes_crossing_hosts
TORCH.tsv: model variant(serial|dp-replicate|dp-kept|ddp) workers repeat samples_per_s
Exit status: 0 done, 1 a run's JSON is missing, malformed or disagrees with the plan, 2 bad usage.
"""
# The command line only: each job is a module of scripts/py/compare/ (aggregate, verdicts,
# markdown, plots), found next to this file.

import json
import sys

from compare.aggregate import aggregate
from compare.markdown import render_md
from compare.plots import write_plots
from compare.table import Fail, write_text
from compare.verdicts import finish_doc

OPTIONS = {"--manifest": "manifest", "--meta": "meta", "--cluster": "cluster", "--cluster-note": "cluster_note",
           "--kernels": "kernels", "--kernels-note": "kernels_note", "--json": "json", "--md": "md",
           "--plots": "plots", "--torch": "torch", "--torch-note": "torch_note"}


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
    for v in OPTIONS.values():
        setattr(a, v, None)
    a.input = None
    i = 1
    while i < len(argv):
        k = argv[i]
        if k in OPTIONS:
            if i + 1 >= len(argv):
                usage(f"{k} needs a value")
            setattr(a, OPTIONS[k], argv[i + 1])
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


def build(a):
    doc = aggregate(a.manifest, a.meta, a.cluster, a.cluster_note, a.kernels, a.kernels_note, a.torch,
                    a.torch_note)
    finish_doc(doc)
    write_text(a.json, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    write_text(a.md, render_md(doc))
    if a.plots:
        write_plots(doc, a.plots)


def render(a):
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


def main(argv):
    a = parse(argv)
    try:
        if a.cmd == "build":
            build(a)
        else:
            render(a)
    except Fail as e:
        print(f"compare_report.py: {e}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError) as e:
        print(f"compare_report.py: malformed input: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
