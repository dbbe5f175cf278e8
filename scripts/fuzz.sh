#!/usr/bin/env bash
# fuzz.sh: a libFuzzer campaign on the parsers of hostile input (Debian's clang,
# -fsanitize=fuzzer,address,undefined).
#   scripts/fuzz.sh SECONDS [HARNESS...]    harnesses: idx idx_file cfg ckpt (default: all),
#                                           run two at a time; SECONDS each (default 60)
# Seeds come from tests/fuzz/corpus/NAME; new inputs go to build-fuzz/corpus-NAME; a crash is
# saved as build-fuzz/crash-NAME-* and the script exits 1 (copy it into tests/fuzz/corpus/NAME
# once fixed: ctest replays those corpora). Prints executions and findings per harness.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS must be a positive integer" >&2; exit 2; }
shift || true
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(idx idx_file cfg ckpt)
for h in "${harnesses[@]}"; do
    [[ -f tests/fuzz/fuzz_$h.c ]] || { echo "fuzz.sh: no harness '$h' (idx idx_file cfg ckpt)" >&2; exit 2; }
done
if ! command -v clang >/dev/null; then
    echo "fuzz.sh: installing clang"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
fi
out=build-fuzz
mkdir -p "$out"
srcs=(src/tinyddp/util.c src/tinyddp/rng.c src/tinyddp/idx.c src/tinyddp/data.c src/tinyddp/cfg.c src/tinyddp/model.c
    src/tinyddp/checkpoint.c src/tinyddp/runconfig.c src/tinyddp/argnum.c
    src/tinyddp/tmpfiles.c src/tinyddp/outfile.c)
cflags=(-std=c11 -O1 -g -D_POSIX_C_SOURCE=200809L -Isrc/tinyddp -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
for h in "${harnesses[@]}"; do
    clang "${cflags[@]}" "tests/fuzz/fuzz_$h.c" "${srcs[@]}" -lz -lm -o "$out/fuzz_$h"
done
run_one() {
    local h=$1 corpus=$out/corpus-$1
    mkdir -p "$corpus"
    local rc=0
    "$out/fuzz_$h" "$corpus" "tests/fuzz/corpus/$h" -max_total_time="$secs" -max_len=4096 \
        -artifact_prefix="$out/crash-$h-" -print_final_stats=1 >"$out/log-$h" 2>&1 || rc=$?
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log-$h" | tail -1)
    local crashes
    crashes=$(find "$out" -maxdepth 1 -name "crash-$h-*" | wc -l)
    echo "fuzz $h: ${execs:-?} executions in ${secs}s, corpus $(ls "$corpus" | wc -l) inputs, $crashes crash(es), exit $rc"
    return $rc
}
status=0
for ((i = 0; i < ${#harnesses[@]}; i += 2)); do
    pids=()
    for h in "${harnesses[@]:i:2}"; do
        run_one "$h" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || status=1; done
done
exit $status
