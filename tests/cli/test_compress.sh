#!/usr/bin/env bash
# test_compress.sh: --grad-compress (16-bit gradients) and --bucket-kb auto under mpirun. Bad
# values exit 2 with one line naming the option; bf16 and fp16 train on 2 ranks to weights within
# a tolerance of fp32's, report half the bytes, are bitwise the same with the scalar conversions
# (TDP_TEST_HALF_SCALAR) as with F16C/AVX2, are the same for any bucketing (the per-element
# sum does not depend on it), are bitwise reproducible with --deterministic, and checkpoint and
# resume to the uninterrupted run's weights (a resume with another --grad-compress is refused);
# --bucket-kb auto reports what it chose, and a fixed run with that setting has its weights
# (within fp32 rounding: backward in chunks rounds differently; bitwise with --deterministic).
set -uo pipefail
source "$(dirname "$0")/lib.sh"

B=16
K=40
COMMON=(--model "$SRC/models/fashion-mlp.cfg" --data synthetic --synthetic-train 2048
    --synthetic-test 512 --epochs 100 --batch $B)
DATA=("${COMMON[@]}" --max-steps $K)
N=235146 # fashion-mlp's parameters

# refuse NAME PATTERN ARGS...: exit 2, one line naming the option, nothing written
refuse() {
    local name=$1 pattern=$2
    shift 2
    timeout 30 "$BIN/ddp_train" "${DATA[@]}" "$@" --json "$T/refused.json" >"$T/out" 2>"$T/err"
    local rc=$?
    [[ $rc == 2 ]] && grep -q -- "$pattern" "$T/err" && [[ $(wc -l <"$T/err") == 1 ]] &&
        [[ ! -e $T/refused.json ]] && ok || bad "$name: exit $rc: $(cat "$T/err")"
}
refuse "unknown kind" "--grad-compress" --grad-compress fp8
refuse "in serial mode" "--grad-compress applies to --mode ddp" --mode serial --grad-compress bf16
refuse "feedback alone" "--error-feedback applies to --grad-compress" --error-feedback
refuse "bucket-kb word" "--bucket-kb" --bucket-kb automatic
refuse "bucket-kb negative" "--bucket-kb" --bucket-kb -1
refuse "bucket-kb auto in dp" "--bucket-kb applies to --mode ddp" --mode dp --bucket-kb auto

# run NAME P ARGS...: a DDP run's weights and JSON (its log kept)
run() {
    local name=$1 p=$2
    shift 2
    mpirun_ -np "$p" "$BIN/ddp_train" "${DATA[@]}" "$@" --dump-weights "$T/$name.bin" \
        --json "$T/$name.json" >"$T/$name.log" 2>&1 || bad "$name: run failed: $(tail -5 "$T/$name.log")"
}
# near NAME A B RTOL: weights within RTOL
near() {
    "$BIN/wcmp" "$T/$2.bin" "$T/$3.bin" "$4" >"$T/cmp" && ok || bad "$1: $(cat "$T/cmp")"
    echo "$1: $(cat "$T/cmp")"
}
same() { cmp -s "$T/$2.bin" "$T/$3.bin" && ok || bad "$1: $2 and $3 differ"; }

run fp32 2
run bf16 2 --grad-compress bf16
run fp16 2 --grad-compress fp16
run bf16_ef 2 --grad-compress bf16 --error-feedback
near "bf16 vs fp32" bf16 fp32 5e-3
near "fp16 vs fp32" fp16 fp32 5e-4
near "bf16 with error feedback vs fp32" bf16_ef fp32 5e-3
! cmp -s "$T/bf16.bin" "$T/fp32.bin" && ok || bad "bf16 weights equal fp32's: nothing compressed"
for c in bf16 fp16; do
    [[ $(json_field "$T/$c.json" grad_compress) == "$c" ]] && ok || bad "$c: grad_compress key"
    [[ $(json_field "$T/$c.json" allreduce_bytes_per_step) == $((N * 2 + 2 * 4)) ]] && ok ||
        bad "$c: bytes: $(json_field "$T/$c.json" allreduce_bytes_per_step)"
    # the loss slot travels in fp32: the loss is sane and close to fp32's
    python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(not (0 < a < 2.4 and abs(a - b) < 1e-2 * b))" \
        "$(json_field "$T/$c.json" final_loss)" "$(json_field "$T/fp32.json" final_loss)" && ok ||
        bad "$c: final_loss $(json_field "$T/$c.json" final_loss) vs fp32's $(json_field "$T/fp32.json" final_loss)"
done
[[ $(json_field "$T/fp32.json" allreduce_bytes_per_step) == $(((N + 2) * 4)) ]] && ok || bad "fp32 bytes"
grep -q "gradient sent as bf16 (470300 bytes per step" "$T/bf16.log" && ok || bad "bf16 start-up line"

# any bucketing: many buckets, one, blocking (backward in chunks rounds differently in fp32, and
# a 16-bit rounding may then flip: near, not bitwise); the slots' own request completes each step
run bf16_b4 2 --grad-compress bf16 --bucket-kb 4
run bf16_b0 2 --grad-compress bf16 --bucket-kb 0
run bf16_blocking 2 --grad-compress bf16 --no-overlap
near "bf16, 4 KB buckets" bf16_b4 bf16 1e-3
near "bf16, one bucket" bf16_b0 bf16 1e-3
near "bf16, blocking" bf16_blocking bf16 1e-3
# 3 ranks: a sum rounded at each hop, still near fp32
run fp32_np3 3
run bf16_np3 3 --grad-compress bf16 --bucket-kb 64
near "bf16 on 3 ranks vs fp32" bf16_np3 fp32_np3 5e-3

# --deterministic: bitwise reproducible, and near fp32's
run det_a 2 --grad-compress bf16 --deterministic
run det_b 2 --grad-compress bf16 --deterministic
run det_fp32 2 --deterministic
same "bf16 --deterministic twice" det_a det_b
near "bf16 --deterministic vs fp32" det_a det_fp32 5e-3
[[ $(json_field "$T/det_a.json" allreduce_bytes_per_step) == $((N * 2 + 2 * 4)) ]] && ok || bad "det bytes"

# the scalar conversions (TDP_TEST_HALF_SCALAR=1) give bitwise the fast path's weights: 2 ranks
# sum a pair once (commutative), --deterministic in rank order; the start-up line names the path
scalar() {
    local name=$1
    shift
    TDP_TEST_HALF_SCALAR=1 mpirun_ -np 2 -x TDP_TEST_HALF_SCALAR "$BIN/ddp_train" "${DATA[@]}" "$@" \
        --dump-weights "$T/$name.bin" >"$T/$name.log" 2>&1 || bad "$name: run failed: $(tail -5 "$T/$name.log")"
    grep -q "; scalar conversions" "$T/$name.log" && ok || bad "$name: not on the scalar path: $(grep sent "$T/$name.log")"
}
scalar bf16_scalar --grad-compress bf16
scalar fp16_scalar --grad-compress fp16
scalar ef_scalar --grad-compress bf16 --error-feedback
scalar det_scalar --grad-compress bf16 --deterministic
run fp16_det 2 --grad-compress fp16 --deterministic
scalar fp16_det_scalar --grad-compress fp16 --deterministic
same "bf16: scalar vs fast conversions" bf16_scalar bf16
same "fp16: scalar vs fast conversions" fp16_scalar fp16
same "bf16 with error feedback: scalar vs fast" ef_scalar bf16_ef
same "bf16 --deterministic: scalar vs fast" det_scalar det_a
same "fp16 --deterministic: scalar vs fast" fp16_det_scalar fp16_det
if grep -qw f16c /proc/cpuinfo && grep -qw avx2 /proc/cpuinfo; then
    grep -q "; F16C/AVX2 conversions" "$T/bf16.log" && ok || bad "the fast path not taken: $(grep sent "$T/bf16.log")"
fi

# checkpoint and resume with compression: the uninterrupted run's weights
R=(--grad-compress bf16 --max-steps $K)
mpirun_ -np 2 "$BIN/ddp_train" "${COMMON[@]}" --grad-compress bf16 --max-steps 20 \
    --checkpoint "$T/c.ckpt" --quiet 2>"$T/err" || bad "checkpointed run: $(cat "$T/err")"
# --max-steps is part of the record: resume the 20-step checkpoint into a run of the same options
TDP_TEST_STOP_AT=23 mpirun_ -np 2 -x TDP_TEST_STOP_AT "$BIN/ddp_train" "${COMMON[@]}" "${R[@]}" \
    --checkpoint "$T/s.ckpt" --quiet 2>"$T/err"
[[ $? == 75 ]] && ok || bad "stopped run: $(cat "$T/err")"
mpirun_ -np 2 "$BIN/ddp_train" "${COMMON[@]}" "${R[@]}" --resume "$T/s.ckpt" --quiet \
    --dump-weights "$T/resumed.bin" 2>"$T/err" || bad "resumed run: $(cat "$T/err")"
same "bf16 resumed vs uninterrupted" resumed bf16
mpirun_ -np 2 "$BIN/ddp_train" "${COMMON[@]}" --max-steps $K --resume "$T/s.ckpt" --quiet 2>"$T/err"
rc=$?
[[ $rc == 2 ]] && grep -q "written with --grad-compress bf16, this run has --grad-compress (absent)" "$T/err" &&
    ok || bad "resume without compression: exit $rc: $(cat "$T/err")"

# --bucket-kb auto: a setting chosen and reported; a fixed run with it has the same weights
run auto 2 --bucket-kb auto
kb=$(json_field "$T/auto.json" bucket_kb)
ov=$(json_field "$T/auto.json" overlap)
grep -q "ddp: buckets auto: the first 36 steps" "$T/auto.log" && ok || bad "auto start-up line: $(head -5 "$T/auto.log")"
grep -q "buckets (auto): " "$T/auto.log" && ok || bad "auto: the choice not printed: $(cat "$T/auto.log")"
if [[ $ov == 0 ]]; then fixed=(--no-overlap); else fixed=(--bucket-kb "$kb"); fi
[[ $kb =~ ^(0|64|256|1024)$ && $ov =~ ^[01]$ ]] && ok || bad "auto chose bucket_kb '$kb' overlap '$ov'"
run fixed 2 "${fixed[@]}"
near "auto vs the fixed setting it chose (${fixed[*]})" auto fixed 1e-5
run auto_bf16 2 --bucket-kb auto --grad-compress bf16
near "auto bf16 vs fixed bf16" auto_bf16 bf16 1e-3
run auto_det 2 --bucket-kb auto --deterministic
same "auto --deterministic vs fixed --deterministic" auto_det det_fp32
finish
