#!/usr/bin/env bash
# scripts/test.sh - command (b) of the README: install what is missing, build, run every test
# through ctest. .ci/run runs exactly this.
set -euo pipefail
FW_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$FW_ROOT/scripts/deps.sh"

fw_install_deps
fw_build build
cd "$FW_ROOT/build"
ctest --output-on-failure --timeout 600 "$@"
