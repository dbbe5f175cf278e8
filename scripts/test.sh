#!/usr/bin/env bash
# test.sh: set up, build, and run every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# the extra builds some tests run (TDP_SANITIZERS=0 skips them; those tests then say skipped):
# ThreadSanitizer, AddressSanitizer+UBSan, and a build without -march=native for valgrind
if [[ ${TDP_SANITIZERS:-1} != 0 ]]; then
    command -v valgrind >/dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
    }
    for spec in tsan:-DTDP_SANITIZE=thread asan:-DTDP_SANITIZE=address,undefined \
        valgrind:-DTDP_NATIVE=OFF; do
        dir=build-${spec%%:*}
        cmake -S . -B "$dir" "${spec#*:}" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            >/dev/null
        cmake --build "$dir" -j "$(nproc)" --target ddp_train >/dev/null
    done
fi
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j 2 "$@"
