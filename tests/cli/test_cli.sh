#!/usr/bin/env bash
# test_cli.sh: ddp_train's command-line contract: --help, exit status 2 with one clear line for
# bad options and unusable files, nothing written on failure, exit 1 for a diverging run, and a
# good run's JSON and weight dump.
set -uo pipefail
BIN="${TDP_BIN:?}/ddp_train"
SRC="${TDP_SOURCE_DIR:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect STATUS PATTERN ARGS...: exit status and a stderr line matching PATTERN
expect() {
    local want=$1 pat=$2
    shift 2
    "$BIN" "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [[ $got != "$want" ]]; then
        bad "ddp_train $*: exit $got, expected $want; stderr: $(cat "$T/err")"
    elif ! grep -qE -- "$pat" "$T/err"; then
        bad "ddp_train $*: stderr '$(cat "$T/err")' does not match '$pat'"
    elif [[ $want == 2 && $(wc -l <"$T/err") != 1 ]]; then
        bad "ddp_train $*: expected one line on stderr, got: $(cat "$T/err")"
    else
        ok
    fi
}

TINY=(--model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 512 --synthetic-test 128)

# --help lists every option with its default
"$BIN" --help >"$T/help" 2>&1 && ok || bad "--help exit status"
for o in mode model data epochs max-steps batch lr momentum weight-decay seed workers \
    deterministic gil json dump-weights trace checkpoint checkpoint-every resume quiet; do
    grep -q -- "--$o" "$T/help" && ok || bad "--help does not mention --$o"
done
grep -q "default" "$T/help" && grep -q "\[64\]\|else 64\]" "$T/help" && ok || bad "--help shows no defaults"

expect 2 "unknown option '--frobnicate'" --frobnicate
expect 2 "unexpected argument" stray
expect 2 "--batch: 0 is out of range" --batch 0
expect 2 "--batch: -3 is out of range" --batch -3
expect 2 "--batch: '12x' is not an integer" --batch 12x
expect 2 "--lr: 'nan' is not a finite number" --lr nan
expect 2 "--lr: 'inf' is not a finite number" --lr inf
expect 2 "--lr: -1 is out of range" --lr -1
expect 2 "--momentum: 1 is out of range" --momentum 1
expect 2 "--epochs needs a value" --epochs
expect 2 "--mode: 'threads' is not one of" --mode threads
expect 2 "--workers: 0 is out of range" --workers 0
expect 2 "--seed: '-1' is not" --seed -1
expect 2 "--quiet takes no value" --quiet=yes
expect 2 "cannot open $T/missing.cfg" --model "$T/missing.cfg"
printf '[net]\ninput = 784\noutput = 10\n[dense]\nunits 32\n' >"$T/bad.cfg"
expect 2 "$T/bad.cfg:5:" --model "$T/bad.cfg"
expect 2 "$T/nodata" "${TINY[@]:0:2}" --data "$T/nodata"
expect 2 "directory $T/no/such is not writable" "${TINY[@]}" --json "$T/no/such/x.json"
expect 2 "is a directory" "${TINY[@]}" --dump-weights "$T"

# a data directory whose images do not fit the model (2x2 images, model input 784)
mkdir -p "$T/small"
be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
for s in train t10k; do
    { printf '\x00\x00\x08\x03'; be32 4; be32 2; be32 2; head -c 16 /dev/zero; } >"$T/small/$s-images-idx3-ubyte"
    { printf '\x00\x00\x08\x01'; be32 4; printf '\x00\x01\x02\x03'; } >"$T/small/$s-labels-idx1-ubyte"
done
expect 2 "model input 784 does not match the data's 4 features" "${TINY[@]:0:2}" --data "$T/small"

# a diverging run stops with exit 1 and suggests a lower learning rate; writes nothing
expect 1 "try --lr" "${TINY[@]}" --lr 100000 --momentum 0 --json "$T/div.json" --dump-weights "$T/div.bin"
[[ ! -e "$T/div.json" && ! -e "$T/div.bin" ]] && ok || bad "files written by a failed run"
ls "$T" | grep -q '\.tmp\.' && bad "temporary files left behind" || ok

# a good run: JSON with every key, the weight dump of the right size, quiet prints nothing
"$BIN" "${TINY[@]}" --epochs 1 --batch 32 --json "$T/run.json" --dump-weights "$T/w.bin" --quiet >"$T/out" 2>"$T/err"
[[ $? == 0 ]] && ok || bad "good run failed: $(cat "$T/err")"
[[ ! -s "$T/out" && ! -s "$T/err" ]] && ok || bad "--quiet printed: $(cat "$T/out" "$T/err")"
for k in mode world_size workers hosts model params epochs steps batch global_batch \
    train_samples_per_s test_accuracy final_loss seconds replicated_bytes_total \
    broadcast_bytes allreduce_bytes_per_step comm_seconds gil_wait_seconds; do
    grep -q "\"$k\": " "$T/run.json" && ok || bad "JSON lacks $k"
done
grep -q '"steps": 16,' "$T/run.json" && ok || bad "512 samples / batch 32 should be 16 steps: $(cat "$T/run.json")"
grep -q '"mode": "ddp"' "$T/run.json" && ok || bad "mode (ddp is the default, a world of one without mpirun)"
# tiny: 784*32 + 32 + 32*10 + 10 floats
[[ $(stat -c %s "$T/w.bin") == $(((784 * 32 + 32 + 32 * 10 + 10) * 4)) ]] && ok || bad "weight dump size $(stat -c %s "$T/w.bin")"
if command -v /usr/bin/python3 >/dev/null; then
    /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d) >= 19 and all(isinstance(v, (int, float, str)) or (isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)) for v in d.values()), d" "$T/run.json" && ok || bad "JSON does not parse"
fi
"$BIN" "${TINY[@]}" --mode serial --max-steps 3 --json "$T/serial.json" --quiet &&
    grep -q '"mode": "serial"' "$T/serial.json" && ok || bad "--mode serial JSON: $(cat "$T/serial.json")"
# writing to /dev/null leaves the device alone (outputs are renamed into place only for files)
"$BIN" "${TINY[@]}" --mode serial --max-steps 3 --json /dev/null --dump-weights /dev/null --quiet &&
    [[ -c /dev/null ]] && ok || bad "--json /dev/null replaced the device"
# the same seed gives the same weights; another seed different ones
"$BIN" "${TINY[@]}" --epochs 1 --batch 32 --dump-weights "$T/w2.bin" --quiet && cmp -s "$T/w.bin" "$T/w2.bin" && ok || bad "same seed, different weights"
"$BIN" "${TINY[@]}" --epochs 1 --batch 32 --seed 7 --dump-weights "$T/w3.bin" --quiet && ! cmp -s "$T/w.bin" "$T/w3.bin" && ok || bad "other seed, same weights"
# piped output: plain lines, no carriage returns; the configuration comes first
"$BIN" "${TINY[@]}" --epochs 2 >"$T/out" 2>&1
head -1 "$T/out" | grep -q "^tinyddp: mode ddp, world 1" && ok || bad "configuration not printed first"
[[ $(grep -c "^epoch " "$T/out") == 2 ]] && ok || bad "expected 2 epoch lines: $(cat "$T/out")"
grep -q $'\r' "$T/out" && bad "carriage returns in piped output" || ok

echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
