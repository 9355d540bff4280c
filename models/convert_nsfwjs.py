#!/usr/bin/python3
"""convert_nsfwjs.py - makes framewire's default model: one of the Keras models bundled in the
npm package nsfwjs, converted to TorchScript plus a framewire manifest.

    /usr/bin/python3 models/convert_nsfwjs.py --out DIR [--model MobileNetV2|InceptionV3] [--force]

Needs models/node_modules (scripts/deps.sh fw_models_npm runs `npm ci` there) and node on PATH.
Steps: models/extract_nsfwjs.js writes the tfjs model JSON and weights into a temporary folder;
tfjs_keras.py builds the PyTorch graph (refusing unsupported layers and unused weights); the
graph is traced at the model's input size, saved plain (framewire freezes and optimises at load),
loaded back and checked against the eager graph at batch sizes 1 and 3. DIR then holds:

    model.pt      TorchScript, float32 [N, 3, S, S] RGB in 0..1 -> [N, 5] softmax probabilities
    model.json    framewire manifest: nsfwjs' labels in nsfwjs' order and nsfwjs' preprocessing
                  (RGB, /255, bilinear resize of the whole picture with align_corners=true)
    stamp         what the files were made from; when it matches, the conversion is skipped

The stamp holds nsfwjs' version, the model name and a SHA-256 over this converter's sources and
models/package-lock.json, so an upgrade of either converts again. Files are written to temporary
names and renamed, the stamp last: an interrupted run is redone.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# TorchScript writes some constants in set order, which depends on Python's string hashing: fix
# the seed (re-exec once) so that the same inputs give the same bytes.
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "PYTHONHASHSEED": "0"})

MODELS = {
    "MobileNetV2": "nsfw_mobilenet_v2",
    "InceptionV3": "nsfw_inception_v3",
}
SOURCES = ["convert_nsfwjs.py", "tfjs_keras.py", "extract_nsfwjs.js", "package-lock.json"]
DESCRIPTION = (
    "nsfwjs {model}: content-safety classifier (Drawing, Hentai, Neutral, Porn, Sexy) from the npm "
    "package nsfwjs {version}, converted to TorchScript by framewire's models/convert_nsfwjs.py. "
    "Known weakness: over-calls Sexy on ordinary photos of people (e.g. group photos)."
)


def die(msg):
    print(f"convert_nsfwjs: {msg}", file=sys.stderr)
    sys.exit(1)


def nsfwjs_version():
    pkg = os.path.join(HERE, "node_modules", "nsfwjs", "package.json")
    try:
        with open(pkg) as f:
            return json.load(f)["version"]
    except OSError:
        die(f"{pkg} not found: install the model pipeline's npm packages first "
            f"(scripts/deps.sh: fw_models_npm, i.e. `npm ci` in models/)")


def stamp_text(model):
    h = hashlib.sha256()
    for name in SOURCES:
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read() + b"\0")
    return f"nsfwjs {nsfwjs_version()} {model} sources-sha256 {h.hexdigest()}\n"


def up_to_date(out, stamp):
    try:
        with open(os.path.join(out, "stamp")) as f:
            old = f.read()
    except OSError:
        return False
    return old == stamp and all(
        os.path.isfile(os.path.join(out, n)) for n in ("model.pt", "model.json")
    )


def write_atomic(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def convert(model, out):
    import torch  # noqa: E402 (not needed when the model is up to date)

    sys.path.insert(0, HERE)
    import tfjs_keras  # noqa: E402

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fw-nsfwjs-") as tmp:
        r = subprocess.run(["node", os.path.join(HERE, "extract_nsfwjs.js"), model, tmp])
        if r.returncode != 0:
            die(f"extracting {model} from nsfwjs failed (exit {r.returncode})")
        with open(os.path.join(tmp, "model.json")) as f:
            mj = json.load(f)
        with open(os.path.join(tmp, "weights.bin"), "rb") as f:
            data = f.read()
    t1 = time.monotonic()
    meta = mj["framewire"]
    size = int(meta["input_size"])
    try:
        weights = tfjs_keras.read_weights(mj["weightsManifest"], data)
        net = tfjs_keras.build_model(mj["modelTopology"], weights, size, size)
    except tfjs_keras.ConversionError as e:
        die(f"{model}: {e}")
    labels = meta["labels"]
    if net.output_shape != (1, len(labels)):
        die(f"{model}: output shape {net.output_shape} does not fit {len(labels)} labels")

    torch.manual_seed(0)
    example = torch.rand(1, 3, size, size)
    with torch.no_grad():
        traced = torch.jit.script(tfjs_keras.FixedInput(torch.jit.trace(net, example), 3, size, size))
    os.makedirs(out, exist_ok=True)
    pt_path = os.path.join(out, "model.pt")
    tmp_pt = f"{pt_path}.tmp{os.getpid()}"
    torch.jit.save(traced, tmp_pt)

    # Load the saved file back and check it against the eager graph, at batch 1 and 3.
    # framewire freezes and optimises at load: do the same here so a graph that libtorch cannot
    # optimise fails now, not at server start.
    loaded = torch.jit.load(tmp_pt)
    x = torch.rand(3, 3, size, size)
    with torch.no_grad():
        ref = net(x)
        got3 = loaded(x)
        got1 = loaded(x[1:2])
        try:
            opt = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(tmp_pt).eval()))
        except RuntimeError as e:
            os.unlink(tmp_pt)
            die(f"{model}: libtorch cannot freeze + optimize the traced model: {e}")
        got_opt = opt(x)
    d3 = (ref - got3).abs().max().item()
    d1 = (ref[1:2] - got1).abs().max().item()
    d_opt = (ref - got_opt).abs().max().item()
    if d3 > 1e-5 or d1 > 1e-5 or d_opt > 1e-4:
        os.unlink(tmp_pt)
        die(f"{model}: the saved TorchScript differs from the eager graph by {max(d1, d3):.3g} "
            f"(optimised: {d_opt:.3g})")
    if (got3.sum(dim=1) - 1).abs().max().item() > 1e-4:
        os.unlink(tmp_pt)
        die(f"{model}: outputs are not probabilities (rows do not sum to 1)")
    os.replace(tmp_pt, pt_path)

    manifest = {
        "name": MODELS[model],
        "file": "model.pt",
        "input_width": size,
        "input_height": size,
        "color_order": "rgb",
        "resize": "stretch",
        "align_corners": True,
        # nsfwjs resizes the full-size picture: no reduced-scale JPEG decoding (which would act
        # as an anti-aliasing filter and move probabilities by up to about 0.1).
        "jpeg_dct_scaling": False,
        "scale": 1.0 / 255.0,
        "mean": [0.0, 0.0, 0.0],
        "std": [1.0, 1.0, 1.0],
        "output": "probs",
        "labels": labels,
        "description": DESCRIPTION.format(model=model, version=meta["nsfwjs_version"]),
        "license": f"{meta['license']} (nsfwjs, Copyright (c) 2019 Infinite Red, Inc.)",
        "source": meta["source"],
    }
    write_atomic(os.path.join(out, "model.json"), (json.dumps(manifest, indent=1) + "\n").encode())
    t2 = time.monotonic()
    print(f"convert_nsfwjs: {model} -> {out}/model.pt + model.json ({size}x{size}, "
          f"{len(labels)} classes, {len(weights)} weight tensors all used; extract {t1 - t0:.1f} s, "
          f"build+trace+check {t2 - t1:.1f} s; saved file matches eager within {max(d1, d3):.2g}, "
          f"optimised within {d_opt:.2g})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (model.pt, model.json, stamp)")
    ap.add_argument("--model", default="MobileNetV2", choices=sorted(MODELS))
    ap.add_argument("--force", action="store_true", help="convert even when up to date")
    args = ap.parse_args()

    out = os.path.abspath(args.out)
    stamp = stamp_text(args.model)
    if not args.force and up_to_date(out, stamp):
        print(f"convert_nsfwjs: {out} is up to date ({stamp.strip()[:40]}...); nothing to do")
        return
    stamp_path = os.path.join(out, "stamp")
    if os.path.exists(stamp_path):
        os.unlink(stamp_path)
    convert(args.model, out)
    write_atomic(stamp_path, stamp.encode())


if __name__ == "__main__":
    main()
