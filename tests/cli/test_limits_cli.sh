#!/usr/bin/env bash
# test_limits_cli.sh: hostile input to the limits of both programs' command lines: the memory
# check of each mode (serial, dp with many workers, hybrid ddp with many threads per rank),
# refused up front with the size; the model file's values in the command line's ranges (file:line
# in the message) and a UTF-8 byte order mark; one number rule for ddp_train and kernels (decimal
# only, no white space, no hexadecimal, underflow named); repeated and inapplicable options
# refused by both; every --help line with a default; bytes after a gzip stream in a data file.
# Every refusal: exit 2, one line naming the problem, within the time bound, nothing written, no
# process left.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

# copies under names of their own: any process still running one after a case is a leftover
D="$T/ddp-train-limits-$$"
K="$T/kernels-limits-$$"
cp "$BIN/ddp_train" "$D" && cp "$BIN/kernels" "$K" || { echo "cannot copy the programs" >&2; exit 1; }
OUT="$T/out.d"
mkdir "$OUT"
WRITES=(--json "$OUT/r.json" --dump-weights "$OUT/w.bin" --checkpoint "$OUT/ck" --trace "$OUT/t.json")
TINY=(--model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 512 --synthetic-test 128)
WIDE=(--model "$SRC/models/wide.cfg" --data synthetic --synthetic-train 512 --synthetic-test 128)
LIMIT=60 # seconds: every refusal comes before any work

# nothing_left WHAT: no file in $OUT (outputs, temporaries), no copy of either program running
nothing_left() {
    local files procs
    files=$(ls -A "$OUT")
    procs=$(pgrep -f -- "-limits-$$" || true)
    [[ -z $files ]] && ok || bad "$1: left in the output directory: $files"
    [[ -z $procs ]] && ok || bad "$1: processes left: $(ps -o pid,args -p "${procs//$'\n'/,}" 2>/dev/null)"
}

# refuse WHAT PATTERN CMD...: exit 2 within $LIMIT s, one stderr line matching PATTERN (MULTI=1:
# mpirun adds its own lines), nothing on stdout, nothing left behind
refuse() {
    local what=$1 pat=$2
    shift 2
    local t0=$SECONDS
    timeout -k 5 "$LIMIT" "$@" >"$T/stdout" 2>"$T/stderr"
    local rc=$? took=$((SECONDS - t0))
    if [[ $rc != 2 ]]; then
        bad "$what: exit $rc, expected 2; stderr: $(head -c 600 "$T/stderr")"
    elif ! grep -qE -- "$pat" "$T/stderr"; then
        bad "$what: stderr '$(cat "$T/stderr")' does not match '$pat'"
    elif [[ ${MULTI:-0} == 0 && $(wc -l <"$T/stderr") != 1 ]]; then
        bad "$what: expected one line, got: $(cat "$T/stderr")"
    elif [[ -s "$T/stdout" ]]; then
        bad "$what: printed on stdout before refusing: $(head -c 300 "$T/stdout")"
    elif ((took >= LIMIT)); then
        bad "$what: took $took s"
    else
        ok
    fi
    nothing_left "$what"
}

# ---- memory: what each mode will hold, against what is available, refused up front ----
# TDP_TEST_MEM_AVAILABLE stands for MemAvailable (bytes): the check without using the memory
SIZE='needs [0-9.]+ (GB|MB) of memory'
refuse "serial, no memory" "--mode serial with $SRC/models/wide.cfg $SIZE \(in use [0-9]+ MB, model and optimizer [0-9]+ MB\), [0-9]+ MB is available \(TDP_TEST_MEM_AVAILABLE\)" \
    env TDP_TEST_MEM_AVAILABLE=1000000 "$D" --mode serial "${WIDE[@]}" "${WRITES[@]}"
# the issue's case: 1024 replicas of wide (7.5 MB of weights and 7.5 MB of gradient each) and
# their workspaces, about 17.6 GB; with 8 GB available it must be refused, before any replica
refuse "dp --workers 1024 wide" "--mode dp --workers 1024 with .*wide.cfg needs 1[6-8]\.[0-9]+ GB of memory .*1024 replicas and workspaces 1[6-8]\.[0-9]+ GB\), 8\.[0-9]+ GB is available \(TDP_TEST_MEM_AVAILABLE\)" \
    env TDP_TEST_MEM_AVAILABLE=8000000000 "$D" --mode dp --workers 1024 "${WIDE[@]}" --batch 1 "${WRITES[@]}"
# a run that fits is not refused by the check (64 workers of tiny: about 30 MB)
TDP_TEST_MEM_AVAILABLE=1000000000 timeout -k 5 "$LIMIT" "$D" --mode dp --workers 64 "${TINY[@]}" --batch 4 --max-steps 1 --quiet &&
    ok || bad "dp --workers 64 tiny refused with 1 GB available"
# a resource limit bounds it too (ulimit -v): not under a sanitizer, whose shadow memory needs
# the address space
if [[ -z ${ASAN_OPTIONS:-} && -z ${TSAN_OPTIONS:-} ]]; then
    refuse "dp under ulimit -v" "--mode dp --workers 1024 .* needs 1[6-8]\.[0-9]+ GB of memory .*is available \(RLIMIT_AS, ulimit -v\)" \
        bash -c 'ulimit -v 4000000 && exec "$@"' _ "$D" --mode dp --workers 1024 "${WIDE[@]}" --batch 1 "${WRITES[@]}"
fi
# hybrid: 2 ranks on this host x 256 threads, each thread with a gradient of wide: about 2 x
# 2.4 GB; every rank checks what its host must hold (both ranks' share)
if [[ ${TDP_NO_MPI:-0} != 1 ]]; then
    MULTI=1 refuse "hybrid 2 ranks x 256 threads" "--mode ddp --workers 256 with .*wide.cfg needs [45]\.[0-9]+ GB of memory \(2 ranks on this host, each: .*256 threads' buffers 2\.[0-9]+ GB, MPI [0-9]+ MB\), 3\.[0-9]+ GB is available \(TDP_TEST_MEM_AVAILABLE\)" \
        mpirun --oversubscribe --bind-to none -np 2 -x TDP_TEST_MEM_AVAILABLE=3000000000 "$D" --mode ddp --workers 256 "${WIDE[@]}" --batch 1 "${WRITES[@]}"
    # the 16-bit buffers (compress.c) are in the MPI part: wide has n = 1,863,690 weights; bf16
    # adds its 16-bit row (2n bytes, 3.7 MB), --error-feedback the residual (4n, 7.5 MB), and
    # --deterministic every rank's row (2 x 2n, 7.5 MB): 18.6 MB over --deterministic alone
    mpi_mb() { # ARGS...: the MPI figure (MB) of a refused 2-rank wide run
        timeout -k 5 "$LIMIT" mpirun --oversubscribe --bind-to none -np 2 -x TDP_TEST_MEM_AVAILABLE=1000000 "$D" \
            --mode ddp "${WIDE[@]}" "$@" "${WRITES[@]}" 2>&1 | sed -n 's/.*, MPI \([0-9]*\) MB).*/\1/p' | head -1
    }
    m0=$(mpi_mb) m1=$(mpi_mb --grad-compress bf16)
    md=$(mpi_mb --deterministic) m3=$(mpi_mb --grad-compress bf16 --error-feedback --deterministic)
    check "bf16's 16-bit row in the estimate (MPI $m0 -> $m1 MB)" test $((m1 - m0)) -ge 3 -a $((m1 - m0)) -le 5
    check "bf16, error feedback, deterministic in the estimate (MPI $md -> $m3 MB)" test $((m3 - md)) -ge 18 -a $((m3 - md)) -le 20
    # one rank of it fits
    TDP_TEST_MEM_AVAILABLE=3000000000 timeout -k 5 "$LIMIT" "$D" --mode ddp --workers 4 "${TINY[@]}" --batch 4 --max-steps 1 --quiet &&
        ok || bad "ddp --workers 4 tiny refused with 3 GB available"
fi

# ---- the model file: the command line's ranges and number rule, file:line; a BOM ----
printf '[net]\ninput = 784\noutput = 10\nlr = 1e308\n[dense]\nunits = 10\nactivation = none\n' >"$T/huge-lr.cfg"
refuse "model lr = 1e308" "$T/huge-lr.cfg:4: lr: 1e308 is out of range \[1e-12, 1e\+06\]" \
    "$D" --model "$T/huge-lr.cfg" --data synthetic "${WRITES[@]}"
printf '[net]\ninput = 784\noutput = 10\nbatch = 0x40\n[dense]\nunits = 10\nactivation = none\n' >"$T/hex.cfg"
refuse "model batch = 0x40" "$T/hex.cfg:4: batch: '0x40' is not an integer \(decimal digits only\)" \
    "$D" --model "$T/hex.cfg" --data synthetic "${WRITES[@]}"
printf '[net]\ninput = 784\noutput = 10\nbatch = 100000\n[dense]\nunits = 10\nactivation = none\n' >"$T/batch.cfg"
refuse "model batch = 100000" "$T/batch.cfg:4: batch: 100000 is out of range \[1, 65536\]" \
    "$D" --model "$T/batch.cfg" --data synthetic "${WRITES[@]}"
printf '\xef\xbb\xbf[net]\ninput = 784\noutput = 10\nlr = 0.01\n[dense]\nunits = 10\nactivation = none\n' >"$T/bom.cfg"
timeout -k 5 "$LIMIT" "$D" --model "$T/bom.cfg" --data synthetic --synthetic-train 256 --synthetic-test 64 \
    --mode serial --max-steps 2 --json "$T/bom.json" >"$T/bom.out" 2>&1 &&
    grep -q "lr 0.01 " "$T/bom.out" && [[ -s $T/bom.json ]] && ok || bad "a model file with a BOM: $(cat "$T/bom.out")"

# ---- one number rule, one wording, both programs ----
INT="is not an integer \(decimal digits only\)"
U64="is not a non-negative integer \(decimal digits only\)"
REAL="is not a finite number \(decimal, like 0.05 or 5e-2\)"
refuse "ddp_train leading space" "--batch: ' 8' $INT" "$D" "${TINY[@]}" --batch " 8" "${WRITES[@]}"
refuse "ddp_train trailing space" "--batch: '8 ' $INT" "$D" "${TINY[@]}" --batch "8 " "${WRITES[@]}"
refuse "ddp_train hex integer" "--batch: '0x10' $INT" "$D" "${TINY[@]}" --batch 0x10 "${WRITES[@]}"
refuse "ddp_train hex seed" "--seed: '0x10' $U64" "$D" "${TINY[@]}" --seed 0x10 "${WRITES[@]}"
refuse "ddp_train leading space real" "--lr: ' 0.1' $REAL" "$D" "${TINY[@]}" --lr " 0.1" "${WRITES[@]}"
refuse "ddp_train trailing space real" "--lr: '0.1 ' $REAL" "$D" "${TINY[@]}" --lr "0.1 " "${WRITES[@]}"
refuse "ddp_train hex float" "--lr: '0x1p-4' $REAL" "$D" "${TINY[@]}" --lr 0x1p-4 "${WRITES[@]}"
refuse "ddp_train plus sign" "--epochs: '\+2' $INT" "$D" "${TINY[@]}" --epochs +2 "${WRITES[@]}"
refuse "ddp_train underflow" "--lr: 1e-400 is too small: it underflows a double \(range \[1e-12, 1e\+06\]\)" \
    "$D" "${TINY[@]}" --lr 1e-400 "${WRITES[@]}"
refuse "ddp_train overflow" "--lr: 1e400 is out of range \[1e-12, 1e\+06\]" "$D" "${TINY[@]}" --lr 1e400 "${WRITES[@]}"
KJ=(--json "$OUT/k.json")
refuse "kernels leading space" "--n: ' 5' $U64" "$K" sum --n " 5" "${KJ[@]}"
refuse "kernels trailing space" "--tasks: '2 ' $INT" "$K" sum --tasks "2 " "${KJ[@]}"
refuse "kernels hex integer" "--tasks: '0x2' $INT" "$K" sum --tasks 0x2 "${KJ[@]}"
refuse "kernels hex float" "--switch-interval: '0x1p2' $REAL" "$K" sum --mode gil-threads --switch-interval 0x1p2 "${KJ[@]}"
refuse "kernels trailing space real" "--switch-interval: '5 ' $REAL" "$K" sum --mode gil-threads --switch-interval "5 " "${KJ[@]}"
refuse "kernels underflow" "--switch-interval: 1e-400 is too small: it underflows a double" \
    "$K" sum --mode gil-threads --switch-interval 1e-400 "${KJ[@]}"

# ---- repeated and inapplicable options, both programs ----
refuse "ddp_train repeated" "^ddp_train: --lr given twice$" "$D" "${TINY[@]}" --lr 0.1 --lr=0.2 "${WRITES[@]}"
refuse "ddp_train repeated flag" ": --quiet given twice$" "$D" "${TINY[@]}" --quiet --quiet "${WRITES[@]}"
refuse "kernels repeated" ": --tasks given twice$" "$K" sum --tasks 2 --tasks 3 "${KJ[@]}"
refuse "ddp_train --bucket-kb in dp" "--bucket-kb applies to --mode ddp only" "$D" "${TINY[@]}" --mode dp --bucket-kb 64 "${WRITES[@]}"
refuse "ddp_train --bucket-kb in serial" "--bucket-kb applies to --mode ddp only" "$D" "${TINY[@]}" --bucket-kb 64 --mode serial "${WRITES[@]}"
refuse "ddp_train --no-overlap in dp" "--no-overlap applies to --mode ddp only" "$D" "${TINY[@]}" --mode dp --no-overlap "${WRITES[@]}"
refuse "ddp_train --comm-timeout in serial" "--comm-timeout applies to --mode ddp only" "$D" "${TINY[@]}" --mode serial --comm-timeout 5 "${WRITES[@]}"
refuse "ddp_train --check-sync in dp" "--check-sync applies to --mode ddp only" "$D" "${TINY[@]}" --mode dp --check-sync 5 "${WRITES[@]}"
refuse "ddp_train --gil in ddp" "--gil applies to --mode serial and --mode dp only" "$D" "${TINY[@]}" --gil "${WRITES[@]}"
refuse "ddp_train --dp-pool in serial" "--dp-pool applies to --mode dp only" "$D" "${TINY[@]}" --mode serial --dp-pool "${WRITES[@]}"
refuse "ddp_train --switch-interval without --gil" "--switch-interval applies to --mode dp --gil only" \
    "$D" "${TINY[@]}" --mode dp --switch-interval 2 "${WRITES[@]}"
refuse "ddp_train --synthetic-train with a directory" "--synthetic-train applies to --data synthetic only" \
    "$D" --model "$SRC/models/tiny.cfg" --data "$T" --synthetic-train 100 "${WRITES[@]}"
refuse "kernels --switch-interval outside the lock" "--switch-interval applies to gil-threads and thread-pool --gil only" \
    "$K" sum --switch-interval 2 "${KJ[@]}"
refuse "kernels --limit in sum" "--limit does not apply to sum" "$K" sum --limit 5 "${KJ[@]}"
# what applies is still taken: --workers 1 in serial, --gil --switch-interval in dp
timeout -k 5 "$LIMIT" "$D" "${TINY[@]}" --mode serial --workers 1 --max-steps 1 --quiet && ok || bad "serial --workers 1"
timeout -k 5 "$LIMIT" "$D" "${TINY[@]}" --mode dp --workers 2 --gil --switch-interval 2 --max-steps 1 --quiet &&
    ok || bad "dp --gil --switch-interval"

# ---- --help: every option with a real default ----
"$D" --help >"$T/help" 2>&1 && ok || bad "ddp_train --help exit status"
grep -q '\[?\]' "$T/help" && bad "--help prints [?]: $(grep '\[?\]' "$T/help")" || ok
n_opts=$(grep -c '^  --' "$T/help")
n_defaults=$(grep -c '^  --.*\[[^]?][^]]*\]$' "$T/help")
[[ $n_opts -ge 30 && $n_opts == "$n_defaults" ]] && ok ||
    bad "--help: $n_defaults of $n_opts option lines end with a default: $(grep '^  --' "$T/help" | grep -v '\]$')"
grep -q -- '--comm-timeout SECONDS .*\[0\]$' "$T/help" && grep -q -- '--switch-interval MS .*\[5\]$' "$T/help" &&
    ok || bad "--help: --comm-timeout or --switch-interval default"
grep -q -- '--checkpoint-every STEPS .*\[none' "$T/help" && ok || bad "--help: --checkpoint-every's default is not a value it refuses"

# ---- a data file with bytes after its gzip stream ----
if command -v gzip >/dev/null; then
    mkdir "$T/data"
    be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
    for s in train t10k; do
        { printf '\x00\x00\x08\x03'; be32 64; be32 28; be32 28; head -c $((64 * 784)) /dev/urandom; } | gzip -c >"$T/data/$s-images-idx3-ubyte.gz"
        { printf '\x00\x00\x08\x01'; be32 64; head -c 64 /dev/zero; } | gzip -c >"$T/data/$s-labels-idx1-ubyte.gz"
    done
    timeout -k 5 "$LIMIT" "$D" --model "$SRC/models/tiny.cfg" --data "$T/data" --batch 16 --max-steps 1 --quiet &&
        ok || bad "the gzip data directory does not load"
    printf 'junk' >>"$T/data/t10k-labels-idx1-ubyte.gz"
    refuse "gzip with trailing bytes" "$T/data/t10k-labels-idx1-ubyte.gz: 4 bytes of trailing garbage after the gzip stream" \
        "$D" --model "$SRC/models/tiny.cfg" --data "$T/data" --batch 16 "${WRITES[@]}"
fi

finish
