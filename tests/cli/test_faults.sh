#!/usr/bin/env bash
# test_faults.sh: injected faults. A rank killed mid-epoch ends the job non-zero within 10 s with
# no process left and the last checkpoint loading; a hung rank (test switch) ends the job within
# --comm-timeout plus a few seconds, naming it; a writer killed at random moments while
# checkpointing always leaves a checkpoint that loads; --check-sync reports a rank whose weights
# were nudged; what cannot fit in memory is refused before allocating.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

# ddp_train refuses an option given twice: D0 without --batch
D0=(--model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 4096 --synthetic-test 256
    --quiet)
D=("${D0[@]}" --batch 16)
# 1. a rank dies: kill -9 one rank mid-epoch
marker="$T/dies.json"
mpirun_ -np 2 "$BIN/ddp_train" "${D[@]}" --epochs 500 --checkpoint "$T/dies.ckpt" \
    --checkpoint-every 20 --json "$marker" >/dev/null 2>&1 &
mp=$!
for ((i = 0; i < 400; i++)); do [[ -s $T/dies.ckpt ]] && break; sleep 0.05; done
victim=$(pgrep -f "ddp_train.*$marker" | tail -1)
if [[ -n $victim && -s $T/dies.ckpt ]]; then
    t0=$(date +%s.%N)
    kill -9 "$victim"
    wait $mp
    rc=$?
    el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    [[ $rc != 0 ]] && ok || bad "mpirun exit 0 after a rank was killed"
    awk -v e="$el" 'BEGIN { exit !(e < 10) }' && ok || bad "mpirun took $el s to end after a rank died"
    echo "rank killed: mpirun ended in $el s with status $rc"
    sleep 0.2
    [[ -z $(pgrep -f "ddp_train.*$marker") ]] && ok || bad "processes left: $(pgrep -af "ddp_train.*$marker")"
    cp "$T/dies.ckpt" "$T/dies2.ckpt"
    # the options of that run, one rank, same global batch (2 x 16): it loads and goes on one step
    TDP_TEST_STOP_AFTER=1 "$BIN/ddp_train" --mode ddp "${D0[@]}" --epochs 500 --batch 32 \
        --resume "$T/dies2.ckpt" >/dev/null 2>"$T/err"
    rc=$?
    [[ $rc == 75 ]] && ok || bad "the last checkpoint did not load: exit $rc $(cat "$T/err")"
else
    kill -9 $mp 2>/dev/null
    bad "could not start the job to kill a rank of"
fi

# 2. a rank hangs: --comm-timeout names it
start=$(date +%s)
TDP_TEST_STALL_RANK=1 TDP_TEST_STALL_STEP=5 mpirun_ -np 3 -x TDP_TEST_STALL_RANK -x TDP_TEST_STALL_STEP \
    "$BIN/ddp_train" "${D[@]}" --epochs 2 --comm-timeout 2 >"$T/hang.log" 2>&1
rc=$?
el=$(($(date +%s) - start))
[[ $rc != 0 && $rc != 124 && $el -le 12 ]] && ok || bad "hung rank: exit $rc after $el s"
grep -q "did not complete within --comm-timeout 2 s: rank(s) that did not arrive: 1" "$T/hang.log" &&
    ok || bad "hung rank not named: $(grep ddp_train "$T/hang.log")"

# 3. the writer killed at random moments while checkpointing (every step): the checkpoint on disk
#    always loads
kills=0 loaded=0
for ((i = 0; i < 12; i++)); do
    rm -f "$T"/w.ckpt*
    "$BIN/ddp_train" --mode serial "${D0[@]}" --epochs 50 --batch 32 --checkpoint "$T/w.ckpt" \
        --checkpoint-every 1 >/dev/null 2>&1 &
    pid=$!
    for ((j = 0; j < 200; j++)); do [[ -s $T/w.ckpt ]] && break; sleep 0.01; done
    sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
    kill -9 $pid 2>/dev/null && kills=$((kills + 1))
    wait $pid 2>/dev/null
    if [[ -s $T/w.ckpt ]]; then
        TDP_TEST_STOP_AFTER=1 "$BIN/ddp_train" --mode serial "${D0[@]}" --epochs 50 --batch 32 \
            --resume "$T/w.ckpt" >/dev/null 2>"$T/err"
        rc=$?
        [[ $rc == 75 || $rc == 0 ]] && loaded=$((loaded + 1)) || bad "killed writer left a checkpoint that does not load: $(cat "$T/err")"
    fi
done
echo "writer killed $kills times; the checkpoint loaded $loaded times"
((kills >= 10 && loaded >= 10)) && ok || bad "too few kills ($kills) or loads ($loaded)"

# 4. --check-sync reports a rank whose weights were nudged
TDP_TEST_PERTURB_RANK=1 TDP_TEST_PERTURB_STEP=7 mpirun_ -np 2 -x TDP_TEST_PERTURB_RANK -x TDP_TEST_PERTURB_STEP \
    "$BIN/ddp_train" "${D[@]}" --epochs 1 --check-sync 5 >"$T/sync.log" 2>&1
[[ $? != 0 ]] && grep -q "the weights of rank 1 differ from rank 0's after step 10" "$T/sync.log" &&
    ok || bad "--check-sync: $(grep ddp_train "$T/sync.log")"
mpirun_ -np 2 "$BIN/ddp_train" "${D[@]}" --epochs 1 --check-sync 1 --comm-timeout 30 && ok ||
    bad "--check-sync on an undisturbed run"

# 5. limits: refused before allocating, with the size
printf '[net]\ninput=784\noutput=10\n[dense]\nunits=65536\n[dense]\nunits=65536\n[dense]\nunits=65536\n[dense]\nunits=10\nactivation=none\n' >"$T/huge.cfg"
"$BIN/ddp_train" --model "$T/huge.cfg" --data synthetic --synthetic-train 100 --synthetic-test 10 2>"$T/err"
[[ $? == 2 ]] && grep -qE "huge.cfg needs [0-9.]+ GB of memory \(.*model and optimizer [0-9.]+ GB" "$T/err" && ok || bad "huge model: $(cat "$T/err")"
printf '[net]\ninput=65536\noutput=10\n[dense]\nunits=10\nactivation=none\n' >"$T/wideinput.cfg"
"$BIN/ddp_train" --model "$T/wideinput.cfg" --data synthetic --synthetic-train 10000000 2>"$T/err"
[[ $? == 2 ]] && grep -q "the synthetic set needs .* GB" "$T/err" && ok || bad "huge data: $(cat "$T/err")"
for bad_opt in "--batch 0" "--batch -1" "--workers 100000" "--lr nan" "--lr -0.1" "--epochs -2" \
    "--comm-timeout -1" "--check-sync -5" "--accum 0"; do
    "$BIN/ddp_train" $bad_opt 2>/dev/null
    [[ $? == 2 ]] && ok || bad "$bad_opt was not refused with exit 2"
done
finish
