#!/usr/bin/env bash
# test_hostile_io.sh: hostile inputs and outputs of ddp_train. A FIFO given as the model, a data
# file, the checkpoint to resume from or an output is refused at once (exit 2) instead of
# blocking; a stop signal during set-up ends the run before training (exit 75); every output
# path is checked in full before training (its name with the temporary suffix, an output that is
# an input or another output); a run that fails after training writes none of its outputs.
# Every case asserts the exit status, the message, a time bound, and that nothing is left behind
# (files, *.tmp.* temporaries, processes).
set -uo pipefail
source "$(dirname "$0")/lib.sh"

TR="$BIN/ddp_train"
W="$T/w" # each case's working directory: its inputs, and what the run may leave
S0=(--data synthetic --synthetic-train 512 --synthetic-test 128 --max-steps 5 --batch 32)
S=(--mode serial "${S0[@]}")

# a fresh working directory holding the model file
fresh() {
    rm -rf "$W"
    mkdir -p "$W"
    cp "$SRC/models/tiny.cfg" "$W/m.cfg"
}

# left NAME FILE...: the working directory holds exactly FILE... (names relative to it), no
# temporary, and no process started by this script is left
left() {
    local name=$1
    shift
    local want have
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    have=$(cd "$W" && find . -mindepth 1 -printf '%P\n' | sort | tr '\n' ' ')
    [[ $have == "$want" ]] && ok || bad "$name: left behind: '$have', expected '$want'"
    for ((i = 0; i < 100; i++)); do [[ -z $(pgrep -f "$T/") ]] && break; sleep 0.05; done
    [[ -z $(pgrep -f "$T/") ]] && ok || bad "$name: processes left: $(pgrep -af "$T/")"
}

# expect NAME STATUS SECONDS PATTERN COMMAND...: the command ends within SECONDS with STATUS and
# PATTERN (grep -E) on stderr; an empty PATTERN: nothing on stderr
expect() {
    local name=$1 want=$2 limit=$3 pat=$4
    shift 4
    local t0 rc el
    t0=$(date +%s.%N)
    timeout -k 2 "$limit" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    [[ $rc == "$want" ]] && ok || bad "$name: exit $rc after $el s, expected $want: $(head -c 600 "$T/err")"
    awk -v e="$el" -v l="$limit" 'BEGIN { exit !(e < l) }' && ok || bad "$name: took $el s (bound $limit s)"
    if [[ -z $pat ]]; then
        [[ ! -s $T/err ]] && ok || bad "$name: stderr: $(head -c 600 "$T/err")"
    else
        grep -Eq -- "$pat" "$T/err" && ok || bad "$name: message: $(head -c 600 "$T/err")"
    fi
}

# 1. FIFOs as inputs: refused at once, naming the option or the file
fresh
mkfifo "$W/f"
expect "FIFO --model" 2 20 "--model $W/f: not a regular file \(a FIFO\)" "$TR" --model "$W/f" "${S[@]}"
left "FIFO --model" m.cfg f
fresh
mkfifo "$W/f"
expect "FIFO --resume" 2 20 "--resume $W/f: not a regular file \(a FIFO\)" \
    "$TR" --model "$W/m.cfg" "${S[@]}" --resume "$W/f"
left "FIFO --resume" m.cfg f
# other files that are not regular files: a device, a directory
expect "device --model" 2 20 "--model /dev/zero: not a regular file \(a character device\)" \
    "$TR" --model /dev/zero "${S[@]}"
expect "directory --resume" 2 20 "--resume $W: not a regular file \(a directory\)" \
    "$TR" --model "$W/m.cfg" "${S[@]}" --resume "$W"
left "device, directory" m.cfg f
fresh
mkfifo "$W/f"

# a data directory with the four Fashion-MNIST files (4 images of 28x28), the last a FIFO
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
mkdir "$W/d"
for s in train t10k; do
    { printf '\x00\x00\x08\x03'; be32 4; be32 28; be32 28; head -c $((4 * 784)) /dev/zero; } >"$W/d/$s-images-idx3-ubyte"
done
{ printf '\x00\x00\x08\x01'; be32 4; printf '\x00\x01\x02\x03'; } >"$W/d/train-labels-idx1-ubyte"
mkfifo "$W/d/t10k-labels-idx1-ubyte"
expect "FIFO data file" 2 20 "--data $W/d/t10k-labels-idx1-ubyte: not a regular file \(a FIFO\)" \
    "$TR" --model "$W/m.cfg" --data "$W/d" --max-steps 5
left "FIFO data file" m.cfg f d d/train-images-idx3-ubyte d/t10k-images-idx3-ubyte \
    d/train-labels-idx1-ubyte d/t10k-labels-idx1-ubyte

# 2. FIFOs as outputs: refused before any work (a write would block at the end of the run)
for opt in checkpoint json dump-weights trace; do
    expect "FIFO --$opt" 2 20 "--$opt $W/f: not a regular file \(a FIFO, writing to it would block\)" \
        "$TR" --model "$W/m.cfg" "${S[@]}" --"$opt" "$W/f"
    [[ ! -s $T/out ]] && ok || bad "FIFO --$opt: the run started: $(cat "$T/out")"
done
left "FIFO outputs" m.cfg f d d/train-images-idx3-ubyte d/t10k-images-idx3-ubyte \
    d/train-labels-idx1-ubyte d/t10k-labels-idx1-ubyte

# 3. a stop signal during set-up: the run stops before training, nothing saved. The test switch
#    TDP_TEST_SETUP_WAIT makes set-up wait (for a signal) after writing the process id to a file.
# setup_signal NAME SIGNAL LAUNCH...: run, wait for the file, send SIGNAL to that process
setup_signal() {
    local name=$1 sig=$2
    shift 2
    rm -f "$W/ready"
    local t0=$(date +%s.%N)
    TDP_TEST_SETUP_WAIT="$W/ready" "$@" >"$T/out" 2>"$T/err" &
    local job=$! i
    for ((i = 0; i < 600; i++)); do [[ -s $W/ready ]] && break; sleep 0.05; done
    if [[ -s $W/ready ]]; then
        kill -"$sig" "$(cat "$W/ready")"
    else
        bad "$name: set-up never reached its wait"
    fi
    wait $job
    rc=$?
    el=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    rm -f "$W/ready"
    [[ $rc == 75 ]] && ok || bad "$name: exit $rc, expected 75: $(cat "$T/err")"
    awk -v e="$el" 'BEGIN { exit !(e < 30) }' && ok || bad "$name: took $el s"
}
fresh
# serial mode, and the default mode (ddp, a world of one without mpirun)
for case in "TERM serial" "INT serial" "USR1 serial" "TERM ddp"; do
    read -r sig mode <<<"$case"
    setup_signal "SIG$sig in set-up ($mode)" "$sig" timeout -k 2 30 "$TR" --model "$W/m.cfg" \
        --mode "$mode" "${S0[@]}" --checkpoint "$W/ck" --json "$W/j.json" --dump-weights "$W/w.bin"
    grep -q "stopped by SIG$sig during set-up, before training: nothing saved; exit status 75" "$T/err" &&
        ok || bad "SIG$sig in set-up ($mode): message: $(cat "$T/err")"
    ! grep -q "^epoch" "$T/out" && ok || bad "SIG$sig in set-up ($mode): trained: $(cat "$T/out")"
    left "SIG$sig in set-up ($mode)" m.cfg
    fresh
done

# 4. outputs checked in full before training (no training line printed), exit 2
fresh
long300=$(printf 'n%.0s' {1..300})
expect "300-character name" 2 20 "--dump-weights $W/$long300: the name is too long \(300 characters" \
    "$TR" --model "$W/m.cfg" "${S[@]}" --dump-weights "$W/$long300"
! grep -q "^epoch" "$T/out" && ok || bad "300-character name: trained first"
# 250 characters fit NAME_MAX, but not with the temporary's suffix .tmp.PID
long250=$(printf 'c%.0s' {1..250})
expect "250-character checkpoint" 2 20 "--checkpoint $W/$long250: the name is too long \(250 characters; at most 240 with the 15 of the temporary" \
    "$TR" --model "$W/m.cfg" "${S[@]}" --checkpoint "$W/$long250"
! grep -q "^epoch" "$T/out" && ok || bad "250-character checkpoint: trained first"
# 4090 characters: the option takes it, the path with the temporary's suffix exceeds PATH_MAX
long=$W
while ((${#long} < 4088)); do long+=/x; done
long=${long:0:4088}y
expect "path over PATH_MAX" 2 20 "--json: the path is too long \(4089 characters; at most 4080" \
    "$TR" --model "$W/m.cfg" "${S[@]}" --json "$long"
left "long names" m.cfg
fresh

# 5. an output that is an input or another output: exit 2, naming both; nothing changed
sum0=$(cksum <"$W/m.cfg")
expect "--json the model" 2 20 "--json $W/m.cfg and --model $W/m.cfg are the same file" \
    "$TR" --model "$W/m.cfg" "${S[@]}" --json "$W/m.cfg"
[[ $(cksum <"$W/m.cfg") == "$sum0" ]] && ok || bad "--json the model: the model changed"
ln -s m.cfg "$W/link.cfg"
expect "--dump-weights a link to the model" 2 20 "--dump-weights $W/link.cfg and --model $W/m.cfg are the same file" \
    "$TR" --model "$W/m.cfg" "${S[@]}" --dump-weights "$W/link.cfg"
[[ $(cksum <"$W/m.cfg") == "$sum0" ]] && ok || bad "--dump-weights a link: the model changed"
rm "$W/link.cfg"
expect "--checkpoint X --dump-weights X" 2 20 "--checkpoint $W/x and --dump-weights $W/./x are the same file" \
    "$TR" --model "$W/m.cfg" "${S[@]}" --checkpoint "$W/x" --dump-weights "$W/./x"
left "aliases" m.cfg
fresh
# --checkpoint X --resume X is the one pair allowed: resume, and go on checkpointing to X
TDP_TEST_STOP_AFTER=2 timeout -k 2 30 "$TR" --model "$W/m.cfg" "${S[@]}" --checkpoint "$W/ck" --quiet 2>"$T/err"
[[ $? == 75 && -s $W/ck ]] && ok || bad "checkpoint for the resume case: $(cat "$T/err")"
cksum <"$W/ck" >"$T/ck.sum"
expect "--checkpoint X --resume X" 0 30 "" "$TR" --model "$W/m.cfg" "${S[@]}" --checkpoint "$W/ck" \
    --resume "$W/ck" --json "$W/j.json" --quiet
[[ $(cksum <"$W/ck") != "$(cat "$T/ck.sum")" ]] && grep -q '"steps": 5,' "$W/j.json" && ok ||
    bad "--checkpoint X --resume X: checkpoint not rewritten or wrong steps: $(cat "$W/j.json")"
left "--checkpoint X --resume X" m.cfg ck j.json

# 6. a failure after training writes none of the outputs (exit 1), temporaries removed
fresh
expect "--json /dev/full" 1 30 "writing /dev/full: No space left on device" \
    "$TR" --model "$W/m.cfg" "${S[@]}" --dump-weights "$W/w.bin" --checkpoint "$W/ck" \
    --trace "$W/t.json" --json /dev/full --quiet
left "--json /dev/full" m.cfg
fresh
# an output directory removed during the run (while set-up waits)
mkdir "$W/o1" "$W/o2"
TDP_TEST_SETUP_WAIT="$W/ready" timeout -k 2 30 "$TR" --model "$W/m.cfg" "${S[@]}" --quiet \
    --dump-weights "$W/o1/w.bin" --checkpoint "$W/o1/ck" --json "$W/o2/j.json" 2>"$T/err" &
job=$!
for ((i = 0; i < 600; i++)); do [[ -s $W/ready ]] && break; sleep 0.05; done
rmdir "$W/o2"
rm -f "$W/ready" # set-up goes on
wait $job
rc=$?
[[ $rc == 1 ]] && grep -q "j.json" "$T/err" && ok || bad "removed output directory: exit $rc: $(cat "$T/err")"
left "removed output directory" m.cfg o1
# /dev/null is still written in place, by several outputs
expect "/dev/null outputs" 0 30 "" "$TR" --model "$W/m.cfg" "${S[@]}" --quiet --json /dev/null \
    --dump-weights /dev/null --trace /dev/null
[[ -c /dev/null ]] && ok || bad "/dev/null replaced"
# but not by a checkpoint (a file to resume from: it would fail at the end of the run)
expect "/dev/null --checkpoint" 2 20 "--checkpoint /dev/null: not a regular file \(a character device\)" \
    "$TR" --model "$W/m.cfg" "${S[@]}" --checkpoint /dev/null
[[ -c /dev/null && ! -s $T/out ]] && ok || bad "/dev/null --checkpoint: trained or replaced /dev/null"

# 7. the same under mpirun, 2 ranks: both end, with the message once
if [[ -z ${TDP_NO_MPI:-} ]] && command -v mpirun >/dev/null; then
    fresh
    mkfifo "$W/f"
    expect "ddp: FIFO --model" 2 60 "--model $W/f: not a regular file \(a FIFO\)" \
        mpirun --oversubscribe --bind-to none -np 2 "$TR" --mode ddp --model "$W/f" "${S0[@]}"
    [[ $(grep -c "not a regular file" "$T/err") == 1 ]] && ok || bad "ddp: FIFO --model: message not once: $(cat "$T/err")"
    left "ddp: FIFO --model" m.cfg f
    fresh
    # the signal to rank 1 only: rank 0 stops too
    rm -f "$W/ready"
    t0=$(date +%s)
    TDP_TEST_SETUP_WAIT="$W/ready" TDP_TEST_SETUP_WAIT_RANK=1 mpirun_ -np 2 \
        -x TDP_TEST_SETUP_WAIT -x TDP_TEST_SETUP_WAIT_RANK "$TR" --mode ddp --model "$W/m.cfg" \
        "${S0[@]}" --checkpoint "$W/ck" --json "$W/j.json" >"$T/out" 2>"$T/err" &
    job=$!
    for ((i = 0; i < 600; i++)); do [[ -s $W/ready ]] && break; sleep 0.05; done
    [[ -s $W/ready ]] && kill -TERM "$(cat "$W/ready")"
    wait $job
    rc=$?
    rm -f "$W/ready"
    [[ $rc == 75 && $(($(date +%s) - t0)) -lt 60 ]] && ok || bad "ddp: SIGTERM to rank 1 in set-up: exit $rc: $(cat "$T/err")"
    grep -q "stopped by a stop request from another rank during set-up" "$T/err" && ok ||
        bad "ddp: SIGTERM to rank 1 in set-up: message: $(cat "$T/err")"
    left "ddp: SIGTERM in set-up" m.cfg
    fresh
    expect "ddp: --json /dev/full" 1 60 "writing /dev/full: No space left on device" \
        mpirun --oversubscribe --bind-to none -np 2 "$TR" --mode ddp --model "$W/m.cfg" "${S0[@]}" \
        --dump-weights "$W/w.bin" --checkpoint "$W/ck" --trace "$W/t.json" --json /dev/full --quiet
    left "ddp: --json /dev/full" m.cfg
fi
finish
