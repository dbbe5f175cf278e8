#!/usr/bin/env bash
# test_bench_compress.sh: scripts/bench-compress.sh's command line (a benchmark: its figures are
# not tested): --help first or after the kind prints the comment alone and exits 0; a bad kind,
# an option without its value, a bad --repeat or an unknown option exit 2 with one line that says
# what to fix, before any run (about 1 s).
# Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
BC="$SRC/scripts/bench-compress.sh"
has() { grep -qF -- "$2" "$1" && ok || bad "$3: expected '$2' in:"$'\n'"$(head -c 2000 "$1")"; }

for args in "--help" "buckets --help"; do
    # from another directory, by a relative path (the script changes into the repository)
    # shellcheck disable=SC2086
    (cd "$SRC/scripts" && timeout -k 5 30 ./bench-compress.sh $args >"$T/help" 2>"$T/err")
    st=$?
    check "$args: exit 0 (got $st)" test $st = 0
    has "$T/help" "scripts/bench-compress.sh buckets [--repeat N] [--rate 1gbit] [--no-cluster]" "$args: the usage"
    check "$args: the comment alone, no code" sh -c "! grep -qE 'set -euo|^cd |^#' '$T/help'"
    check "$args: nothing on stderr" test ! -s "$T/err"
done

refuse() { refused "$1" "bench-compress.sh: $2" "$BC" "${@:3}"; } # WHAT NEEDLE ARGS...
refuse "a bad kind" "the first argument is compress, buckets or convert, not 'frob' (--help)" frob
refuse "--repeat without a value" "--repeat needs a value" compress --repeat
refuse "--rate without a value" "--rate needs a value" buckets --rate
refuse "--rate taking the next option" "--rate needs a rate like 1gbit or 500mbit, not '--accuracy'" compress --rate --accuracy
refuse "--repeat 0" "--repeat needs a positive integer, not '0'" compress --repeat 0
refuse "an unknown option" "unknown argument '--bogus' (--help lists the options)" convert --bogus

finish
