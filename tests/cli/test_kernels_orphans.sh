#!/usr/bin/env bash
# test_kernels_orphans.sh: build/bin/kernels' worker processes die with their parent. For primes
# and sum, in modes processes and process-pool (2 workers each), and for SIGTERM, SIGINT and
# SIGKILL sent to the parent alone while its workers compute: the parent ends (TERM, INT: with
# the signal's own status, 128 + signal, and a line on stderr naming the signal, after it has
# ended and reaped every worker: no worker outlives it; KILL: every worker dies within a bound),
# and nothing is left behind: no process, no JSON output, no temporary file.
set -uo pipefail
# This shell adopts and reaps the workers of a parent killed outright (PR_SET_CHILD_SUBREAPER,
# kept across exec), where PID 1 may never reap them (in a container): then a worker must be
# gone, not even a zombie. Without python3, a zombie counts as dead.
if [[ -z ${TDP_ORPHANS_REAPER:-} ]] && PY=$(command -v python3); then
    exec "$PY" -c '
import ctypes, os, sys
ok = ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
os.environ["TDP_ORPHANS_REAPER"] = "1" if ok else "0"
os.execv(sys.argv[1], sys.argv[1:])' "$BASH" "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"

# a copy under a name of its own: any process still running it is one of this test's
K="$T/kernels-orphans-$$"
cp "$BIN/kernels" "$K" || { echo "cannot copy $BIN/kernels" >&2; exit 1; }
# whatever happens, nothing of this test keeps running
cleanup() {
    local p
    for p in $(pgrep -f "$K" || true); do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

# The workers pinned to one core between them: this test keeps one core free for others, and a
# worker that outlives its parent still has seconds of work left (sum's processes mode has the
# shortest workload: count(6e9), 2.4 s of CPU per worker on one core of its own).
PIN=()
command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null && PIN=(taskset -c 0)

# proc_start PID: the process's start time (field 22 of /proc/PID/stat), empty when gone
proc_start() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    s=${s##*) } # the fields after the command name, which may hold spaces
    set -- $s
    echo "${20}"
}
# proc_state PID: R, S, Z, ... of a running process, empty when gone
proc_state() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    s=${s##*) }
    echo "${s%% *}"
}
# alive PID START: PID is still the process that started at START, and has not exited (a
# zombie has exited: it runs nothing; its parent, or whoever adopted it, has not reaped it)
alive() {
    local st
    [[ $(proc_start "$1") == "$2" ]] || return 1
    st=$(proc_state "$1")
    [[ -n $st && $st != Z ]]
}
# gone PID START: not that process at all any more, not even as a zombie
gone() { [[ $(proc_start "$1") != "$2" ]]; }
dead() { ! alive "$@"; }

signum() { case $1 in TERM) echo 15 ;; INT) echo 2 ;; KILL) echo 9 ;; esac; }

# one_case KERNEL MODE SIGNAL ARGS...
one_case() {
    local kern=$1 mode=$2 sig=$3
    shift 3
    local what="$kern --mode $mode, SIG$sig to the parent"
    local json="$T/$kern-$mode-$sig.json"
    # a background job of a script starts with SIGINT ignored: give the program the default
    env --default-signal=INT "${PIN[@]}" "$K" "$kern" --mode "$mode" --workers 2 "$@" \
        --json "$json" >"$T/out" 2>"$T/err" &
    local pid=$!
    # its two workers, once both exist (they compute for minutes, or seconds without a core
    # of their own for sum in mode processes)
    local kids=() i
    for ((i = 0; i < 400; i++)); do
        mapfile -t kids < <(pgrep -P "$pid")
        [[ ${#kids[@]} -ge 2 ]] && break
        sleep 0.05
    done
    if [[ ${#kids[@]} != 2 ]]; then
        bad "$what: expected 2 worker processes, found ${#kids[@]}: $(cat "$T/err")"
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return
    fi
    local starts=() k
    for k in "${kids[@]}"; do starts+=("$(proc_start "$k")"); done

    local st
    kill -s "$sig" "$pid"
    # the parent ends: poll (bounded) until it is no longer running, then collect its status
    for ((i = 0; i < 200; i++)); do
        st=$(proc_state "$pid")
        [[ -z $st || $st == Z ]] && break
        sleep 0.05
    done
    st=$(proc_state "$pid")
    if [[ -n $st && $st != Z ]]; then
        bad "$what: the parent $pid still runs 10 s after the signal"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null # (bash would announce a job killed by a signal)
    local rc=$?
    local want=$((128 + $(signum "$sig")))
    [[ $rc == "$want" ]] && ok || bad "$what: exit status $rc, expected $want; stderr: $(cat "$T/err")"

    if [[ $sig != KILL ]]; then
        # the parent ended and reaped its workers before it went: none is left, even as a zombie
        for i in 0 1; do
            gone "${kids[$i]}" "${starts[$i]}" && ok ||
                bad "$what: worker ${kids[$i]} outlived its parent (state $(proc_state "${kids[$i]}"), parent now $(awk '{print $4}' "/proc/${kids[$i]}/stat" 2>/dev/null))"
        done
        grep -q "SIG$sig" "$T/err" && grep -q "worker processes" "$T/err" && ok ||
            bad "$what: stderr does not name the signal and the workers: $(cat "$T/err")"
    else
        # a parent killed outright cannot reap: its workers die with it, and this shell reaps
        # them (or, not their subreaper, accepts a zombie: it runs nothing)
        local dead=gone
        [[ ${TDP_ORPHANS_REAPER:-0} == 1 ]] || dead=dead
        for i in 0 1; do
            local j
            for ((j = 0; j < 40; j++)); do
                $dead "${kids[$i]}" "${starts[$i]}" && break
                sleep 0.05
            done
            $dead "${kids[$i]}" "${starts[$i]}" && ok ||
                bad "$what: worker ${kids[$i]} not $dead 2 s after its parent was killed (state $(proc_state "${kids[$i]}"), parent now $(awk '{print $4}' "/proc/${kids[$i]}/stat" 2>/dev/null))"
        done
    fi
    # nothing left behind: no process running the program, no output, no temporary
    local left
    left=$(pgrep -f "$K" || true)
    for k in $left; do
        [[ $(proc_state "$k") == Z ]] || { bad "$what: processes left behind: $(ps -o pid,ppid,stat,args -p "$k")"; kill -KILL "$k" 2>/dev/null; }
    done
    [[ ! -e $json ]] && ok || bad "$what: a stopped run wrote $json"
    compgen -G "$T/*.tmp.*" >/dev/null && bad "$what: temporary files left: $(echo "$T"/*.tmp.*)" || ok
}

t0=$SECONDS
for sig in TERM INT KILL; do
    for mode in processes process-pool; do
        one_case primes "$mode" "$sig" --limit 4294967295
        # a pool works through 1024 tasks; one process per task runs the 2 that --workers 2 gives
        tasks=()
        [[ $mode == process-pool ]] && tasks=(--tasks 1024)
        one_case sum "$mode" "$sig" --n 6000000000 "${tasks[@]}"
    done
done
echo "12 cases in $((SECONDS - t0)) s (subreaper: ${TDP_ORPHANS_REAPER:-0})"
finish
