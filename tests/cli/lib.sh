# lib.sh: shared helpers for the shell tests (sourced). Counts checks; `finish` prints
# "N passed, N failed" and sets the exit status.
BIN="${TDP_BIN:?TDP_BIN must point at build/bin}"
SRC="${TDP_SOURCE_DIR:?TDP_SOURCE_DIR must point at the source tree}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*" >&2
}
# check DESCRIPTION COMMAND...: the command must succeed
check() {
    local what=$1
    shift
    if "$@"; then ok; else bad "$what"; fi
}
finish() {
    echo "$pass passed, $fail failed"
    [[ $fail == 0 && $pass -gt 0 ]]
}
# mpirun with what this machine needs: root allowed, more ranks than cores allowed, bounded
# in time so that no case can hang the suite.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
mpirun_() { timeout -k 5 "${MPI_TIMEOUT:-120}" mpirun --oversubscribe --bind-to none "$@"; }
json_field() { sed -n "s/.*\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1"; }
# gone PATTERN: poll (at most 5 s) until no process's command line matches PATTERN (pgrep -f)
gone() {
    local i
    for ((i = 0; i < 100; i++)); do
        pgrep -f -- "$1" >/dev/null || return 0
        sleep 0.05
    done
    return 1
}
# refused WHAT NEEDLE CMD...: CMD exits 2 within 30 s with one line on stderr holding NEEDLE and
# nothing on stdout (a command-line refusal); its output stays in $T/refused.out and .err
refused() {
    local what=$1 needle=$2
    shift 2
    timeout -k 5 30 "$@" >"$T/refused.out" 2>"$T/refused.err"
    local st=$?
    check "$what: exit 2 (got $st)" test $st = 2
    check "$what: one line on stderr" test "$(wc -l <"$T/refused.err")" = 1
    grep -qF -- "$needle" "$T/refused.err" && ok ||
        bad "$what: expected '$needle' in:"$'\n'"$(head -c 2000 "$T/refused.err")"
    check "$what: nothing on stdout" test ! -s "$T/refused.out"
}
