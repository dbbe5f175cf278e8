#!/usr/bin/env bash
# test_train_accuracy.sh: the default model on Fashion-MNIST reaches >= 0.84 test accuracy after
# 1 epoch and >= 0.88 after 10 (the default run).
set -uo pipefail
BIN="${TDP_BIN:?}/ddp_train"
SRC="${TDP_SOURCE_DIR:?}"
DATA=/usr/share/datasets/fashion-mnist
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
if [[ ! -d $DATA ]]; then
    echo "FAIL: $DATA missing (apt-get install dataset-fashion-mnist)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
check() { # epochs min
    OPENBLAS_NUM_THREADS=1 "$BIN" --model "$SRC/models/fashion-mlp.cfg" --data "$DATA" \
        --epochs "$1" --json "$T/r$1.json" >"$T/log$1" 2>&1 || { echo "FAIL: run failed: $(tail -3 "$T/log$1")" >&2; fail=$((fail + 1)); return; }
    acc=$(sed -n 's/.*"test_accuracy": \([0-9.]*\).*/\1/p' "$T/r$1.json")
    echo "epochs $1: test accuracy $acc (need >= $2)"
    if awk -v a="$acc" -v m="$2" 'BEGIN { exit !(a >= m) }'; then pass=$((pass + 1)); else
        fail=$((fail + 1)); cat "$T/log$1" >&2; fi
}
check 1 0.84
check 10 0.88
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
