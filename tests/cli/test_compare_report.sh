#!/usr/bin/env bash
# test_compare_report.sh: scripts/compare.sh and scripts/py/compare_report.py without MPI or root
# (fast; the real run is test_compare.sh):
#  1. the generated paragraph says what the numbers say: known figures in, sentences checked;
#  2. bad options exit 2 and write nothing; a failing run exits 1 and replaces nothing;
#  3. the whole pipeline on a stand-in ddp_train (exact numbers, --with-kernels both ways) and
#     stand-ins for the PyTorch scripts (TDP_TORCH_DP, TDP_TORCH_DDP: exact numbers, no torch
#     needed): their rows, the lock's verdict from them, and the notes when they are skipped;
# Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
source "$(dirname "$0")/compare_lib.sh"

# stand-ins for scripts/py/torch_dp.py and torch_ddp.py: exact samples/s, their arguments logged
# (every compare.sh run below uses them: none needs torch)
cat >"$T/torch_dp.py" <<'PY'
import os, sys
open(os.environ["FAKE_TORCH_LOG"], "a").write("dp " + " ".join(sys.argv[1:]) + "\n")
for v, s in (("serial", 1000), ("dp-replicate", 400), ("dp-kept", 500)):
    print(f"dp_result variant={v} samples_per_s={s}.0 step_us=1.0")
PY
cat >"$T/torch_ddp.py" <<'PY'
import os, sys
open(os.environ["FAKE_TORCH_LOG"], "a").write("ddp " + " ".join(sys.argv[1:]) + "\n")
print("torch_ddp_samples_per_s 1500.0")
PY
export TDP_TORCH_DP="$T/torch_dp.py" TDP_TORCH_DDP="$T/torch_ddp.py" FAKE_TORCH_LOG="$T/torch.log"

# has FILE TEXT: the file contains TEXT (fixed string)
has() { grep -qF -- "$2" "$1" && ok || bad "$3: expected '$2' in $(basename "$1"):"$'\n'"$(sed -n '/^Measured/p' "$1")"; }
hasnt() { ! grep -qF -- "$2" "$1" && ok || bad "$3: did not expect '$2'"; }

# ---------------------------------------------------------------- 1. the paragraph from known figures
"$PY" - "$T" <<'EOF'
import json, os, sys
out = sys.argv[1]
LABEL = {"serial": "serial", "dp": "DP", "dp-cache": "DP --dp-cache", "dp-gil": "DP --gil",
         "dp-gil-cache": "DP --gil --dp-cache", "ddp": "DDP", "hybrid": "hybrid"}

def row(model, variant, P, med, lo, hi, share=0.0, wait=0.0, comm_ms=0.0, params=235146):
    gb = 64 * P
    step_ms = gb / med * 1e3
    split = dict(compute=step_ms, replicate=0.0, scatter=0.0, gather=0.0, comm=0.0, lock_wait=0.0,
                 optimizer=0.0, other=0.0)
    split["replicate"] = share * step_ms
    split["lock_wait"] = min(step_ms, wait / 300 / P * 1e3)
    split["comm"] = comm_ms
    split["compute"] = step_ms - split["replicate"] - split["lock_wait"] - comm_ms
    dp = variant.startswith("dp")
    return {"model": model, "variant": variant, "label": LABEL[variant], "workers": P,
            "ranks": P if variant == "ddp" else 1, "threads": 1 if variant in ("ddp", "serial") else P,
            "over_cores": P > 2, "params": params, "global_batch": gb, "steps": 300, "repeats": 3,
            "samples_per_s": {"median": med, "min": lo, "max": hi, "runs": [lo, med, hi]},
            "ratio_to_ddp": 1.0, "step_ms": step_ms, "split_ms": split,
            "replicated_bytes_per_step": 4.0 * params * P if dp else 0.0,
            "replicated_bytes_total": 4.0 * params * P * 300 if dp else 0.0,
            "replication_share": share, "broadcast_bytes": 4 * params if variant == "ddp" else 0,
            "allreduce_bytes_per_step": 4 * params + 4 if variant == "ddp" else 0,
            "lock_wait_seconds": wait, "comm_seconds": comm_ms * 0.3, "hosts": 1,
            "test_accuracy": 0.8, "final_loss": 0.5}

def meta(models):
    return {"cores": 2, "cpu": "Test CPU", "models": models, "workers": [1, 2],
            "steps": {m: 300 for m in models}, "repeats": 3, "batch_per_worker": 64,
            "data": "fixture", "command": "fixture", "link_rate": "1gbit"}

def cluster_rows(model, sps, ratio_one, ratio_local, bps):
    return {"model": model, "hosts": 2, "ranks": 2, "steps": 300,
            "samples_per_s": {"median": sps, "min": sps * 0.9, "max": sps * 1.1, "runs": [sps]},
            "single_host_samples_per_s": sps / ratio_local, "ratio_to_single_host": ratio_local,
            "one_worker_samples_per_s": sps / ratio_one, "ratio_to_one_worker": ratio_one,
            "bytes_per_step": bps, "startup_bytes": 955651, "allreduce_bytes_per_step": 940588,
            "broadcast_bytes": 940584, "comm_ms_per_step": 7.3}

def dump(name, doc):
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(doc, f)

# A: DDP 1.3x faster than DP, replication costly and made of page faults, lock free, 2 hosts measured
rows = [row("fashion-mlp", "ddp", 1, 90000, 88000, 92000),
        row("fashion-mlp", "dp", 2, 10000, 9800, 10200, share=0.49),
        row("fashion-mlp", "dp-cache", 2, 12000, 11800, 12200, share=0.04),
        row("fashion-mlp", "dp-gil", 2, 9950, 9700, 10300, wait=0.0004),
        row("fashion-mlp", "ddp", 2, 13000, 12800, 13200, comm_ms=0.5)]
dump("A", {"meta": meta(["fashion-mlp"]), "rows": rows,
           "cluster": {"measured": True, "link_rate": "1gbit", "hosts": 2, "ranks_per_host": 1,
                       "rows": [cluster_rows("fashion-mlp", 12430, 0.138, 0.956, 1.888e6)]},
           "kernels": {"included": False, "note": "not asked for"}})

# B: DP 2x faster than DDP, the lock costs 25%, cheap replication, no 2-host run
rows = [row("wide", "dp", 2, 20000, 19500, 20500, share=0.02, params=1863690),
        row("wide", "dp-gil", 2, 15000, 14800, 15200, share=0.02, wait=3.0, params=1863690),
        row("wide", "ddp", 2, 10000, 9900, 10100, comm_ms=4.0, params=1863690)]
dump("B", {"meta": meta(["wide"]), "rows": rows,
           "cluster": {"measured": False, "note": "skipped: scripts/cluster-sim needs root (network namespaces)"},
           "kernels": {"included": False, "note": "not asked for"}})

# C: two models; DP and DDP the same within the noise for one, DDP 2.0x faster for the other;
# the lock's throughput effect within the noise for both, but waits of 5% of the step on tiny
rows = [row("tiny", "dp", 2, 10000, 9000, 11000, share=0.15),
        row("tiny", "dp-gil", 2, 9800, 9000, 10500, share=0.15, wait=0.392),
        row("tiny", "ddp", 2, 10200, 9500, 10800),
        row("wide", "dp", 2, 5000, 4900, 5100, share=0.3, params=1863690),
        row("wide", "dp-gil", 2, 4990, 4850, 5120, share=0.3, wait=0.0, params=1863690),
        row("wide", "dp-cache", 2, 7000, 5000, 10500, share=0.05, params=1863690),
        row("wide", "ddp", 2, 10000, 9900, 10100, params=1863690)]
dump("C", {"meta": meta(["tiny", "wide"]), "rows": rows,
           "cluster": {"measured": False, "note": "skipped: --no-cluster"},
           "kernels": {"included": True, "note": "x", "table": "| kernel | serial |\n|---|---|\n| primes | 1.0 |"}})
EOF
for f in A B C; do
    "$PY" "$REPORT" render "$T/$f.json" >"$T/$f.md" 2>"$T/$f.err" && ok || bad "render $f: $(cat "$T/$f.err")"
done
# A
has "$T/A.md" "DDP is 1.3x faster than DP" "A speed"
has "$T/A.md" "Speed: supported —" "A speed verdict"
hasnt "$T/A.md" "Speed: not supported" "A speed verdict"
has "$T/A.md" "DDP is 1.3x faster than DP, and against DP with --dp-cache DDP is 1.08x faster than DP --dp-cache." "A speed against --dp-cache"
has "$T/A.md" "the lock cost nothing measurable (its threads waited 0.000 s for it in all" "A lock"
has "$T/A.md" "Interpreter lock: not supported on this machine" "A lock verdict"
has "$T/A.md" "DP's slowness here comes from replication, not from lock contention" "A cause"
has "$T/A.md" "Replication: supported — DP copied the model into its 2 replicas every step where DDP broadcast it once and copied 0 bytes per step: 1.9 MB per step (564.4 MB over 300 steps, 49% of its step time) against one broadcast of 940.6 kB." "A replication"
has "$T/A.md" "With --dp-cache (freed replica memory kept mapped), the share falls to 4.0% (from 49%) and DP runs 1.2x faster" "A --dp-cache share"
has "$T/A.md" "so what costs is fresh memory pages for each replica, not the copy itself" "A page faults"
has "$T/A.md" "Machines: supported — DP is one process by construction; DDP ran across 2 simulated hosts over a 1gbit link: 12,430 samples/s (0.14x the speed of one worker, 0.96x that of two ranks on one host), moving 1.9 MB across hosts per step" "A machines"
has "$T/A.md" "two hosts are slower than one worker" "A machines scaling"
has "$T/A.md" "| speed | 10,000 samples/s (0.77x DDP); --gil 9,950 (lock wait 0.000 s); --dp-cache 12,000 | 13,000 samples/s |" "A table speed row"
has "$T/A.md" "Measured on this machine (2 cores, Test CPU) at 2 workers, medians of 3 runs." "A header"
# B
has "$T/B.md" "DP is 2.0x faster than DDP" "B speed"
has "$T/B.md" "Speed: not supported —" "B speed verdict"
has "$T/B.md" "DP is 2.0x faster than DDP, with DDP's exposed communication at 31% of its step time." "B comm share"
has "$T/B.md" "the lock cost 25% of DP's speed" "B lock"
has "$T/B.md" "Interpreter lock: supported —" "B lock verdict"
hasnt "$T/B.md" "nothing measurable" "B lock"
has "$T/B.md" "Replication: supported in bytes, not in time" "B replication verdict"
has "$T/B.md" "the copying is cheap here, under 10% of DP's step time" "B replication"
has "$T/B.md" "DDP across hosts was not measured in this run (skipped: scripts/cluster-sim needs root (network namespaces))" "B machines"
# C
has "$T/C.md" "for tiny, DDP and DP ran at the same speed (DDP/DP = 1.02), with DDP's exposed communication at 0% of its step time; for wide, DDP is 2.0x faster than DP," "C speed"
has "$T/C.md" "Speed: partly supported —" "C speed verdict"
has "$T/C.md" "for tiny, the lock took 5.0% of the step time in waits (0.392 s in all)" "C lock wait"
has "$T/C.md" "for wide, the lock cost nothing measurable" "C lock"
has "$T/C.md" "Interpreter lock: partly supported —" "C lock verdict"
has "$T/C.md" "| primes | 1.0 |" "C kernels table"
has "$T/C.md" "and against DP with --dp-cache DDP and DP --dp-cache differ only within the noise (DDP/DP --dp-cache = 1.43, but the runs' min-max ranges overlap)" "C noise"
has "$T/C.md" "With --dp-cache (freed replica memory kept mapped), for wide, the share falls to 5.0% (from 30%) and DP runs 1.4x faster, so what costs is fresh memory pages" "C --dp-cache"
# the paragraph in a built JSON is rewritten from its numbers by render
REPORT=$REPORT "$PY" - "$T/A.json" <<'EOF' && ok || bad "render ignores a stale paragraph"
import json, os, subprocess, sys
doc = json.load(open(sys.argv[1]))
doc["paragraph"] = "stale"
doc["rows"][1]["samples_per_s"].update(median=6500, min=6400, max=6600)  # DDP now 2.0x faster
json.dump(doc, open(sys.argv[1] + ".2", "w"))
md = subprocess.run(["/usr/bin/python3", os.environ["REPORT"], "render", sys.argv[1] + ".2"],
                    capture_output=True, text=True, check=True).stdout
sys.exit(0 if "DDP is 2.0x faster than DP" in md and "stale" not in md else 1)
EOF
# malformed input: exit 1 with a message; bad usage: exit 2
echo '{"rows": []}' >"$T/bad.json"
"$PY" "$REPORT" render "$T/bad.json" >/dev/null 2>"$T/err"
[[ $? == 1 && -s $T/err ]] && ok || bad "render of a malformed JSON must exit 1 with a message"
"$PY" "$REPORT" frobnicate >/dev/null 2>&1
[[ $? == 2 ]] && ok || bad "unknown report command must exit 2"

# ---------------------------------------------------------------- 2. bad options, failing runs
for args in "--bogus" "--workers 0" "--workers 1,x" "--workers 2,2" "--repeats 0" "--repeats" \
    "--models nope" "--steps -3" "--link-rate fast" "--hybrid-threads 1" "--data /nonexistent"; do
    # shellcheck disable=SC2086
    "$CMP" $args --out "$T/bad-out" --bin "$BIN" >"$T/out" 2>"$T/err"
    rc=$?
    [[ $rc == 2 && $(wc -l <"$T/err") == 1 && ! -s $T/out ]] && ok ||
        bad "compare.sh $args: want exit 2 and one line on stderr, got $rc: $(cat "$T/err")"
    [[ ! -e $T/bad-out/compare.json ]] && ok || bad "compare.sh $args wrote results"
done
"$CMP" --help >"$T/help" 2>&1 && grep -q -- "--workers LIST.*\[1,2,4\]" "$T/help" &&
    grep -q -- "--repeats N.*\[3\]" "$T/help" && ok || bad "--help with defaults"
"$CMP" --bin "$T/nowhere" --out "$T/bad-out" >/dev/null 2>"$T/err"
[[ $? == 2 ]] && grep -q "build first" "$T/err" && ok || bad "missing ddp_train: exit 2, 'build first'"

# a stand-in ddp_train: exact numbers from its arguments (rank 0 writes, as the real one)
mkdir -p "$T/fake"
cat >"$T/fake/ddp_train" <<'EOF'
#!/usr/bin/env bash
set -eu
mode=ddp workers=1 steps=0 batch=64 json="" gil=0 cache=0 metrics=""
while (($#)); do
    case $1 in
    --mode) mode=$2; shift 2 ;; --workers) workers=$2; shift 2 ;; --max-steps) steps=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;; --json) json=$2; shift 2 ;; --gil) gil=1; shift ;;
    --dp-cache) cache=1; shift ;; --quiet) shift ;; --metrics) metrics=$2; shift 2 ;; *) shift 2 ;;
    esac
done
[[ -z ${FAKE_FAIL:-} ]] || { echo "ddp_train: fake failure" >&2; exit 1; }
world=${OMPI_COMM_WORLD_SIZE:-1}
[[ ${OMPI_COMM_WORLD_RANK:-0} == 0 ]] || exit 0
P=1 gb=$batch sps=60000 rep=0 rbytes=0 bc=0 ar=0 comm=0 wait=0
case $mode in
serial) ;;
dp) P=$workers; gb=$((batch * P)); sps=$((gil ? 9000 : 10000)); ((cache)) && sps=$((sps * 2))
    rbytes=$((940584 * P * steps)); rep=$(awk -v s="$steps" -v c="$cache" 'BEGIN{print (c ? 0.05 : 0.5) * 64 * 2 * s / 10000}')
    ((gil)) && wait=0.0001 ;;
ddp) P=$((world * workers)); gb=$((batch * P)); sps=$((world > 1 ? 20000 : 60000)); bc=$((world > 1 ? 940584 : 0))
    ar=940588; comm=0.01 ;;
esac
train=$(awk -v s="$steps" -v g="$gb" -v v="$sps" 'BEGIN{print s * g / v}')
cat >"$json.tmp" <<JSON
{"mode": "$mode", "world_size": $world, "workers": $P, "hosts": 1, "model": "m", "params": 235146,
 "epochs": 1, "steps": $steps, "batch": $batch, "global_batch": $gb, "train_samples_per_s": $sps,
 "test_accuracy": 0.8, "final_loss": 0.5, "seconds": $train, "replicated_bytes_total": $rbytes,
 "broadcast_bytes": $bc, "allreduce_bytes_per_step": $ar, "comm_seconds": $comm,
 "gil_wait_seconds": $wait, "replicate_seconds": $rep, "scatter_seconds": 0, "compute_seconds": 0,
 "gather_seconds": 0, "optimizer_seconds": 0}
JSON
mv "$json.tmp" "$json"
if [[ -n $metrics ]]; then # the curves: a loss falling with the steps, at this mode's speed
    for s in 1 2 3 4; do
        t=$(awk -v s="$s" -v g="$gb" -v v="$sps" 'BEGIN{print s * g / v}')
        echo "{\"kind\": \"step\", \"step\": $s, \"epoch\": 1, \"loss\": 0.$((9 - s)), \"seconds\": $t}"
    done >"$metrics"
    echo "{\"kind\": \"epoch\", \"step\": 4, \"epoch\": 1, \"loss\": 0.6, \"test_accuracy\": 0.8, \"seconds\": 1}" >>"$metrics"
fi
EOF
chmod +x "$T/fake/ddp_train"
mkdir -p "$T/keep"
echo OLD >"$T/keep/compare.json"
echo OLD >"$T/keep/compare.md"
FAKE_FAIL=1 "$CMP" --bin "$T/fake" --out "$T/keep" --models tiny --workers 1 --repeats 1 --steps 5 \
    --no-cluster --no-plots >"$T/out" 2>"$T/err"
rc=$?
[[ $rc == 1 ]] && grep -q "fake failure" "$T/err" && ok || bad "a failing run: want exit 1 and its message, got $rc"
[[ $(cat "$T/keep/compare.json") == OLD && $(cat "$T/keep/compare.md") == OLD ]] && ok ||
    bad "a failing run replaced earlier results"
[[ -z $(find "$T/keep" -name '.compare.*') ]] && ok || bad "a failing run left a staging directory"

# ---------------------------------------------------------------- 3. the pipeline on the stand-in
TDP_SEED_TABLE="$T/no-such-seed-table.sh" "$CMP" --bin "$T/fake" --out "$T/keep" --models tiny \
    --workers 1,2 --repeats 3 --steps 10 --no-cluster --with-kernels >"$T/fake.md" 2>"$T/fake.err"
rc=$?
[[ $rc == 0 ]] && ok || bad "pipeline on the stand-in: exit $rc: $(tail -5 "$T/fake.err")"
has "$T/fake.md" "DDP is 2.0x faster than DP" "stand-in speed"
has "$T/fake.md" "the lock cost 10% of DP --dp-cache's speed" "stand-in lock"
has "$T/fake.md" "DDP across hosts was not measured in this run (skipped: --no-cluster)" "stand-in machines"
has "$T/fake.md" "Not included: $T/no-such-seed-table.sh does not exist yet" "missing kernels table noted"
# the PyTorch rows: the same work as the C rows, beside them, and the lock's verdict from them
grep -qx -- "dp --model $SRC/models/tiny.cfg --batch 64 --steps 10 --warmup 10 --workers 2 --variants serial,dp-replicate,dp-kept" "$T/torch.log" &&
    grep -qx -- "ddp --np 2 --model $SRC/models/tiny.cfg --batch 64 --steps 10 --warmup 10" "$T/torch.log" &&
    ok || bad "PyTorch stand-ins not run on the same work: $(cat "$T/torch.log")"
[[ $(wc -l <"$T/torch.log") == 12 ]] && ok || bad "PyTorch runs: want 2 worker counts x 3 repeats x 2 scripts, got $(wc -l <"$T/torch.log")"
has "$T/fake.md" "| tiny | 2 | PyTorch DP threads (replicas kept) | 500 | 500-500 | 0.50 |" "PyTorch kept row"
has "$T/fake.md" "| tiny | 1 | PyTorch DDP (gloo) | 1,500 | 1,500-1,500 | 1.50 |" "PyTorch DDP row"
has "$T/fake.md" "| tiny | 0.40 | 0.50 | 0.15 | 0.30 | 1.50 | 0.33 |" "CPython beside the emulation"
has "$T/fake.md" "Interpreter lock: supported — measured with real CPython threads (PyTorch DataParallel, the same model, steps and batch), at 2 workers: CPython threads ran at 0.50x the speed of serial (replicas kept; 0.40x replicated every step) where tinyddp's emulation predicts 0.30x (--gil --dp-cache) and 0.15x (--gil); two threads gain nothing over one" "lock verdict from CPython"
has "$T/fake.md" "In the emulation alone, the lock cost 10% of DP --dp-cache's speed" "the emulation's own lock figure kept"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); t=d["torch"]; sys.exit(0 if t["measured"] and len(t["rows"]) == 8 and d["claims"]["cpython"][0]["cpython_kept"] == 0.5 else 1)' \
    "$T/keep/compare.json" && ok || bad "compare.json: the PyTorch rows or claims"
grep -q "kernels table NOT included" "$T/fake.err" && ok || bad "missing kernels table not said on stderr"
cmp -s "$T/fake.md" "$T/keep/compare.md" && ok || bad "stdout and compare.md differ"
has "$T/fake.md" "compare_curves.png" "curves named in the report"
[[ $(file -b "$T/keep/compare_curves.png") == "PNG image data, 1400 x 1000"* ]] && ok ||
    bad "compare_curves.png: $(file -b "$T/keep/compare_curves.png")"
printf '#!/bin/sh\necho "| kernel | threads |"\necho "|---|---|"\necho "| primes | 4.2 |"\n' >"$T/seed.sh"
chmod +x "$T/seed.sh"
TDP_SEED_TABLE="$T/seed.sh" "$CMP" --bin "$T/fake" --out "$T/keep" --models tiny --workers 2 \
    --repeats 1 --steps 10 --no-cluster --no-plots --with-kernels >"$T/fake2.md" 2>"$T/fake.err" &&
    ok || bad "--with-kernels: $(tail -3 "$T/fake.err")"
has "$T/fake2.md" "| primes | 4.2 |" "kernels table included"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["kernels"]["included"] else 1)' \
    "$T/keep/compare.json" && ok || bad "compare.json: kernels not included"
# without torch (a python that cannot import it, no stand-ins): the rows skipped with a note; and --no-torch
printf '#!/bin/sh\nexit 1\n' >"$T/nopy"
chmod +x "$T/nopy"
env -u TDP_TORCH_DP -u TDP_TORCH_DDP TDP_TORCH_PYTHON="$T/nopy" "$CMP" --bin "$T/fake" --out "$T/keep" --models tiny \
    --workers 2 --repeats 1 --steps 10 --no-cluster --no-plots >"$T/fake3.md" 2>"$T/fake.err" && ok ||
    bad "without torch: $(tail -3 "$T/fake.err")"
has "$T/fake3.md" "Not measured: skipped: PyTorch is not installed here ($T/nopy cannot import torch)." "no torch noted"
grep -q "the PyTorch rows are skipped" "$T/fake.err" && ok || bad "no torch: not said on stderr"
has "$T/fake3.md" "Interpreter lock: supported — the lock cost 10%" "no torch: the emulation's verdict"
"$CMP" --bin "$T/fake" --out "$T/keep" --models tiny --workers 2 --repeats 1 --steps 10 --no-cluster \
    --no-plots --no-torch >"$T/fake4.md" 2>"$T/fake.err" && ok || bad "--no-torch: $(tail -3 "$T/fake.err")"
has "$T/fake4.md" "Not measured: skipped: --no-torch." "--no-torch noted"

finish
