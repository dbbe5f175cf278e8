#!/usr/bin/env bash
# test_compare.sh: `compare.sh --quick` for real (tiny model): every cell of its JSON is a finite
# number, the paragraph is the one its numbers give, the plots are PNGs. (The report on known
# figures, bad options and the pipeline on a stand-in are test_compare_report.sh.)
# Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
source "$(dirname "$0")/compare_lib.sh"

# has FILE TEXT: the file contains TEXT (fixed string)
has() { grep -qF -- "$2" "$1" && ok || bad "$3: expected '$2' in $(basename "$1"):"$'\n'"$(sed -n '/^Measured/p' "$1")"; }
hasnt() { ! grep -qF -- "$2" "$1" && ok || bad "$3: did not expect '$2'"; }

start=$(date +%s)
# In the AddressSanitizer pass the PyTorch rows and the curves are left out: they add minutes and
# no instrumented code the plain pass does not run (the curves' runs are the progress test's).
extra=()
[[ -n ${ASAN_OPTIONS:-} ]] && extra=(--no-torch --no-curves)
"$CMP" --quick --bin "$BIN" --out "$T/res" "${extra[@]}" >"$T/quick.md" 2>"$T/quick.err"
rc=$?
took=$(($(date +%s) - start))
# its time is printed, not judged: a test does not pass or fail on a clock (ctest's TIMEOUT
# bounds it)
echo "compare.sh --quick: exit $rc in ${took} s"
[[ $rc == 0 ]] && ok || bad "compare.sh --quick: exit $rc: $(tail -15 "$T/quick.err")"
for f in compare.json compare.md compare_speed.png compare_split.png; do
    [[ -s $T/res/$f ]] && ok || bad "missing $f"
done
pngs=(compare_speed.png compare_split.png)
[[ -z ${ASAN_OPTIONS:-} ]] && pngs+=(compare_curves.png)
for f in "${pngs[@]}"; do
    [[ $(head -c 8 "$T/res/$f" 2>/dev/null | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] && ok ||
        bad "$f is not a PNG"
done
[[ -z $(find "$T/res" -name '.compare.*') ]] && ok || bad "staging directory left in the output"
cmp -s "$T/quick.md" "$T/res/compare.md" && ok || bad "stdout and compare.md differ"
# the PyTorch rows (plain pass, when Debian's python3 has torch): DP threads and DDP per worker count
if [[ -z ${ASAN_OPTIONS:-} ]] && "$PY" -c 'import torch' 2>/dev/null; then
    "$PY" - "$T/res/compare.json" <<'EOF2' && ok || bad "compare.json: PyTorch rows missing"
import json, sys
t = json.load(open(sys.argv[1])).get("torch", {})
sys.exit(0 if t.get("measured") and len(t.get("rows", [])) >= 4 else 1)
EOF2
    grep -q "PyTorch beside the emulation" "$T/quick.md" && ok || bad "compare.md: no PyTorch section"
fi
REPORT=$REPORT ROOT_UID=$(id -u) "$PY" - "$T/res/compare.json" <<'EOF'
import json, math, os, subprocess, sys
doc = json.load(open(sys.argv[1]))
errors = []
def num(where, v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        errors.append(f"{where}: {v!r} is not a finite number")
NUMERIC = ["workers", "ranks", "threads", "params", "global_batch", "steps", "repeats", "ratio_to_ddp",
           "step_ms", "replicated_bytes_per_step", "replicated_bytes_total", "replication_share",
           "broadcast_bytes", "allreduce_bytes_per_step", "lock_wait_seconds", "comm_seconds", "hosts",
           "test_accuracy", "final_loss"]
SPLIT = ["compute", "replicate", "scatter", "gather", "comm", "lock_wait", "optimizer", "other"]
rows = doc["rows"]
want = {(v, p) for p in (1, 2) for v in ("serial", "dp", "dp-cache", "dp-gil", "dp-gil-cache", "ddp")}
want.add(("hybrid", 2))
have = {(r["variant"], r["workers"]) for r in rows}
if have != want:
    errors.append(f"rows: have {sorted(have)}, want {sorted(want)}")
for r in rows:
    w = f"{r.get('model')}/{r.get('variant')}/{r.get('workers')}"
    if r.get("model") != "tiny":
        errors.append(f"{w}: --quick must use the tiny model")
    for k in NUMERIC:
        num(f"{w}.{k}", r.get(k))
    for k in ("median", "min", "max"):
        num(f"{w}.samples_per_s.{k}", r["samples_per_s"].get(k))
    if len(r["samples_per_s"]["runs"]) < 3 or r["repeats"] < 3:
        errors.append(f"{w}: fewer than 3 runs")
    for v in r["samples_per_s"]["runs"]:
        num(f"{w}.runs", v)
    if not (r["samples_per_s"]["min"] <= r["samples_per_s"]["median"] <= r["samples_per_s"]["max"]):
        errors.append(f"{w}: median outside min-max")
    if r["samples_per_s"]["min"] <= 0:
        errors.append(f"{w}: no throughput")
    for k in SPLIT:
        num(f"{w}.split_ms.{k}", r["split_ms"].get(k))
    tot = sum(r["split_ms"][k] for k in SPLIT)
    if abs(tot - r["step_ms"]) > 0.02 * r["step_ms"]:
        errors.append(f"{w}: time split adds to {tot}, step is {r['step_ms']}")
    if r["steps"] != doc["meta"]["steps"]["tiny"] or r["global_batch"] != 64 * r["workers"]:
        errors.append(f"{w}: steps {r['steps']} / global batch {r['global_batch']}")
    dp = r["variant"].startswith("dp")
    if dp and r["replicated_bytes_per_step"] != 4 * r["params"] * r["workers"]:
        errors.append(f"{w}: DP copies {r['replicated_bytes_per_step']} bytes per step, want 4 x params x P")
    if not dp and r["replicated_bytes_per_step"] != 0:
        errors.append(f"{w}: only DP replicates per step")
    if r["variant"] == "ddp" and r["workers"] > 1 and r["broadcast_bytes"] != 4 * r["params"]:
        errors.append(f"{w}: DDP's one broadcast is {r['broadcast_bytes']} bytes")
    if r["variant"] == "ddp" and abs(r["ratio_to_ddp"] - 1) > 1e-12:
        errors.append(f"{w}: DDP's ratio to itself")
# what OpenBLAS ran, read from the library (never from a variable one machine happens to set)
# the machine's load before and after the runs, and the commit, are in the results and the text
for k in ("load_before", "load_after"):
    v = doc["meta"].get(k)
    if not (isinstance(v, list) and len(v) == 3 and all(isinstance(x, float) and x >= 0 for x in v)):
        errors.append(f"meta.{k} is not three load averages: {v!r}")
if " core " not in doc["meta"].get("blas", ""):
    errors.append(f"meta.blas does not name the core OpenBLAS runs: {doc['meta'].get('blas')!r}")
cl = doc["cluster"]
if cl.get("measured"):
    for c in cl["rows"]:
        for k in ("bytes_per_step", "startup_bytes", "ratio_to_single_host", "ratio_to_one_worker",
                  "allreduce_bytes_per_step", "comm_ms_per_step"):
            num(f"cluster.{k}", c.get(k))
        for k in ("median", "min", "max"):
            num(f"cluster.samples_per_s.{k}", c["samples_per_s"].get(k))
        # an allreduce between 2 hosts moves at least the gradient once across
        if c["bytes_per_step"] < c["allreduce_bytes_per_step"]:
            errors.append(f"cluster: {c['bytes_per_step']} bytes across hosts per step < the gradient")
elif os.environ["ROOT_UID"] == "0" and "already in use" not in cl.get("note", ""):
    errors.append(f"cluster: not measured as root: {cl.get('note')}")
else:
    print(f"note: 2-host run not measured: {cl.get('note')}")
def walk(where, v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        errors.append(f"{where}: {v!r}")
    elif isinstance(v, str) and v.strip().lower() in ("", "nan", "n/a", "na", "?", "-", "todo", "none", "null"):
        errors.append(f"{where}: placeholder {v!r}")
    elif isinstance(v, dict):
        for k, x in v.items():
            walk(f"{where}.{k}", x)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(f"{where}[{i}]", x)
walk("compare.json", doc)
# the paragraph is the one its numbers give
md = subprocess.run(["/usr/bin/python3", os.environ["REPORT"], "render", sys.argv[1]],
                    capture_output=True, text=True).stdout
if not doc.get("paragraph") or doc["paragraph"] not in md:
    errors.append("the stored paragraph is not the one rendered from the numbers")
if not doc["meta"].get("commit") or "load average" not in md or "; commit " not in md:
    errors.append("the Markdown does not give the load average and the commit")
for claim in ("Replication:", "Machines:", "Speed:", "Interpreter lock:"):
    if claim not in doc.get("paragraph", ""):
        errors.append(f"paragraph: no verdict on '{claim}'")
for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
[[ $? == 0 ]] && ok || bad "compare.json from --quick (above)"
has "$T/quick.md" "| speed |" "quick table"
has "$T/quick.md" "## Speed and time split" "quick split table"
finish
