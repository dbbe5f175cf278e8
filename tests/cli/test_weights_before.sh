#!/usr/bin/env bash
# test_weights_before.sh: the issue-13 refactor did not change the numerics. The trainer of
# commit 5fc3241 (before the refactor) is built from the git history into a temporary directory
# with the same compiler flags, and both trainers train the same runs; their weights must be
# bitwise equal: serial, DP with 2 threads, and DDP with 2 ranks, --deterministic and overlapped,
# seeds 42 and 7. A golden file of weights would not do: they depend on the BLAS kernels the
# machine picks. Skipped (77) when the source tree is not a git clone holding that commit.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

BEFORE=5fc3241
if ! git -C "$SRC" cat-file -e "$BEFORE^{commit}" 2>/dev/null; then
    echo "skipped: $SRC has no commit $BEFORE (not a git clone, or a shallow one)"
    exit 77
fi
mkdir -p "$T/old"
git -C "$SRC" archive "$BEFORE" | tar -x -C "$T/old" || { bad "git archive $BEFORE"; finish; exit; }
native=$(sed -n 's/^TDP_NATIVE:BOOL=//p' "$(dirname "$BIN")/CMakeCache.txt")
timeout -k 5 500 bash -c "cmake -S '$T/old' -B '$T/old/build' -DCMAKE_BUILD_TYPE=Release \
    -DTDP_NATIVE=${native:-ON} -DBUILD_TESTING=OFF && cmake --build '$T/old/build' -j 2 --target ddp_train" \
    >"$T/build.log" 2>&1 || { bad "building $BEFORE: $(tail -5 "$T/build.log")"; finish; exit; }
OLD=$(find "$T/old/build" -name ddp_train -type f -perm -u+x | head -1)

common=(--model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 2048 --synthetic-test 256
    --max-steps 40 --quiet)
n=0
same() { # same LABEL LAUNCHER... -- OPTIONS...: both trainers, then cmp their weights
    local label=$1 launch=() a
    shift
    while [[ $1 != -- ]]; do launch+=("$1"); shift; done
    shift
    n=$((n + 1))
    for who in old new; do
        local bin=$BIN/ddp_train
        [[ $who == old ]] && bin=$OLD
        timeout -k 5 120 "${launch[@]}" "$bin" "${common[@]}" "$@" --dump-weights "$T/$who.$n.bin" \
            >"$T/$who.$n.out" 2>&1 || { bad "$label ($who): $(tail -3 "$T/$who.$n.out")"; return; }
    done
    cmp -s "$T/old.$n.bin" "$T/new.$n.bin" && ok || bad "$label: weights differ from $BEFORE's"
}
mpi=(mpirun -np 2 --oversubscribe --bind-to none)
same "serial" env -- --mode serial
same "serial seed 7" env -- --mode serial --seed 7
same "dp 2 threads deterministic" env -- --mode dp --workers 2 --deterministic
same "ddp np=2 deterministic" "${mpi[@]}" -- --mode ddp --deterministic
same "ddp np=2 overlapped seed 7" "${mpi[@]}" -- --mode ddp --seed 7
finish
