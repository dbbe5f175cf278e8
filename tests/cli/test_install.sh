#!/usr/bin/env bash
# test_install.sh: `cmake --install BUILD --prefix P` gives programs that work from P alone:
# ddp_train finds its default model in P/share/tinyddp/models (not in the source tree it was
# built from, not in the working directory), and every program answers --help and --version
# with exit 0.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

build=$(dirname "$BIN")
P="$T/prefix"
cmake --install "$build" --prefix "$P" >"$T/install.log" 2>&1 && ok || bad "cmake --install: $(tail -5 "$T/install.log")"
for f in bin/ddp_train bin/kernels bin/gemm_bench bin/allreduce_bench share/tinyddp/models/fashion-mlp.cfg \
    share/tinyddp/models/tiny.cfg share/tinyddp/models/wide.cfg; do
    [[ -f $P/$f ]] && ok || bad "not installed: $f"
done

# the default model, from a directory without models/
mkdir -p "$T/elsewhere"
(cd "$T/elsewhere" && timeout -k 2 60 "$P/bin/ddp_train" --mode serial --data synthetic \
    --synthetic-train 256 --synthetic-test 64 --max-steps 2 --batch 32) >"$T/run.out" 2>"$T/run.err"
rc=$?
[[ $rc == 0 ]] && ok || bad "installed ddp_train: exit $rc: $(head -c 400 "$T/run.err")"
grep -qF "model $P/bin/../share/tinyddp/models/fashion-mlp.cfg (784-256-128-10" "$T/run.out" && ok ||
    bad "installed ddp_train did not take the installed default model: $(grep '^tinyddp:' "$T/run.out")"
[[ -z $(ls -A "$T/elsewhere") ]] && ok || bad "the run wrote into its working directory: $(ls -A "$T/elsewhere")"

# --help, -h and --version: exit 0, on stdout
for cmd in "ddp_train --help" "ddp_train -h" "ddp_train --version" "kernels --help" "kernels --version" \
    "gemm_bench --help" "allreduce_bench --help" "allreduce_bench --version"; do
    read -r prog arg <<<"$cmd"
    timeout -k 2 30 "$P/bin/$prog" "$arg" >"$T/h.out" 2>"$T/h.err"
    rc=$?
    [[ $rc == 0 && -s $T/h.out && ! -s $T/h.err ]] && ok || bad "$cmd: exit $rc: $(head -c 300 "$T/h.err")"
done
grep -Eq "^ddp_train [0-9]+\.[0-9]+\.[0-9]+( \(commit [0-9a-f]{12}(-dirty)?\))?$" <("$P/bin/ddp_train" --version) && ok ||
    bad "ddp_train --version: $("$P/bin/ddp_train" --version | head -1)"
# the version is the project's (CMakeLists.txt)
want=$(sed -n 's/^project(tinyddp VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
"$P/bin/kernels" --version | grep -q "^kernels $want" && ok || bad "kernels --version is not $want"
finish
