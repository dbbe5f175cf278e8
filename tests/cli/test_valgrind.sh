#!/usr/bin/env bash
# test_valgrind.sh: a short DDP run (2 ranks, 5 steps, the tiny model) under valgrind memcheck,
# with Open MPI's suppression file and tests/valgrind-pmix.supp (PMIx writes struct padding):
# no error may remain. Uses build-valgrind/ (no -march=native: valgrind does not know AVX-512),
# which scripts/test.sh builds.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
VBIN="$SRC/build-valgrind/bin/ddp_train"
if [[ ! -x $VBIN ]]; then
    echo "skipped: $VBIN is not built (scripts/test.sh builds it)"
    exit 77
fi
command -v valgrind >/dev/null || { bad "valgrind is not installed"; finish; exit; }
MPI_TIMEOUT=300 mpirun_ -np 2 valgrind -q --error-exitcode=3 --leak-check=no \
    --suppressions=/usr/share/openmpi/openmpi-valgrind.supp \
    --suppressions="$SRC/tests/cli/valgrind-pmix.supp" \
    "$VBIN" --model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 512 \
    --synthetic-test 64 --batch 16 --max-steps 5 --json "$T/vg.json" --quiet >"$T/vg.log" 2>&1
rc=$?
[[ $rc == 0 ]] && ok || bad "valgrind run exit $rc: $(grep -m 20 '==' "$T/vg.log")"
[[ -s $T/vg.json ]] && ok || bad "the run under valgrind did not finish"
grep -q "Invalid read\|Invalid write\|uninitialised\|Mismatched free" "$T/vg.log" &&
    bad "memcheck errors: $(grep -m 10 -A6 'Invalid\|uninit' "$T/vg.log")" || ok
finish
