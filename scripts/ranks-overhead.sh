#!/usr/bin/env bash
# ranks-overhead.sh BASE_BIN [NEW_BIN] [ROUNDS]: what the per-rank timing, the straggler check and
# the stall warning's wait loop cost a default ddp run. Runs `mpirun -np 2 ddp_train` of BASE_BIN
# (a build without them, e.g. the branch point) and NEW_BIN (default build/bin) interleaved,
# ROUNDS times each (default 5), for --no-overlap and the default overlap, and prints each one's
# median train_samples_per_s and the ratio NEW/BASE, with the load average before and after.
# About 2 minutes on 2 cores. Example:
#   git archive 87fd4d8 | tar -x -C /tmp/base && (cd /tmp/base && cmake --preset release &&
#   cmake --build build --target ddp_train) && scripts/ranks-overhead.sh /tmp/base/build/bin
set -uo pipefail
BASE=${1:?usage: ranks-overhead.sh BASE_BIN [NEW_BIN] [ROUNDS]}
NEW=${2:-$(dirname "$0")/../build/bin}
ROUNDS=${3:-5}
SRC=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ARGS=(--model "$SRC/models/fashion-mlp.cfg" --data synthetic --synthetic-train 20000
    --synthetic-test 256 --batch 64 --epochs 4 --max-steps 600 --quiet)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for variant in "--no-overlap" ""; do
    : >"$T/base" && : >"$T/new"
    for ((i = 0; i < ROUNDS; i++)); do
        for which in base new; do
            bin=$BASE
            [[ $which == new ]] && bin=$NEW
            # shellcheck disable=SC2086
            timeout 300 mpirun --oversubscribe --bind-to none -np 2 "$bin/ddp_train" "${ARGS[@]}" \
                $variant --json "$T/j.json" >/dev/null 2>"$T/err" || { cat "$T/err"; exit 1; }
            sed -n 's/.*"train_samples_per_s": \([0-9.]*\).*/\1/p' "$T/j.json" >>"$T/$which"
        done
    done
    b=$(median <"$T/base") n=$(median <"$T/new")
    awk -v v="${variant:-overlap}" -v b="$b" -v n="$n" -v r="$ROUNDS" 'BEGIN {
        printf "%-13s base %9.0f samples/s  new %9.0f samples/s  new/base %.3f  (median of %d)\n",
            v, b, n, n / b, r }'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
