#!/usr/bin/env bash
# bench.sh: benchmarks (not tests). Each prints ratios against a baseline measured in the same
# run, as the median of --repeat interleaved runs.
#
#   scripts/bench.sh serial [--repeat N]
#       The trainer's samples/s (batch 64, one BLAS thread, fashion-mlp on Fashion-MNIST) beside
#       (a) the GEMM-only limit: build/bin/gemm_bench times only the sgemm calls of one training
#       step at the same shapes, and (b) PyTorch training the same MLP on the same data path with
#       one thread. Run twice: with OpenBLAS's kernels as this machine selects them (it may set
#       OPENBLAS_CORETYPE), and with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset (auto-detected).
#
#   scripts/bench.sh ddp [--repeat N]
#       serial and DDP samples/s for np = 1, 2 and 4 (more ranks than cores marked), scaling
#       efficiency, PyTorch DDP (gloo) at np = 2, overlap against --no-overlap and a bucket-size
#       sweep on fashion-mlp and wide, the training allreduce's algbw/busbw beside a plain
#       MPI_Allreduce of the same size, and (as root) the same across 2 simulated hosts.
#
#   scripts/bench.sh dp [--repeat N]
#       fashion-mlp and wide: serial, DP with 2 workers (threads per step, a pool, each with and
#       without --gil, with and without --dp-cache), DDP np=2 and hybrid 1 rank x 2 threads, as
#       samples/s, ratio to serial,
#       and the share of the step spent replicating the model.
#
#   scripts/bench.sh zero [--repeat N]
#       --zero (ZeRO-1) against plain DDP at np = 2, fashion-mlp and wide on Fashion-MNIST, runs
#       interleaved: samples/s of plain (overlapped), plain --no-overlap and --zero, the ratios
#       of --zero to both, and the optimizer_state_bytes per rank of each (about 1/2 for --zero).
#       The load average before and after. About 1.5 minutes at --repeat 3 on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-serial}
shift || true
repeat=3
while (($#)); do
    case $1 in
    --repeat) repeat=$2; shift 2 ;;
    -h | --help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --repeat needs a positive integer" >&2; exit 2; }

TDP_NO_TORCH=0 scripts/setup.sh
BIN=build/bin
PY=/usr/bin/python3
DATA=/usr/share/datasets/fashion-mnist
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
json_field() { sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p" "$1"; }

machine_desc() {
    echo "$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
        "OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?')"
}

# serial_row LABEL ENV-PREFIX...: one table row, medians of $repeat interleaved runs
serial_row() {
    local label=$1
    shift
    local g=() s=() p=() core
    for ((i = 0; i < repeat; i++)); do
        g+=("$(env "$@" OPENBLAS_NUM_THREADS=1 $BIN/gemm_bench --seconds 2 | sed -n 's/^gemm_only_samples_per_s //p')")
        env "$@" OPENBLAS_NUM_THREADS=1 $BIN/ddp_train --mode serial --data "$DATA" --epochs 2 \
            --batch 64 --json "$T/s.json" >"$T/s.log"
        s+=("$(json_field "$T/s.json" train_samples_per_s)")
        p+=("$(env "$@" OPENBLAS_NUM_THREADS=1 $PY scripts/py/torch_mlp.py --batch 64 --steps 2000 | sed -n 's/^torch_samples_per_s //p')")
    done
    core=$(sed -n 's/^blas: .*DYNAMIC_ARCH NO_AFFINITY \([A-Za-z0-9]*\) .*/\1/p' "$T/s.log")
    local gm sm pm
    gm=$(printf '%s\n' "${g[@]}" | median)
    sm=$(printf '%s\n' "${s[@]}" | median)
    pm=$(printf '%s\n' "${p[@]}" | median)
    printf '| %s (%s) | %.0f | %.0f | %.0f | %s | %s |\n' "$label" "$core" "$gm" "$sm" "$pm" \
        "$(ratio "$sm" "$gm")" "$(ratio "$sm" "$pm")"
}

bench_serial() {
    echo "## serial: fashion-mlp 784-256-128-10, batch 64, one BLAS thread, Fashion-MNIST"
    echo "machine: $(machine_desc); median of $repeat interleaved runs"
    echo
    echo "| OpenBLAS kernels | GEMM-only samples/s | tinyddp samples/s | PyTorch samples/s | tinyddp / GEMM-only | tinyddp / PyTorch |"
    echo "|---|---:|---:|---:|---:|---:|"
    serial_row "as set here: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}" TDP_BENCH=1
    serial_row "auto-detected" -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
    echo
    echo "GEMM-only: build/bin/gemm_bench (the sgemm calls of one step, nothing else)."
    echo "PyTorch: scripts/py/torch_mlp.py, torch $($PY -c 'import torch; print(torch.__version__)'), torch.set_num_threads(1)."
}

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
# one core per rank when they fit (bound), free placement when oversubscribed
mpirun_() {
    local np=$2
    if ((np <= $(nproc))); then mpirun --bind-to core "$@"; else mpirun --oversubscribe --bind-to none "$@"; fi
}

# train NAME NP MODEL STEPS ddp_train-options...: one run; prints "samples/s comm_s steps"
train() {
    local name=$1 np=$2 model=$3 steps=$4
    shift 4
    local launch=()
    ((np > 0)) && launch=(mpirun_ -np "$np")
    # threads per rank (hybrid): a rank bound to one core would run its threads on that core
    [[ " $* " == *" --workers "* ]] && ((np > 0)) &&
        launch=(mpirun --bind-to none --oversubscribe -np "$np")
    "${launch[@]}" $BIN/ddp_train --model "models/$model.cfg" --data "$DATA" --epochs 100 \
        --max-steps "$steps" --json "$T/$name.json" --quiet "$@" >"$T/$name.log" 2>&1 ||
        { echo "bench.sh: run $name failed: $(tail -3 "$T/$name.log")" >&2; exit 1; }
    echo "$(json_field "$T/$name.json" train_samples_per_s) $(json_field "$T/$name.json" comm_seconds) $(json_field "$T/$name.json" steps)"
}

# med NAME NP MODEL STEPS options...: medians over $repeat runs of samples/s and comm s/step
med() {
    local i out sps=() cps=()
    for ((i = 0; i < repeat; i++)); do
        out=$(train "$@")
        sps+=("$(echo "$out" | awk '{print $1}')")
        cps+=("$(echo "$out" | awk '{print $2 / $3}')")
    done
    echo "$(printf '%s\n' "${sps[@]}" | median) $(printf '%s\n' "${cps[@]}" | median)"
}

bench_ddp() {
    local cores
    cores=$(nproc)
    echo "## ddp: batch 64 per rank, one BLAS thread per rank, Fashion-MNIST"
    echo "machine: $(machine_desc), $(mpirun --version | head -1); median of $repeat runs"
    echo
    echo "### Scaling (fashion-mlp, 600 global steps of np x 64 samples)"
    echo
    echo "| run | samples/s | vs serial | efficiency | exposed comm per step |"
    echo "|---|---:|---:|---:|---:|"
    local serial np r
    serial=$(med serial 0 fashion-mlp 600 --mode serial | awk '{print $1}')
    printf '| serial | %.0f | 1.00 | | |\n' "$serial"
    for np in 1 2 4; do
        r=$(med "np$np" "$np" fashion-mlp 600)
        printf '| ddp np=%d%s | %.0f | %s | %s | %.1f us |\n' "$np" \
            "$( ((np > cores)) && echo " (more ranks than the $cores cores)")" \
            "$(echo "$r" | awk '{print $1}')" "$(ratio "$(echo "$r" | awk '{print $1}')" "$serial")" \
            "$(awk -v a="$(echo "$r" | awk '{print $1}')" -v s="$serial" -v n="$np" 'BEGIN { printf "%.2f", a / (n * s) }')" \
            "$(echo "$r" | awk '{print $2 * 1e6}')"
        [[ $np == 2 ]] && np2=$(echo "$r" | awk '{print $1}')
    done
    local pt p=()
    for ((i = 0; i < repeat; i++)); do
        p+=("$($PY scripts/py/torch_ddp.py --np 2 --steps 600 | sed -n 's/^torch_ddp_samples_per_s //p')")
    done
    pt=$(printf '%s\n' "${p[@]}" | median)
    printf '| PyTorch DDP gloo np=2 | %.0f | %s | | |\n' "$pt" "$(ratio "$pt" "$serial")"
    echo
    echo "tinyddp np=2 / PyTorch DDP np=2: $(ratio "$np2" "$pt")x"
    echo
    echo "### Overlap and bucket size (np=2; hidden = 1 - exposed / exposed with --no-overlap)"
    echo
    echo "| model | mode | samples/s | exposed comm per step | hidden |"
    echo "|---|---|---:|---:|---:|"
    local m steps base o
    for m in fashion-mlp wide; do
        steps=600
        [[ $m == wide ]] && steps=200
        base=$(med "no_$m" 2 $m $steps --no-overlap)
        printf '| %s | --no-overlap | %.0f | %.1f us | |\n' $m "$(echo "$base" | awk '{print $1}')" \
            "$(echo "$base" | awk '{print $2 * 1e6}')"
        for o in 0 64 256 1024; do
            r=$(med "ov_${m}_$o" 2 $m $steps --bucket-kb $o)
            printf '| %s | overlap, --bucket-kb %s | %.0f | %.1f us | %s |\n' $m "$o" \
                "$(echo "$r" | awk '{print $1}')" "$(echo "$r" | awk '{print $2 * 1e6}')" \
                "$(awk -v a="$(echo "$r" | awk '{print $2}')" -v b="$(echo "$base" | awk '{print $2}')" 'BEGIN { printf "%.0f%%", 100 * (1 - a / b) }')"
        done
    done
    echo
    echo "### The gradient allreduce against a plain MPI_Allreduce of the same size (np=2)"
    echo
    echo "| model | bytes | training allreduce (--no-overlap) | algbw | busbw | plain MPI_Allreduce | algbw | busbw |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    local bytes t_train line
    for m in fashion-mlp wide; do
        bytes=$((($(json_field "$T/no_$m.json" params) + 1) * 4))
        t_train=$(awk -v c="$(json_field "$T/no_$m.json" comm_seconds)" -v s="$(json_field "$T/no_$m.json" steps)" 'BEGIN { print c / s }')
        line=$(mpirun_ -np 2 $BIN/allreduce_bench --sizes-kb "$((bytes / 1024))" --iters 200 | grep -v '^#' | tail -1)
        awk -v m=$m -v b="$bytes" -v t="$t_train" -v l="$line" 'BEGIN {
            split(l, f, " "); a = b / t * 1e-9;
            printf "| %s | %d | %.1f us | %.2f GB/s | %.2f GB/s | %.1f us | %.2f GB/s | %.2f GB/s |\n",
                m, b, t * 1e6, a, a, f[3], f[4], f[5] }'
    done
    echo
    echo "busbw = algbw x 2(n-1)/n (= algbw for n = 2). The training figure is the exposed time per"
    echo "step of a blocking allreduce, so it includes waiting for the slower rank."
    if [[ $(id -u) == 0 ]]; then
        echo
        echo "### Across 2 simulated hosts (scripts/cluster-sim, 1 rank each, links shaped to 2 Gbit/s with tc tbf)"
        echo
        echo "| model | mode | samples/s | exposed comm per step | hidden |"
        echo "|---|---|---:|---:|---:|"
        scripts/cluster-sim down
        scripts/cluster-sim up 2 --rate 2gbit >/dev/null
        trap 'scripts/cluster-sim down; rm -rf "$T"' EXIT
        local cs
        for m in fashion-mlp wide; do
            steps=200
            [[ $m == wide ]] && steps=60
            for o in --no-overlap "--bucket-kb 64" "--bucket-kb 256"; do
                cs=$(scripts/cluster-sim mpirun --host tdp1:1,tdp2:1 -np 2 $BIN/ddp_train \
                    --model models/$m.cfg --data "$DATA" --epochs 100 --max-steps $steps $o \
                    --json "$T/cs.json" --quiet >/dev/null 2>&1 && echo ok)
                [[ $cs == ok ]] || { echo "bench.sh: cluster run failed" >&2; exit 1; }
                local c s sp
                c=$(json_field "$T/cs.json" comm_seconds)
                s=$(json_field "$T/cs.json" steps)
                sp=$(json_field "$T/cs.json" train_samples_per_s)
                [[ $o == --no-overlap ]] && base_c=$(awk -v c="$c" -v s="$s" 'BEGIN { print c / s }')
                printf '| %s | %s | %.0f | %.0f us | %s |\n' $m "$o" "$sp" \
                    "$(awk -v c="$c" -v s="$s" 'BEGIN { print c / s * 1e6 }')" \
                    "$([[ $o == --no-overlap ]] || awk -v c="$c" -v s="$s" -v b="$base_c" 'BEGIN { printf "%.0f%%", 100 * (1 - c / s / b) }')"
            done
        done
        scripts/cluster-sim down
    fi
}

bench_dp() {
    echo "## dp: 2 workers, batch 64 per worker, one BLAS thread each, Fashion-MNIST"
    echo "machine: $(machine_desc); median of $repeat runs"
    echo
    echo "| model | run | samples/s | vs serial | replication share of step | gil wait per step |"
    echo "|---|---|---:|---:|---:|---:|"
    local m steps serial r name args share gw
    for m in fashion-mlp wide; do
        steps=400
        [[ $m == wide ]] && steps=100
        serial=$(med "dps_$m" 0 $m $((2 * steps)) --mode serial --batch 128 | awk '{print $1}')
        printf '| %s | serial (batch 128) | %.0f | 1.00 | | |\n' $m "$serial"
        for name in "dp:--mode dp --workers 2" "dp --gil:--mode dp --workers 2 --gil" \
            "dp --dp-pool:--mode dp --workers 2 --dp-pool" \
            "dp --dp-pool --gil:--mode dp --workers 2 --dp-pool --gil" \
            "dp --dp-cache:--mode dp --workers 2 --dp-cache" \
            "dp --dp-cache --dp-pool:--mode dp --workers 2 --dp-cache --dp-pool" \
            "dp --dp-cache --dp-pool --gil:--mode dp --workers 2 --dp-cache --dp-pool --gil" \
            "ddp np=2:NP2" "hybrid 1x2:NP1 --workers 2"; do
            args=${name#*:}
            local np=0
            [[ $args == NP2* ]] && np=2 && args=${args#NP2}
            [[ $args == NP1* ]] && np=1 && args=${args#NP1}
            r=$(med "dp_$m" $np $m $steps $args)
            share=$(awk -v r="$(json_field "$T/dp_$m.json" replicate_seconds)" -v s="$(json_field "$T/dp_$m.json" seconds)" 'BEGIN { printf "%.0f%%", 100 * r / s }')
            gw=$(awk -v g="$(json_field "$T/dp_$m.json" gil_wait_seconds)" -v n="$(json_field "$T/dp_$m.json" steps)" 'BEGIN { printf "%.1f us", 1e6 * g / n }')
            printf '| %s | %s | %.0f | %s | %s | %s |\n' $m "${name%%:*}" "$(echo "$r" | awk '{print $1}')" \
                "$(ratio "$(echo "$r" | awk '{print $1}')" "$serial")" "$share" "$gw"
        done
    done
    echo
    echo "Replication share: replicate_seconds / seconds of the last run (its JSON); the serial run"
    echo "uses the same global batch of 128 samples per step."
}

# --zero against plain DDP at np=2, interleaved (one round: plain, plain --no-overlap, --zero)
bench_zero() {
    echo "## zero: --zero (ZeRO-1) vs plain DDP, np=2, batch 64 per rank, Fashion-MNIST"
    echo "machine: $(machine_desc), $(mpirun --version | head -1); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'); median of $repeat interleaved runs"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "| model | plain samples/s | --no-overlap | --zero | zero/plain | zero/no-overlap | state bytes plain | state bytes zero | state ratio |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    local model steps i k names=(plain nooverlap zero) opts=("" "--no-overlap" "--zero")
    for model in fashion-mlp wide; do
        steps=400
        [[ $model == wide ]] && steps=100
        local -A sps=()
        for ((i = 0; i < repeat; i++)); do
            for k in 0 1 2; do
                sps[$k]+="$(train "z_${names[$k]}" 2 "$model" "$steps" ${opts[$k]} | awk '{print $1}') "
            done
        done
        local m=() b=()
        for k in 0 1 2; do
            m[$k]=$(printf '%s\n' ${sps[$k]} | median)
            b[$k]=$(json_field "$T/z_${names[$k]}.json" optimizer_state_bytes)
        done
        echo "| $model | ${m[0]} | ${m[1]} | ${m[2]} | $(ratio "${m[2]}" "${m[0]}") | $(ratio "${m[2]}" "${m[1]}") | ${b[0]} | ${b[2]} | $(ratio "${b[2]}" "${b[0]}") |"
    done
    echo
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

case $what in
serial) bench_serial ;;
zero) bench_zero ;;
ddp) bench_ddp ;;
dp) bench_dp ;;
*) echo "bench.sh: unknown benchmark '$what' (serial, ddp, dp, zero)" >&2; exit 2 ;;
esac
