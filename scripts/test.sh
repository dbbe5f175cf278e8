#!/usr/bin/env bash
# test.sh: set up, build, and run every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# the extra builds (TDP_SANITIZERS=0 skips them; the tests that need them then say skipped):
# ThreadSanitizer, AddressSanitizer+UBSan (the whole suite runs again there), and a build
# without -march=native for valgrind
if [[ ${TDP_SANITIZERS:-1} != 0 ]]; then
    command -v valgrind >/dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
    }
    for spec in tsan:-DTDP_SANITIZE=thread valgrind:-DTDP_NATIVE=OFF; do
        dir=build-${spec%%:*}
        cmake -S . -B "$dir" "${spec#*:}" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            >/dev/null
        cmake --build "$dir" -j "$(nproc)" --target ddp_train kernels >/dev/null
    done
    cmake -S . -B build-asan -DTDP_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        >/dev/null
    cmake --build build-asan -j "$(nproc)" >/dev/null
fi
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j 2 "$@"
if [[ ${TDP_SANITIZERS:-1} != 0 && $# == 0 ]]; then
    # The whole suite again against the AddressSanitizer + UBSan build, with leak checking
    # (tests/CMakeLists.txt sets the sanitizers' options and Open MPI's leak suppressions).
    echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
    ctest --test-dir build-asan --output-on-failure -j 2
fi
