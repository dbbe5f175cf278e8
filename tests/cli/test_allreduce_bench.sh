#!/usr/bin/env bash
# test_allreduce_bench.sh: allreduce_bench's call shapes (no timing is judged):
#  1. the default (one blocking MPI_Allreduce per message) keeps its header and validates;
#  2. --call iallreduce and --bucket-kb B (DDP's shape: buckets of B KB, all started, then
#     MPI_Waitall; or blocking buckets one after the other) validate every element's sum, also
#     for a last bucket shorter than the others and for 3 ranks;
#  3. bad values exit 2 before any work with one line naming the option, nothing on stdout.
# Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
AB="$BIN/allreduce_bench"
MPI_TIMEOUT=60
mkdir "$T/wd" && cd "$T/wd" || exit 1 # every run here: nothing may be left behind
has() { grep -qF -- "$2" "$1" && ok || bad "$3: expected '$2' in:"$'\n'"$(head -c 2000 "$1")"; }

# A run: NP then the bench's options; asserts exit 0, the PASSED footer, every size's row "ok".
shape() { # WHAT HEADER NP ARGS...
    local what=$1 header=$2 np=$3
    shift 3
    mpirun_ -np "$np" "$AB" --iters 3 --warmup 1 "$@" >"$T/out" 2>"$T/err"
    local st=$?
    check "$what: exit 0 (got $st; $(head -c 300 "$T/err"))" test $st = 0
    has "$T/out" "$header" "$what: header"
    has "$T/out" "# PASSED: 0 size(s) with wrong results" "$what: footer"
    local rows
    rows=$(grep -cE '^ +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +ok$' "$T/out")
    check "$what: 3 rows ok (got $rows)" test "$rows" = 3
}

# ---------------------------------------------------------------- 1. the default, unchanged
shape "default" "# MPI_Allreduce float32 sum, 2 ranks, 3 iterations after 1 warm-up" 2 --sizes-kb 4,10,64

# ---------------------------------------------------------------- 2. DDP's shape, validated
# 10 KB in 4 KB buckets: 4 + 4 + 2 (the short last bucket must be summed too)
shape "iallreduce, 4 KB buckets" \
    "# MPI_Iallreduce(MPI_IN_PLACE) float32 sum, 4 KB buckets, all started then waited, 2 ranks" \
    2 --call iallreduce --bucket-kb 4 --sizes-kb 4,10,64
shape "iallreduce, one call" "# MPI_Iallreduce(MPI_IN_PLACE) float32 sum, one call per message, 2 ranks" \
    2 --call iallreduce --sizes-kb 4,10,64
shape "allreduce, 4 KB buckets" \
    "# MPI_Allreduce(MPI_IN_PLACE) float32 sum, 4 KB buckets, one after the other, 2 ranks" \
    2 --call allreduce --bucket-kb 4 --sizes-kb 4,10,64
shape "iallreduce, 3 ranks" "all started then waited, 3 ranks" 3 --call=iallreduce --bucket-kb=4 --sizes-kb 3,10,17
shape "bucket larger than the message" "1024 KB buckets" 2 --call iallreduce --bucket-kb 1024 --sizes-kb 4,10,64

# --help names the options and their defaults
"$AB" --help >"$T/help" 2>&1
has "$T/help" "--call allreduce|iallreduce" "--help: --call"
has "$T/help" "[allreduce]" "--help: --call's default"
has "$T/help" "(0: one call) [0]" "--help: --bucket-kb's default"

# ---------------------------------------------------------------- 3. bad values
# each line: the expected message, then the arguments (a refusal before MPI does any work)
while IFS='|' read -r needle args; do
    read -ra argv <<<"$args"
    timeout -k 5 30 "$AB" "${argv[@]}" >"$T/bo" 2>"$T/be"
    st=$?
    check "$args: exit 2 (got $st)" test $st = 2
    check "$args: one line on stderr" test "$(wc -l <"$T/be")" = 1
    has "$T/be" "allreduce_bench: $needle" "$args"
    check "$args: nothing on stdout" test ! -s "$T/bo"
done <<'EOF'
--call: 'foo' is not allreduce or iallreduce|--call foo
--call needs a value|--call
--bucket-kb: -1 is out of range|--bucket-kb -1
--bucket-kb: 'x' is not an integer|--bucket-kb x
--bucket-kb: 2000000 is out of range|--bucket-kb 2000000
--bucket-kb given twice|--bucket-kb 4 --bucket-kb 8
EOF
check "nothing left in the working directory" test -z "$(ls -A "$T/wd")"

finish
