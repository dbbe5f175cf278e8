#!/usr/bin/env bash
# test_progress.sh: what a run shows while it trains and the curves it records (issue 16):
#   1. --progress, --log-every and --metrics are checked before any work (exit 2, one line naming
#      the option; a FIFO, a directory, an output that is another output refused; nothing made);
#   2. --log-every N prints a line every N steps (step, epoch, loss, samples/s, comm, ETA; at
#      most 100 columns; plain lines, no carriage return, in a pipe), serial and under
#      `mpirun -np 2` (rank 0 alone prints);
#   3. under a pseudo-terminal (script(1)), `mpirun -np 2` shows the live bar on rank 0 (carriage
#      returns) with the lines; --progress off and --progress lines draw no bar, --progress bar
#      draws one in a pipe, and auto draws none in a pipe;
#   4. --metrics writes one JSON object per line: a record every --log-every steps and one per
#      epoch, with their keys (an epoch's loss is the mean of its step records'); serial, DP and DDP on the same global batch report the same loss
#      (1e-5 relative, as test_figures.sh accepts) at the same steps; --quiet still writes it; a
#      run that fails leaves no file, a stopped one the records of its steps;
#   5. scripts/py/plot_curves.py draws them into a PNG of 1400 x 1000 px; bad input: exit 2, no
#      PNG.
# Every run is bounded in time and leaves nothing behind. Prints "N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/lib.sh"
export MPI_TIMEOUT=60
PY=/usr/bin/python3
TR=$BIN/ddp_train
# 16 steps an epoch of a global batch of 64
S0=(--model "$SRC/models/fashion-mlp.cfg" --data synthetic --synthetic-train 1024
    --synthetic-test 256 --epochs 3 --max-steps 40 --seed 7)
S=("${S0[@]}" --lr 0.0005)
W=$T/w
mkdir -p "$W"
empty() { [[ -z $(ls -A "$W") ]] && ok || bad "$1: left $(ls -A "$W" | tr '\n' ' ')"; }

# ---------------------------------------------------------------- 1. refusals, before any work
mkfifo "$W/fifo"
refuse() { # refuse OPTION-NAMED ARGS...: exit 2, one line naming the option, nothing made
    local what=$1
    shift
    timeout -k 2 20 "$TR" --mode serial "${S[@]}" "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [[ $rc == 2 && $(wc -l <"$T/err") == 1 ]] && grep -q -- "--$what" "$T/err" && [[ ! -s $T/out ]] &&
        ok || bad "$* : want exit 2 and one line naming --$what, got $rc: $(cat "$T/err")"
}
refuse progress --progress fancy
refuse progress --progress bar --progress off
refuse log-every --log-every 0
refuse log-every --log-every -5
refuse log-every --log-every 1.5
refuse metrics --metrics "$W/fifo"
refuse metrics --metrics "$W"
refuse metrics --metrics "$W/no/such/dir/m.jsonl"
refuse metrics --metrics "$W/same" --json "$W/same"
rm -f "$W/fifo"
empty "refusals"

# ---------------------------------------------------------------- 2. lines every N steps
LINE='^step [0-9]+/40  epoch [1-3]/3  loss [0-9]+\.[0-9]{4}  samples/s [0-9]+  (comm [0-9]+%  )?eta [0-9hmds]+$'
lines_ok() { # lines_ok NAME FILE WANT-COMM: steps 10, 20, 30, 40, in format, <= 100 columns
    local name=$1 f=$2 comm=$3
    local got
    got=$(grep '^step ' "$f" | sed 's/^step \([0-9]*\)\/.*/\1/' | tr '\n' ' ')
    [[ $got == "10 20 30 40 " ]] && ok || bad "$name: step lines at '$got', want 10 20 30 40"
    grep '^step ' "$f" | grep -Evq "$LINE" && bad "$name: a line out of format: $(grep '^step ' "$f" | grep -Ev "$LINE" | head -1)" || ok
    (($(grep '^step ' "$f" | grep -c 'comm ') == (comm ? 4 : 0))) && ok || bad "$name: comm field (want: $comm)"
    (($(grep '^step ' "$f" | awk '{ if (length > m) m = length } END { print m + 0 }') <= 100)) && ok ||
        bad "$name: a line longer than 100 columns"
    ! grep -q $'\r' "$f" && ok || bad "$name: carriage returns in a pipe"
}
timeout -k 2 30 "$TR" --mode serial "${S[@]}" --batch 64 --log-every 10 >"$T/serial.out" 2>"$T/err" &&
    ok || bad "serial --log-every: $(cat "$T/err")"
lines_ok serial "$T/serial.out" 0
mpirun_ -np 2 "$TR" --mode ddp "${S[@]}" --batch 32 --log-every 10 >"$T/ddp.out" 2>"$T/err" &&
    ok || bad "mpirun --log-every: $(cat "$T/err")"
lines_ok "mpirun -np 2" "$T/ddp.out" 1
# without --log-every, nothing between the configuration and the epoch lines (as before)
timeout -k 2 30 "$TR" --mode serial "${S[@]}" --batch 64 >"$T/plain.out" 2>&1
! grep -q '^step ' "$T/plain.out" && ok || bad "step lines without --log-every"
# --progress lines alone: every tenth of an epoch (of 16 steps: every step)
timeout -k 2 30 "$TR" --mode serial "${S[@]}" --batch 64 --progress lines >"$T/l.out" 2>&1
(($(grep -c '^step ' "$T/l.out") == 40)) && ok || bad "--progress lines: $(grep -c '^step ' "$T/l.out") lines, want 40"

# ---------------------------------------------------------------- 3. the bar under a pseudo-terminal
under_pty() { # under_pty OUT COMMAND...: the command's output through a pseudo-terminal
    local out=$1
    shift
    timeout -k 5 90 script -qec "$(printf '%q ' "$@")" /dev/null </dev/null >"$out" 2>&1
}
MPI=(mpirun --oversubscribe --bind-to none -np 2)
under_pty "$T/pty.out" "${MPI[@]}" "$TR" --mode ddp "${S[@]}" --batch 32 --log-every 10 &&
    ok || bad "mpirun under a pty failed: $(tail -3 "$T/pty.out")"
grep -aq $'\repoch 1 \[' "$T/pty.out" && ok || bad "no live bar under a pty: $(head -c 600 "$T/pty.out" | cat -A)"
(($(tr '\r' '\n' <"$T/pty.out" | grep -ac '^.\[Kstep [0-9]*/40  epoch') == 4)) && ok ||
    bad "under a pty: want 4 step lines: $(tr '\r' '\n' <"$T/pty.out" | grep -a 'step ' | cat -A)"
grep -aq '^done: 40 steps' "$T/pty.out" && ok || bad "under a pty: no done line"
for p in off lines; do
    under_pty "$T/pty-$p.out" "${MPI[@]}" "$TR" --mode ddp "${S[@]}" --batch 32 --progress $p
    grep -aq '^done: 40 steps' "$T/pty-$p.out" && ! grep -aq $'\repoch [0-9]* \[' "$T/pty-$p.out" && ok ||
        bad "--progress $p under a pty: a bar, or no done line"
done
timeout -k 2 30 "$TR" --mode serial "${S[@]}" --batch 64 --progress bar >"$T/bar.out" 2>&1
grep -aq $'\repoch 3 \[##############################\] 8/8' "$T/bar.out" && ok ||
    bad "--progress bar in a pipe: no full bar of the last, partial epoch"
! grep -aq $'\r' "$T/plain.out" "$T/ddp.out" && ok || bad "auto drew a bar in a pipe"

# ---------------------------------------------------------------- 4. the curves
runm() { # runm NAME LAUNCH... -- ARGS...: a run with --metrics $T/NAME.jsonl
    local name=$1
    shift
    local launch=()
    while [[ $1 != -- ]]; do launch+=("$1"); shift; done
    shift
    "${launch[@]}" "$TR" "${S[@]}" --log-every 8 --quiet --metrics "$T/$name.jsonl" "$@" \
        >"$T/$name.out" 2>"$T/$name.err" && ok || bad "$name: exit $?: $(cat "$T/$name.err")"
    [[ ! -s $T/$name.out ]] && ok || bad "$name: --quiet printed $(head -2 "$T/$name.out")"
}
runm serial timeout -k 2 30 -- --mode serial --batch 64
runm dp timeout -k 2 30 -- --mode dp --workers 2 --batch 32
runm ddp mpirun_ -np 2 -- --mode ddp --batch 32
runm hybrid mpirun_ -np 2 -- --mode ddp --workers 2 --batch 16
"$PY" - "$T" <<'EOF' && ok || bad "metrics records"
import json, math, sys
T = sys.argv[1]
STEP = {"kind", "step", "epoch", "loss", "lr", "samples_per_s", "comm_seconds", "seconds"}
EPOCH = STEP | {"train_accuracy", "test_accuracy"}
def load(name):
    recs = [json.loads(line) for line in open(f"{T}/{name}.jsonl")]
    steps = [r for r in recs if r["kind"] == "step"]
    epochs = [r for r in recs if r["kind"] == "epoch"]
    assert [r["step"] for r in steps] == list(range(8, 41, 8)), (name, [r["step"] for r in steps])
    assert [(r["epoch"], r["step"]) for r in epochs] == [(1, 16), (2, 32), (3, 40)], (name, epochs)
    assert len(recs) == 8, name
    # the step records' losses are their windows' means: an epoch's loss is the mean of its own
    for e, ws in ((epochs[0], steps[0:2]), (epochs[1], steps[2:4]), (epochs[2], steps[4:5])):
        mean = sum(w["loss"] for w in ws) / len(ws)
        assert math.isclose(e["loss"], mean, rel_tol=1e-5), (name, e, ws)
    for r in steps:
        assert set(r) == STEP, (name, sorted(r))
    for r in epochs:
        assert set(r) == EPOCH, (name, sorted(r))
    secs = [r["seconds"] for r in recs]
    assert all(b >= a for a, b in zip(secs, secs[1:])) and secs[0] > 0, (name, secs)
    assert all(r["lr"] > 0 and r["loss"] > 0 and r["samples_per_s"] > 0 for r in recs), name
    return recs
ref = load("serial")
for name in ("dp", "ddp", "hybrid"):
    recs = load(name)
    for a, b in zip(ref, recs):
        assert a["step"] == b["step"] and a["kind"] == b["kind"]
        assert math.isclose(a["loss"], b["loss"], rel_tol=1e-5), (name, a, b)
        assert math.isclose(a["lr"], b["lr"], rel_tol=1e-6), (name, a, b)
        if a["kind"] == "epoch":  # within one sample of the serial run, as test_figures.sh
            assert abs(a["test_accuracy"] - b["test_accuracy"]) <= 1 / 256 + 1e-9, (name, a, b)
    if name != "dp":
        assert recs[-1]["comm_seconds"] > 0, (name, recs[-1])
print("metrics: 8 records each, the same losses in serial, dp, ddp and hybrid")
EOF
# a failed run leaves no file; a stopped one the records of the steps it ran
timeout -k 2 30 "$TR" --mode serial "${S0[@]}" --lr 1000 --log-every 5 --metrics "$W/m.jsonl" >/dev/null 2>"$T/err"
[[ $? == 1 ]] && grep -q "loss became" "$T/err" && ok || bad "a diverging run: $(cat "$T/err")"
empty "a failed run"
TDP_TEST_STOP_AFTER=12 timeout -k 2 30 "$TR" --mode serial "${S[@]}" --log-every 5 --metrics "$W/m.jsonl" \
    --quiet 2>"$T/err"
[[ $? == 75 ]] && [[ $(sed 's/.*"step": \([0-9]*\),.*/\1/' "$W/m.jsonl" | tr '\n' ' ') == "5 10 " ]] && ok ||
    bad "a stopped run: $(cat "$T/err"; cat "$W/m.jsonl")"
rm -f "$W/m.jsonl"
empty "a stopped run"

# ---------------------------------------------------------------- 5. the plot
"$PY" "$SRC/scripts/py/plot_curves.py" --out "$W/c.png" --title "test" serial="$T/serial.jsonl" \
    DP="$T/dp.jsonl" DDP="$T/ddp.jsonl" 2>"$T/err" && ok || bad "plot_curves.py: $(cat "$T/err")"
[[ $(file -b "$W/c.png") == "PNG image data, 1400 x 1000"* ]] && ok || bad "the PNG: $(file -b "$W/c.png")"
rm -f "$W/c.png"
echo '{"kind": "step"' >"$T/broken.jsonl"
"$PY" "$SRC/scripts/py/plot_curves.py" --out "$W/c.png" a="$T/broken.jsonl" 2>"$T/err"
[[ $? == 2 ]] && grep -q "broken.jsonl:1" "$T/err" && ok || bad "a broken metrics file: $(cat "$T/err")"
"$PY" "$SRC/scripts/py/plot_curves.py" --out "$W/c.png" "$T/serial.jsonl" 2>"$T/err"
[[ $? == 2 ]] && grep -q "LABEL=FILE" "$T/err" && ok || bad "no label: $(cat "$T/err")"
empty "the plots"

finish
