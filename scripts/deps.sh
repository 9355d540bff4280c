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
