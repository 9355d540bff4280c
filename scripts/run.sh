#!/usr/bin/env bash
# scripts/run.sh - command (a) of the README: on a fresh Debian 12 machine, install what is
# missing, build the server and the React demo app (client-react/dist), make the model, and start
# framewire serving the app. Prints the URL.
# Extra arguments go to framewire (e.g. --port 9000, --host 0.0.0.0).
set -euo pipefail
FW_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$FW_ROOT/scripts/deps.sh"

fw_install_deps
fw_install_npm
fw_build build
fw_build_client

# Until the default-model issue lands, the tiny deterministic test model stands in: it answers
# "red", "green", "blue" or "dark" from the colours of the picture.
MODEL_DIR="$FW_ROOT/build/models"
if [ ! -f "$MODEL_DIR/tiny.json" ]; then
    /usr/bin/python3 "$FW_ROOT/models/make_tiny_model.py" --out "$MODEL_DIR"
fi

exec "$FW_ROOT/build/src/framewire" --model "$MODEL_DIR/tiny.json" \
    --static-dir "$FW_ROOT/client-react/dist" "$@"
