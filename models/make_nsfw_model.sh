#!/usr/bin/env bash
# make_nsfw_model.sh OUTDIR [MobileNetV2|InceptionV3] - installs the model pipeline's npm
# packages when needed and converts one of nsfwjs' models into OUTDIR (model.pt, model.json),
# unless an up-to-date conversion is there. Used by the CMake targets nsfw_model and
# nsfw_inception_v3 and by the ctest fixtures; scripts/run.sh calls the same function.
set -euo pipefail
FW_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 OUTDIR [MobileNetV2|InceptionV3]" >&2
    exit 2
fi
. "$FW_ROOT/scripts/deps.sh"
fw_default_model "$1" "${2:-MobileNetV2}"
