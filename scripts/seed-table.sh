#!/usr/bin/env bash
# seed-table.sh: the notebook's timing table reproduced on this machine with build/bin/kernels:
# the notebook's own figures (Python, its machine), the notebook's own Python code run here
# (scripts/py/notebook_kernels.py, CPython: the real interpreter lock) and the C timings of every
# mode, and each one's speed-up over its serial. A benchmark, not a test: it checks the results,
# then reports the times as they come.
#
#   scripts/seed-table.sh [--full] [--repeat N] [--no-python]
#
#   default   scaled down to finish in a few minutes on 2 cores: primes below 2,000,000 (the
#             notebook: 10,000,000) and sum 2 x 50,000,000 (the notebook: 2 x 100,000,000)
#   --full    the notebook's sizes: primes below 10^7, sum 2 x 10^8
#   --repeat  runs per cell, the median is shown [3]; the sum's cells, which last tens of
#             milliseconds in C, run 3 times as often
#   --no-python  leave out the CPython column (at the default sizes it adds about 2 minutes on 2
#             cores, once per cell; --full about 5 times that)
#
# I/O is the notebook's size either way: 3 requests, to a local server (127.0.0.1) that answers
# each after 750 ms, which makes the serial total about the notebook's 2.24 s for its 3 URLs.
# Workers: P = the cores for primes (one chunk each) and the process pool; 2 for the sum (the
# notebook's two tasks, max_workers=2); 3 for the I/O pools (one per request, as
# ThreadPoolExecutor's default min(32, cores + 4) allows); mpi runs -np P (3 for I/O).
# mpi times run from a barrier after MPI_Init to the reduction on rank 0 (the launch is not
# included). The sum's loop is timed at n = 2N, 4N and 8N to show that its time grows linearly
# (the compiler did not turn it into the closed form). The notes give when the last task began:
# the start-up cost of a mode (a fork of this process costs milliseconds, a thread much less).
set -euo pipefail
cd "$(dirname "$0")/.."

full=0
repeat=3
python=1
while (($#)); do
    case $1 in
    --full) full=1; shift ;;
    --repeat)
        [[ $# -ge 2 ]] || { echo "seed-table.sh: --repeat needs a value" >&2; exit 2; }
        repeat=$2; shift 2 ;;
    --no-python) python=0; shift ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "seed-table.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "seed-table.sh: --repeat needs a positive integer" >&2; exit 2; }

TDP_NO_TORCH=1 scripts/setup.sh
BIN=build/bin/kernels
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

CORES=$(nproc)
REQUESTS=3
LATENCY=750
if ((full)); then
    LIMIT=10000000 N=100000000 scale="the notebook's sizes (--full)"
else
    LIMIT=2000000 N=50000000 scale="scaled down (--full for the notebook's sizes)"
fi
declare -A KNOWN_PRIMES=([2000000]=148933 [10000000]=664579)
SUM_RESULT=$((N * (N + 1) / 2))

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
jnum() { sed -n "s/^  \"$2\": \([-0-9.e+]*\),\{0,1\}$/\1/p" "$1"; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

# measure WANT NP ARGS...: median seconds of $repeat runs of kernels ARGS (under mpirun -np NP
# when NP > 0); every run's result must be WANT. The last run's JSON stays in $T/m.json.
measure() {
    local want=$1 np=$2
    shift 2
    local s=() r got
    for ((r = 0; r < ${runs:-$repeat}; r++)); do
        if ((np > 0)); then
            timeout 600 mpirun -np "$np" --oversubscribe --bind-to none "$BIN" "$@" --json "$T/m.json" >"$T/m.log" 2>&1
        else
            timeout 600 "$BIN" "$@" --json "$T/m.json" >"$T/m.log" 2>&1
        fi || { echo "seed-table.sh: kernels $* failed:" >&2; cat "$T/m.log" >&2; exit 1; }
        got=$(jnum "$T/m.json" result)
        [[ $got == "$want" ]] || { echo "seed-table.sh: kernels $*: result $got, expected $want" >&2; exit 1; }
        s+=("$(jnum "$T/m.json" seconds)")
    done
    printf '%s\n' "${s[@]}" | median
}

# notes from the last run's JSON: the lock's waits, the server's overlap
notes() {
    local n="" gil
    n="last task began after $(sed -n 's/^  "task_starts": \[\(.*\)\],$/\1/p' "$T/m.json" |
        awk -F', ' '{ for (i = 1; i <= NF; i++) if ($i > m) m = $i; printf "%.1f", m * 1000 }') ms"
    gil=$(jnum "$T/m.json" gil)
    [[ $gil == 1 ]] && n="$n; lock waits $(printf %.2f "$(jnum "$T/m.json" gil_wait_seconds)") s, $(jnum "$T/m.json" gil_forced_switches) forced switches"
    if grep -q '"server_max_in_flight"' "$T/m.json"; then
        n="$n; requests in flight at once: at most $(jnum "$T/m.json" server_max_in_flight)"
        if grep -q '"mode": "mpi"' "$T/m.json"; then n="$n on each rank's server"; fi
    fi
    echo "$n"
}

# the notebook's Python, run here once per cell: py KERNEL ARGS...; PYS["kernel|variant"] seconds
declare -A PYS=()
py() {
    local kernel=$1 want=$2 line v sec res
    shift 2
    ((python)) || return 0
    echo "  $kernel: the notebook's Python ..." >&2
    timeout 3600 /usr/bin/python3 scripts/py/notebook_kernels.py "$@" >"$T/py.out" 2>"$T/py.err" ||
        { echo "seed-table.sh: notebook_kernels.py $* failed:" >&2; tail -5 "$T/py.err" >&2; exit 1; }
    while read -r line; do
        v=$(sed -n 's/.* variant=\([a-z-]*\) .*/\1/p' <<<"$line")
        sec=$(sed -n 's/.* seconds=\([0-9.]*\) .*/\1/p' <<<"$line")
        res=${line##*result=}
        [[ $res == "$want" || ($res == None && $v == processes) ]] ||
            { echo "seed-table.sh: notebook_kernels.py $*: $v: result $res, expected $want" >&2; exit 1; }
        PYS["$kernel|$v"]=$sec
    done < <(grep '^nb_result ' "$T/py.out")
}
# pycell KERNEL VARIANT: "seconds | speed-up" of the CPython column ("- | -" when not run)
pycell() {
    local s=${PYS["$1|$2"]:-} b=${PYS["$1|serial"]:-}
    [[ -n $2 && -n $s ]] || { echo "- | -"; return; }
    echo "$(printf %.2f "$s") | $(div "$b" "$s")"
}

rows=()
declare -A C_SERIAL SEC
# row KERNEL MODE-LABEL NB-FIGURES NB-SERIAL WANT NP ARGS...: measure one cell and queue its row
row() {
    local kernel=$1 label=$2 nb=$3 nb_serial=$4 want=$5 np=$6 pyv
    shift 6
    # the CPython variant beside this mode: CPython's threads are always under the lock
    case $label in
    serial | processes | process-pool) pyv=$label ;; gil-threads) pyv=threads ;;
    "thread-pool --gil") pyv=thread-pool ;; *) pyv="" ;;
    esac
    local sec p nbs="" f
    echo "  $kernel: $label ..." >&2
    sec=$(measure "$want" "$np" "$@")
    p=$(jnum "$T/m.json" workers)
    [[ $label == serial ]] && C_SERIAL[$kernel]=$sec
    for f in ${nb//\// }; do
        nbs="${nbs:+$nbs / }$(div "$nb_serial" "$f")"
    done
    [[ $nb == - ]] && nbs="-"
    rows+=("| $kernel | $label | $p | $nb | $nbs | $(pycell "$kernel" "$pyv") | $(printf %.3f "$sec") | $(div "${C_SERIAL[$kernel]}" "$sec") | $(notes) |")
    SEC["$kernel|$label"]=$sec
}

load_before=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load_before" -v c="$CORES" 'BEGIN { exit !(l > c / 2) }'; then
    echo "seed-table: warning: load average $load_before on $CORES cores before the run: other work will distort the timings" >&2
fi
echo "seed-table: measuring, $scale, median of $repeat runs per cell" >&2
IO=(io --requests "$REQUESTS" --latency-ms "$LATENCY")
IOK="I/O, $REQUESTS requests"
row "$IOK" serial 2.24 2.24 $REQUESTS 0 "${IO[@]}" --mode serial
row "$IOK" threads - 2.24 $REQUESTS 0 "${IO[@]}" --mode threads
row "$IOK" gil-threads 0.90 2.24 $REQUESTS 0 "${IO[@]}" --mode gil-threads
row "$IOK" thread-pool - 2.24 $REQUESTS 0 "${IO[@]}" --mode thread-pool --workers $REQUESTS
row "$IOK" "thread-pool --gil" - 2.24 $REQUESTS 0 "${IO[@]}" --mode thread-pool --gil --workers $REQUESTS
row "$IOK" processes - 2.24 $REQUESTS 0 "${IO[@]}" --mode processes
row "$IOK" process-pool - 2.24 $REQUESTS 0 "${IO[@]}" --mode process-pool --workers $REQUESTS
row "$IOK" mpi - 2.24 $REQUESTS $REQUESTS "${IO[@]}" --mode mpi

PK="primes below $LIMIT"
PW=${KNOWN_PRIMES[$LIMIT]}
py "$PK" "$PW" primes --limit $LIMIT --variants serial,process-pool
runs=1 measure "$PW" 0 primes --limit $LIMIT >/dev/null # warm-up
row "$PK" serial 68.84 68.84 "$PW" 0 primes --limit $LIMIT --mode serial
for m in threads gil-threads thread-pool "thread-pool --gil" processes; do
    row "$PK" "$m" - 68.84 "$PW" 0 primes --limit $LIMIT --mode $m --workers "$CORES"
done
row "$PK" process-pool 3.97 68.84 "$PW" 0 primes --limit $LIMIT --mode process-pool --workers "$CORES"
row "$PK" mpi - 68.84 "$PW" "$CORES" primes --limit $LIMIT --mode mpi

SK="sum 2 x $N"
runs=$((3 * repeat)) # the sum's cells are short: more runs for a stable median
py "$SK" $SUM_RESULT sum --n $N --variants serial,threads,thread-pool,processes,process-pool
runs=1 measure $SUM_RESULT 0 sum --n $N >/dev/null # warm-up
row "$SK" serial 11.26 11.26 $SUM_RESULT 0 sum --n $N --tasks 2 --mode serial
row "$SK" threads - 11.26 $SUM_RESULT 0 sum --n $N --tasks 2 --mode threads
row "$SK" gil-threads 39.29 11.26 $SUM_RESULT 0 sum --n $N --tasks 2 --mode gil-threads
row "$SK" thread-pool - 11.26 $SUM_RESULT 0 sum --n $N --tasks 2 --mode thread-pool --workers 2
row "$SK" "thread-pool --gil" "42.97/44.27" 11.26 $SUM_RESULT 0 sum --n $N --tasks 2 --mode thread-pool --gil --workers 2
row "$SK" processes 5.60 11.26 $SUM_RESULT 0 sum --n $N --tasks 2 --mode processes
row "$SK" process-pool 5.42 11.26 $SUM_RESULT 0 sum --n $N --tasks 2 --mode process-pool --workers 2
row "$SK" mpi - 11.26 $SUM_RESULT 2 sum --n $N --tasks 2 --mode mpi

# the loop's time against n: linear if the loop really runs n iterations
lin=()
prev=""
for k in 2 4 8; do
    n=$((k * N))
    echo "  sum linearity: count($n) ..." >&2
    sec=$(measure $((n * (n + 1) / 2)) 0 sum --n $n --tasks 1 --mode serial)
    ns=$(awk -v s="$sec" -v n="$n" 'BEGIN { printf "%.3f", s * 1e9 / n }')
    ratio=-
    [[ -n $prev ]] && ratio=$(div "$sec" "$prev")
    lin+=("| $n | $(printf %.4f "$sec") | $ns | $ratio |")
    prev=$sec
done
unset runs

# the primes chunks are unequal work: run one after another, their times bound what P workers
# can gain (the total over the longest chunk)
echo "  primes: the $CORES chunks one after another ..." >&2
measure "$PW" 0 primes --limit $LIMIT --mode serial --workers "$CORES" >/dev/null
chunk_s=$(sed -n 's/^  "task_seconds": \[\(.*\)\],$/\1/p' "$T/m.json")
bound=$(awk -v l="$chunk_s" 'BEGIN { n = split(l, t, ", "); for (i = 1; i <= n; i++) { s += t[i]; if (t[i] > m) m = t[i] } printf "%.2f", s / m }')
chunk_s=$(awk -v l="$chunk_s" 'BEGIN { n = split(l, t, ", "); for (i = 1; i <= n; i++) printf "%s%.3f", (i > 1 ? " + " : ""), t[i] }')

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
load_after=$(cut -d' ' -f1 /proc/loadavg)
echo "machine: $CORES cores, ${cpu:-unknown CPU}, $(gcc -dumpfullversion 2>/dev/null | sed 's/^/gcc /'), $(mpirun --version 2>/dev/null | head -1)"
echo "load average: $load_before before the run, $load_after after (1 minute)"
# before: others were busy; after: more than this run itself (at most one busy thread per core) explains
if awk -v a="$load_before" -v b="$load_after" -v c="$CORES" 'BEGIN { exit !(a > c / 2 || b > c * 1.25) }'; then
    echo "WARNING: other work shared the $CORES cores during this run: the CPU-bound timings are distorted; run again on an idle machine"
fi
echo "sizes: $scale; I/O: $REQUESTS requests, local server answering after $LATENCY ms; median of $repeat runs per cell ($((3 * repeat)) for the sum)"
echo "notebook: Python with the GIL on its own machine (its figures are for primes below 10^7 and sum 2 x 10^8)"
if ((python)); then
    echo "CPython here: the notebook's own code (scripts/py/notebook_kernels.py, $(/usr/bin/python3 --version 2>&1)) at this table's sizes, run once; gil-threads and thread-pool --gil sit beside CPython's threads and ThreadPoolExecutor (always under the real lock); I/O is not run"
else
    echo "CPython here: not run (--no-python)"
fi
echo
echo "| kernel | mode | P | notebook s | notebook speed-up | CPython here s | CPython here speed-up | C s | C speed-up | notes |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
echo
echo "The summing loop, one task, serial (time linear in n: each doubling of n doubles the time):"
echo
echo "| n | s | ns per iteration | time / time at n/2 |"
echo "|---:|---:|---:|---:|"
printf '%s\n' "${lin[@]}"
echo
# what to expect, and what this run shows (reported, not enforced)
# sp KERNEL MODE: the C speed-up of MODE over serial
sp() { div "${SEC["$1|serial"]}" "${SEC["$1|$2"]}"; }
echo "What to check (expected, then seen here):"
echo "- CPU-bound work gains nothing under the lock: sum gil-threads $(sp "$SK" gil-threads)x, thread-pool --gil $(sp "$SK" "thread-pool --gil")x, primes gil-threads $(sp "$PK" gil-threads)x over serial (notebook: 0.29x and 0.26x; CPython here: threads $(pycell "$SK" threads | cut -d'|' -f2 | tr -d ' ')x, ThreadPoolExecutor $(pycell "$SK" thread-pool | cut -d'|' -f2 | tr -d ' ')x; the emulation charges loop_contended_factor $(sed -n 's/^loop_contended_factor *= *\([0-9.]*\).*/\1/p' models/gil-default.cal) of models/gil-default.cal)"
echo "- without the lock, threads and processes gain about P = $CORES x: sum threads $(sp "$SK" threads)x, processes $(sp "$SK" processes)x, process-pool $(sp "$SK" process-pool)x; primes threads $(sp "$PK" threads)x, process-pool $(sp "$PK" process-pool)x, at most ${bound}x with these chunks (unequal work: run one after another they take $chunk_s s)"
startup() { printf '%s\n' "${rows[@]}" | sed -n "s/^| $SK | $1 | .*last task began after \([0-9.]*\) ms.*/\1/p"; }
echo "- starting a worker costs: the sum's last task began $(startup processes) ms into the run with processes (a fork of this process), $(startup process-pool) ms with the process pool, $(startup threads) ms with threads; each task lasts about $(awk -v s="${SEC["$SK|serial"]}" 'BEGIN { printf "%.0f", s * 1000 / 2 }') ms here$( ((full)) || echo " (--full doubles it)")"
echo "- I/O-bound work gains with threads even under the lock: gil-threads $(sp "$IOK" gil-threads)x, the $REQUESTS requests at once (notebook: 2.49x)"
