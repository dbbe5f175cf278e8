#!/usr/bin/env bash
# bench-cores.sh: issue 15's many-core runs, prepared for one short visit to a machine with more
# cores than this one: np = 1, 2, 4, 8, ... up to --max-np, for each model, fp32 and
# --grad-compress bf16, each beside PyTorch DDP (gloo) at the same np when python3 has torch;
# a serial run and the plain allreduce of the model's gradient at each np (allreduce_bench) for the
# scaling model. Everything goes to one folder: results.md (the table), results.csv, machine.txt,
# and each run's JSON and log. A benchmark, not a test: ratios against the serial run of the same
# session; the load average is printed beside them.
#
#   scripts/bench-cores.sh [--out DIR] [--max-np N] [--steps S] [--bin DIR] [--data DIR|synthetic]
#                          [--models fashion-mlp,wide] [--no-torch] [--timeout SECONDS]
#
#   --out DIR       results folder, must not exist or be empty [results/cores-DATE]
#   --max-np N      the largest np (powers of two up to it, and N itself) [the physical cores]
#   --steps S       optimizer steps a run (batch 64 per rank) [300]
#   --bin DIR       ddp_train and allreduce_bench [build/bin]
#   --data D        Fashion-MNIST's folder, or synthetic (its shape) [ddp_train's default;
#                   PyTorch reads only /usr/share/datasets/fashion-mnist, else synthetic data]
#   --models LIST   model files under models/ [fashion-mlp,wide]
#   --no-torch      skip PyTorch DDP (otherwise the first of $TDP_PYTHON, python3 and
#                   /usr/bin/python3 that has torch runs scripts/py/torch_ddp.py)
#   --timeout S     the limit of each run [600]
#
# On a machine without Open MPI, build here, then (../shared/device/README.md):
#     ../shared/device/prepare.sh .dev build/bin/ddp_train build/bin/allreduce_bench
#     there: tar -xJf .dev.tar.xz && . .dev/env.sh && OPENBLAS_CORETYPE=SkylakeX \
#            scripts/bench-cores.sh --bin .dev/bin --data synthetic --out "$OUT/cores"
# (OpenBLAS 0.3.21 needs OPENBLAS_CORETYPE=SkylakeX on an AVX-512 Intel Xeon it does not know;
# leave it unset elsewhere, AMD processors with AVX-512 included.) At --max-np 16 a model takes 1 serial run, 5 fp32 and 4 bf16 runs, 5 PyTorch
# runs and 4 allreduce timings; 300 steps of fashion-mlp take under a second a run on 2 cores.
set -euo pipefail
here=$PWD self=$(readlink -f "$0")
cd "$(dirname "$self")/.."
# the cores this process may run on, without their second hardware threads (the kernel's
# topology of each CPU in the affinity mask); ranks are bound to cores while they fit
cores=$(python3 -c 'import os
ids = set()
for c in os.sched_getaffinity(0):
    t = f"/sys/devices/system/cpu/cpu{c}/topology/"
    try:
        ids.add((open(t + "physical_package_id").read(), open(t + "core_id").read()))
    except OSError:
        ids.add(c)
print(len(ids))' 2>/dev/null) || cores=""
[[ $cores =~ ^[1-9][0-9]*$ ]] || cores=$(nproc)

out="" maxnp=$cores steps=300 bin="" data="" models=fashion-mlp,wide torch=1 limit=600
die() { echo "bench-cores.sh: $*" >&2; exit 2; }
while (($#)); do
    case $1 in
    --out | --max-np | --steps | --bin | --data | --models | --timeout)
        (($# >= 2)) || die "$1 needs a value"
        case $1 in
        --out) out=$2 ;; --max-np) maxnp=$2 ;; --steps) steps=$2 ;; --bin) bin=$2 ;;
        --data) data=$2 ;; --models) models=$2 ;; --timeout) limit=$2 ;;
        esac
        shift 2 ;;
    --no-torch) torch=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (--help lists the options)" ;;
    esac
done
[[ $maxnp =~ ^[1-9][0-9]*$ ]] || die "--max-np needs a positive integer, not '$maxnp'"
[[ $steps =~ ^[1-9][0-9]*$ ]] || die "--steps needs a positive integer, not '$steps'"
[[ $limit =~ ^[1-9][0-9]*$ ]] || die "--timeout needs a positive number of seconds, not '$limit'"
IFS=, read -r -a mlist <<<"$models"
((${#mlist[@]})) || die "--models needs at least one model"
for m in "${mlist[@]}"; do
    [[ -n $m && -f models/$m.cfg ]] || die "--models: no models/$m.cfg"
done
abs() { [[ -z $1 || $1 == /* || $1 == synthetic ]] && echo "$1" || echo "$here/$1"; }
bin=$(abs "$bin") data=$(abs "$data") # relative to where the script was called from
bin=${bin:-$PWD/build/bin}
[[ -z $out ]] || out=$(abs "$out")
[[ -z $data || $data == synthetic || -d $data ]] || die "--data: '$data' is not a folder or 'synthetic'"
[[ -x $bin/ddp_train ]] || die "no ddp_train in '$bin' (--bin; build with scripts/setup.sh)"
out=${out:-results/cores-$(date +%Y%m%d-%H%M%S)}
if [[ -e $out && -n $(ls -A "$out" 2>/dev/null) ]]; then
    die "--out: '$out' exists and is not empty (results are never mixed)"
fi
tpy=""
if ((torch)); then # the first of $TDP_PYTHON, python3 and /usr/bin/python3 (Debian's torch) with torch
    for py in ${TDP_PYTHON:-} python3 /usr/bin/python3; do
        if "$py" -c 'import torch' 2>/dev/null; then tpy=$py; break; fi
    done
    [[ -n $tpy ]] || { echo "bench-cores.sh: no python3 with torch: PyTorch DDP skipped" >&2; torch=0; }
fi
mkdir -p "$out"

nps=()
for ((p = 1; p < maxnp; p *= 2)); do nps+=("$p"); done
nps+=("$maxnp")
dargs=() tsyn=()
if [[ $data == synthetic ]]; then
    dargs=(--data synthetic --synthetic-train 60000 --synthetic-test 10000)
elif [[ -n $data ]]; then
    dargs=(--data "$data")
fi
# PyTorch (torch_ref.py) reads only Debian's Fashion-MNIST: random data of its shape otherwise
tdata=/usr/share/datasets/fashion-mnist
[[ ${data:-$tdata} -ef $tdata ]] || tsyn=(--synthetic)
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
xenv=(-x OPENBLAS_NUM_THREADS)
[[ -z ${OPENBLAS_CORETYPE+set} ]] || xenv+=(-x OPENBLAS_CORETYPE)
mpi() { # NP: the launcher for NP ranks, bound to cores while they fit
    if (($1 > cores)); then
        echo mpirun -np "$1" "${xenv[@]}" --oversubscribe --bind-to none
    else
        echo mpirun -np "$1" "${xenv[@]}" --bind-to core
    fi
}
failed=0
# Each run in a session of its own: whatever it leaves (a rank that mpirun, stopped by the time
# limit while it was still starting, never reached) is killed with the session, after the run and
# when this script is interrupted.
sid=""
sweep() { [[ -z $sid ]] || pkill -KILL -s "$sid" 2>/dev/null || true; }
trap 'sweep; exit 130' INT
trap 'sweep; exit 143' TERM
run() { # NAME CMD...: CMD's output in NAME.log, within the time limit; 1 when it fails
    local rc=0
    setsid timeout -k 10 "$limit" "${@:2}" >"$out/$1.log" 2>&1 </dev/null &
    sid=$!
    wait "$sid" || rc=$?
    sweep
    sid=""
    ((rc != 0)) || return 0
    echo "bench-cores.sh: $1 failed (exit $rc$( ((rc == 124 || rc == 137)) && echo ", past --timeout $limit s")): see $out/$1.log" >&2
    failed=$((failed + 1))
    return 1
}
ratio() { # A B: A / B to 2 places, or NA where either is not a positive number
    python3 -c 'import sys
try:
    a, b = map(float, sys.argv[1:3])
    print(f"{a / b:.2f}" if a > 0 and b > 0 else "NA")
except ValueError:
    print("NA")' "$1" "$2"
}
sps() { # JSON: train_samples_per_s, or NA where the run left none
    python3 -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["train_samples_per_s"], 1))' \
        "$1" 2>/dev/null || echo NA
}

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $cores cores ($(nproc) hardware threads), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "ddp_train: $("$bin/ddp_train" --version 2>&1 | head -3 | tr '\n' ' ')"
    echo "OPENBLAS_CORETYPE: ${OPENBLAS_CORETYPE:-unset}"
    echo "mpirun: $(mpirun --version 2>&1 | head -1)"
    ((torch)) && echo "torch: $("$tpy" -c 'import torch; print(torch.__version__)') ($tpy)${tsyn:+, synthetic data}"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

echo "model,variant,np,tinyddp_samples_per_s,tinyddp_vs_serial,torch_samples_per_s,torch_vs_own_np1,allreduce_us" >"$out/results.csv"
for m in "${mlist[@]}"; do
    common=(--model "models/$m.cfg" "${dargs[@]}" --batch 64 --max-steps "$steps" --epochs 1000000
            --seed 42 --progress off --quiet)
    ser=NA
    run "$m-serial" "$bin/ddp_train" --mode serial "${common[@]}" --json "$out/$m-serial.json" &&
        ser=$(sps "$out/$m-serial.json")
    echo "bench-cores.sh: $m serial: $ser samples/s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    t1=NA
    for p in "${nps[@]}"; do
        ar=NA
        if [[ -x $bin/allreduce_bench ]] && ((p > 1)); then
            # the gradient's bytes (params x 4), the blocking call DDP's --no-overlap makes
            kb=$(python3 -c 'import json, sys; print(-(-json.load(open(sys.argv[1]))["params"] * 4 // 1024))' \
                "$out/$m-serial.json" 2>/dev/null) || kb=""
            if [[ -z $kb ]]; then
                echo "bench-cores.sh: $m: no parameter count (the serial run failed): allreduce not timed" >&2
            else
                # shellcheck disable=SC2046
                if run "$m-allreduce-np$p" $(mpi "$p") "$bin/allreduce_bench" --sizes-kb "$kb" --iters 200 --warmup 20; then
                    ar=$(awk '$6 == "ok" {print $3}' "$out/$m-allreduce-np$p.log" | head -1)
                    ar=${ar:-NA}
                fi
            fi
        fi
        for v in fp32 bf16; do
            [[ $v == bf16 ]] && ((p == 1)) && continue
            extra=()
            [[ $v == bf16 ]] && extra=(--grad-compress bf16)
            s=NA
            # shellcheck disable=SC2046
            run "$m-$v-np$p" $(mpi "$p") "$bin/ddp_train" --mode ddp "${common[@]}" "${extra[@]}" \
                --json "$out/$m-$v-np$p.json" && s=$(sps "$out/$m-$v-np$p.json")
            ts=NA
            if ((torch)) && [[ $v == fp32 ]]; then
                run "$m-torch-np$p" "$tpy" scripts/py/torch_ddp.py --np "$p" --model "models/$m.cfg" \
                    --batch 64 --steps "$steps" --warmup 20 "${tsyn[@]}" &&
                    ts=$(sed -n 's/^torch_ddp_samples_per_s //p' "$out/$m-torch-np$p.log")
                ts=${ts:-NA}
                ((p == 1)) && t1=$ts
            fi
            r=$(ratio "$s" "$ser") tr=$(ratio "$ts" "$t1")
            echo "$m,$v,$p,$s,$r,$ts,$tr,$ar" >>"$out/results.csv"
            echo "bench-cores.sh: $m $v np=$p: $s samples/s ($r x serial); PyTorch $ts; allreduce $ar us (load $(cut -d' ' -f1 /proc/loadavg))" >&2
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

python3 - "$out" <<'PY'
import csv, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/results.csv")))
with open(f"{out}/results.md", "w") as f:
    f.write("".join(f"    {l}" for l in open(f"{out}/machine.txt")) + "\n")
    f.write("| model | variant | np | tinyddp samples/s | x serial | PyTorch DDP (gloo) samples/s | x its np=1 | allreduce of the gradient (us) |\n")
    f.write("|---|---|---:|---:|---:|---:|---:|---:|\n")
    for r in rows:
        f.write(f"| {r['model']} | {r['variant']} | {r['np']} | {r['tinyddp_samples_per_s']} | {r['tinyddp_vs_serial']} "
                f"| {r['torch_samples_per_s']} | {r['torch_vs_own_np1']} | {r['allreduce_us']} |\n")
PY
echo "bench-cores.sh: results in $out/results.md" >&2
((failed == 0)) || { echo "bench-cores.sh: $failed runs failed" >&2; exit 1; }
