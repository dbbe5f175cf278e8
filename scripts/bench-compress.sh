#!/usr/bin/env bash
# bench-compress.sh: issue 15's benchmarks (not tests): ratios measured in one run, interleaved,
# the median of --repeat runs, with the load average printed beside them.
#
#   scripts/bench-compress.sh compress [--repeat N] [--rate 1gbit] [--accuracy] [--no-cluster]
#                                      [--scalar] [--zero]
#       fashion-mlp on Fashion-MNIST, 2 ranks: --grad-compress none, bf16, fp16 (and bf16 with
#       --error-feedback) as samples/s and the ratio to fp32, on one host and (as root) across 2
#       simulated hosts (scripts/cluster-sim, 1 rank each, links shaped to --rate). --accuracy also
#       trains 10 epochs with each on one host and prints the test accuracy. --scalar adds bf16
#       and fp16 with the scalar conversions (TDP_TEST_HALF_SCALAR=1), interleaved with the rest;
#       --zero adds --zero in fp32 and with bf16 (and bf16 with --zero against fp32 with --zero).
#   scripts/bench-compress.sh convert [--repeat N]
#       the 16-bit conversions alone (build/bin/half_bench): scalar against F16C/AVX2, ns per
#       value on a fashion-mlp gradient, the best of 100 x N interleaved rounds (seconds).
#   scripts/bench-compress.sh buckets [--repeat N] [--rate 1gbit] [--no-cluster]
#       --no-overlap, overlapped buckets of 64, 256 and 1024 KB and --bucket-kb auto (what it
#       chose), samples/s and auto against the best fixed setting, on one host and across 2 hosts.
#
# About 3 minutes for each with --repeat 3 on 2 cores (compress --accuracy: 10 more minutes).
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."

usage() { sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "bench-compress.sh: $*" >&2; exit 2; }
what=${1:-compress}
case $what in
-h | --help) usage; exit 0 ;;
compress | buckets | convert) ;;
*) die "the first argument is compress, buckets or convert, not '$what' (--help)" ;;
esac
shift || true
repeat=3 rate=1gbit accuracy=0 cluster=1 scalar=0 zero=0
while (($#)); do
    case $1 in
    --repeat | --rate) (($# >= 2)) || die "$1 needs a value" ;;&
    --repeat) repeat=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --accuracy) accuracy=1; shift ;;
    --no-cluster) cluster=0; shift ;;
    --scalar) scalar=1; shift ;;
    --zero) zero=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (--help lists the options)" ;;
    esac
done
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "--repeat needs a positive integer, not '$repeat'"
[[ $rate =~ ^[1-9][0-9]*(\.[0-9]+)?[kmg]?bit$ ]] || die "--rate needs a rate like 1gbit or 500mbit, not '$rate'"

BIN=build/bin
DATA=/usr/share/datasets/fashion-mnist
[[ -x $BIN/ddp_train ]] || { echo "bench-compress.sh: build first ($BIN/ddp_train)" >&2; exit 2; }
if [[ $what == convert ]]; then
    [[ -x $BIN/half_bench ]] || { echo "bench-compress.sh: build first ($BIN/half_bench)" >&2; exit 2; }
    echo "# bench-compress.sh convert: commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "load before: $(cat /proc/loadavg)"
    $BIN/half_bench 235146 $((100 * repeat))
    echo "load after: $(cat /proc/loadavg)"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d)
SIM_UP=0
cleanup() {
    [[ $SIM_UP == 1 ]] && scripts/cluster-sim down >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1"; }

# launch WHERE ARGS...: one 2-rank run, its JSON in $T/run.json (--scalar-conversions among ARGS:
# with TDP_TEST_HALF_SCALAR=1)
launch() {
    local where=$1 env=() args=() a
    shift
    for a in "$@"; do # --scalar-conversions (anywhere) is the test switch, not an option
        if [[ $a == --scalar-conversions ]]; then env=(-x TDP_TEST_HALF_SCALAR=1); else args+=("$a"); fi
    done
    if [[ $where == host ]]; then
        mpirun --oversubscribe --bind-to none "${env[@]}" -np 2 $BIN/ddp_train "${args[@]}" --json "$T/run.json" --quiet
    else
        scripts/cluster-sim mpirun --host tdp1:1,tdp2:1 "${env[@]}" -np 2 $BIN/ddp_train "${args[@]}" --json "$T/run.json" --quiet
    fi
}

# table WHERE STEPS LABEL=OPTIONS...: each setting $repeat times, interleaved; prints the rows and
# leaves the medians in MED[label]
declare -A MED
table() {
    local where=$1 steps=$2
    shift 2
    local -A runs=()
    local r s label
    for ((r = 0; r < repeat; r++)); do
        for s in "$@"; do
            label=${s%%=*}
            # shellcheck disable=SC2086
            launch "$where" --data "$DATA" --epochs 100 --max-steps "$steps" ${s#*=} >/dev/null 2>"$T/err" ||
                { echo "bench-compress.sh: run '$s' on $where failed: $(tail -3 "$T/err")" >&2; exit 1; }
            runs[$label]+="$(field "$T/run.json" train_samples_per_s) "
            [[ $label == auto ]] && CHOSEN="$(field "$T/run.json" bucket_kb) KB, overlap $(field "$T/run.json" overlap)"
            [[ $label != none ]] || BYTES32=$(field "$T/run.json" allreduce_bytes_per_step)
            [[ $label != bf16 ]] || BYTES16=$(field "$T/run.json" allreduce_bytes_per_step)
        done
    done
    for s in "$@"; do
        label=${s%%=*}
        MED[$label]=$(tr ' ' '\n' <<<"${runs[$label]}" | grep . | median)
    done
}

sim_up() {
    if ((!cluster)); then
        echo "(2 simulated hosts skipped: --no-cluster)"
        return 1
    fi
    if [[ $(id -u) != 0 ]]; then
        echo "(2 simulated hosts skipped: scripts/cluster-sim needs root)"
        return 1
    fi
    if [[ -n $(scripts/cluster-sim status) ]]; then
        echo "(2 simulated hosts skipped: hosts are already up, another job's: $(scripts/cluster-sim status | tr '\n' ' '))"
        return 1
    fi
    scripts/cluster-sim up 2 --rate "$rate" >/dev/null # a failed up tears down what it made
    SIM_UP=1
}

sim_down() {
    scripts/cluster-sim down >/dev/null 2>&1 || true
    SIM_UP=0
}

compress_rows() {
    local where=$1 steps=$2
    local rows=(none bf16 fp16 bf16_ef) extra=()
    if ((scalar)); then
        rows+=(bf16_scalar fp16_scalar)
        extra=(bf16_scalar="--scalar-conversions --grad-compress bf16"
            fp16_scalar="--scalar-conversions --grad-compress fp16")
    fi
    if ((zero)); then
        rows+=(zero zero_bf16)
        extra+=(zero="--zero" zero_bf16="--zero --grad-compress bf16")
    fi
    table "$where" "$steps" none="--grad-compress none" bf16="--grad-compress bf16" \
        fp16="--grad-compress fp16" bf16_ef="--grad-compress bf16 --error-feedback" "${extra[@]}"
    echo "| setting | samples/s | vs fp32 |"
    echo "|---|---:|---:|"
    for l in "${rows[@]}"; do
        awk -v l="$l" -v v="${MED[$l]}" -v b="${MED[none]}" 'BEGIN { printf "| %s | %.0f | %.2f |\n", l, v, v / b }'
    done
    echo "bytes per step: fp32 $BYTES32, bf16 $BYTES16"
    ((scalar)) && awk -v b="${MED[bf16]}" -v bs="${MED[bf16_scalar]}" -v f="${MED[fp16]}" \
        -v fs="${MED[fp16_scalar]}" 'BEGIN { printf "F16C/AVX2 vs scalar conversions: bf16 %.2f, fp16 %.2f\n", b / bs, f / fs }'
    ((zero)) && awk -v a="${MED[zero_bf16]}" -v b="${MED[zero]}" \
        'BEGIN { printf "--zero: bf16 / fp32 = %.2f\n", a / b }'
    return 0
}

bucket_rows() {
    local where=$1 steps=$2
    table "$where" "$steps" off="--no-overlap" b64="--bucket-kb 64" b256="--bucket-kb 256" \
        b1024="--bucket-kb 1024" auto="--bucket-kb auto"
    local best=0 bl=""
    echo "| setting | samples/s |"
    echo "|---|---:|"
    for l in off b64 b256 b1024 auto; do
        printf '| %s | %.0f |\n' "$l" "${MED[$l]}"
        if [[ $l != auto ]] && awk -v a="${MED[$l]}" -v b="$best" 'BEGIN { exit !(a > b) }'; then
            best=${MED[$l]} bl=$l
        fi
    done
    awk -v a="${MED[auto]}" -v b="$best" -v bl="$bl" -v c="$CHOSEN" \
        'BEGIN { printf "auto / best fixed (%s) = %.2f; auto chose %s (last run)\n", bl, a / b, c }'
}

echo "# bench-compress.sh $what: fashion-mlp, Fashion-MNIST, 2 ranks, batch from the model file;" \
    "median of $repeat interleaved runs; commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "load before: $(cat /proc/loadavg)"
echo
echo "## one host (shared memory)"
if [[ $what == compress ]]; then compress_rows host 400; else bucket_rows host 2000; fi
echo
echo "## 2 simulated hosts, 1 rank each, links shaped to $rate"
if sim_up; then
    if [[ $what == compress ]]; then compress_rows sim 150; else bucket_rows sim 150; fi
    sim_down
fi
if [[ $what == compress && $accuracy == 1 ]]; then
    echo
    echo "## test accuracy after 10 epochs, one host"
    for s in "--grad-compress none" "--grad-compress bf16" "--grad-compress fp16" "--grad-compress bf16 --error-feedback"; do
        # shellcheck disable=SC2086
        launch host --data "$DATA" --epochs 10 $s >/dev/null
        echo "$s: test_accuracy $(field "$T/run.json" test_accuracy), final_loss $(field "$T/run.json" final_loss)"
    done
fi
echo
echo "load after: $(cat /proc/loadavg)"
