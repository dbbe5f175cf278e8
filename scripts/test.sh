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
    # The unit tests, the fuzz corpora, the command line and DP again in the AddressSanitizer +
    # UBSan build (leak checking is off here because Open MPI's singleton start-up keeps memory
    # until exit; the dp_asan test above checks leaks of the single-process modes).
    echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        ctest --test-dir build-asan --output-on-failure -j 2 -R '^test_|^fuzz_replay|^cli$|^dp$'
fi
