# scripts/deps.sh - sourced by run.sh and test.sh: installs framewire's Debian 12 packages when
# any is missing. Needs root or sudo; does nothing when everything is there.
FW_APT_PACKAGES="build-essential cmake pkg-config libwebsockets-dev libturbojpeg0-dev libcjson-dev
libcmocka-dev libtorch-dev python3-torch ca-certificates"

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

# --- model pipeline (models/): node + npm for nsfwjs, torchvision for models/export.py ---------
FW_APT_PACKAGES="$FW_APT_PACKAGES python3-numpy python3-torchvision python3-websocket"
# node and npm: Debian's nodejs + npm unless a node with npm is installed already (e.g. nodesource).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    FW_APT_PACKAGES="$FW_APT_PACKAGES nodejs npm"
fi

# Installs models/node_modules with `npm ci` (nsfwjs, @tensorflow/tfjs, jpeg-js, pinned by
# models/package-lock.json). Skipped when the lock file has not changed since the last install.
fw_models_npm() {
    local dir="$FW_ROOT/models" want
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ -f "$dir/node_modules/.fw-lock-sha256" ] &&
        [ "$(cat "$dir/node_modules/.fw-lock-sha256")" = "$want" ]; then
        return 0
    fi
    echo "framewire: npm ci in models/ (nsfwjs, @tensorflow/tfjs, jpeg-js)"
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
    echo "$want" >"$dir/node_modules/.fw-lock-sha256"
}

# Makes the default model (nsfwjs' MobileNetV2 as TorchScript + manifest) in $1, default
# build/models/nsfw_mobilenet_v2; $2 picks another nsfwjs model (InceptionV3). Skipped when an
# up-to-date conversion is there (models/convert_nsfwjs.py compares its stamp).
fw_default_model() {
    fw_models_npm
    "${FW_TORCH_PYTHON:-/usr/bin/python3}" "$FW_ROOT/models/convert_nsfwjs.py" \
        --out "${1:-$FW_ROOT/build/models/nsfw_mobilenet_v2}" --model "${2:-MobileNetV2}"
}
