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
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-serial}
shift || true
repeat=3
while (($#)); do
    case $1 in
    --repeat) repeat=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
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

case $what in
serial) bench_serial ;;
*) echo "bench.sh: unknown benchmark '$what' (serial)" >&2; exit 2 ;;
esac
