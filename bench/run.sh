#!/usr/bin/env bash
# bench/run.sh - framewire against its bare pipeline and against the Python baselines (Flask
# /predict, FastAPI WebSocket), in one run; writes the tables into docs/benchmarks.md (between the
# bench markers) and prints them.
#   bench/run.sh [MANIFEST.json] [fw_bench options...]
# Default model: the default model of scripts/run.sh (made here if needed). Frames: the darknet
# photos re-encoded as 640x480 JPEGs (a camera frame's size).
set -euo pipefail
FW_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$FW_ROOT/scripts/deps.sh"
fw_install_deps
fw_build build

MODEL="${1:-}"
[ $# -gt 0 ] && shift
if [ -z "$MODEL" ]; then
    fw_default_model "$FW_ROOT/build/models/nsfw_mobilenet_v2"
    MODEL="$FW_ROOT/build/models/nsfw_mobilenet_v2/model.json"
fi

PHOTOS="$FW_ROOT/build/test-photos"
"$FW_ROOT/tests/fetch_photos.sh" "$PHOTOS" >/dev/null
FRAMES="$FW_ROOT/build/bench-frames"
mkdir -p "$FRAMES"
for f in "$PHOTOS"/*.jpg; do
    out="$FRAMES/$(basename "$f")"
    [ -f "$out" ] || ffmpeg -loglevel error -y -i "$f" -vf scale=640:480 -q:v 4 "$out"
done

TABLE="$(mktemp)"
"$FW_ROOT/build/bench/fw_bench" --model "$MODEL" --frames "$FRAMES" --out "$TABLE" --baselines "$@"

DOC="$FW_ROOT/docs/benchmarks.md"
/usr/bin/python3 - "$DOC" "$TABLE" "$*" <<'PY'
import sys
doc, table, extra = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3]
text = open(doc).read()
begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
a, b = text.index(begin) + len(begin), text.index(end)
cmd = "bench/run.sh" + (" " + extra if extra else "")
text = text[:a] + "\nCommand: `" + cmd + "`\n\n" + table + "\n" + text[b:]
open(doc, "w").write(text)
PY
rm -f "$TABLE"
echo "wrote the table into docs/benchmarks.md"
