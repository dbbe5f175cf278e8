#!/usr/bin/env bash
# test_zero.sh: --zero (ZeRO-1, the sharded optimizer). After 40 steps its weights equal plain
# DDP's within 1e-5 at np 2 and 3 (uneven slices), with hybrid ranks x threads and with --accum;
# the momentum each rank holds (optimizer_state_bytes) is 1/P of plain DDP's; with
# --deterministic it is bitwise reproducible and bitwise plain --deterministic's, checkpoint
# included; checkpoints resume across --zero and plain both ways (and --zero to --zero on another
# world size), ending within 1e-5 of the uninterrupted run; with --grad-compress bf16|fp16 it
# equals plain --grad-compress (bitwise with --deterministic), reports the 16-bit bytes and
# resumes across --zero and plain both ways; a hung
# rank is named by the watchdog;
# inapplicable uses are refused (exit 2).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
WCMP=${TDP_WCMP:-$BIN/wcmp}

# ddp_train refuses an option given twice: COMMON without --batch, --max-steps, --epochs
LOUD=(--model "$SRC/models/fashion-mlp.cfg" --data synthetic --synthetic-train 1024
    --synthetic-test 256)
COMMON=("${LOUD[@]}" --quiet)
S40=("${COMMON[@]}" --epochs 100 --max-steps 40)

# run NAME NP ARGS...: a DDP run leaving $T/NAME.bin and $T/NAME.json
run() {
    local name=$1 np=$2
    shift 2
    mpirun_ -np "$np" "$BIN/ddp_train" "$@" --dump-weights "$T/$name.bin" --json "$T/$name.json" \
        >"$T/$name.log" 2>&1 || bad "$name: run failed: $(tail -3 "$T/$name.log")"
}
# same A B [cmp|TOL]: weights bitwise equal (cmp) or within TOL
same() {
    if [[ ${3:-1e-5} == cmp ]]; then
        cmp -s "$T/$1.bin" "$T/$2.bin" && ok || bad "$1 vs $2: not bitwise equal"
    else
        "$WCMP" "$T/$1.bin" "$T/$2.bin" "${3:-1e-5}" >"$T/$1.cmp" 2>&1 && ok ||
            bad "$1 vs $2: $(cat "$T/$1.cmp")"
    fi
}
state() { json_field "$T/$1.json" optimizer_state_bytes; }

# equal to plain DDP within 1e-5 after 40 steps; momentum per rank 1/P (rounded to 64-byte lines)
for np in 2 3; do
    run plain$np "$np" "${S40[@]}" --batch 16
    run zero$np "$np" "${S40[@]}" --batch 16 --zero
    same zero$np plain$np
    full=$(state plain$np) part=$(state zero$np)
    [[ $full == 940584 ]] && ok || bad "plain np=$np: optimizer_state_bytes $full (expected 940584)"
    # rank 0's slice: ceil(235146 / np) floats rounded up to 16
    want=$(( ((235146 + np - 1) / np + 15) / 16 * 16 * 4 ))
    [[ $part == "$want" ]] && ok || bad "zero np=$np: optimizer_state_bytes $part (expected $want)"
done
mpirun_ -np 2 "$BIN/ddp_train" "${LOUD[@]}" --epochs 1 --max-steps 1 --batch 16 --zero >"$T/loud" &&
    grep -q "^ddp: --zero (ZeRO-1): momentum of 117584 of 235146 parameters on rank 0 (1/2)" \
        "$T/loud" && ok || bad "start-up line: $(grep ^ddp "$T/loud")"
# hybrid ranks x threads, and accumulation: supported, equal to plain
run plain_hybrid 2 "${S40[@]}" --batch 8 --workers 2
run zero_hybrid 2 "${S40[@]}" --batch 8 --workers 2 --zero
same zero_hybrid plain_hybrid
run plain_accum 2 "${S40[@]}" --batch 8 --accum 2
run zero_accum 2 "${S40[@]}" --batch 8 --accum 2 --zero
same zero_accum plain_accum

# --deterministic: reproducible bitwise, and bitwise plain --deterministic's
run zdet_a 3 "${S40[@]}" --batch 16 --zero --deterministic
run zdet_b 3 "${S40[@]}" --batch 16 --zero --deterministic
run pdet 3 "${S40[@]}" --batch 16 --deterministic
same zdet_a zdet_b cmp
same zdet_a pdet cmp

# --grad-compress with --zero: the 16-bit reduce-scatter. Each element's sum is the same 16-bit
# rounding of the same pair's fp32 sum as plain --grad-compress's allreduce (one rounding with 2
# ranks), so the weights equal plain --grad-compress --no-overlap's (one collective after
# backward, like --zero's) within 1e-5, as plain --zero equals plain DDP; 3 ranks round once per
# hop in an order of MPI's choosing (reduce-scatter and allreduce may differ): within bf16's
# test_compress tolerance of fp32, 5e-3 (measured: bitwise equal at 2 and 3 ranks, Open MPI 4.1). --deterministic: bitwise reproducible and bitwise plain
# --deterministic --grad-compress's (the same widened rows summed in rank order).
B16=$((235146 * 2 + 2 * 4))
run zbf16 2 "${S40[@]}" --batch 16 --zero --grad-compress bf16
run pbf16 2 "${S40[@]}" --batch 16 --grad-compress bf16 --no-overlap
same zbf16 pbf16
same zbf16 plain2 5e-3
! cmp -s "$T/zbf16.bin" "$T/zero2.bin" && ok || bad "--zero --grad-compress bf16: nothing compressed"
[[ $(json_field "$T/zbf16.json" allreduce_bytes_per_step) == "$B16" ]] && ok ||
    bad "--zero bf16 bytes: $(json_field "$T/zbf16.json" allreduce_bytes_per_step) (expected $B16)"
[[ $(json_field "$T/zbf16.json" grad_compress) == bf16 && $(state zbf16) == "$(state zero2)" ]] &&
    ok || bad "--zero bf16: grad_compress or optimizer_state_bytes"
run zfp16_ef 2 "${S40[@]}" --batch 16 --zero --grad-compress fp16 --error-feedback
run pfp16_ef 2 "${S40[@]}" --batch 16 --grad-compress fp16 --error-feedback --no-overlap
same zfp16_ef pfp16_ef
run zbf16_3 3 "${S40[@]}" --batch 16 --zero --grad-compress bf16
run pbf16_3 3 "${S40[@]}" --batch 16 --grad-compress bf16 --no-overlap
same zbf16_3 pbf16_3 5e-3
same zbf16_3 plain3 5e-3
run zbdet_a 3 "${S40[@]}" --batch 16 --zero --grad-compress bf16 --deterministic
run zbdet_b 3 "${S40[@]}" --batch 16 --zero --grad-compress bf16 --deterministic
run pbdet 3 "${S40[@]}" --batch 16 --grad-compress bf16 --deterministic
same zbdet_a zbdet_b cmp
same zbdet_a pbdet cmp
same zbdet_a pdet 5e-3

# checkpoints: whole (a --zero --deterministic checkpoint is byte for byte plain's)...
mpirun_ -np 3 "$BIN/ddp_train" "${COMMON[@]}" --epochs 1 --max-steps 7 --batch 16 --zero \
    --deterministic --checkpoint "$T/zd.ckpt" && ok || bad "zero checkpoint run"
mpirun_ -np 3 "$BIN/ddp_train" "${COMMON[@]}" --epochs 1 --max-steps 7 --batch 16 \
    --deterministic --checkpoint "$T/pd.ckpt" && ok || bad "plain checkpoint run"
cmp -s "$T/zd.ckpt" "$T/pd.ckpt" && ok || bad "--zero checkpoint differs from plain's"
# ...and resumed across --zero and plain both ways: stopped at step 37 of 3 epochs (of 32 steps)
E3=("${COMMON[@]}" --epochs 3)
run full 2 "${E3[@]}" --batch 16
# resume_case NAME NP-STOP STOP-OPTS -- NP-RESUME RESUME-OPTS...
resume_case() {
    local name=$1 np1=$2 opt1=$3 np2=$5
    shift 5
    TDP_TEST_STOP_AT=37 mpirun_ -np "$np1" -x TDP_TEST_STOP_AT "$BIN/ddp_train" "${E3[@]}" \
        $opt1 --checkpoint "$T/$name.ckpt" --checkpoint-every 10 >/dev/null 2>"$T/$name.err"
    local rc=$?
    [[ $rc == 75 ]] && grep -q "after step 37: checkpoint written" "$T/$name.err" && ok ||
        bad "$name: stopped run exit $rc: $(head -2 "$T/$name.err")"
    run "$name" "$np2" "${E3[@]}" "$@" --resume "$T/$name.ckpt"
    same "$name" "${REF:-full}"
}
resume_case zero_to_plain 2 "--batch 16 --zero" -- 2 --batch 16
resume_case plain_to_zero 2 "--batch 16" -- 2 --batch 16 --zero
resume_case zero_to_zero4 2 "--batch 16 --zero" -- 4 --batch 8 --zero
# with --grad-compress bf16 (recorded in the checkpoint) both ways, against plain bf16's run
run full_bf16 2 "${E3[@]}" --batch 16 --grad-compress bf16 --no-overlap
REF=full_bf16 resume_case zbf16_to_plain 2 "--batch 16 --zero --grad-compress bf16" -- 2 --batch 16 \
    --grad-compress bf16 --no-overlap
REF=full_bf16 resume_case plain_to_zbf16 2 "--batch 16 --grad-compress bf16 --no-overlap" -- 2 \
    --batch 16 --zero --grad-compress bf16

# the up-front memory estimate counts the slice (TDP_TEST_MEM_AVAILABLE=1 refuses, printing it)
estimate() {
    TDP_TEST_MEM_AVAILABLE=1 mpirun_ -np 2 -x TDP_TEST_MEM_AVAILABLE "$BIN/ddp_train" \
        --model "$SRC/models/wide.cfg" --data synthetic --max-steps 2 --quiet "$@" 2>&1 |
        sed -n 's/.*model and optimizer \([0-9]*\) MB.*/\1/p' | head -1
}
e_plain=$(estimate) e_zero=$(estimate --zero)
[[ -n $e_plain && -n $e_zero ]] && ((e_zero < e_plain)) && ok ||
    bad "memory estimate: model and optimizer '$e_zero' MB with --zero, '$e_plain' MB without"

# a hung rank is named by the watchdog in the reduce-scatter (no hang: mpirun_ is bounded)
TDP_TEST_STALL_RANK=1 TDP_TEST_STALL_STEP=5 mpirun_ -np 3 -x TDP_TEST_STALL_RANK \
    -x TDP_TEST_STALL_STEP "$BIN/ddp_train" "${E3[@]}" --batch 16 --zero --comm-timeout 2 \
    >"$T/hang.log" 2>&1
rc=$?
[[ $rc != 0 && $rc != 124 ]] && grep -q "the gradient reduce-scatter at step 5 did not complete within --comm-timeout 2 s: rank(s) that did not arrive: 1" "$T/hang.log" &&
    ok || bad "hung rank with --zero: exit $rc: $(grep ddp_train "$T/hang.log")"

# refused before any work, exit 2, one line naming the option
for bad_args in "--mode serial --zero" "--mode dp --workers 2 --zero"; do
    timeout 60 "$BIN/ddp_train" "${S40[@]}" --batch 16 $bad_args >/dev/null 2>"$T/err"
    rc=$?
    [[ $rc == 2 ]] && grep -q "^ddp_train: --zero applies to --mode ddp" "$T/err" && ok ||
        bad "$bad_args: exit $rc: $(cat "$T/err")"
done
mpirun_ -np 2 "$BIN/ddp_train" "${S40[@]}" --batch 16 --zero --bucket-kb 64 >/dev/null 2>"$T/err"
rc=$?
[[ $rc == 2 && $(grep -c "bucket-kb does not apply to --zero" "$T/err") == 1 ]] && ok ||
    bad "--zero --bucket-kb: exit $rc: $(cat "$T/err")"
"$BIN/ddp_train" --help >"$T/help.txt" 2>&1 # (grep -q on a pipe could close it early: pipefail)
grep -q -- "--zero" "$T/help.txt" && ok || bad "--help lists --zero"
# nothing left behind but what the test wrote
[[ -z $(find "$T" -name '*.tmp.*') ]] && ok || bad "temporary files left: $(find "$T" -name '*.tmp.*')"
finish
