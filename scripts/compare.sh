#!/usr/bin/env bash
# compare.sh: the DataParallel vs DistributedDataParallel table, measured. Trains the same model
# on the same data for the same number of steps in every mode (serial at the same global batch,
# DP, DP --dp-cache, DP --gil, DP --gil --dp-cache, DDP, hybrid ranks x threads) for each worker
# count, repeats every run, runs PyTorch beside them on the same work (DataParallel in real CPython
# threads: scripts/py/torch_dp.py serial, dp-replicate, dp-kept; DDP with gloo:
# scripts/py/torch_ddp.py; skipped with a note when torch is not installed), runs DDP across 2
# simulated hosts (root only), and writes
# results/compare.md, results/compare.json and the plots results/compare_{speed,split}.png, and
# the training curves of serial, DP and DDP on one global batch, results/compare_curves.png.
# The Markdown is also printed on stdout; progress goes to stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
REPORT="$ROOT/scripts/py/compare_report.py"
SIM="$ROOT/scripts/cluster-sim"

usage() {
    cat <<EOF
Usage: scripts/compare.sh [options]
Measure DP against DDP on this machine and print the table (Markdown).

Options (default in brackets):
  --quick               a short run: --models tiny --workers 1,2 --steps 300 --data synthetic
                        (under a minute on 2 cores)
  --with-kernels        include the notebook kernels' table (scripts/seed-table.sh)
  --models LIST         comma-separated models/NAME.cfg [fashion-mlp,wide]
  --workers LIST        comma-separated worker counts [1,2,4]
  --repeats N           runs of each configuration; median and min-max reported [3]
  --steps N             optimizer steps of every run [per model: tiny 200, fashion-mlp 200, wide 40]
  --batch B             samples per worker per step; serial runs B x workers [64]
  --hybrid-threads T    threads per rank of the hybrid rows (workers = ranks x T) [2]
  --data DIR|synthetic  training data [ddp_train's: /usr/share/datasets/fashion-mnist when present]
  --link-rate RATE      bandwidth of the simulated link between the 2 hosts (tc tbf) [1gbit]
  --no-cluster          skip the 2-host DDP run (it needs root; skipped with a note otherwise)
  --no-torch            skip the PyTorch rows (skipped with a note when python3 has no torch)
  --no-plots            skip the gnuplot PNGs (the curves too)
  --no-curves           skip the curves: 3 extra runs (serial, DP, DDP; 2 workers, first model,
                        4 x its steps) with --metrics, drawn by scripts/py/plot_curves.py
  --out DIR             where the results go [results/ in the repository]
  --bin DIR             where ddp_train is [\$TDP_BIN, else build/bin]
  -h, --help            this text

Outputs (each written to a temporary file, then renamed; nothing is replaced on failure):
  DIR/compare.md, DIR/compare.json, DIR/compare_speed.png, DIR/compare_split.png,
  DIR/compare_curves.png
Environment: TDP_SEED_TABLE (the kernels table script) [scripts/seed-table.sh];
  TDP_TORCH_DP, TDP_TORCH_DDP (the PyTorch scripts; when given, torch is not looked for)
  [scripts/py/torch_dp.py, scripts/py/torch_ddp.py]; TDP_TORCH_PYTHON (what runs them) [python3].
Exit status: 0 done, 1 a run failed, 2 bad option or missing prerequisite.
EOF
}

die() {
    echo "compare.sh: $*" >&2
    exit 2
}
fail() {
    echo "compare.sh: $*" >&2
    exit 1
}

ORIG_ARGS=("$@")
quick=0 kernels=0 models="" workers="" repeats=3 steps="" batch=64 hthreads=2 data="" rate=1gbit
cluster=1 torch=1 plots=1 curves=1 out="$ROOT/results" bin="${TDP_BIN:-$ROOT/build/bin}"
need_val() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value (see --help)"; }
while (($#)); do
    case $1 in
    -h | --help) usage; exit 0 ;;
    --quick) quick=1; shift ;;
    --with-kernels) kernels=1; shift ;;
    --no-cluster) cluster=0; shift ;;
    --no-torch) torch=0; shift ;;
    --no-plots) plots=0; shift ;;
    --no-curves) curves=0; shift ;;
    --models | --workers | --repeats | --steps | --batch | --hybrid-threads | --data | --link-rate | --out | --bin)
        need_val "$@"
        case $1 in
        --models) models=$2 ;; --workers) workers=$2 ;; --repeats) repeats=$2 ;; --steps) steps=$2 ;;
        --batch) batch=$2 ;; --hybrid-threads) hthreads=$2 ;; --data) data=$2 ;;
        --link-rate) rate=$2 ;; --out) out=$2 ;; --bin) bin=$2 ;;
        esac
        shift 2 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done

posint() { [[ $2 =~ ^[1-9][0-9]*$ && ${#2} -le 7 ]] || die "$1 must be a positive integer, got '$2'"; }
if ((quick)); then
    models=${models:-tiny}
    workers=${workers:-1,2}
    steps=${steps:-300}
    data=${data:-synthetic}
fi
models=${models:-fashion-mlp,wide}
workers=${workers:-1,2,4}
posint --repeats "$repeats"
posint --batch "$batch"
posint --hybrid-threads "$hthreads"
[[ -z $steps ]] || posint --steps "$steps"
((hthreads >= 2)) || die "--hybrid-threads must be at least 2 (1 thread per rank is DDP)"
[[ $rate =~ ^[0-9]+(\.[0-9]+)?([kmg]?bit|[kmg]?bps)$ ]] || die "--link-rate must look like 1gbit or 100mbit, got '$rate'"

IFS=, read -r -a MODELS <<<"$models"
IFS=, read -r -a WORKERS <<<"$workers"
((${#MODELS[@]})) || die "--models is empty"
((${#WORKERS[@]})) || die "--workers is empty"
declare -A seen=()
for w in "${WORKERS[@]}"; do
    [[ $w =~ ^[1-9][0-9]*$ && $w -le 64 ]] || die "--workers: '$w' is not a worker count in 1..64"
    [[ -z ${seen[w$w]:-} ]] || die "--workers: $w is given twice"
    seen[w$w]=1
done
mapfile -t WORKERS < <(printf '%s\n' "${WORKERS[@]}" | sort -n)
declare -A STEPS=()
for m in "${MODELS[@]}"; do
    [[ $m =~ ^[A-Za-z0-9_.-]+$ ]] || die "--models: '$m' is not a model name (models/NAME.cfg)"
    [[ -f $ROOT/models/$m.cfg ]] || die "--models: no such model file models/$m.cfg"
    [[ -z ${seen[m$m]:-} ]] || die "--models: $m is given twice"
    seen[m$m]=1
    if [[ -n $steps ]]; then
        STEPS[$m]=$steps
    else
        case $m in wide) STEPS[$m]=40 ;; *) STEPS[$m]=200 ;; esac
    fi
done
if [[ -n $data && $data != synthetic ]]; then
    [[ -d $data ]] || die "--data: no such directory '$data'"
    data=$(cd "$data" && pwd)
fi

# prerequisites
[[ -x $bin/ddp_train ]] || die "no $bin/ddp_train: build first (scripts/setup.sh, or cmake -S . -B build && cmake --build build)"
bin=$(cd "$bin" && pwd)
command -v mpirun >/dev/null || die "mpirun not found: scripts/setup.sh installs openmpi-bin"
[[ -x $PY ]] || die "$PY not found: scripts/setup.sh installs python3"
((plots == 0)) || command -v gnuplot >/dev/null || die "gnuplot not found: scripts/setup.sh installs gnuplot-nox (or use --no-plots)"

cores=$(nproc)
export OPENBLAS_NUM_THREADS=1
if [[ $(id -u) == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# outputs are staged next to their final place and renamed at the end
mkdir -p "$out" || die "cannot create the output directory '$out'"
out=$(cd "$out" && pwd)
TMP="" STAGE="" sim_up=0
cleanup() {
    local rc=$?
    if ((sim_up)); then "$SIM" down >/dev/null 2>&1 || true; fi
    rm -rf "$TMP" "$STAGE"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
TMP=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX") || fail "cannot create a temporary directory"
STAGE=$(mktemp -d "$out/.compare.XXXXXX") || fail "cannot write in '$out'"

# the notebook kernels' table first: a failure there costs nothing
kernels_args=()
if ((kernels)); then
    seed=${TDP_SEED_TABLE:-$ROOT/scripts/seed-table.sh}
    if [[ -x $seed ]]; then
        echo "compare.sh: kernels table: $seed" >&2
        "$seed" >"$TMP/kernels.md" 2>"$TMP/kernels.err" ||
            fail "$seed failed (exit $?); its last lines:"$'\n'"$(tail -n 5 "$TMP/kernels.err")"
        [[ -s $TMP/kernels.md ]] || fail "$seed printed nothing"
        kernels_args=(--kernels "$TMP/kernels.md")
    else
        echo "compare.sh: kernels table NOT included: $seed does not exist (or is not executable) yet" >&2
        kernels_args=(--kernels-note "${seed#"$ROOT"/} does not exist yet, so the notebook kernels' table is missing")
    fi
fi

# --batch per variant (serial takes the global batch): ddp_train refuses an option given twice
common=(--data "${data:-}" --epochs 1000000 --seed 42 --quiet)
[[ -n $data ]] || common=("${common[@]:2}")

# run_one LOG JSON COMMAND...: a run, bounded in time; its stderr is shown if it fails
run_one() {
    local log=$1 json=$2
    shift 2
    if ! timeout -k 5 900 "$@" --json "$json" >"$log" 2>&1; then
        echo "compare.sh: this run failed:" >&2
        echo "  $*" >&2
        tail -n 15 "$log" | sed 's/^/  | /' >&2
        exit 1
    fi
    [[ -s $json ]] || fail "the run wrote no JSON: $*"
}
sps_of() { sed -n 's/.*"train_samples_per_s": \([0-9.]*\).*/\1/p' "$1"; }

# the plan: one configuration per (model, workers, variant)
plan=()
for m in "${MODELS[@]}"; do
    for p in "${WORKERS[@]}"; do
        plan+=("$m serial $p 1 1" "$m dp $p 1 $p" "$m dp-cache $p 1 $p" "$m dp-gil $p 1 $p"
            "$m dp-gil-cache $p 1 $p" "$m ddp $p $p 1")
        if ((p >= hthreads && p % hthreads == 0)); then
            plan+=("$m hybrid $p $((p / hthreads)) $hthreads")
        fi
    done
done
total=$((${#plan[@]} * repeats))
echo "compare.sh: ${#plan[@]} configurations x $repeats repeats = $total runs on $cores cores" \
    "(models ${MODELS[*]}, workers ${WORKERS[*]})" >&2

: >"$TMP/runs.tsv"
# the machine's load before and after the runs (1, 5 and 15-minute averages), in the results: a
# loaded machine depresses and spreads the multi-worker figures
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
n=0
for ((r = 1; r <= repeats; r++)); do # repeats outermost: drift of the machine hits every mode alike
    for cfg in "${plan[@]}"; do
        read -r m v p ranks threads <<<"$cfg"
        n=$((n + 1))
        json="$TMP/$m-$v-$p-$r.json"
        log="$TMP/$m-$v-$p-$r.log"
        train=("$bin/ddp_train" --model "$ROOT/models/$m.cfg" --max-steps "${STEPS[$m]}" "${common[@]}")
        case $v in
        serial) cmd=("${train[@]}" --mode serial --batch $((batch * p))) ;;
        dp) cmd=("${train[@]}" --batch "$batch" --mode dp --workers "$p") ;;
        dp-cache) cmd=("${train[@]}" --batch "$batch" --mode dp --workers "$p" --dp-cache) ;;
        dp-gil) cmd=("${train[@]}" --batch "$batch" --mode dp --workers "$p" --gil) ;;
        dp-gil-cache) cmd=("${train[@]}" --batch "$batch" --mode dp --workers "$p" --gil --dp-cache) ;;
        ddp | hybrid)
            mpi=(mpirun -np "$ranks")
            if ((ranks > cores)); then
                mpi+=(--oversubscribe --bind-to none)
            elif [[ $v == hybrid ]] || ((ranks * threads > cores)); then
                mpi+=(--bind-to none)
            else
                mpi+=(--bind-to core)
            fi
            cmd=("${mpi[@]}" -x OPENBLAS_NUM_THREADS "${train[@]}" --batch "$batch" --mode ddp)
            [[ $v == ddp ]] || cmd+=(--workers "$threads")
            ;;
        esac
        run_one "$log" "$json" "${cmd[@]}"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$v" "$p" "$ranks" "$threads" "$r" "$json" >>"$TMP/runs.tsv"
        mark=""
        ((p <= cores)) || mark=" (> $cores cores)"
        printf 'compare.sh: [%3d/%d] %-12s %-13s %d workers%s, run %d: %s samples/s\n' \
            "$n" "$total" "$m" "$v" "$p" "$mark" "$r" "$(sps_of "$json")" >&2
    done
done

# PyTorch on the same work: DP in real CPython threads (serial, replicated every step, replicas
# kept; torch_dp.py runs them interleaved) and DDP with gloo, each worker count, each repeat
TORCH_DP=${TDP_TORCH_DP:-$ROOT/scripts/py/torch_dp.py}
TORCH_DDP=${TDP_TORCH_DDP:-$ROOT/scripts/py/torch_ddp.py}
TORCH_PY=${TDP_TORCH_PYTHON:-$PY}
torch_args=()
if ((!torch)); then
    torch_args=(--torch-note "skipped: --no-torch")
elif [[ -z ${TDP_TORCH_DP:-}${TDP_TORCH_DDP:-} ]] && ! "$TORCH_PY" -c 'import torch' >/dev/null 2>&1; then
    echo "compare.sh: the PyTorch rows are skipped: $TORCH_PY cannot import torch (scripts/setup.sh installs python3-torch)" >&2
    torch_args=(--torch-note "skipped: PyTorch is not installed here ($TORCH_PY cannot import torch)")
else
    : >"$TMP/torch.tsv"
    tsyn=()
    [[ $data != synthetic ]] || tsyn=(--synthetic)
    ttotal=$((${#MODELS[@]} * ${#WORKERS[@]} * repeats * 2))
    n=0
    # run_torch LOG COMMAND...: a PyTorch run, bounded in time; its output is shown if it fails
    run_torch() {
        local log=$1
        shift
        timeout -k 5 900 "$@" >"$log" 2>&1 || {
            echo "compare.sh: this PyTorch run failed:" >&2
            echo "  $*" >&2
            tail -n 15 "$log" | sed 's/^/  | /' >&2
            exit 1
        }
    }
    for ((r = 1; r <= repeats; r++)); do
        for m in "${MODELS[@]}"; do
            for p in "${WORKERS[@]}"; do
                tcommon=(--model "$ROOT/models/$m.cfg" --batch "$batch" --steps "${STEPS[$m]}" --warmup 10 "${tsyn[@]}")
                log="$TMP/torch-dp-$m-$p-$r.log"
                run_torch "$log" "$TORCH_PY" "$TORCH_DP" "${tcommon[@]}" --workers "$p" --variants serial,dp-replicate,dp-kept
                for v in serial dp-replicate dp-kept; do
                    sps=$(sed -n "s/^dp_result variant=$v samples_per_s=\([0-9.]*\).*/\1/p" "$log")
                    [[ -n $sps ]] || fail "$TORCH_DP printed no dp_result for $v: $(tail -n 3 "$log")"
                    printf '%s\t%s\t%s\t%s\t%s\n' "$m" "$v" "$p" "$r" "$sps" >>"$TMP/torch.tsv"
                done
                n=$((n + 1))
                printf 'compare.sh: [%3d/%d] %-12s PyTorch DP threads %d workers, run %d: %s\n' "$n" "$ttotal" \
                    "$m" "$p" "$r" "$(sed -n 's/^dp_result variant=\([a-z-]*\) samples_per_s=\([0-9.]*\).*/\1 \2/p' "$log" | tr '\n' ' ')" >&2
                log="$TMP/torch-ddp-$m-$p-$r.log"
                run_torch "$log" "$TORCH_PY" "$TORCH_DDP" --np "$p" "${tcommon[@]}"
                sps=$(sed -n 's/^torch_ddp_samples_per_s \([0-9.]*\)$/\1/p' "$log")
                [[ -n $sps ]] || fail "$TORCH_DDP printed no torch_ddp_samples_per_s: $(tail -n 3 "$log")"
                printf '%s\tddp\t%s\t%s\t%s\n' "$m" "$p" "$r" "$sps" >>"$TMP/torch.tsv"
                n=$((n + 1))
                printf 'compare.sh: [%3d/%d] %-12s PyTorch DDP (gloo) %d workers, run %d: %s samples/s\n' \
                    "$n" "$ttotal" "$m" "$p" "$r" "$sps" >&2
            done
        done
    done
    torch_args=(--torch "$TMP/torch.tsv")
fi

# DDP across 2 simulated hosts
cluster_args=()
link_bytes() {
    local s=/sys/class/net/v-tdp1/statistics
    echo $(($(cat "$s/tx_bytes") + $(cat "$s/rx_bytes")))
}
has2=0
for p in "${WORKERS[@]}"; do ((p != 2)) || has2=1; done
if ((!cluster)); then
    cluster_args=(--cluster-note "skipped: --no-cluster")
elif [[ $(id -u) != 0 ]]; then
    echo "compare.sh: the 2-host DDP run is skipped: network namespaces need root" >&2
    cluster_args=(--cluster-note "skipped: scripts/cluster-sim needs root (network namespaces)")
elif ((!has2 || !${seen[w1]:-0})); then
    echo "compare.sh: the 2-host DDP run is skipped: it is compared with 1 and 2 workers on one host (add them to --workers)" >&2
    cluster_args=(--cluster-note "skipped: --workers must include 1 and 2 for the comparison")
elif [[ -n $("$SIM" status) ]]; then
    echo "compare.sh: the 2-host DDP run is skipped: simulated hosts are already up (another job?): $("$SIM" status | tr '\n' ' ')" >&2
    cluster_args=(--cluster-note "skipped: scripts/cluster-sim hosts were already in use by another job")
else
    # (a failed `up` tears down what it made; the hosts are ours to remove only once it succeeded)
    "$SIM" up 2 --rate "$rate" >"$TMP/sim.log" 2>&1 || fail "cluster-sim up failed: $(cat "$TMP/sim.log")"
    sim_up=1
    : >"$TMP/cluster.tsv"
    ctotal=$((${#MODELS[@]} * (repeats + 1)))
    n=0
    for m in "${MODELS[@]}"; do
        for ((r = 0; r <= repeats; r++)); do # run 0: no steps, the start-up and broadcast bytes
            n=$((n + 1))
            json="$TMP/$m-hosts-$r.json"
            kind=run
            ((r > 0)) || kind=startup
            st=${STEPS[$m]}
            ((r > 0)) || st=0
            before=$(link_bytes)
            run_one "$TMP/$m-hosts-$r.log" "$json" "$SIM" mpirun --host tdp1:1,tdp2:1 -np 2 \
                "$bin/ddp_train" --model "$ROOT/models/$m.cfg" --max-steps "$st" "${common[@]}" --batch "$batch" --mode ddp
            after=$(link_bytes)
            printf '%s\t%s\t%s\t%s\t%s\n' "$m" "$kind" "$r" "$json" $((after - before)) >>"$TMP/cluster.tsv"
            printf 'compare.sh: [%3d/%d] %-12s 2 hosts (%s), %s: %s samples/s, %s bytes across\n' \
                "$n" "$ctotal" "$m" "$rate" "${kind/run/run $r}" "$(sps_of "$json")" $((after - before)) >&2
        done
    done
    "$SIM" down >/dev/null 2>&1 || fail "cluster-sim down failed"
    sim_up=0
    cluster_args=(--cluster "$TMP/cluster.tsv")
fi

# the curves: serial, DP and DDP on the same global batch (2 workers), the first model, 4 x its
# steps, a --metrics record every 1/40 of them; drawn against steps and against time
((plots)) || curves=0
if ((curves)); then
    m=${MODELS[0]}
    cs=$((4 * STEPS[$m]))
    every=$(((cs + 39) / 40))
    curve=("$bin/ddp_train" --model "$ROOT/models/$m.cfg" --max-steps "$cs" "${common[@]}" --log-every "$every")
    for v in serial dp ddp; do
        case $v in
        serial) cmd=("${curve[@]}" --mode serial --batch $((batch * 2))) ;;
        dp) cmd=("${curve[@]}" --mode dp --workers 2 --batch "$batch") ;;
        ddp) cmd=(mpirun -np 2 --bind-to none -x OPENBLAS_NUM_THREADS "${curve[@]}" --mode ddp --batch "$batch")
            ((cores >= 2)) || cmd=("${cmd[@]:0:3}" --oversubscribe "${cmd[@]:3}") ;;
        esac
        run_one "$TMP/curve-$v.log" "$TMP/curve-$v.json" "${cmd[@]}" --metrics "$TMP/curve-$v.jsonl"
        [[ -s $TMP/curve-$v.jsonl ]] || fail "the curve run wrote no metrics: ${cmd[*]}"
        echo "compare.sh: curves: $m $v, $cs steps: $(sps_of "$TMP/curve-$v.json") samples/s" >&2
    done
fi

# the report
if [[ $data == synthetic ]]; then
    data_desc="synthetic (ddp_train's built-in set)"
elif [[ -n $data ]]; then
    data_desc=$data
elif [[ -d /usr/share/datasets/fashion-mnist ]]; then
    data_desc="Fashion-MNIST (/usr/share/datasets/fashion-mnist)"
else
    data_desc="synthetic (Fashion-MNIST is not installed)"
fi
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
cmdline="scripts/compare.sh"
for a in "${ORIG_ARGS[@]}"; do cmdline+=" $a"; done
steps_list=""
for m in "${MODELS[@]}"; do steps_list+="$m=${STEPS[$m]} "; done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
COMMIT=$(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
M_LOAD_BEFORE=$LOAD_BEFORE M_LOAD_AFTER=$LOAD_AFTER M_COMMIT=$COMMIT \
    M_DATE=$(date -u +%Y-%m-%dT%H:%MZ) M_COMMAND=$cmdline M_QUICK=$quick M_KERNELS=$kernels \
    M_PLOTS=$plots M_CURVES=$curves M_CORES=$cores M_CPU=${cpu:-unknown CPU} M_UNAME=$(uname -sr) \
    M_BLAS=$(sed -n 's/.*"blas": "\(.*\)".*/\1/p' "$(cut -f7 "$TMP/runs.tsv" | head -n 1)") \
    M_DATA=$data_desc \
    M_MODELS="${MODELS[*]}" M_WORKERS="${WORKERS[*]}" M_STEPS=$steps_list M_REPEATS=$repeats \
    M_BATCH=$batch M_HTHREADS=$hthreads M_RATE=$rate "$PY" - "$TMP/meta.json" <<'EOF' ||
import json, os, sys
e = os.environ
meta = {
    "date": e["M_DATE"],
    "command": e["M_COMMAND"],
    "quick": e["M_QUICK"] == "1",
    "with_kernels": e["M_KERNELS"] == "1",
    "plots": e["M_PLOTS"] == "1",
    "curves": e["M_CURVES"] == "1",
    "cores": int(e["M_CORES"]),
    "cpu": e["M_CPU"].strip(),
    "kernel": e["M_UNAME"],
    "blas": e["M_BLAS"] or "unknown (the runs' JSON named no BLAS)",
    "data": e["M_DATA"],
    "models": e["M_MODELS"].split(),
    "workers": [int(w) for w in e["M_WORKERS"].split()],
    "steps": {kv.split("=")[0]: int(kv.split("=")[1]) for kv in e["M_STEPS"].split()},
    "repeats": int(e["M_REPEATS"]),
    "batch_per_worker": int(e["M_BATCH"]),
    "hybrid_threads": int(e["M_HTHREADS"]),
    "link_rate": e["M_RATE"],
    "commit": e["M_COMMIT"],
    "load_before": [float(x) for x in e["M_LOAD_BEFORE"].split()],
    "load_after": [float(x) for x in e["M_LOAD_AFTER"].split()],
}
with open(sys.argv[1], "w") as f:
    json.dump(meta, f, indent=2)
EOF
    fail "cannot write the run's description"
plot_args=()
((plots == 0)) || plot_args=(--plots "$STAGE")
"$PY" "$REPORT" build --manifest "$TMP/runs.tsv" --meta "$TMP/meta.json" "${cluster_args[@]}" \
    "${kernels_args[@]}" "${torch_args[@]}" --json "$STAGE/compare.json" --md "$STAGE/compare.md" "${plot_args[@]}" ||
    fail "compare_report.py failed"
if ((plots)); then
    (cd "$STAGE" && gnuplot plots.gp) >"$TMP/gnuplot.log" 2>&1 ||
        fail "gnuplot failed: $(tail -5 "$TMP/gnuplot.log")"
    [[ -s $STAGE/compare_speed.png && -s $STAGE/compare_split.png ]] || fail "gnuplot wrote no PNG"
fi
if ((curves)); then
    "$PY" "$ROOT/scripts/py/plot_curves.py" --out "$STAGE/compare_curves.png" \
        --title "${MODELS[0]}: serial (batch $((batch * 2))), DP and DDP (2 x $batch): the same global batch; $cores cores" \
        serial="$TMP/curve-serial.jsonl" DP="$TMP/curve-dp.jsonl" DDP="$TMP/curve-ddp.jsonl" \
        2>"$TMP/curves.err" || fail "plot_curves.py failed: $(tail -3 "$TMP/curves.err")"
fi

# into place: every file complete before any rename
files=(compare.json compare.md)
((plots == 0)) || files+=(compare_speed.png compare_split.png)
((curves == 0)) || files+=(compare_curves.png)
for f in "${files[@]}"; do
    mv -f "$STAGE/$f" "$out/$f"
done
cat "$out/compare.md"
echo "compare.sh: wrote ${files[*]/#/$out/}" >&2
