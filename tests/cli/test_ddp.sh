#!/usr/bin/env bash
# test_ddp.sh: DistributedDataParallel under mpirun. DDP with P = 1, 2, 4 ranks and batch B gives
# the weights of serial with batch P x B after K steps (1e-5 relative), with overlap or not, for
# any bucket size and with accumulation; --deterministic is bitwise reproducible; evaluation is
# the same for any P; set-up problems on any rank end every rank with no hang.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

B=16
K=40
# ddp_train refuses an option given twice: COMMON without the model and the step limit
COMMON=(--data synthetic --synthetic-train 2048 --synthetic-test 512 --epochs 100 --quiet)
DATA=(--model "$SRC/models/fashion-mlp.cfg" "${COMMON[@]}" --max-steps $K)

"$BIN/ddp_train" --mode serial "${DATA[@]}" --batch $((4 * B)) --dump-weights "$T/serial4.bin" &&
    "$BIN/ddp_train" --mode serial "${DATA[@]}" --batch $((2 * B)) --dump-weights "$T/serial2.bin" &&
    "$BIN/ddp_train" --mode serial "${DATA[@]}" --batch $B --dump-weights "$T/serial1.bin" ||
    bad "serial reference runs"

# ddp_case NAME P SERIAL-REF ddp-options...
ddp_case() {
    local name=$1 p=$2 ref=$3
    shift 3
    if mpirun_ -np "$p" "$BIN/ddp_train" "${DATA[@]}" --batch $B "$@" --dump-weights "$T/$name.bin" \
        --json "$T/$name.json" >"$T/$name.log" 2>&1; then
        "$BIN/wcmp" "$T/$name.bin" "$T/$ref.bin" 1e-5 >"$T/$name.cmp" && ok ||
            bad "$name: weights differ from $ref: $(cat "$T/$name.cmp")"
        echo "$name vs $ref: $(cat "$T/$name.cmp")"
    else
        bad "$name: run failed: $(tail -5 "$T/$name.log")"
    fi
}

ddp_case np1 1 serial1
ddp_case np2 2 serial2
ddp_case np4 4 serial4
ddp_case np4_nooverlap 4 serial4 --no-overlap
ddp_case np2_bucket0 2 serial2 --bucket-kb 0
ddp_case np2_bucket4 2 serial2 --bucket-kb 4
ddp_case np4_bucket64 4 serial4 --bucket-kb 64
# many buckets (16 KB: 58 over the arena) through the watchdog's wait (MPI_Testall): every bucket's
# request is completed each step, or ddp.c fails the run ("allreduce requests not completed")
ddp_case np2_bucket16_watchdog 2 serial2 --bucket-kb 16 --comm-timeout 60
ddp_case np4_det 4 serial4 --deterministic
# accumulation: 2 ranks x batch B x 2 micro-batches = serial with 4B
ddp_case np2_accum2 2 serial4 --accum 2

# the JSON of a DDP run
[[ $(json_field "$T/np4.json" world_size) == 4 ]] && ok || bad "world_size: $(cat "$T/np4.json")"
[[ $(json_field "$T/np4.json" hosts) == 1 ]] && ok || bad "hosts"
[[ $(json_field "$T/np4.json" global_batch) == $((4 * B)) ]] && ok || bad "global_batch"
[[ $(json_field "$T/np4.json" broadcast_bytes) == $((235146 * 4)) ]] && ok || bad "broadcast_bytes"
[[ $(json_field "$T/np4.json" allreduce_bytes_per_step) == $(((235146 + 2) * 4)) ]] && ok || bad "allreduce_bytes_per_step"
[[ $(json_field "$T/np4.json" mode) == ddp ]] && ok || bad "mode"

# --deterministic: two runs are bitwise identical
mpirun_ -np 4 "$BIN/ddp_train" "${DATA[@]}" --batch $B --deterministic --dump-weights "$T/det2.bin" &&
    cmp -s "$T/np4_det.bin" "$T/det2.bin" && ok || bad "--deterministic runs differ"

# evaluation: the initial weights score the same for any P
for p in 1 2 4; do
    mpirun_ -np $p "$BIN/ddp_train" --model "$SRC/models/fashion-mlp.cfg" "${COMMON[@]}" --batch $B --max-steps 0 --json "$T/eval$p.json" ||
        bad "eval run P=$p"
done
a1=$(json_field "$T/eval1.json" test_accuracy)
[[ -n $a1 && $a1 == "$(json_field "$T/eval2.json" test_accuracy)" && $a1 == "$(json_field "$T/eval4.json" test_accuracy)" ]] &&
    ok || bad "test accuracy differs with P: $a1 $(json_field "$T/eval2.json" test_accuracy) $(json_field "$T/eval4.json" test_accuracy)"

# ranks that disagree: every rank names what differs and both values; no hang
mpirun_ -np 1 "$BIN/ddp_train" "${DATA[@]}" --batch $B : -np 1 "$BIN/ddp_train" "${DATA[@]}" --batch 32 >"$T/dis.log" 2>&1
rc=$?
[[ $rc != 0 && $rc != 124 ]] && ok || bad "disagreeing ranks: exit $rc"
[[ $(grep -c "ranks disagree on --batch: rank 0 has 16, rank 1 has 32" "$T/dis.log") == 2 ]] &&
    ok || bad "disagreement message: $(cat "$T/dis.log")"
mpirun_ -np 1 "$BIN/ddp_train" "${DATA[@]}" --batch $B : -np 1 "$BIN/ddp_train" --model "$SRC/models/tiny.cfg" "${COMMON[@]}" --max-steps $K --batch $B >"$T/dis2.log" 2>&1
grep -q "ranks disagree on model: rank 0 has 784-256-128-10, 235146 parameters, .*rank 1 has 784-32-10, 25450 parameters" "$T/dis2.log" &&
    ok || bad "model disagreement: $(cat "$T/dis2.log")"

# a bad option on one rank ends all ranks promptly, exit 2, one message
start=$(date +%s)
mpirun_ -np 1 "$BIN/ddp_train" "${DATA[@]}" --batch 0 : -np 2 "$BIN/ddp_train" "${DATA[@]}" --batch $B >"$T/badopt.log" 2>&1
rc=$?
[[ $rc != 0 && $rc != 124 && $(($(date +%s) - start)) -lt 60 ]] && ok || bad "bad option on rank 0: exit $rc"
grep -q -- "--batch: 0 is out of range" "$T/badopt.log" && ok || bad "bad option message: $(cat "$T/badopt.log")"
mpirun_ -np 2 "$BIN/ddp_train" "${DATA[@]}" --batch $B : -np 1 "$BIN/ddp_train" --model /nonexistent.cfg "${COMMON[@]}" --max-steps $K >"$T/badopt2.log" 2>&1
rc=$?
[[ $rc != 0 && $rc != 124 ]] && ok || bad "missing model on rank 2: exit $rc"
grep -q "cannot open /nonexistent.cfg" "$T/badopt2.log" && ok || bad "missing model message: $(cat "$T/badopt2.log")"

# a diverging run: every rank stops at the same step, one message, exit 1, nothing written
mpirun_ -np 2 "$BIN/ddp_train" "${DATA[@]}" --batch $B --lr 100000 --momentum 0 --json "$T/div.json" >"$T/div.log" 2>&1
rc=$?
[[ $rc != 0 && $rc != 124 ]] && ok || bad "diverging run: exit $rc"
[[ $(grep -c "try --lr" "$T/div.log") == 1 && ! -e "$T/div.json" ]] && ok || bad "diverging run output: $(cat "$T/div.log")"

# the trace: valid JSON, one process row per rank, each bucket's allreduce and the optimizer
mpirun_ -np 2 "$BIN/ddp_train" --model "$SRC/models/fashion-mlp.cfg" "${COMMON[@]}" --batch $B --max-steps 5 --bucket-kb 64 --trace "$T/trace.json" ||
    bad "traced run"
if /usr/bin/python3 - "$T/trace.json" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
pids = {e["pid"] for e in ev}
names = {e["name"].rstrip("0123456789 ") for e in ev if e["ph"] == "X"}
assert pids == {0, 1}, pids
for n in ("forward", "backward L", "allreduce bucket", "sgd", "broadcast weights"):
    assert n in names, (n, names)
buckets = {e["name"] for e in ev if e["name"].startswith("allreduce bucket") and e["pid"] == 0}
assert len(buckets) >= 4, buckets   # 940 KB in 64 KB buckets
PY
then ok; else bad "trace content"; fi

finish
