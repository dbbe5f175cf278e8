#!/usr/bin/env bash
# test_dp.sh: DataParallel with threads and the hybrid mode. DP with P workers and batch B gives
# the weights of serial with batch P x B and of DDP with P ranks (1e-5 relative), with or
# without --gil and --dp-pool; with --deterministic DP and DDP dump bitwise-identical weights;
# mpirun -np R --workers T matches serial with R x T x B. Also run against sanitizer builds
# (TDP_BIN pointing at them); then the MPI cases are skipped with TDP_NO_MPI=1.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
if [[ ! -x $BIN/ddp_train ]]; then
    echo "skipped: $BIN/ddp_train is not built (scripts/test.sh builds the sanitizer trees)"
    exit 77
fi

B=16
K=${TDP_DP_STEPS:-30}
DATA=(--model "$SRC/models/fashion-mlp.cfg" --data synthetic --synthetic-train 1024
    --synthetic-test 256 --epochs 100 --max-steps $K --quiet)

"$BIN/ddp_train" --mode serial "${DATA[@]}" --batch $((4 * B)) --dump-weights "$T/serial4.bin" &&
    "$BIN/ddp_train" --mode serial "${DATA[@]}" --batch $((2 * B)) --dump-weights "$T/serial2.bin" ||
    bad "serial reference runs"

# same NAME REF RTOL ddp_train-args...
same() {
    local name=$1 ref=$2 tol=$3
    shift 3
    if "$@" --dump-weights "$T/$name.bin" >"$T/$name.log" 2>&1; then
        "${TDP_WCMP:-$BIN/wcmp}" "$T/$name.bin" "$T/$ref.bin" "$tol" >"$T/$name.cmp" && ok ||
            bad "$name: $(cat "$T/$name.cmp")"
        echo "$name vs $ref: $(cat "$T/$name.cmp")"
    else
        bad "$name: run failed: $(tail -5 "$T/$name.log")"
    fi
}
DP=("$BIN/ddp_train" --mode dp "${DATA[@]}" --batch $B)
same dp2 serial2 1e-5 "${DP[@]}" --workers 2 --json "$T/dp2.json"
same dp4 serial4 1e-5 "${DP[@]}" --workers 4
# --gil holds the lock for the calibrated interpreter work (the shipped models/gil-default.cal)
same dp4_gil serial4 1e-5 "${DP[@]}" --workers 4 --gil --switch-interval 0.5 --json "$T/gil.json"
same dp4_pool serial4 1e-5 "${DP[@]}" --workers 4 --dp-pool
same dp4_gil_pool serial4 1e-5 "${DP[@]}" --workers 4 --gil --dp-pool
same dp2_accum2 serial4 1e-5 "${DP[@]}" --workers 2 --accum 2
same dp4_cache serial4 1e-5 "${DP[@]}" --workers 4 --dp-cache --dp-pool
# DP sums the replicas in worker order every step: runs are bitwise reproducible, lock or not
same dp4_again dp4 0 "${DP[@]}" --workers 4 --gil --dp-pool

# the JSON: replicated bytes = steps x workers x parameters x 4, and the time split
[[ $(json_field "$T/dp2.json" mode) == dp && $(json_field "$T/dp2.json" workers) == 2 &&
    $(json_field "$T/dp2.json" world_size) == 1 ]] && ok || bad "dp JSON mode/workers: $(cat "$T/dp2.json")"
[[ $(json_field "$T/dp2.json" replicated_bytes_total) == $((K * 2 * 235146 * 4)) ]] && ok ||
    bad "replicated_bytes_total $(json_field "$T/dp2.json" replicated_bytes_total)"
awk -v r="$(json_field "$T/dp2.json" replicate_seconds)" -v c="$(json_field "$T/dp2.json" compute_seconds)" \
    'BEGIN { exit !(r > 0 && c > 0) }' && ok || bad "time split missing"

# bad combinations are refused
"$BIN/ddp_train" --mode serial --workers 2 "${DATA[@]}" 2>"$T/err"
[[ $? == 2 ]] && grep -q -- "applies to --mode dp and --mode ddp" "$T/err" && ok || bad "serial --workers"
# serial --gil: the interpreter's costs on one thread change nothing of the weights
same serial2_gil serial2 0 "$BIN/ddp_train" --mode serial "${DATA[@]}" --batch $((2 * B)) --gil
awk -v h="$(json_field "$T/gil.json" gil_held_seconds)" 'BEGIN { exit !(h > 0) }' && ok ||
    bad "gil_held_seconds $(json_field "$T/gil.json" gil_held_seconds)"
printf 'forward_held_us = 60\nbackward_held_us = x\n' >"$T/bad.cal"
timeout 60 "$BIN/ddp_train" --mode dp --workers 2 --gil --gil-calibration "$T/bad.cal" "${DATA[@]}" 2>"$T/err"
[[ $? == 2 ]] && grep -q -- "bad.cal:2: backward_held_us" "$T/err" && ok || bad "bad calibration: $(cat "$T/err")"
timeout 60 "$BIN/ddp_train" --mode dp --gil-calibration "$T/bad.cal" "${DATA[@]}" 2>"$T/err"
[[ $? == 2 ]] && grep -q -- "--gil-calibration applies to --gil only" "$T/err" && ok || bad "calibration without --gil"
# Threads start one at a time, as threading.Thread.start() does: the master holds the lock for half
# of thread_start_us, the new thread for the other half (its bootstrap) before it runs; so worker 1
# begins its forward at least a whole thread_start_us (20 ms here) after worker 0. The per-MB
# holds count: gather 20000 us/MB x 0.94 MB of fashion-mlp per step, beside 2 x 20 ms of starts.
sed 's/^thread_start_us *=.*/thread_start_us = 20000/; s/^gather_us_per_mb *=.*/gather_us_per_mb = 20000/' \
    "$SRC/models/gil-default.cal" >"$T/slow.cal"
timeout 120 "$BIN/ddp_train" --mode dp --workers 2 --gil --gil-calibration "$T/slow.cal" \
    "${DATA[@]:0:8}" --epochs 1 --max-steps 2 --quiet --batch $B --trace "$T/slow.trace" --json "$T/slow.json" >/dev/null 2>"$T/err" ||
    bad "slow calibration run: $(cat "$T/err")"
awk -F'"ts": ' '/"name": "forward"/ { split($1, a, "\"tid\": "); tid = a[2] + 0; ts = $2 + 0
        if (!(tid in first)) first[tid] = ts }
    END { gap = first[3] - first[2]; print "worker 1 starts " gap " us after worker 0"; exit !(gap >= 15000) }' \
    "$T/slow.trace" && ok || bad "threads not started one at a time: $(head -c 600 "$T/slow.trace")"
awk -v h="$(json_field "$T/slow.json" gil_held_seconds)" 'BEGIN { exit !(h >= 2 * (0.040 + 0.0188)) }' && ok ||
    bad "per-MB and thread-start holds: gil_held_seconds $(json_field "$T/slow.json" gil_held_seconds)"

if [[ ${TDP_NO_MPI:-0} != 1 ]]; then
    # DP and DDP with the same P and --deterministic: bitwise identical
    same dp4_det dp4 0 "${DP[@]}" --workers 4 --deterministic
    same ddp4_det dp4 0 mpirun_ -np 4 "$BIN/ddp_train" "${DATA[@]}" --batch $B --deterministic
    # hybrid: R ranks x T threads == serial with R x T x B; the model is broadcast once per rank
    same hybrid2x2 serial4 1e-5 mpirun_ -np 2 "$BIN/ddp_train" "${DATA[@]}" --batch $B --workers 2 --json "$T/hy.json"
    same hybrid1x2 serial2 1e-5 mpirun_ -np 1 "$BIN/ddp_train" "${DATA[@]}" --batch $B --workers 2
    same hybrid2x2_det serial4 1e-5 mpirun_ -np 2 "$BIN/ddp_train" "${DATA[@]}" --batch $B --workers 2 --deterministic
    [[ $(json_field "$T/hy.json" workers) == 4 && $(json_field "$T/hy.json" world_size) == 2 &&
        $(json_field "$T/hy.json" replicated_bytes_total) == 0 ]] && ok || bad "hybrid JSON: $(cat "$T/hy.json")"
fi
finish
