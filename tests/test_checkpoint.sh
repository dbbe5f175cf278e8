#!/usr/bin/env bash
# test_checkpoint.sh: checkpoints and resume. A run stopped at any step (a signal, or the test
# switch TDP_TEST_STOP_AT that acts like one) writes a checkpoint and exits 75; resuming ends with
# weights bitwise identical to an uninterrupted run, in serial, DP and DDP (and DDP resumed with
# another world size but the same global batch matches within 1e-5). Bad checkpoints are refused
# with a message saying why (exit 2), never half-loaded.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

D=(--model "$SRC/models/fashion-mlp.cfg" --data synthetic --synthetic-train 1024
    --synthetic-test 256 --epochs 3 --quiet)

# resume_case NAME LAUNCH... -- ARGS...: uninterrupted vs stopped at step 37 and resumed
resume_case() {
    local name=$1
    shift
    local launch=()
    while [[ $1 != -- ]]; do launch+=("$1"); shift; done
    shift
    "${launch[@]}" "$BIN/ddp_train" "${D[@]}" "$@" --dump-weights "$T/$name.full" ||
        { bad "$name: uninterrupted run"; return; }
    TDP_TEST_STOP_AT=37 TDP_TEST_STOP_RANK=${STOP_RANK:-0} "${launch[@]}" -x TDP_TEST_STOP_AT -x TDP_TEST_STOP_RANK "$BIN/ddp_train" "${D[@]}" "$@" \
        --checkpoint "$T/$name.ckpt" --checkpoint-every 10 2>"$T/$name.err" >/dev/null
    local rc=$?
    [[ $rc == 75 ]] && ok || bad "$name: stopped run exit $rc (expected 75): $(cat "$T/$name.err")"
    grep -q "after step 37: checkpoint written" "$T/$name.err" && ok || bad "$name: stop message: $(cat "$T/$name.err")"
    "${launch[@]}" "$BIN/ddp_train" "${D[@]}" "$@" --resume "$T/$name.ckpt" --dump-weights "$T/$name.res" ||
        { bad "$name: resumed run"; return; }
    cmp -s "$T/$name.full" "$T/$name.res" && ok || bad "$name: resumed weights differ from uninterrupted"
}
# plain (non-MPI) launches ignore -x: give them a wrapper that drops it
nompi() {
    local args=()
    while (($#)); do
        if [[ $1 == -x ]]; then shift 2; else args+=("$1"); shift; fi
    done
    "${args[@]}"
}
resume_case serial nompi env -- --mode serial --batch 32
resume_case dp nompi env -- --mode dp --workers 2 --batch 16
resume_case dp_gil nompi env -- --mode dp --workers 2 --batch 16 --gil --dp-pool
resume_case ddp mpirun_ -np 2 -- --batch 16
STOP_RANK=1 resume_case ddp_stop_on_rank1 mpirun_ -np 2 -- --batch 16
resume_case hybrid mpirun_ -np 2 -- --batch 8 --workers 2

# resuming with another world size but the same global batch: re-sharded, equal within 1e-5
mpirun_ -np 4 "$BIN/ddp_train" "${D[@]}" --batch 8 --resume "$T/ddp.ckpt" --dump-weights "$T/ddp4.res" &&
    "$BIN/wcmp" "$T/ddp4.res" "$T/ddp.full" 1e-5 && ok || bad "resume on 4 ranks of a 2-rank checkpoint"
# ...and another global batch is refused
"$BIN/ddp_train" --mode serial "${D[@]}" --batch 16 --resume "$T/serial.ckpt" 2>"$T/err"
[[ $? == 2 ]] && grep -q "global batch of 32" "$T/err" && ok || bad "other global batch: $(cat "$T/err")"

# a real SIGUSR1 mid-run: checkpoint, exit 75, resume to the same weights
"$BIN/ddp_train" --mode serial "${D[@]}" --epochs 40 --batch 32 --dump-weights "$T/long.full" || bad "long run"
"$BIN/ddp_train" --mode serial "${D[@]}" --epochs 40 --batch 32 --checkpoint "$T/long.ckpt" \
    2>"$T/sig.err" &
pid=$!
for ((i = 0; i < 200; i++)); do # bounded wait until it trains (its first checkpoint is at the end)
    [[ -d /proc/$pid ]] || break
    grep -q "State:.*R" "/proc/$pid/status" 2>/dev/null && ((i > 5)) && break
    sleep 0.05
done
kill -USR1 $pid 2>/dev/null
wait $pid
rc=$?
if [[ $rc == 75 ]]; then
    ok
    "$BIN/ddp_train" --mode serial "${D[@]}" --epochs 40 --batch 32 --resume "$T/long.ckpt" --dump-weights "$T/long.res" &&
        cmp -s "$T/long.full" "$T/long.res" && ok || bad "SIGUSR1: resumed weights differ"
elif [[ $rc == 0 ]]; then
    echo "note: the run finished before the signal arrived; nothing to compare"
    ok
else
    bad "SIGUSR1: exit $rc: $(cat "$T/sig.err")"
fi

# bad checkpoints: each refused with exit 2 and a message saying why
good="$T/serial.ckpt"
refuse() { # NAME PATTERN FILE
    "$BIN/ddp_train" --mode serial "${D[@]}" --batch 32 --resume "$3" --dump-weights "$T/never.bin" 2>"$T/err" >/dev/null
    local rc=$?
    [[ $rc == 2 ]] && grep -q -- "$2" "$T/err" && [[ ! -e $T/never.bin ]] && ok || bad "$1: exit $rc: $(cat "$T/err")"
}
size=$(stat -c %s "$good")
cp "$good" "$T/flip" && printf '\xff' | dd of="$T/flip" bs=1 seek=$((size - 100)) conv=notrunc status=none
refuse "flipped payload bit" "payload CRC mismatch" "$T/flip"
cp "$good" "$T/flip2" && printf '\x07' | dd of="$T/flip2" bs=1 seek=60 conv=notrunc status=none
refuse "flipped header bit" "header CRC mismatch" "$T/flip2"
head -c $((size - 10)) "$good" >"$T/trunc"
refuse "truncated" "truncated" "$T/trunc"
head -c 50 "$good" >"$T/trunc2"
refuse "truncated header" "truncated header" "$T/trunc2"
: >"$T/empty"
refuse "empty" "empty file" "$T/empty"
refuse "directory" "not a regular file" "$T"
refuse "missing" "cannot open" "$T/missing.ckpt"
cp "$good" "$T/magic" && printf 'XX' | dd of="$T/magic" bs=1 seek=0 conv=notrunc status=none
refuse "wrong magic" "bad magic" "$T/magic"
cp "$good" "$T/version" && printf '\x09' | dd of="$T/version" bs=1 seek=8 conv=notrunc status=none
refuse "wrong version" "version 9" "$T/version"
"$BIN/ddp_train" --mode serial --model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 1024 \
    --synthetic-test 256 --epochs 3 --quiet --batch 32 --resume "$good" 2>"$T/err"
[[ $? == 2 ]] && grep -q "another model" "$T/err" && ok || bad "another model: $(cat "$T/err")"
"$BIN/ddp_train" --mode serial "${D[@]}" --batch 32 --lr 0.1 --resume "$good" 2>"$T/err"
[[ $? == 2 ]] && grep -q "was written with --lr 0.02, this run has --lr 0.1:" "$T/err" && ok || bad "other options: $(cat "$T/err")"
"$BIN/ddp_train" --mode dp --workers 2 "${D[@]}" --batch 16 --resume "$good" 2>"$T/err"
[[ $? == 2 ]] && grep -q "another mode" "$T/err" && ok || bad "another mode: $(cat "$T/err")"
# no temporary files left next to the checkpoints
ls "$T" | grep -q '\.tmp\.' && bad "temporary files left: $(ls "$T")" || ok
finish
