#!/usr/bin/env bash
# test_checkpoint.sh: checkpoints and resume. A run stopped at any step (a signal, or the test
# switch TDP_TEST_STOP_AT that acts like one) writes a checkpoint and exits 75; resuming ends with
# weights bitwise identical to an uninterrupted run, in serial, DP and DDP (and DDP resumed with
# another world size but the same global batch matches within 1e-5), and reports the same epoch
# lines, final loss and accuracies, with a throughput of its own steps only. Bad checkpoints are
# refused with a message saying why (exit 2), never half-loaded: other options (naming the one,
# with both values, seeds beyond 2^53 included), a file larger than its header says (refused
# before it is read). A second Ctrl-C during a checkpoint write leaves no temporary file.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

# ddp_train refuses an option given twice: D0 without --epochs
D0=(--model "$SRC/models/fashion-mlp.cfg" --data synthetic --synthetic-train 1024
    --synthetic-test 256 --quiet)
D=("${D0[@]}" --epochs 3)

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
"$BIN/ddp_train" --mode serial "${D0[@]}" --epochs 40 --batch 32 --dump-weights "$T/long.full" || bad "long run"
"$BIN/ddp_train" --mode serial "${D0[@]}" --epochs 40 --batch 32 --checkpoint "$T/long.ckpt" \
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
    "$BIN/ddp_train" --mode serial "${D0[@]}" --epochs 40 --batch 32 --resume "$T/long.ckpt" --dump-weights "$T/long.res" &&
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
"$BIN/ddp_train" --mode serial "${D[@]}" --batch 32 --weight-decay 0.001 --resume "$good" 2>"$T/err"
[[ $? == 2 ]] && grep -q "was written with --weight-decay 0.0005, this run has --weight-decay 0.001:" "$T/err" && ok ||
    bad "other weight decay: $(cat "$T/err")"

# The option record stores integers as integers: seeds 2^53 and 2^53 + 1 (equal as doubles) differ
S=(--mode serial --model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 512
    --synthetic-test 64 --epochs 1 --batch 32 --quiet)
"$BIN/ddp_train" "${S[@]}" --seed 9007199254740992 --checkpoint "$T/seed.ckpt" || bad "seed 2^53 run"
"$BIN/ddp_train" "${S[@]}" --seed 9007199254740993 --resume "$T/seed.ckpt" --json "$T/never.json" 2>"$T/err"
rc=$?
[[ $rc == 2 && ! -e $T/never.json ]] &&
    grep -q "seed.ckpt was written with --seed 9007199254740992, this run has --seed 9007199254740993:" "$T/err" &&
    ok || bad "seed 2^53 + 1 resumed from 2^53: exit $rc: $(cat "$T/err")"

# A checkpoint extended to 2 GB (sparse) is refused from its header, at once, without reading it
cp "$T/seed.ckpt" "$T/big.ckpt" && truncate -s 2G "$T/big.ckpt"
t0=$SECONDS
/usr/bin/time -f "%M" -o "$T/rss" timeout 10 "$BIN/ddp_train" "${S[@]}" --seed 9007199254740992 \
    --resume "$T/big.ckpt" --json "$T/never.json" 2>"$T/err"
rc=$?
rss=$(tail -1 "$T/rss")
[[ $rc == 2 && ! -e $T/never.json ]] && grep -q "big.ckpt: trailing bytes (2147483648 bytes, its header says" "$T/err" &&
    ok || bad "2 GB checkpoint: exit $rc: $(cat "$T/err")"
((SECONDS - t0 < 10)) && ok || bad "2 GB checkpoint: took $((SECONDS - t0)) s"
((rss < 200000)) && ok || bad "2 GB checkpoint: $rss KB resident (read into memory?)"
rm -f "$T/big.ckpt"

# A resumed run reports what the uninterrupted run reports: the epoch lines (loss, train and test
# accuracy), final_loss, test_accuracy, steps and epochs, bitwise (the loss is summed in the same
# order: the checkpoint carries the epoch's running sums); and its throughput counts only the
# steps it ran (stopped 16 steps before the end, counting all of them would be 16x too high).
R=(--model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 4096 --synthetic-test 256
    --epochs 2 --lr 0.0005)
figures() { # FILE: the epoch lines without the time-dependent fields
    grep '^epoch' "$1" | sed 's/  samples\/s.*//'
}
summary() { # JSON: the reported figures that do not depend on time
    local k
    for k in steps epochs final_loss test_accuracy; do echo "$k $(json_field "$1" $k)"; done
}
figures_case() { # NAME STOP LAUNCH... -- ARGS...
    local name=$1 stop=$2
    shift 2
    local launch=()
    while [[ $1 != -- ]]; do launch+=("$1"); shift; done
    shift
    "${launch[@]}" "$BIN/ddp_train" "${R[@]}" "$@" --json "$T/$name.full.json" >"$T/$name.full.out" ||
        { bad "$name: uninterrupted run"; return; }
    TDP_TEST_STOP_AT=$stop "${launch[@]}" -x TDP_TEST_STOP_AT "$BIN/ddp_train" "${R[@]}" "$@" \
        --checkpoint "$T/$name.ckpt" >/dev/null 2>"$T/$name.err"
    local rc=$?
    [[ $rc == 75 ]] || { bad "$name: stopped run exit $rc: $(cat "$T/$name.err")"; return; }
    "${launch[@]}" "$BIN/ddp_train" "${R[@]}" "$@" --resume "$T/$name.ckpt" --json "$T/$name.res.json" \
        >"$T/$name.res.out" || { bad "$name: resumed run"; return; }
    # the resumed run prints the epochs from the one it resumed in
    local n
    n=$(figures "$T/$name.res.out" | wc -l)
    [[ $n -ge 1 && "$(figures "$T/$name.res.out")" == "$(figures "$T/$name.full.out" | tail -n "$n")" ]] && ok ||
        bad "$name: epoch lines differ: $(figures "$T/$name.full.out") / $(figures "$T/$name.res.out")"
    [[ "$(summary "$T/$name.res.json")" == "$(summary "$T/$name.full.json")" ]] && ok ||
        bad "$name: summaries differ: $(summary "$T/$name.full.json" | tr '\n' ' ') / $(summary "$T/$name.res.json" | tr '\n' ' ')"
    local full res
    full=$(json_field "$T/$name.full.json" train_samples_per_s)
    res=$(json_field "$T/$name.res.json" train_samples_per_s)
    # clock-free: train_samples_per_s is the samples of the steps this process ran over the
    # time it spent training (train_seconds); counting the checkpoint's steps too would make it
    # steps / ran times larger
    local ts steps global
    ts=$(json_field "$T/$name.res.json" train_seconds)
    steps=$(json_field "$T/$name.res.json" steps)
    global=$(json_field "$T/$name.res.json" global_batch)
    awk -v a="$res" -v t="$ts" -v ran=$((steps - stop)) -v g="$global" \
        'BEGIN { d = a * t - ran * g; exit !(a > 0 && ran > 0 && d * d <= (1e-3 * ran * g)^2) }' && ok ||
        bad "$name: train_samples_per_s $res x train_seconds $ts resumed is not the $((steps - stop)) steps of $global samples it ran (uninterrupted: $full samples/s)"
}
figures_case serial_mid_epoch 60 nompi env -- --mode serial --batch 32
figures_case serial_late 240 nompi env -- --mode serial --batch 32
figures_case serial_epoch_end 128 nompi env -- --mode serial --batch 32
figures_case ddp 200 mpirun_ -np 2 -- --batch 16

# A second Ctrl-C while a checkpoint is being written ends the run at once and leaves no
# temporary file (the test switch holds the writer inside the write, its temporary file open)
S50=(--mode serial --model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 512
    --synthetic-test 64 --epochs 50 --batch 32 --quiet)
TDP_TEST_CKPT_PAUSE="$T/never" "$BIN/ddp_train" "${S50[@]}" --checkpoint "$T/int2.ckpt" \
    --checkpoint-every 3 >/dev/null 2>"$T/int2.err" &
pid=$!
t0=$SECONDS
for ((i = 0; i < 600; i++)); do compgen -G "$T/int2.ckpt.tmp.*" >/dev/null && break; sleep 0.05; done
compgen -G "$T/int2.ckpt.tmp.*" >/dev/null && ok || bad "second SIGINT: the writer never paused in its write"
kill -INT $pid
# the first one delivered (not pending any more) before the second is sent
for ((i = 0; i < 200; i++)); do
    pend=$(sed -n 's/^ShdPnd:\s*//p' "/proc/$pid/status" 2>/dev/null)
    [[ -n $pend ]] && (((16#$pend & 2) == 0)) && break
    sleep 0.05
done
kill -INT $pid
wait $pid
rc=$?
[[ $rc == 130 ]] && ok || bad "second SIGINT: exit $rc (expected death by SIGINT, 130): $(cat "$T/int2.err")"
((SECONDS - t0 < 30)) && ok || bad "second SIGINT: took $((SECONDS - t0)) s"
compgen -G "$T/int2.ckpt*" >/dev/null && bad "second SIGINT: left $(ls "$T" | grep int2.ckpt)" || ok
[[ -z $(pgrep -f "$T/int2.ckpt") ]] && ok || bad "second SIGINT: process left"

# no temporary files left next to the checkpoints
ls "$T" | grep -q '\.tmp\.' && bad "temporary files left: $(ls "$T")" || ok
finish
