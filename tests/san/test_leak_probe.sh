#!/usr/bin/env bash
# test_leak_probe.sh: under the AddressSanitizer test run's options and suppressions, the leak of
# tests/san/leak_probe.c (4321 bytes lost by tdp_leak_probe_lose after MPI_Init) is reported,
# alone and under mpirun, and ends the program with an error; Open MPI's own memory is not.
set -uo pipefail
source "$(dirname "$0")/../cli/lib.sh"
PROBE="${TDP_LEAK_PROBE:?TDP_LEAK_PROBE must name the leak_probe program}"
probe() { # NAME PROCESSES LAUNCH...: each of PROCESSES reports the probe's leak and no other
    local name=$1 procs=$2
    shift 2
    "$@" "$PROBE" >"$T/$name.log" 2>&1
    local rc=$?
    [[ $rc != 0 ]] && ok || bad "$name: the probe's leak did not fail the run (exit 0)"
    grep -q 'Direct leak of 4321 byte' "$T/$name.log" && grep -q 'tdp_leak_probe_lose' "$T/$name.log" &&
        ok || bad "$name: the probe's leak was not reported: $(head -c 3000 "$T/$name.log")"
    # the reports hold the probe's leak and nothing else (Open MPI's allocations are suppressed)
    local n probes
    n=$(grep -c '^Direct leak\|^Indirect leak' "$T/$name.log")
    probes=$(grep -c '^Direct leak of 4321 byte' "$T/$name.log")
    [[ $n == "$procs" && $probes == "$procs" ]] && ok ||
        bad "$name: $n leaks reported ($probes the probe's), expected the probe's once in each of $procs processes: $(grep -A4 'leak of' "$T/$name.log" | head -60)"
}
probe alone 1 env
probe mpirun 2 mpirun_ -np 2
finish
