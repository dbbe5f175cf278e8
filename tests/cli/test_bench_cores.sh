#!/usr/bin/env bash
# test_bench_cores.sh: scripts/bench-cores.sh, the prepared many-core runs, at --max-np 2 on the
# tiny model (about 30 s): the results folder (the table, the CSV with a row per model, variant and
# np, the machine, each run's JSON and log), paths relative to the caller, a failed run (exit 1, NA
# in its row, its log named), a run past --timeout (its ranks gone), a run that leaves no JSON (NA,
# the table still written), and the refusals (exit 2, one line, nothing written). PyTorch is left out (--no-torch): the
# PyTorch DDP script is the benchmarks' (compare.sh).
# Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
BC="$SRC/scripts/bench-cores.sh"
has() { grep -qF -- "$2" "$1" && ok || bad "$3: expected '$2' in:"$'\n'"$(head -c 3000 "$1")"; }
ARGS=(--bin "$BIN" --models tiny --max-np 2 --steps 20 --no-torch --data synthetic --timeout 60)

timeout -k 5 120 "$BC" "${ARGS[@]}" --out "$T/o" >"$T/out" 2>"$T/err"
st=$?
check "a run at --max-np 2 exits 0 (got $st)" test $st = 0
check "nothing on stdout (progress goes to stderr)" test ! -s "$T/out"
has "$T/err" "bench-cores.sh: tiny fp32 np=2:" "a progress line a run"
has "$T/o/results.csv" "model,variant,np,tinyddp_samples_per_s,tinyddp_vs_serial,torch_samples_per_s,torch_vs_own_np1,allreduce_us" "CSV header"
for row in "tiny,fp32,1," "tiny,fp32,2," "tiny,bf16,2,"; do
    check "a CSV row $row with a figure" grep -qE "^${row}[0-9]+\.[0-9],[0-9]+\.[0-9]+,NA,NA," "$T/o/results.csv"
done
check "no bf16 row at np=1 (nothing travels)" sh -c "! grep -q '^tiny,bf16,1,' '$T/o/results.csv'"
check "the allreduce at np=2 timed" grep -qE "^tiny,fp32,2,.*,[0-9]+\.[0-9]+$" "$T/o/results.csv"
check "3 rows in all" test "$(wc -l <"$T/o/results.csv")" = 4
has "$T/o/results.md" "| model | variant | np | tinyddp samples/s | x serial | PyTorch DDP (gloo) samples/s |" "the table"
check "the machine named: its cores and hardware threads" grep -qE "^machine: [1-9][0-9]* cores \($(nproc) hardware threads\), " "$T/o/machine.txt"
has "$T/o/machine.txt" "load after:" "the load after"
for f in tiny-serial.json tiny-fp32-np1.json tiny-fp32-np2.json tiny-bf16-np2.json; do
    check "kept: $f" test -s "$T/o/$f"
done
check "kept: each run's log" test -e "$T/o/tiny-fp32-np2.log"
check "the bf16 run compressed" grep -q '"grad_compress": "bf16"' "$T/o/tiny-bf16-np2.json"

# results are never mixed: a non-empty --out is refused, left as it was
sums() { (cd "$1" && find . -type f -exec md5sum {} + | sort); }
sums "$T/o" >"$T/before"
timeout -k 5 30 "$BC" "${ARGS[@]}" --out "$T/o" >"$T/out" 2>"$T/err"
st=$?
check "a non-empty --out: exit 2 (got $st)" test $st = 2
has "$T/err" "bench-cores.sh: --out: '$T/o' exists and is not empty (results are never mixed)" "the refusal says why"
sums "$T/o" >"$T/after"
check "the folder left as it was" cmp -s "$T/before" "$T/after"

# a failed run: a ddp_train that fails in ddp mode (mpirun's ranks) but not serially
mkdir -p "$T/fb"
cat >"$T/fb/ddp_train" <<SH
#!/bin/sh
case " \$* " in *" --mode ddp "*) echo "ddp_train: cannot talk to the other ranks" >&2; exit 1 ;; esac
exec "$BIN/ddp_train" "\$@"
SH
chmod +x "$T/fb/ddp_train"
timeout -k 5 120 "$BC" "${ARGS[@]}" --bin "$T/fb" --out "$T/f" >"$T/out" 2>"$T/err"
st=$?
check "failed runs: exit 1 (got $st)" test $st = 1
has "$T/err" "bench-cores.sh: tiny-fp32-np2 failed (exit 1): see $T/f/tiny-fp32-np2.log" "the failed run's log named"
has "$T/err" "bench-cores.sh: 3 runs failed" "the count of failed runs"
has "$T/f/tiny-fp32-np2.log" "cannot talk to the other ranks" "its output kept"
check "its row says NA" grep -q "^tiny,fp32,2,NA,NA," "$T/f/results.csv"
check "the serial run's figure still there" test -s "$T/f/tiny-serial.json"

# paths relative to where it is called from, not to the repository it changes into
mkdir -p "$T/cwd"
(cd "$T/cwd" && timeout -k 5 120 "$BC" "${ARGS[@]}" --models tiny --max-np 1 --out rel >"$T/out" 2>"$T/err")
st=$?
check "a relative --out: exit 0 (got $st)" test $st = 0
check "a relative --out: the folder under the caller's directory" test -s "$T/cwd/rel/results.md"
check "a relative --out: nothing under the repository" test ! -e "$SRC/rel"

# a run past --timeout: named, and its ranks gone (no process of it left)
mkdir -p "$T/hang"
cat >"$T/hang/ddp_train" <<SH
#!/bin/sh
case " \$* " in *" --mode ddp "*) exec sleep 313.25 ;; esac
exec "$BIN/ddp_train" "\$@"
SH
chmod +x "$T/hang/ddp_train"
timeout -k 5 60 "$BC" "${ARGS[@]}" --max-np 1 --bin "$T/hang" --timeout 2 --out "$T/h" >"$T/out" 2>"$T/err"
st=$?
check "a run past --timeout: exit 1 (got $st)" test $st = 1
has "$T/err" "bench-cores.sh: tiny-fp32-np1 failed (exit 124, past --timeout 2 s): see $T/h/tiny-fp32-np1.log" "the run past its limit named"
check "a run past --timeout: its ranks gone" gone "sleep 313.25"
check "a run past --timeout: the table still written" test -s "$T/h/results.md"

# a run that exits 0 and leaves no JSON: NA in its row, the script goes on to the table
mkdir -p "$T/nj"
cat >"$T/nj/ddp_train" <<SH
#!/bin/sh
case " \$* " in *" --mode ddp "*) exit 0 ;; esac
exec "$BIN/ddp_train" "\$@"
SH
chmod +x "$T/nj/ddp_train"
timeout -k 5 60 "$BC" "${ARGS[@]}" --max-np 1 --bin "$T/nj" --out "$T/n" >"$T/out" 2>"$T/err"
st=$?
check "no JSON: exit 0 (got $st)" test $st = 0
check "no JSON: NA in its row" grep -q "^tiny,fp32,1,NA,NA," "$T/n/results.csv"
check "no JSON: the table written" test -s "$T/n/results.md"

# refusals: exit 2, one line, no folder made
refuse() { # WHAT NEEDLE ARGS...
    refused "$1" "$2" "$BC" "${@:3}"
    check "$1: no folder made" test ! -e "$T/r"
}
refuse "--max-np 0" "--max-np needs a positive integer, not '0'" --max-np 0 --out "$T/r"
refuse "--steps x" "--steps needs a positive integer, not 'x'" --steps x --out "$T/r"
refuse "unknown option" "unknown argument '--frobnicate'" --frobnicate --out "$T/r"
refuse "no ddp_train" "no ddp_train in '$T'" --bin "$T" --out "$T/r"
cd "$T" || exit 1 # a relative --bin is the caller's (the counts must stay in this shell)
refuse "a relative --bin" "no ddp_train in '$T/nosuch'" --bin nosuch --out "$T/r"
cd - >/dev/null || exit 1
refuse "unknown model" "--models: no models/nosuch.cfg" --bin "$BIN" --models nosuch --out "$T/r"
refuse "bad --data" "--data: '$T/none' is not a folder or 'synthetic'" --bin "$BIN" --data "$T/none" --out "$T/r"
refuse "empty --models" "--models needs at least one model" --bin "$BIN" --models "" --out "$T/r"
refuse "an empty name in --models" "--models: no models/.cfg" --bin "$BIN" --models ,tiny --out "$T/r"
ls -d "$SRC"/results/cores-* >"$T/before" 2>/dev/null
refuse "--out without a value" "--out needs a value" --bin "$BIN" --out
ls -d "$SRC"/results/cores-* >"$T/after" 2>/dev/null
check "--out without a value: no default folder made" cmp -s "$T/before" "$T/after"
(cd "$SRC/scripts" && timeout -k 5 30 ./bench-cores.sh --help >"$T/help" 2>&1)
check "--help exits 0" test $? = 0
has "$T/help" "--max-np N      the largest np (powers of two up to it, and N itself) [the physical cores]" "--help lists the defaults"
check "--help: the comment alone, no code" sh -c "! grep -qE 'set -euo|^cd ' '$T/help'"

finish
