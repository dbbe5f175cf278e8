#!/usr/bin/env bash
# test_kernels_cli.sh: build/bin/kernels: each kernel's result for small inputs in every mode
# (mpi under mpirun -np 2), the notebook's lines, the JSON summary, the shared-state
# demonstrations, bad arguments (exit 2, one line, nothing written), a failed fetch (exit 1), and
# a clean shutdown of the io server and of the worker processes (no port left open, no process
# left behind). Only 127.0.0.1 is contacted. No timing is asserted: see scripts/seed-table.sh.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

if [[ ! -x $BIN/kernels && $BIN == */build-tsan/bin ]]; then
    echo "skipped: $BIN/kernels is not built (scripts/test.sh builds the sanitizer trees)"
    exit 77
fi
# a copy under a name of its own: any process still running it after a run is a leftover
K="$T/kernels-under-test-$$"
cp "$BIN/kernels" "$K" || { echo "cannot copy $BIN/kernels" >&2; exit 1; }
PY=$(command -v python3 || true)

# expect STATUS PATTERN ARGS...: exit status, and one stderr line matching PATTERN for status 2
expect() {
    local want=$1 pat=$2
    shift 2
    "$K" "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [[ $got != "$want" ]]; then
        bad "kernels $*: exit $got, expected $want; stderr: $(cat "$T/err")"
    elif ! grep -qE -- "$pat" "$T/err"; then
        bad "kernels $*: stderr '$(cat "$T/err")' does not match '$pat'"
    elif [[ $want == 2 && $(wc -l <"$T/err") != 1 ]]; then
        bad "kernels $*: expected one line on stderr, got: $(cat "$T/err")"
    elif [[ $want == 2 && -s "$T/out" ]]; then
        bad "kernels $*: printed on stdout before refusing: $(cat "$T/out")"
    else
        ok
    fi
}

# run LOG ARGS...: the kernels copy (or, with MPI=1, the copy under mpirun -np 2); must succeed
run() {
    local log=$1
    shift
    if [[ ${MPI:-0} == 1 ]]; then
        mpirun_ -np 2 "$K" "$@" >"$log" 2>"$log.err"
    else
        timeout -k 5 60 "$K" "$@" >"$log" 2>"$log.err"
    fi
    local rc=$?
    [[ $rc == 0 ]] || bad "kernels $* (MPI=${MPI:-0}): exit $rc: $(cat "$log.err")"
    return $rc
}

# every mode; TDP_NO_MPI=1 (the ThreadSanitizer run: Open MPI's own threads race) leaves mpi out
MODES=(serial threads gil-threads thread-pool processes process-pool)
[[ ${TDP_NO_MPI:-0} == 1 ]] || MODES+=(mpi)

# eq WHAT GOT WANT
eq() { [[ "$2" == "$3" ]] && ok || bad "$1: got '$2', expected '$3'"; }

no_leftovers() {
    local left
    left=$(pgrep -f "$K" || true)
    [[ -z $left ]] && ok || bad "$1: processes left behind: $(ps -o pid,ppid,args -p "${left//$'\n'/,}")"
}

# --help lists every option with its default, every mode and every subcommand
"$K" --help >"$T/help" 2>&1 && ok || bad "--help exit status"
for w in mode workers gil gil-calibration switch-interval json limit n tasks requests latency-ms url sleep-ms \
    help; do
    grep -q -- "--$w" "$T/help" && ok || bad "--help does not mention --$w"
done
for w in serial threads gil-threads thread-pool processes process-pool mpi primes sum io share \
    "\[10000000\]" "\[100000000\]" "\[750\]"; do
    grep -q -- "$w" "$T/help" && ok || bad "--help does not mention $w"
done
"$K" sum --help >/dev/null && ok || bad "sum --help exit status"

# ---- bad arguments: exit 2, one line naming the problem, nothing written ----
expect 2 "missing subcommand"
expect 2 "unknown subcommand 'frob'" frob
expect 2 "unknown option '--frob'" primes --frob
expect 2 "unexpected argument 'stray'" sum stray
expect 2 "--limit: '-1' is not a non-negative integer" primes --limit -1
expect 2 "--limit: 'abc' is not a non-negative integer" primes --limit abc
expect 2 "--limit: 4294967297 is out of range" primes --limit 4294967297
expect 2 "--limit needs a value" primes --limit
expect 2 "--mode: 'bogus' is not one of serial, threads" primes --mode bogus
expect 2 "--workers: 0 is out of range" primes --workers 0
expect 2 "--workers: '2x' is not an integer" primes --workers 2x
expect 2 "--n: 0 is out of range" sum --n 0
expect 2 "--n: 6000000001 is out of range" sum --n 6000000001
expect 2 "--tasks: 0 is out of range" sum --tasks 0
expect 2 "--n given twice" sum --n 5 --n 6
expect 2 "--limit does not apply to sum" sum --limit 5
expect 2 "--tasks does not apply to primes" primes --tasks 2
expect 2 "mode threads runs one thread per task, here --tasks 2" sum --mode threads --workers 3
expect 2 "mode processes runs one process per task, here --requests 3" io --mode processes --workers 2
expect 2 "serial mode runs on one worker" sum --workers 2
expect 2 "--gil applies to --mode thread-pool only" sum --gil
expect 2 "--gil takes no value" sum --mode thread-pool --gil=yes
expect 2 "--switch-interval applies to gil-threads and thread-pool --gil only" sum --switch-interval 1
expect 2 "--gil-calibration applies to gil-threads and thread-pool --gil only" sum --mode threads --gil-calibration x.cal
sed 's/^loop_contended_factor = .*/loop_contended_factor = 0.5/' "$SRC/models/gil-default.cal" >"$T/bad.cal"
expect 2 "bad.cal:[0-9]*: loop_contended_factor: 0.5 is out of range" sum --mode gil-threads --gil-calibration "$T/bad.cal"
expect 2 "cannot open --gil-calibration $T/none.cal" primes --mode gil-threads --gil-calibration "$T/none.cal"
rm -f "$T/bad.cal"
expect 2 "--switch-interval: 'nan' is not a finite number" sum --mode gil-threads --switch-interval nan
expect 2 "--switch-interval: 0 is out of range" sum --mode gil-threads --switch-interval 0
expect 2 "--requests: 0 is out of range" io --requests 0
expect 2 "--latency-ms: -5 is out of range" io --latency-ms -5
expect 2 "--url: 'ftp://example.com/' is not an http:// or https:// address" io --url ftp://example.com/
expect 2 "--latency-ms .* does not apply with --url" io --url http://127.0.0.1:1/ --latency-ms 5
expect 2 "share: --mode threads: .* only --mode mpi" share --mode threads
expect 2 "--workers does not apply to share" share --workers 2
expect 2 "--json $T/no/such/x.json: directory $T/no/such is not writable" sum --n 10 --json "$T/no/such/x.json"
expect 2 "--json $T: is a directory" sum --n 10 --json "$T"
[[ ! -e "$T/no" ]] && ok || bad "a refused run created files"
if [[ ${TDP_NO_MPI:-0} != 1 ]]; then
    MPI_TIMEOUT=60 mpirun_ -np 2 "$K" sum --mode mpi --workers 3 >"$T/out" 2>"$T/err"
    [[ $? == 2 ]] && ok || bad "mpi --workers 3 with 2 ranks: expected exit 2"
    [[ $(grep -c "mode mpi runs one worker per rank, here 2 ranks" "$T/err") == 1 ]] && ok ||
        bad "mpi --workers mismatch: expected the message once: $(cat "$T/err")"
fi

# ---- a failed fetch is a runtime failure (port 1 on 127.0.0.1: nobody listens there) ----
expect 1 "GET http://127.0.0.1:1/: .*(connect|Connection refused)" io --url http://127.0.0.1:1/
for m in threads gil-threads processes process-pool; do
    expect 1 "GET http://127.0.0.1:1/" io --mode "$m" --url http://127.0.0.1:1/ --url http://127.0.0.1:1/
done
no_leftovers "failed fetches"

# ---- primes ----
# counts of primes below small limits (boundaries of trial division: squares, 0, 1, 2)
for case in 0:0 1:0 2:0 3:1 4:2 10:4 25:9 26:9 50:15 100:25 1000:168; do
    run "$T/p" primes --limit "${case%%:*}" --workers 3 --json "$T/p.json" &&
        eq "primes below ${case%%:*} (3 chunks)" "$(json_field "$T/p.json" result)" "${case#*:}"
done
run "$T/p" primes --limit 1000000 --mode threads --workers 2 --json "$T/p.json" &&
    eq "primes below 10^6" "$(json_field "$T/p.json" result)" 78498
# the emulated lock is pre-emptive: two CPU-bound workers under it are switched by force
run "$T/p" primes --limit 2000000 --mode gil-threads --workers 2 --switch-interval 1 --json "$T/p.json" &&
    eq "primes below 2*10^6 under the lock" "$(json_field "$T/p.json" result)" 148933
fs=$(json_field "$T/p.json" gil_forced_switches)
[[ ${fs:-0} -gt 0 ]] && ok || bad "gil-threads: no forced switch between two CPU-bound workers ($fs)"
# the calibrated contention (the shipped file's loop_contended_factor): the holder is charged busy
# work under the lock while the other waits; factor 1 charges nothing
held=$(json_field "$T/p.json" gil_held_seconds)
awk -v h="$held" 'BEGIN { exit !(h > 0) }' && ok || bad "gil-threads: no time held for contention ($held)"
grep -q '"gil_calibration": ".*models/gil-default.cal"' "$T/p.json" && ok || bad "gil-threads: the shipped calibration not named"
grep -q "^lock: [0-9.]* s held for contention: loops run [0-9.]* times slower" "$T/p" && ok || bad "gil-threads: no contention line: $(cat "$T/p")"
sed 's/^loop_contended_factor = .*/loop_contended_factor = 1/' "$SRC/models/gil-default.cal" >"$T/one.cal"
run "$T/p" sum --n 20000000 --mode thread-pool --gil --workers 2 --switch-interval 1 --gil-calibration "$T/one.cal" --json "$T/p.json" &&
    eq "factor 1: nothing held" "$(json_field "$T/p.json" gil_held_seconds)" 0
# every mode: 9592 primes below 100000; with 2 chunks, 5133 + 4459 (the notebook's ranges)
for m in "${MODES[@]}"; do
    mp=0
    [[ $m == mpi ]] && mp=1
    w=(--workers 2)
    [[ $m == mpi ]] && w=()
    MPI=$mp run "$T/p" primes --limit 100000 --mode "$m" "${w[@]}" --json "$T/p.json" || continue
    eq "primes $m result" "$(json_field "$T/p.json" result)" 9592
    eq "primes $m chunks" "$(grep -o '"results": \[.*\]' "$T/p.json")" '"results": [5133, 4459]'
    nw=2
    [[ $m == serial ]] && nw=1 # two chunks, one after the other
    eq "primes $m workers" "$(json_field "$T/p.json" workers)" $nw
    eq "primes $m mode" "$(json_field "$T/p.json" mode)" "$m"
    grep -q "^  chunk 1 \[50000, 100000): 4459 primes" "$T/p" && ok || bad "primes $m: chunk line: $(cat "$T/p")"
    grep -q "^found primes: 9592, time: [0-9.]* s \[$m, $nw " "$T/p" && ok || bad "primes $m: final line: $(cat "$T/p")"
done
# uneven chunks: 3 workers, the last takes the remainder, in a pool of processes
run "$T/p" primes --limit 100000 --mode process-pool --workers 3 --json "$T/p.json" &&
    eq "primes process-pool 3 chunks" "$(grep -o '"results": \[.*\]' "$T/p.json")" '"results": [3569, 3076, 2947]'
no_leftovers "primes"

# ---- sum: count(n) = n (n + 1) / 2 ----
for case in 1:1 10:55 1000000:500000500000; do
    run "$T/s" sum --n "${case%%:*}" --json "$T/s.json" &&
        eq "count(${case%%:*})" "$(json_field "$T/s.json" result)" "${case#*:}"
done
for m in "${MODES[@]}"; do
    mp=0
    [[ $m == mpi ]] && mp=1
    MPI=$mp run "$T/s" sum --n 1000000 --tasks 3 --mode "$m" --json "$T/s.json" || continue
    eq "sum $m results" "$(grep -o '"results": \[.*\]' "$T/s.json")" \
        '"results": [500000500000, 500000500000, 500000500000]'
    grep -q "^$m time: [0-9.]* s, res1: 500000500000, res2: 500000500000, res3: 500000500000" "$T/s" &&
        ok || bad "sum $m: final line: $(cat "$T/s")"
    eq "sum $m start lines" "$(grep -c '^Process: [0-9]* Thread: [0-9]* start$' "$T/s")" 3
    eq "sum $m end lines" "$(grep -c '^Process: [0-9]* Thread: [0-9]* end$' "$T/s")" 3
    # who ran the tasks: this process (serial, threads), 3 children, 2 pool workers, 2 ranks
    pids=$(grep -o '"task_pids": \[.*\]' "$T/s.json" | grep -o '[0-9][0-9]*' | sort -u | wc -l)
    case $m in
    serial | threads | gil-threads | thread-pool) want=1 ;;
    processes) want=3 ;;
    *) want=2 ;;
    esac
    eq "sum $m distinct processes" "$pids" "$want"
done
run "$T/s" sum --n 100000 --tasks 4 --mode thread-pool --workers 2 --gil --json "$T/s.json" &&
    eq "sum thread-pool --gil" "$(grep -o '"results": \[.*\]' "$T/s.json")" \
        '"results": [5000050000, 5000050000, 5000050000, 5000050000]'
eq "thread-pool --gil is under the lock" "$(json_field "$T/s.json" gil)" 1
grep -q "^lock: [0-9.]* s waited in all" "$T/s" && ok || bad "thread-pool --gil: no lock line"
grep -q "^thread-pool submit time: " "$T/s" && ok || bad "thread-pool: no submit time line"
no_leftovers "sum"

# ---- io: the local server on 127.0.0.1, in every mode ----
# (250 ms per answer: the requests that may overlap are all sent long before the first answer,
# even on a loaded machine; the count of overlapping requests below is a condition, not a time)
for m in "${MODES[@]}"; do
    mp=0
    [[ $m == mpi ]] && mp=1
    w=()
    [[ $m == thread-pool || $m == process-pool ]] && w=(--workers 2)
    MPI=$mp run "$T/io" io --requests 3 --latency-ms 250 --mode "$m" "${w[@]}" --json "$T/io.json" ||
        continue
    eq "io $m result" "$(json_field "$T/io.json" result)" 3
    eq "io $m served" "$(json_field "$T/io.json" server_served)" 3
    eq "io $m status lines" "$(grep -c '^fetched http://127.0.0.1:[0-9]*/[0-2], status code: 200$' "$T/io")" 3
    grep -q "^total time: [0-9.]* s, 3 of 3 responses 200 \[$m" "$T/io" && ok || bad "io $m: final line: $(cat "$T/io")"
    # requests overlap where the mode lets them: at most 1 serially (and per mpi rank), P in a
    # pool of P, all 3 with one thread or process per request, including under the lock, which a
    # thread releases while it waits for the network
    case $m in
    serial | mpi) want=1 ;;
    thread-pool | process-pool) want=2 ;;
    *) want=3 ;;
    esac
    eq "io $m requests in flight at once" "$(json_field "$T/io.json" server_max_in_flight)" "$want"
    port=$(sed -n 's|^server: http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/io")
    if [[ -n $port ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok; else
        bad "io $m: the server's port '$port' is still open after the run"
    fi
    [[ ! -s "$T/io.err" ]] && ok || bad "io $m: stderr: $(cat "$T/io.err")"
done
no_leftovers "io"

# ---- share ----
run "$T/sh" share --n 1000 --sleep-ms 20 --json "$T/sh.json"
list=$(sed -n "s/^threads time: [0-9.]* s, shared_list: \[\(.*\)\]$/\1/p" "$T/sh")
eq "shared list: items" "$(tr ',' '\n' <<<"$list" | grep -c Thread)" 15
eq "shared list: thread 1 in order" "$(grep -o "Thread1-[0-9]*" <<<"$list" | tr '\n' ' ')" \
    "Thread1-0 Thread1-1 Thread1-2 Thread1-3 Thread1-4 Thread1-5 Thread1-6 Thread1-7 Thread1-8 Thread1-9 "
eq "shared list: thread 2 in order" "$(grep -o "Thread2-[0-9]*" <<<"$list" | tr '\n' ' ')" \
    "Thread2-0 Thread2-1 Thread2-2 Thread2-3 Thread2-4 "
grep -q "^threads time: [0-9.]* s, res1: 500500, res2: 500500 (globals written by threads" "$T/sh" &&
    ok || bad "share: threads' globals: $(cat "$T/sh")"
grep -q "^processes time: [0-9.]* s, res1: None, res2: None (globals written by the child processes stay unset here)" "$T/sh" &&
    ok || bad "share: processes' globals: $(cat "$T/sh")"
grep -q "^process-pool time: [0-9.]* s, res1: 500500, res2: 500500 (results returned through pipes; this process's globals: res1: None, res2: None)" "$T/sh" &&
    ok || bad "share: pool results: $(cat "$T/sh")"
if [[ -n $PY ]]; then
    $PY - "$T/sh.json" <<'EOF' && ok || bad "share JSON: $(cat "$T/sh.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["shared_list"]) == 15, d
assert d["threads_globals"] == [500500, 500500], d
assert d["processes_globals"] == [None, None] and d["processes_results"] == [500500, 500500], d
assert d["process_pool_globals"] == [None, None] and d["process_pool_results"] == [500500, 500500], d
assert d["result"] == 500500 and d["kernel"] == "share", d
EOF
fi
if [[ ${TDP_NO_MPI:-0} != 1 ]]; then
    MPI=1 run "$T/sh" share --mode mpi --n 1000 --sleep-ms 0 --json "$T/sh.json"
    grep -q "^mpi time: [0-9.]* s, 2 ranks; reduced to rank 0: res1: 500500, res2: 500500$" "$T/sh" &&
        ok || bad "share mpi: reduced results: $(cat "$T/sh")"
    grep -q "^mpi: rank 0's own globals: res1: 500500, res2: None " "$T/sh" &&
        ok || bad "share mpi: rank 0's globals: $(cat "$T/sh")"
    [[ $(grep -c "shared_list" "$T/sh") == 1 ]] && ok || bad "share mpi: the list demonstration should run once"
fi
no_leftovers "share"

# ---- the JSON summaries parse and carry the common keys ----
if [[ -n $PY ]]; then
    for f in p s io; do
        $PY - "$T/$f.json" <<'EOF' && ok || bad "$f.json: $(cat "$T/$f.json")"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("kernel", "mode", "workers", "tasks", "result", "seconds", "results", "task_seconds"):
    assert k in d, k
assert len(d["results"]) == d["tasks"] == len(d["task_seconds"]), d
assert d["seconds"] >= 0, d
EOF
    done
fi
compgen -G "$T/*.tmp.*" >/dev/null && bad "temporary files left behind: $(echo "$T"/*.tmp.*)" || ok
no_leftovers "the whole suite"

# ---- the notebook's own Python (scripts/seed-table.sh's CPython column), at tiny sizes ----
NB=(timeout -k 5 60 /usr/bin/python3 "$SRC/scripts/py/notebook_kernels.py")
"${NB[@]}" sum --n 20000 >"$T/nb" 2>"$T/nb.err" && ok || bad "notebook_kernels.py sum: $(tail -3 "$T/nb.err")"
eq "notebook sum: every variant, res1 (None from the notebook's processes)" \
    "$(sed -n 's/^nb_result kernel=sum variant=\([a-z-]*\) seconds=[0-9.]* result=\(.*\)$/\1:\2/p' "$T/nb" | tr '\n' ' ')" \
    "serial:200010000 threads:200010000 thread-pool:200010000 thread-pool-with:200010000 processes:None process-pool:200010000 "
[[ $(grep -o "Process: [0-9]* Thread: [0-9]* start" "$T/nb.err" | wc -l) == 12 ]] && ok || bad "notebook sum: its own prints"
"${NB[@]}" primes --limit 1000 --variants serial,process-pool >"$T/nb" 2>"$T/nb.err" && ok || bad "notebook_kernels.py primes"
eq "notebook primes below 1000" "$(grep -c "result=168$" "$T/nb")" 2
"${NB[@]}" sum --variants frob >/dev/null 2>"$T/nb.err"
[[ $? == 2 ]] && grep -q "'frob' is not one of" "$T/nb.err" && ok || bad "notebook_kernels.py: unknown variant"

finish
