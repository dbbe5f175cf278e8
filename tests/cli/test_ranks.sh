#!/usr/bin/env bash
# test_ranks.sh: per-rank timing, stragglers and the stall warning (issue 16). np=2 and np=3 runs
# carry one finite entry per rank in rank_compute_seconds, rank_comm_seconds and
# rank_wait_seconds (wait <= comm, compute + comm within the run's time), print the per-rank
# table and no warning; a rank slowed on purpose (TDP_TEST_SLOW_RANK) is named in a straggler
# warning during the run, as the slowest rank of the table and as the largest compute and the
# smallest wait of the arrays; --straggler-pct 0 names nobody; a rank that stalls (without
# --comm-timeout) is named in one stall warning after TDP_TEST_STALL_WARN_SECONDS and the run
# ends normally. Every run is bounded and leaves no process.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
MPI_TIMEOUT=60

D=(--model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 4096 --synthetic-test 256
    --batch 16)
# the switches every run passes on, inert unless a case sets them
export TDP_TEST_SLOW_RANK=-1 TDP_TEST_SLOW_MS=0 TDP_TEST_STALL_RANK=-1 TDP_TEST_STALL_STEP=1
export TDP_TEST_STALL_SECONDS=0 TDP_TEST_STALL_WARN_SECONDS=60
SW=(-x TDP_TEST_SLOW_RANK -x TDP_TEST_SLOW_MS -x TDP_TEST_STALL_RANK -x TDP_TEST_STALL_STEP
    -x TDP_TEST_STALL_SECONDS -x TDP_TEST_STALL_WARN_SECONDS)

# array FILE KEY: the JSON array's numbers, one per line
array() { sed -n "s/.*\"$2\": \[\(.*\)\],\{0,1\}$/\1/p" "$1" | tr -d ' ' | tr ',' '\n' | grep .; }

# run NAME NP ARGS...: mpirun under its bound; stdout NAME.out, stderr NAME.err, JSON NAME.json
run() {
    local name=$1 np=$2
    shift 2
    mpirun_ -np "$np" "${SW[@]}" "$BIN/ddp_train" "${D[@]}" --json "$T/$name.json" "$@" \
        >"$T/$name.out" 2>"$T/$name.err"
    rc=$?
    [[ $rc == 0 ]] && ok || bad "$name: exit $rc: $(head -c 600 "$T/$name.err")"
}

# arrays NAME NP: one finite non-negative entry per rank in each array; wait <= comm; compute +
# comm of each rank within the training loop's seconds
arrays() {
    local name=$1 np=$2 j=$T/$1.json
    paste <(array "$j" rank_compute_seconds) <(array "$j" rank_comm_seconds) \
        <(array "$j" rank_wait_seconds) >"$T/$name.cols"
    local n
    n=$(awk -v s="$(json_field "$j" seconds)" 'NF == 3 && $1 >= 0 && $2 >= 0 && $3 >= 0 &&
        $3 <= $2 + 1e-6 && $1 + $2 <= s + 0.01 { n++ } END { print n + 0 }' "$T/$name.cols")
    [[ $n == "$np" && $(wc -l <"$T/$name.cols") == "$np" ]] && ok ||
        bad "$name: per-rank arrays: $(grep rank_ "$j") seconds $(json_field "$j" seconds)"
}

# 1. normal runs: arrays, table, no warning (the threshold is wide: this machine is shared)
for np in 2 3; do
    run "plain$np" $np --epochs 2 --straggler-pct 200
    arrays "plain$np" $np
    grep -q "^per-rank seconds, $np ranks" "$T/plain$np.out" && ok ||
        bad "plain$np: no per-rank table: $(tail -5 "$T/plain$np.out")"
    ! grep -q warning "$T/plain$np.err" && ok || bad "plain$np: a warning: $(cat "$T/plain$np.err")"
done

# 2. rank 2 of 3 computes 20 ms longer every step (255 steps): named during the run (the window
#    of steps 101-200: the first window, the warm-up, and the partial last one are not judged),
#    in the table and in the arrays
TDP_TEST_SLOW_RANK=2 TDP_TEST_SLOW_MS=20 run slow 3 --epochs 3
arrays slow 3
grep -q "warning: straggler: rank 2 computed .* in steps 101-200," "$T/slow.err" && ok ||
    bad "slow: no straggler warning for steps 101-200: $(cat "$T/slow.err")"
[[ $(grep -c "warning: straggler" "$T/slow.err") == 1 ]] && ok ||
    bad "slow: the warm-up or the partial last window judged: $(cat "$T/slow.err")"
! grep "warning: straggler" "$T/slow.err" | grep -vq "rank 2 " && ok ||
    bad "slow: another rank named: $(cat "$T/slow.err")"
grep -q "^slowest rank: 2 " "$T/slow.out" && ok || bad "slow: table: $(tail -5 "$T/slow.out")"
grep -Eq "^  compute .* 2$" "$T/slow.out" && ok || bad "slow: table's max: $(tail -5 "$T/slow.out")"
awk 'NR == 3 { c = $1; w = $3 } NR < 3 { if ($1 > mc) mc = $1; if (mw == "" || $3 < mw) mw = $3 }
     END { exit !(c > mc && w <= mw) }' "$T/slow.cols" && ok ||
    bad "slow: rank 2 not the largest compute and the smallest wait: $(grep rank_ "$T/slow.json")"

# 3. --straggler-pct 0: nobody named
TDP_TEST_SLOW_RANK=1 TDP_TEST_SLOW_MS=20 run off 2 --epochs 1 --straggler-pct 0
! grep -q "straggler" "$T/off.err" && ok || bad "--straggler-pct 0 warned: $(cat "$T/off.err")"

# 4. a rank stalls 3 s at step 5 without --comm-timeout: one warning after 1 s names it (the
#    lowest waiting rank prints it), and the run ends normally. The stalled rank has started its
#    step's allreduce during backward: the others may finish it and wait in step 6.
export TDP_TEST_STALL_STEP=5 TDP_TEST_STALL_SECONDS=3 TDP_TEST_STALL_WARN_SECONDS=1
for c in "2 1 0" "3 0 1" "3 1 0"; do
    read -r np stalled printer <<<"$c"
    TDP_TEST_STALL_RANK=$stalled run "stall$np$stalled" "$np" --epochs 1 --quiet
    pat="warning: rank $printer: the gradient allreduce at step [56] has waited [0-9]+ s; rank\(s\) that have not arrived: $stalled \(still waiting"
    e=$T/stall$np$stalled.err
    [[ $(grep -Ec "$pat" "$e") == 1 && $(grep -c "has waited" "$e") == 1 ]] &&
        ok || bad "stall $np $stalled: rank $stalled not named once: $(cat "$e")"
    [[ -s $T/stall$np$stalled.json ]] && ok || bad "stall $np $stalled: the run did not end normally"
done

# 5. nothing left behind
[[ -z $(pgrep -f "ddp_train.*$T/") ]] && ok || bad "processes left: $(pgrep -af "ddp_train.*$T/")"
finish
