#!/usr/bin/env bash
# test_hostile_ranks.sh: ranks started with different options, resume states or data (Open MPI's
# MPMD form gives each rank its own command line). Before their first collective the ranks agree
# on the whole resolved configuration, so each case ends with exit 2 on every rank, every rank
# saying the same line naming the setting and both values, within the time bound, with nothing
# written and no process left: no crash, no hang.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

mark="hostile-ranks-$$"
# each rank runs under this wrapper, which records its exit status in DIR/rc.RANK
W="$T/$mark-wrap.sh"
cat >"$W" <<'EOF'
dir=$1
shift
"$@"
rc=$?
echo "$rc" >"$dir/rc.${OMPI_COMM_WORLD_RANK:-unknown}"
exit "$rc"
EOF
C0=(--model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 512 --synthetic-test 128
    --epochs 2 --batch 16)
C=("${C0[@]}" --quiet)

# no_process_left: no process carries this script's marker (within 5 s)
no_process_left() { gone "$mark"; }

# base_for ARGS...: C, one element a line, less the options ARGS set themselves (ddp_train refuses
# an option given twice; a --data directory takes no --synthetic-* sizes)
base_for() {
    local i j skip
    for ((i = 0; i < ${#C[@]}; i++)); do
        skip=0
        if [[ ${C[i]} == --* ]]; then
            for j in "$@"; do
                [[ ${C[i]} == "$j" || ($j == --data && ${C[i]} == --synthetic-*) ]] && skip=1
            done
        fi
        if ((skip)); then
            [[ ${C[i]} == --quiet ]] || i=$((i + 1)) # and its value
        else
            printf '%s\n' "${C[i]}"
        fi
    done
}

# disagree NAME MESSAGE [RANK 0 ARGS...] -- [RANK 1 ARGS...]: both ranks get C, then their own
# arguments; every rank must exit 2 and print MESSAGE (each rank may have a log of its own).
disagree() {
    local name=$1 msg=$2
    shift 2
    local a=() b=()
    while [[ $1 != -- ]]; do a+=("$1"); shift; done
    shift
    b=("$@")
    local ca cb
    mapfile -t ca < <(base_for "${a[@]}")
    mapfile -t cb < <(base_for "${b[@]}")
    rm -f "$T"/rc.* "$T/$mark.json"
    local t0=$SECONDS
    # mpirun waits for every rank to end by itself (by default it kills the others once one
    # exits non-zero, sometimes before a rank's wrapper has recorded its status)
    MPI_TIMEOUT=60 mpirun_ --mca orte_abort_on_non_zero_status 0 \
        -np 1 bash "$W" "$T" "$BIN/ddp_train" "${ca[@]}" --json "$T/$mark.json" "${a[@]}" : \
        -np 1 bash "$W" "$T" "$BIN/ddp_train" "${cb[@]}" --json "$T/$mark.json" "${b[@]}" \
        >"$T/out" 2>"$T/err"
    local rc=$? dt=$((SECONDS - t0))
    local r0 r1
    r0=$(cat "$T/rc.0" 2>/dev/null) r1=$(cat "$T/rc.1" 2>/dev/null)
    # (mpirun's own status says nothing here: with the option above it is 0; 124 is the timeout)
    [[ $rc != 124 && $rc != 137 && $r0 == 2 && $r1 == 2 ]] && ok ||
        bad "$name: exit $rc (rank 0: ${r0:-none}, rank 1: ${r1:-none}), expected 2 on every rank: $(head -c 600 "$T/err")"
    ((dt < 60)) && ok || bad "$name: took $dt s"
    [[ $(grep -cF -- "$msg" "$T/err") == 2 && $(grep -c "ranks disagree on" "$T/err") == 2 ]] && ok ||
        bad "$name: expected '$msg' once from each rank, got: $(grep -v '^--\|^ \|^$\|mpirun\|Primary\|Process name\|Exit code\|the job' "$T/err" | head -c 600)"
    grep -qiE "segmentation|Signal:|malloc\(\)|MPI_ABORT|core dumped" "$T/err" && bad "$name: a crash: $(head -c 600 "$T/err")" || ok
    [[ ! -e $T/$mark.json ]] && ok || bad "$name: the summary was written"
    no_process_left && ok || bad "$name: processes left: $(pgrep -af "$mark")"
}

# checkpoints of the same run (2 ranks x batch 16) at steps 10 and 20
for s in 10 20; do
    TDP_TEST_STOP_AT=$s mpirun_ -np 2 -x TDP_TEST_STOP_AT "$BIN/ddp_train" "${C[@]}" \
        --checkpoint "$T/ck$s.bin" >/dev/null 2>"$T/err"
    rc=$?
    [[ $rc == 75 && -s $T/ck$s.bin ]] && ok || bad "checkpoint at step $s: exit $rc: $(head -c 400 "$T/err")"
done

# an IDX data set (28x28 images, 10 classes) and a copy with one pixel of one image changed:
# image 100, which a hash of every 997th image does not see
mkdir -p "$T/idx" "$T/idx1"
python3 - "$T/idx" <<'EOF'
import random, struct, sys
rng = random.Random(7)
def images(n):
    return struct.pack(">IIII", 0x803, n, 28, 28) + bytes(rng.randrange(256) for _ in range(n * 784))
def labels(n):
    return struct.pack(">II", 0x801, n) + bytes(rng.randrange(10) for _ in range(n))
d = sys.argv[1]
for name, data in (("train-images-idx3-ubyte", images(512)), ("train-labels-idx1-ubyte", labels(512)),
                   ("t10k-images-idx3-ubyte", images(128)), ("t10k-labels-idx1-ubyte", labels(128))):
    open(f"{d}/{name}", "wb").write(data)
EOF
cp "$T"/idx/* "$T/idx1/"
off=$((16 + 100 * 784 + 397))
byte=$(od -An -tu1 -j $off -N 1 "$T/idx1/train-images-idx3-ubyte" | tr -d ' ')
printf "$(printf '\\%03o' $(((byte + 1) % 256)))" |
    dd of="$T/idx1/train-images-idx3-ubyte" bs=1 seek=$off conv=notrunc status=none
cmp -s "$T/idx/train-images-idx3-ubyte" "$T/idx1/train-images-idx3-ubyte" && bad "the pixel was not changed" || ok

disagree check-sync "ranks disagree on --check-sync: rank 0 has 5, rank 1 has 0" --check-sync 5 --
disagree comm-timeout "ranks disagree on --comm-timeout: rank 0 has 0, rank 1 has 2" -- --comm-timeout 2
disagree resume-one-rank "ranks disagree on --resume: rank 0 has step 10 (epoch 1, step 10 of it)" \
    --resume "$T/ck10.bin" --
grep -qF ", rank 1 has none" "$T/err" && ok || bad "resume-one-rank: rank 1's value: $(head -c 400 "$T/err")"
disagree resume-other-rank "ranks disagree on --resume: rank 0 has none, rank 1 has step 20" -- --resume "$T/ck20.bin"
disagree resume-steps "ranks disagree on --resume: rank 0 has step 10 (epoch 1, step 10 of it)" \
    --resume "$T/ck10.bin" -- --resume "$T/ck20.bin"
grep -qF "rank 1 has step 20 (epoch 2, step 4 of it)" "$T/err" && ok || bad "resume-steps: rank 1's value: $(head -c 400 "$T/err")"
disagree seed-above-2^53 "ranks disagree on --seed: rank 0 has 9007199254740992, rank 1 has 9007199254740993" \
    --seed 9007199254740992 -- --seed 9007199254740993
disagree lr "ranks disagree on --lr: rank 0 has 0.05, rank 1 has 0.02" --lr 0.05 --
disagree batch "ranks disagree on --batch: rank 0 has 16, rank 1 has 8" -- --batch 8
disagree bucket-kb "ranks disagree on --bucket-kb: rank 0 has 256, rank 1 has 1" -- --bucket-kb 1
disagree no-overlap "ranks disagree on --no-overlap: rank 0 has on, rank 1 has off" --no-overlap --
disagree deterministic "ranks disagree on --deterministic: rank 0 has off, rank 1 has on" -- --deterministic
disagree workers "ranks disagree on --workers: rank 0 has 2, rank 1 has 1" --workers 2 --
disagree max-steps "ranks disagree on --max-steps: rank 0 has none, rank 1 has 7" -- --max-steps 7
disagree trace "ranks disagree on --trace: rank 0 has none, rank 1 has given" -- --trace "$T/$mark.trace"
[[ ! -e $T/$mark.trace ]] && ok || bad "trace: written"
disagree checkpoint "ranks disagree on --checkpoint: rank 0 has given, rank 1 has none" \
    --checkpoint "$T/$mark.ckpt" --
[[ ! -e $T/$mark.ckpt ]] && ok || bad "checkpoint: written"
disagree data-one-pixel "ranks disagree on training data hash: rank 0 has" \
    --data "$T/idx" -- --data "$T/idx1"
# --help on one rank only: the others must not wait for it
disagree help "ranks disagree on --help: rank" --help --
# ... also when that rank asks for another mode (it must still take part in the agreement)
disagree help-serial ", another rank has" --help --mode serial --
grep -qF "rank 0 has it, another rank has none" "$T/err" && grep -qF "rank 1 has none, another rank has it" "$T/err" &&
    ok || bad "help-serial: each rank's line: $(head -c 400 "$T/err")"
# what may differ: the output paths of rank 0 (only rank 0 writes them) and --quiet
rm -f "$T"/rc.*
MPI_TIMEOUT=60 mpirun_ -np 1 "$BIN/ddp_train" "${C[@]}" --max-steps 3 --json "$T/a.json" : \
    -np 1 "$BIN/ddp_train" "${C0[@]}" --max-steps 3 --json "$T/b.json" >"$T/out" 2>"$T/err"
rc=$?
[[ $rc == 0 && -s $T/a.json && ! -e $T/b.json ]] && ok || bad "rank 0's outputs only: exit $rc: $(head -c 400 "$T/err")"
no_process_left && ok || bad "processes left: $(pgrep -af "$mark")"
finish
