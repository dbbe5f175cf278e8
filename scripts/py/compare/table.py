"""What every part of the report shares: the variants, the parts of a step's time, row look-up,
the error that ends a report, and how an output file is written."""

import os

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


class Fail(Exception):
    """A run's JSON is missing, malformed or disagrees with the plan (exit status 1)."""


def find(rows, model, variant, workers):
    for r in rows:
        if r["model"] == model and r["variant"] == variant and r["workers"] == workers:
            return r
    return None


def headline_workers(doc):
    """The worker count the table and the paragraph speak of: the most that fit the cores."""
    meta = doc["meta"]
    ws = sorted({r["workers"] for r in doc["rows"]})
    fit = [w for w in ws if 2 <= w <= meta["cores"]]
    return max(fit) if fit else max(ws)


def write_text(path, text):
    # compare.sh stages every output in a temporary directory and renames it into place; a
    # direct caller still never sees half a file
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
