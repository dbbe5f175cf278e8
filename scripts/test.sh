#!/usr/bin/env bash
# test.sh: set up, build, and run every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# the sanitizer builds the dp_tsan and dp_asan tests run (TDP_SANITIZERS=0 skips them)
if [[ ${TDP_SANITIZERS:-1} != 0 ]]; then
    for san in tsan:thread asan:address,undefined; do
        dir=build-${san%%:*}
        cmake -S . -B "$dir" -DTDP_SANITIZE="${san#*:}" -DBUILD_TESTING=OFF \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
        cmake --build "$dir" -j "$(nproc)" --target ddp_train >/dev/null
    done
fi
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j 2 "$@"
