# scripts/deps.sh - sourced by run.sh and test.sh: installs framewire's Debian 12 packages when
# any is missing (needs root or sudo; does nothing when everything is there), client-react's npm
# packages (fw_install_npm) and builds the demo app (fw_build_client).
FW_APT_PACKAGES="build-essential cmake pkg-config libwebsockets-dev libturbojpeg0-dev libcjson-dev
libcmocka-dev libtorch-dev python3-torch ca-certificates chromium fonts-dejavu-core ffmpeg
curl openssl"

fw_install_deps() {
    local missing=""
    for p in $FW_APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "framewire: installing Debian packages:$missing"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
}

# Configures and builds into $1 (default build/).
fw_build() {
    local dir="${1:-build}"
    cmake -S "$FW_ROOT" -B "$FW_ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$FW_ROOT/$dir" -j"$(nproc)"
}

# `npm ci` in $1 from its committed package-lock.json, again only when the lock file changed
# since the last install (a stamp in node_modules/). Further arguments go to npm ci.
fw_npm_ci() {
    local dir="$1" sum stamp="$1/node_modules/.fw-lock.sha256"
    shift
    sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
        return 0
    fi
    echo "framewire: npm ci in ${dir#"$FW_ROOT"/}/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error "$@")
    echo "$sum" >"$stamp"
}

# client-react: Node.js 20.19+ (vite 8) with npm.
fw_install_npm() {
    local dir="$FW_ROOT/client-react"
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "framewire: Node.js 20.19+ and npm are needed for client-react (not found)" >&2
        return 1
    fi
    if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
        echo "framewire: client-react needs Node.js 20.19 or newer (vite 8); found $(node --version)" >&2
        return 1
    fi
    fw_npm_ci "$dir"
}

# Type-checks and builds the demo app into client-react/dist (what run.sh serves at /).
fw_build_client() {
    (cd "$FW_ROOT/client-react" && npm run --silent build -- --logLevel warn)
}

# --- model pipeline (models/): node + npm for nsfwjs, torchvision for models/export.py ---------
FW_APT_PACKAGES="$FW_APT_PACKAGES python3-numpy python3-torchvision python3-websocket"

# --- bench/: the Python baselines framewire is measured against (Flask /predict, FastAPI
# WebSocket), checked by the test bench_baselines_agree ------------------------------------------
FW_APT_PACKAGES="$FW_APT_PACKAGES python3-flask python3-fastapi python3-uvicorn python3-websockets
python3-pil"

# Installs models/node_modules with `npm ci` (nsfwjs, @tensorflow/tfjs, jpeg-js, pinned by
# models/package-lock.json). Skipped when the lock file has not changed since the last install.
fw_models_npm() {
    fw_npm_ci "$FW_ROOT/models" --ignore-scripts
}

# Makes the default model (nsfwjs' MobileNetV2 as TorchScript + manifest) in $1, default
# build/models/nsfw_mobilenet_v2; $2 picks another nsfwjs model (InceptionV3). Skipped when an
# up-to-date conversion is there (models/convert_nsfwjs.py compares its stamp).
fw_default_model() {
    fw_models_npm
    "${FW_TORCH_PYTHON:-/usr/bin/python3}" "$FW_ROOT/models/convert_nsfwjs.py" \
        --out "${1:-$FW_ROOT/build/models/nsfw_mobilenet_v2}" --model "${2:-MobileNetV2}"
}
