#!/usr/bin/env bash
# scripts/run.sh - command (a) of the README: on a fresh Debian 12 machine, install what is
# missing, build the server and the React demo app (client-react/dist), make the default model,
# and start framewire serving the app. Prints the URL.
# Extra arguments go to framewire (e.g. --port 9000, --host 0.0.0.0).
set -euo pipefail
FW_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$FW_ROOT/scripts/deps.sh"

fw_install_deps
fw_install_npm
fw_build build
fw_build_client

# The default model: nsfwjs' MobileNetV2 (MIT), converted to TorchScript on first run (seconds,
# needs the npm registry once); later runs find it up to date and skip the conversion.
MODEL_DIR="$FW_ROOT/build/models/nsfw_mobilenet_v2"
fw_default_model "$MODEL_DIR"

exec "$FW_ROOT/build/src/framewire" --model "$MODEL_DIR/model.json" \
    --static-dir "$FW_ROOT/client-react/dist" "$@"
