#!/usr/bin/env bash
# model_uptodate.sh MODELDIR WORKDIR - the default model's set-up skips work that is done and
# redoes work that is stale, and the conversion is deterministic.
#
# Copies the converted default model (MODELDIR, made by the make_nsfw_model fixture) to WORKDIR,
# then: (1) models/make_nsfw_model.sh on the copy must say "up to date" and leave model.pt
# untouched; (2) with a stamp from another nsfwjs version it must convert again, and the new
# model.pt must be byte-identical to the old one; (3) without model.pt it must convert again.
set -euo pipefail
src=$1
work=$2
root="$(cd "$(dirname "$0")/.." && pwd)"
rm -rf "$work"
mkdir -p "$work"
cp -p "$src/model.pt" "$src/model.json" "$src/stamp" "$work/"
sum() { sha256sum "$work/model.pt" | cut -d' ' -f1; }
before=$(sum)
mtime=$(stat -c %Y.%N "$work/model.pt")

out=$("$root/models/make_nsfw_model.sh" "$work" 2>&1)
echo "$out"
grep -q "up to date" <<<"$out" || { echo "FAIL: an up-to-date model was not recognised"; exit 1; }
[ "$(stat -c %Y.%N "$work/model.pt")" = "$mtime" ] || { echo "FAIL: model.pt was rewritten"; exit 1; }

sed -i 's/^nsfwjs [^ ]*/nsfwjs 0.0.0-old/' "$work/stamp"
out=$("$root/models/make_nsfw_model.sh" "$work" 2>&1)
echo "$out"
grep -q "convert_nsfwjs: MobileNetV2 ->" <<<"$out" || { echo "FAIL: a stale stamp did not convert again"; exit 1; }
[ "$(sum)" = "$before" ] || { echo "FAIL: converting again gave a different model.pt"; exit 1; }

rm "$work/model.pt"
out=$("$root/models/make_nsfw_model.sh" "$work" 2>&1)
grep -q "convert_nsfwjs: MobileNetV2 ->" <<<"$out" || { echo "FAIL: a missing model.pt was not made again"; exit 1; }
echo "model_uptodate: skip, redo on a stale stamp (same bytes), redo on a missing file: ok"
