#!/usr/bin/env bash
# fetch_photos.sh DEST - put the real JPEG photos of Debian's `darknet` package into DEST.
#
# The package is downloaded (`apt-get download`) and unpacked with `dpkg -x` into a temporary
# folder; it is never installed. Idempotent: when DEST already holds the photos nothing is
# downloaded. `apt-get update` is run only when the first download fails.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 DEST" >&2
    exit 2
fi
dest=$1
photos=(dog eagle giraffe horses kite person scream)

have_all() {
    local p
    for p in "${photos[@]}"; do
        [ -s "$dest/$p.jpg" ] || return 1
    done
    return 0
}

if have_all; then
    echo "fetch_photos: $dest already holds ${#photos[@]} photos (${photos[*]}); nothing to do"
    exit 0
fi

mkdir -p "$dest"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fw-photos.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
# As root, apt prints a harmless "Download is performed unsandboxed" note: _apt cannot write here.
echo "fetch_photos: apt-get download darknet (into $tmp)"
if ! apt-get download darknet; then
    echo "fetch_photos: download failed; running apt-get update and retrying"
    apt-get update
    apt-get download darknet
fi
debs=("$tmp"/darknet_*.deb)
deb=${debs[0]}
[ -f "$deb" ] || { echo "fetch_photos: apt-get download produced no darknet_*.deb" >&2; exit 1; }
echo "fetch_photos: unpacking $(basename "$deb") with dpkg -x (not installing it)"
dpkg -x "$deb" "$tmp/root"

src="$tmp/root/usr/share/darknet/data"
shopt -s nullglob
jpgs=("$src"/*.jpg)
if [ ${#jpgs[@]} -eq 0 ]; then
    echo "fetch_photos: no usr/share/darknet/data/*.jpg in $(basename "$deb")" >&2
    exit 1
fi
cp -- "${jpgs[@]}" "$dest"/
echo "fetch_photos: copied ${#jpgs[@]} photos into $dest:"
for f in "${jpgs[@]}"; do
    echo "  $(basename "$f") ($(stat -c %s "$f") bytes)"
done
if ! have_all; then
    echo "fetch_photos: expected photos missing from the package: ${photos[*]}" >&2
    exit 1
fi
