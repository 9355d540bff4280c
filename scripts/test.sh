#!/usr/bin/env bash
# scripts/test.sh - command (b) of the README: install what is missing, build, run every test
# through ctest, then again under AddressSanitizer + UndefinedBehaviorSanitizer, and the
# end-to-end tests under ThreadSanitizer. .ci/run runs exactly this. The InceptionV3 comparison
# with nsfwjs (ctest label "inception", about a minute) runs in the first pass only.
# FW_SANITIZERS=0 skips the sanitizer builds (quicker local runs). Arguments go to every ctest.
set -euo pipefail
FW_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$FW_ROOT/scripts/deps.sh"

fw_install_deps
fw_install_npm

echo "== build/ (RelWithDebInfo)"
fw_build build
(cd "$FW_ROOT/build" && ctest --output-on-failure --timeout 600 "$@")

if [ "${FW_SANITIZERS:-1}" != "0" ]; then
    echo "== build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer)"
    cmake -S "$FW_ROOT" -B "$FW_ROOT/build-asan" -DCMAKE_BUILD_TYPE=Debug \
        -DFW_SANITIZE=address,undefined >/dev/null
    cmake --build "$FW_ROOT/build-asan" -j"$(nproc)"
    (cd "$FW_ROOT/build-asan" &&
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --output-on-failure --timeout 900 -LE inception "$@")

    echo "== build-tsan/ (ThreadSanitizer, end-to-end test)"
    cmake -S "$FW_ROOT" -B "$FW_ROOT/build-tsan" -DCMAKE_BUILD_TYPE=Debug \
        -DFW_SANITIZE=thread >/dev/null
    cmake --build "$FW_ROOT/build-tsan" -j"$(nproc)"
    (cd "$FW_ROOT/build-tsan" &&
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        ctest --output-on-failure --timeout 900 -R 'make_test_models|fetch_test_photos|test_integration|test_realtime|test_tools' "$@")
fi
