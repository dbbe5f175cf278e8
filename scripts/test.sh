#!/usr/bin/env bash
# test.sh: set up, build, and run every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# the extra builds (TDP_SANITIZERS=0 skips them; the tests that need them then say skipped):
# ThreadSanitizer, AddressSanitizer+UBSan (the suite runs again there, less the tests labelled
# nosan), and a build without -march=native for valgrind
if [[ ${TDP_SANITIZERS:-1} != 0 ]]; then
    command -v valgrind >/dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
    }
    # CMakePresets.json: tsan and valgrind build the two programs, asan everything
    for preset in tsan valgrind asan; do
        cmake --preset "$preset" >/dev/null
        cmake --build --preset "$preset" -j "$(nproc)" >/dev/null
    done
fi
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j 2 "$@"
if [[ ${TDP_SANITIZERS:-1} != 0 && $# == 0 ]]; then
    # The suite again against the AddressSanitizer + UBSan build, with leak checking
    # (tests/CMakeLists.txt sets the sanitizers' options and Open MPI's leak suppressions), less
    # the tests labelled nosan (scripts, pipelines, many-epoch figures: no path of their own)
    echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
    ctest --test-dir build-asan --output-on-failure -j 2 -LE nosan
fi
