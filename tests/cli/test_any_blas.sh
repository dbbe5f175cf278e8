#!/usr/bin/env bash
# test_any_blas.sh: the build takes any CBLAS through CMake's FindBLAS, not only OpenBLAS.
# ddp_train is configured with -DBLA_VENDOR=Generic (the OpenBLAS-only calls compiled out), and
# trains; where Debian's reference BLAS is installed (libblas3), it trains again with that
# library loaded in place of OpenBLAS and must reach the same accuracy.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

timeout -k 5 500 bash -c "cmake -S '$SRC' -B '$T/b' -DCMAKE_BUILD_TYPE=Release -DBLA_VENDOR=Generic \
    -DBUILD_TESTING=OFF && cmake --build '$T/b' -j 2 --target ddp_train" >"$T/build.log" 2>&1 ||
    { bad "building with -DBLA_VENDOR=Generic: $(tail -5 "$T/build.log")"; finish; exit; }
grep -q "OpenBLAS calls: *)" "$T/build.log" && ok || bad "configure did not say the OpenBLAS calls are off"
run=(--mode serial --model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 2048 --synthetic-test 256
    --max-steps 40)
libs=("")
netlib=/usr/lib/x86_64-linux-gnu/blas
[[ -e $netlib/libblas.so.3 ]] && libs+=("$netlib")
for lib in "${libs[@]}"; do
    LD_LIBRARY_PATH=$lib timeout -k 5 120 "$T/b/bin/ddp_train" "${run[@]}" >"$T/out" 2>&1
    rc=$?
    [[ $rc == 0 ]] && ok || bad "generic-BLAS ddp_train ${lib:+with $lib }: exit $rc: $(tail -3 "$T/out")"
    grep -q "^blas: 1 thread(s) per worker, CBLAS (not OpenBLAS; " "$T/out" && ok ||
        bad "the blas line does not say which library: $(grep '^blas' "$T/out")"
    grep -q "test accuracy 1.0000" "$T/out" && ok || bad "${lib:-default}: $(grep '^done' "$T/out")"
done
if [[ ${#libs[@]} == 2 ]]; then
    # (ldd's whole output first: grep -q stopping early would fail the pipe under pipefail)
    LD_LIBRARY_PATH=$netlib ldd "$T/b/bin/ddp_train" >"$T/ldd" 2>&1
    grep -q "$netlib/libblas.so.3" "$T/ldd" && ok ||
        bad "the reference BLAS was not the one loaded"
fi
finish
