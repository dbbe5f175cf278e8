#!/usr/bin/env bash
# test_figures.sh: every figure a run reports, not only its weights. Serial, DP (threads, with and
# without the lock, with accumulation), DDP (overlapped buckets, one allreduce, deterministic,
# accumulation, a world of one) and hybrid (ranks x threads) train on the same global batch of 64
# for 40 steps over 3 epochs (the last one partial). Against the serial run, each must report
#   - the same weights (1e-5 relative, as test_ddp.sh and test_dp.sh accept);
#   - the same loss (JSON final_loss 1e-5 relative; every epoch line within its last printed
#     digit), train accuracy and test accuracy (each epoch line and the JSON, within one sample
#     of the serial run: the serial run's rounding differs);
#   - the same steps, epochs, params (counted from the layer sizes), global batch;
#   - the mode's own figures: workers, world_size, batch, and the bytes it moved:
#       replicated_bytes_total = steps x accum x workers x params x 4 (DP; 0 elsewhere), and the
#       DP epoch lines' cumulative "replicated MB", and the "bytes per step" of the set-up line;
#       broadcast_bytes = params x 4 and allreduce_bytes_per_step = (params + 2) x 4 (the loss
#       and stop slots travel with the gradient) with more than one rank, 0 otherwise;
#   - a throughput consistent with the run's time: train_samples_per_s x seconds >= steps x
#     global batch (training time is part of the run's time);
#   - the "done:" line and the last epoch line agree with the JSON.
# DP and DDP with --deterministic and the same 4 workers have bitwise-identical weights, so their
# accuracies must be identical too. And the step loop's sums, shared by every mode, are checked on
# their own: with the weights held still, 16 steps of 64 report what 1 step of 1024 reports. Every run ends in time, leaves no temporaries or processes.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
export MPI_TIMEOUT=60

G=64
K=40
BASE=(--model "$SRC/models/fashion-mlp.cfg" --data synthetic --synthetic-train 1024
    --synthetic-test 256)
DATA=("${BASE[@]}" --epochs 3 --max-steps $K --lr 0.0005)
: >"$T/runs"

# run NAME MODE WORLD WORKERS BATCH ACCUM LAUNCH... -- ddp_train-args...: one run, not --quiet (the
# epoch lines are figures too), with --workers WORKERS in dp mode; WORLD ranks and WORKERS workers
# in all (ranks x threads) are what it should report; recorded in $T/runs
run() {
    local name=$1 mode=$2 world=$3 workers=$4 batch=$5 accum=$6
    shift 6
    local launch=()
    while [[ $1 != -- ]]; do launch+=("$1"); shift; done
    shift
    [[ $mode == dp ]] && set -- --workers "$workers" "$@"
    local start=$SECONDS
    if "${launch[@]}" "$BIN/ddp_train" --mode "$mode" "${DATA[@]}" --batch "$batch" --accum "$accum" \
        "$@" --json "$T/$name.json" --dump-weights "$T/$name.bin" >"$T/$name.log" 2>"$T/$name.err"; then
        ok
        echo "$name $mode $world $workers $batch $accum" >>"$T/${LIST:-runs}"
    else
        bad "$name: run failed (exit $?): $(tail -5 "$T/$name.err")"
    fi
    (($(wc -c <"$T/$name.err") == 0)) && ok || bad "$name: wrote to stderr: $(head -5 "$T/$name.err")"
    ((SECONDS - start < 60)) && ok || bad "$name: took $((SECONDS - start)) s"
}
SER=(timeout -k 5 60)
run serial serial 1 1 64 1 "${SER[@]}" --
run dp4 dp 1 4 16 1 "${SER[@]}" --
run dp4_gil_pool dp 1 4 16 1 "${SER[@]}" -- --gil --switch-interval 1 --dp-pool
run dp2_accum2 dp 1 2 16 2 "${SER[@]}" --
run ddp1 ddp 1 1 64 1 mpirun_ -np 1 --
run ddp2 ddp 2 2 32 1 mpirun_ -np 2 --
run ddp2_buckets ddp 2 2 32 1 mpirun_ -np 2 -- --bucket-kb 16
run ddp2_nooverlap ddp 2 2 32 1 mpirun_ -np 2 -- --no-overlap
run ddp2_accum2 ddp 2 2 16 2 mpirun_ -np 2 --
run ddp4_det ddp 4 4 16 1 mpirun_ -np 4 -- --deterministic
run hybrid2x2 ddp 2 4 16 1 mpirun_ -np 2 -- --workers 2
run hybrid2x2_det ddp 2 4 16 1 mpirun_ -np 2 -- --workers 2 --deterministic

# The step loop's bookkeeping, which every mode shares (comparing modes cannot see a bug in it): with
# a learning rate of 1e-12 the weights stay put, so an epoch's mean loss and train accuracy are
# those of the whole training set at the initial weights, however the epoch is cut into steps:
# 16 steps of 64 report what 1 step of 1024 does, in both epochs.
DATA=("${BASE[@]}" --epochs 2 --lr 1e-12 --lr-schedule constant --momentum 0 --weight-decay 0)
: >"$T/flat"
LIST=flat run flat64 serial 1 1 64 1 "${SER[@]}" --
LIST=flat run flat1024 serial 1 1 1024 1 "${SER[@]}" --

# the weights: every run against serial
while read -r name _; do
    [[ $name == serial ]] && continue
    "$BIN/wcmp" "$T/$name.bin" "$T/serial.bin" 1e-5 >"$T/$name.cmp" && ok ||
        bad "$name: weights differ from serial: $(cat "$T/$name.cmp")"
done <"$T/runs"
[[ -e $T/dp4.bin && -e $T/ddp4_det.bin ]] && { cmp -s "$T/dp4.bin" "$T/ddp4_det.bin" && ok ||
    bad "dp4 and ddp4_det: weights not bitwise identical"; }

# the figures (serial is the reference; flat64 and flat1024 are compared with each other)
/usr/bin/python3 - "$T" "$K" "$G" >"$T/figures.out" 2>"$T/figures.err" <<'PY'
import json, re, sys

T, K, G = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
N_TRAIN, N_TEST, STEPS_PER_EPOCH = 1024, 256, 1024 // 64
errors = []

def err(name, what):
    errors.append(f"{name}: {what}")

def near(a, b, rel=0.0, abs_=0.0):
    return abs(a - b) <= max(rel * abs(b), abs_)

EPOCH = re.compile(r"^epoch +(\d+)/(\d+) +steps +(\d+) +loss ([0-9.]+) +train_acc ([0-9.]+) +"
                   r"test_acc ([0-9.]+) +samples/s +([0-9.]+) +elapsed [0-9.]+s(.*)$")
DONE = re.compile(r"^done: (\d+) steps, test accuracy ([0-9.]+), final loss ([0-9.]+),")

def load(name):
    js = json.load(open(f"{T}/{name}.json"))
    lines = open(f"{T}/{name}.log").read().splitlines()
    epochs = [m.groups() for m in map(EPOCH.match, lines) if m]
    done = [m.groups() for m in map(DONE.match, lines) if m]
    return js, lines, epochs, done

runs = [l.split() for l in open(f"{T}/runs").read().splitlines()]
data = {r[0]: load(r[0]) for r in runs}
if "serial" not in data:
    print("no serial run to compare with")
    sys.exit(1)
ref_js, ref_lines, ref_epochs, _ = data["serial"]

# the parameter count from the layer sizes in the header line, e.g. (784-256-128-10, N parameters)
m = re.search(r"\((\d+(?:-\d+)+), (\d+) parameters\)", ref_lines[0])
sizes = [int(x) for x in m.group(1).split("-")]
params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
expected_epochs = [(1, 16), (2, 32), (3, K)]

for name, mode, world, workers, batch, accum in runs:
    world, workers, batch, accum = int(world), int(workers), int(batch), int(accum)
    js, lines, epochs, done = data[name]
    # what the run is
    for key, want in (("mode", mode), ("world_size", world), ("workers", workers), ("batch", batch),
                      ("global_batch", G), ("params", params), ("steps", K), ("epochs", 3)):
        if js.get(key) != want:
            err(name, f"JSON {key} {js.get(key)!r}, expected {want!r}")
    if f"({m.group(1)}, {params} parameters)" not in lines[0]:
        err(name, f"header line: {lines[0]}")
    if not any(l.startswith("training:") and f"= {G} per step" in l for l in lines):
        err(name, f"the training line does not say {G} per step")
    # the bytes it moved
    rep = K * accum * workers * params * 4 if mode == "dp" else 0
    bcast = params * 4 if world > 1 else 0
    allred = (params + 2) * 4 if world > 1 else 0
    for key, want in (("replicated_bytes_total", rep), ("broadcast_bytes", bcast),
                      ("allreduce_bytes_per_step", allred)):
        if js.get(key) != want:
            err(name, f"JSON {key} {js.get(key)!r}, expected {want}")
    if mode == "dp" and not any(f"({workers * params * 4} bytes per step" in l for l in lines):
        err(name, f"the dp line does not say {workers * params * 4} bytes per step")
    if world > 1 and not any(f"model broadcast once ({params * 4} bytes)" in l for l in lines):
        err(name, f"the ddp line does not say the broadcast is {params * 4} bytes")
    # throughput against the run's own time
    sps, secs = js["train_samples_per_s"], js["seconds"]
    if not (sps > 0 and sps * secs >= K * G * 0.999):
        err(name, f"train_samples_per_s {sps} x seconds {secs} < {K} steps x {G}")
    # loss and accuracies against serial
    if not near(js["final_loss"], ref_js["final_loss"], rel=1e-5):
        err(name, f"final_loss {js['final_loss']} vs serial {ref_js['final_loss']}")
    if not near(js["test_accuracy"], ref_js["test_accuracy"], abs_=2.0 / N_TEST + 1e-9):
        err(name, f"test_accuracy {js['test_accuracy']} vs serial {ref_js['test_accuracy']}")
    if len(epochs) != 3:
        err(name, f"{len(epochs)} epoch lines, expected 3")
        continue
    for i, (e, ref) in enumerate(zip(epochs, ref_epochs)):
        ep, total, steps, loss, tr, te, _sps, note = e
        if (int(ep), int(steps)) != expected_epochs[i] or int(total) != 3:
            err(name, f"epoch line {i + 1}: epoch {ep}/{total} steps {steps}")
        for what, a, b, tol in (("loss", loss, ref[3], 1.5e-4),
                                ("train_acc", tr, ref[4], 2.0 / N_TRAIN + 1.5e-4),
                                ("test_acc", te, ref[5], 2.0 / N_TEST + 1.5e-4)):
            if not near(float(a), float(b), abs_=tol):
                err(name, f"epoch {ep} {what} {a} vs serial {b}")
        if mode == "dp":
            mb = re.search(r"replicated ([0-9.]+) MB", note)
            want = int(steps) * accum * workers * params * 4 / 1e6
            if mb is None or not near(float(mb.group(1)), want, abs_=0.051):
                err(name, f"epoch {ep} replicated {mb and mb.group(1)} MB, expected {want:.1f}")
    # the last epoch line and the done line are the JSON's figures
    last = epochs[-1]
    if not near(float(last[3]), js["final_loss"], abs_=0.51e-4) or \
       not near(float(last[5]), js["test_accuracy"], abs_=0.51e-4):
        err(name, f"last epoch line {last[3]} {last[5]} vs JSON {js['final_loss']} {js['test_accuracy']}")
    if len(done) != 1 or int(done[0][0]) != K or \
       not near(float(done[0][1]), js["test_accuracy"], abs_=0.51e-4) or \
       not near(float(done[0][2]), js["final_loss"], abs_=0.51e-4):
        err(name, f"done line {done} vs JSON")
    print(f"{name}: final_loss {js['final_loss']} test_accuracy {js['test_accuracy']} "
          f"epoch train_acc {' '.join(e[4] for e in epochs)}")

# bitwise-identical weights (dp4, ddp4_det): identical accuracies
if "dp4" in data and "ddp4_det" in data:
    a, b = data["dp4"], data["ddp4_det"]
    if a[0]["test_accuracy"] != b[0]["test_accuracy"] or [e[4:6] for e in a[2]] != [e[4:6] for e in b[2]]:
        err("ddp4_det", "accuracies differ from dp4's although the weights are identical")

# the step loop's sums with the weights held still: steps of 64 against one step of 1024
flat = [l.split()[0] for l in open(f"{T}/flat").read().splitlines()]
if flat != ["flat64", "flat1024"]:
    err("flat", f"runs {flat}")
else:
    (a_js, _, a_ep, _), (b_js, _, b_ep, _) = load("flat64"), load("flat1024")
    if [e[:3] for e in a_ep] != [("1", "2", "16"), ("2", "2", "32")] or \
       [e[:3] for e in b_ep] != [("1", "2", "1"), ("2", "2", "2")]:
        err("flat", f"epoch lines {a_ep} {b_ep}")
    else:
        for ea, eb in zip(a_ep, b_ep):
            for what, i in (("loss", 3), ("train_acc", 4), ("test_acc", 5)):
                if not near(float(ea[i]), float(eb[i]), abs_=1.5e-4):
                    err("flat64", f"epoch {ea[0]} {what} {ea[i]} vs {eb[i]} in one step of 1024")
    if not near(a_js["final_loss"], b_js["final_loss"], rel=1e-5):
        err("flat64", f"final_loss {a_js['final_loss']} vs {b_js['final_loss']} in one step of 1024")
    print(f"flat: final_loss {a_js['final_loss']} and {b_js['final_loss']}, train_acc "
          f"{' '.join(e[4] for e in a_ep)} and {' '.join(e[4] for e in b_ep)}")

for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
rc=$?
cat "$T/figures.out"
# one failure per wrong figure
[[ $rc == 0 && ! -s $T/figures.err ]] && ok || bad "figures (exit $rc)"
while read -r line; do bad "$line"; done <"$T/figures.err"

# nothing left behind: no temporaries, no processes
ls "$T" | grep -q '\.tmp\.' && bad "temporaries left: $(ls "$T")" || ok
pgrep -f "ddp_train .*$T" >/dev/null && bad "processes left: $(pgrep -af "ddp_train .*$T")" || ok
finish
