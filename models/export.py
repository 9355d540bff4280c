#!/usr/bin/python3
"""export.py - turns your PyTorch image classifier into what framewire serves: a TorchScript file
plus its manifest (docs/models.md).

Either a torchvision architecture and a state_dict saved with torch.save:

    /usr/bin/python3 models/export.py --arch resnet18 --weights my_resnet.pt \\
        --labels labels.txt --out models-out/my_resnet

or your own nn.Module class, importable as module:Class or path/to/file.py:Class, optionally with
constructor arguments (JSON) and a state_dict:

    /usr/bin/python3 models/export.py --class mynets.py:SmallNet --class-args '{"classes": 3}' \\
        --weights smallnet.pt --labels labels.txt --out models-out/smallnet

writes OUT/model.pt and OUT/model.json; then `framewire --model OUT/model.json`.

Labels: a text file, one label per line in output order (blank lines are skipped); their count
must equal the model's number of outputs. Preprocessing defaults are torchvision's ImageNet
evaluation transform: RGB, /255, shorter side to 256 then centre crop 224x224 (bilinear),
mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), output logits. Change them with the
options below to match how your model was trained.

The model is compiled with torch.jit.script, or traced on an input of the declared size when
scripting fails (--method picks one). The saved file is then checked as framewire will use it:
loaded back, frozen (and optimised for inference), run at batch 1 and 2 on random input, and
compared with the eager model; its output must be [N, number of labels]. When only the
optimised graph differs (libtorch 1.13 bugs), a warning says so: framewire notices the same at
load and serves the frozen model. Any failure exits 1
with one line saying what is wrong.

A state_dict file may also be a checkpoint dict holding it under "state_dict",
"model_state_dict" or "model", or a whole pickled nn.Module; keys prefixed "module." (from
DataParallel) are accepted. torch.load unpickles: load only files you trust.
"""

import argparse
import importlib
import importlib.util
import json
import os
import sys
import warnings

# TorchScript writes some constants in set order, which depends on Python's string hashing: fix
# the seed (re-exec once) so that the same inputs give the same bytes.
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "PYTHONHASHSEED": "0"})

import torch  # noqa: E402
from torch import nn  # noqa: E402

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class ExportError(Exception):
    pass


def read_labels(path):
    try:
        with open(path, encoding="utf-8") as f:
            labels = [line.strip() for line in f if line.strip()]
    except OSError as e:
        raise ExportError(f"--labels {path}: {e.strerror}") from None
    if not labels:
        raise ExportError(f"--labels {path}: no labels (one per line)")
    return labels


def load_state_dict(path):
    try:
        obj = torch.load(path, map_location="cpu")
    except FileNotFoundError:
        raise ExportError(f"--weights {path}: no such file") from None
    except Exception as e:  # noqa: BLE001 (torch.load raises many kinds)
        raise ExportError(f"--weights {path}: torch.load failed: {type(e).__name__}: {e}") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], (dict, nn.Module)):
                obj = obj[key]
                break
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ExportError(f"--weights {path}: not a state_dict (a dict of tensors)")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def apply_state_dict(model, sd, path):
    want = model.state_dict()
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    wrong = [f"{k} {list(sd[k].shape)} vs {list(v.shape)}" for k, v in want.items()
             if k in sd and sd[k].shape != v.shape]

    def some(names):
        return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")

    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys ({some(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys ({some(unexpected)})")
    if wrong:
        problems.append(f"{len(wrong)} tensors of another shape ({some(wrong)})")
    if problems:
        raise ExportError(f"--weights {path} does not fit the model: {'; '.join(problems)}")
    model.load_state_dict(sd, strict=True)


def import_class(spec):
    if ":" not in spec:
        raise ExportError(f"--class {spec!r}: expected module:Class or path/to/file.py:Class")
    mod_name, cls_name = spec.rsplit(":", 1)
    try:
        if mod_name.endswith(".py") or os.sep in mod_name:
            if not os.path.isfile(mod_name):
                raise ExportError(f"--class {spec}: no such file {mod_name}")
            sys.path.insert(0, os.path.dirname(os.path.abspath(mod_name)))
            name = os.path.splitext(os.path.basename(mod_name))[0]
            s = importlib.util.spec_from_file_location(name, mod_name)
            module = importlib.util.module_from_spec(s)
            sys.modules[name] = module
            s.loader.exec_module(module)
        else:
            sys.path.insert(0, os.getcwd())
            module = importlib.import_module(mod_name)
    except ExportError:
        raise
    except Exception as e:  # noqa: BLE001 (user code may raise anything on import)
        raise ExportError(f"--class {spec}: importing {mod_name} failed: {type(e).__name__}: {e}") from None
    cls = getattr(module, cls_name, None)
    if cls is None:
        raise ExportError(f"--class {spec}: {mod_name} has no {cls_name}")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ExportError(f"--class {spec}: {cls_name} is not an nn.Module subclass")
    return cls


def build_model(args, num_labels):
    try:
        kwargs = json.loads(args.class_args) if args.class_args else {}
    except json.JSONDecodeError as e:
        raise ExportError(f"--class-args / --arch-args is not valid JSON: {e}") from None
    if not isinstance(kwargs, dict):
        raise ExportError("--class-args / --arch-args must be a JSON object")
    if args.arch:
        try:
            import torchvision
        except ImportError:
            raise ExportError("--arch needs torchvision (Debian: apt-get install python3-torchvision)") from None
        kwargs.setdefault("num_classes", num_labels)
        try:
            model = torchvision.models.get_model(args.arch, weights=None, **kwargs)
        except Exception as e:  # noqa: BLE001
            known = ", ".join(sorted(torchvision.models.list_models())[:8])
            raise ExportError(
                f"--arch {args.arch}: {type(e).__name__}: {e} (torchvision names: {known}, ...)"
            ) from None
        name = args.arch
    else:
        cls = import_class(args.cls)
        try:
            model = cls(**kwargs)
        except Exception as e:  # noqa: BLE001
            raise ExportError(f"--class {args.cls}: constructing it failed: {type(e).__name__}: {e}") from None
        name = cls.__name__
    if args.weights:
        apply_state_dict(model, load_state_dict(args.weights), args.weights)
    elif args.arch:
        raise ExportError("--arch needs --weights (a state_dict saved with torch.save)")
    return model.eval(), name


def compile_model(model, example, method):
    errors = []
    if method in ("auto", "script"):
        try:
            return torch.jit.script(model), "script"
        except Exception as e:  # noqa: BLE001
            if method == "script":
                raise ExportError(f"torch.jit.script failed: {str(e).strip().splitlines()[0]}") from None
            errors.append(str(e).strip().splitlines()[0])
    try:
        with torch.no_grad():
            return torch.jit.trace(model, example), "trace"
    except Exception as e:  # noqa: BLE001
        errors.append(str(e).strip().splitlines()[0])
        raise ExportError(f"cannot compile the model to TorchScript: {' / '.join(errors)}") from None


def check_saved(path, model, height, width, num_labels, output):
    """Loads the file as framewire does (freeze + optimize_for_inference) and compares."""
    torch.manual_seed(1)
    x = torch.rand(2, 3, height, width)
    try:
        loaded = torch.jit.load(path).eval()
        frozen = torch.jit.freeze(torch.jit.load(path).eval())
        opt = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(path).eval()))
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"the saved TorchScript cannot be loaded, frozen and optimised: {e}") from None
    # An optimised graph run at a new batch size warns about resized outputs: harmless here.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = model(x)
        if not isinstance(ref, torch.Tensor):
            raise ExportError(f"the model returns {type(ref).__name__}, not one tensor")
        if ref.dim() != 2 or ref.shape[0] != 2:
            raise ExportError(f"the model's output is {list(ref.shape)} for input [2, 3, {height}, {width}], not [N, K]")
        if ref.shape[1] != num_labels:
            raise ExportError(f"the model has {ref.shape[1]} outputs but --labels lists {num_labels}")
        diffs = {}
        for tag, m in (("saved", loaded), ("frozen", frozen), ("optimised", opt)):
            got2, got1 = m(x), m(x[1:2])
            diffs[tag] = max((got2 - ref).abs().max().item(), (got1 - ref[1:2]).abs().max().item())
    scale = max(1.0, ref.abs().max().item())
    if diffs["saved"] > 1e-5 * scale or diffs["frozen"] > 1e-4 * scale:
        raise ExportError(
            f"the TorchScript model's outputs differ from the eager model's by {diffs['saved']:.3g} "
            f"(frozen: {diffs['frozen']:.3g}); data-dependent control flow? try --method script"
        )
    if diffs["optimised"] > 1e-3 * scale:
        # framewire's load checks the same and then serves the frozen model (fw_torch.h).
        print(f"export: warning: libtorch's optimize_for_inference changes this model's outputs by "
              f"{diffs['optimised']:.3g} (a libtorch 1.13 bug, e.g. hardswish at channel counts "
              f"that are not a multiple of 16); framewire notices at load and serves it frozen "
              f"but not optimised (slower)", file=sys.stderr)
    if output == "probs" and (ref.sum(dim=1) - 1).abs().max().item() > 1e-3:
        raise ExportError("--output probs, but the outputs do not sum to 1 per row (use --output logits)")
    return diffs


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="See docs/models.md for the manifest fields."
    )
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--arch", help="torchvision architecture name, e.g. resnet18, mobilenet_v3_small")
    src.add_argument("--class", dest="cls", help="module:Class or path/to/file.py:Class (an nn.Module)")
    ap.add_argument("--class-args", "--arch-args", dest="class_args",
                    help="constructor keyword arguments as a JSON object (--arch: num_classes "
                    "defaults to the number of labels)")
    ap.add_argument("--weights", help="state_dict saved with torch.save (required with --arch)")
    ap.add_argument("--labels", required=True, help="text file, one label per line, in output order")
    ap.add_argument("--out", required=True, help="output folder: model.pt and model.json go there")
    ap.add_argument("--name", help="model name shown to clients (default: the architecture or class)")
    g = ap.add_argument_group("preprocessing (defaults: torchvision's ImageNet evaluation transform)")
    g.add_argument("--size", type=int, help="input width and height (default 224)")
    g.add_argument("--width", type=int, help="input width (default --size)")
    g.add_argument("--height", type=int, help="input height (default --size)")
    g.add_argument("--resize", choices=["shorter_side_crop", "stretch"], default="shorter_side_crop",
                   help="shorter side to --resize-shorter then centre crop (default), or stretch the "
                   "whole picture to the input size")
    g.add_argument("--resize-shorter", type=int,
                   help="shorter side before the crop (default: 256/224 of the input size, 256 for 224)")
    g.add_argument("--align-corners", action="store_true", help="bilinear resize with align_corners=True")
    g.add_argument("--color-order", choices=["rgb", "bgr"], default="rgb")
    g.add_argument("--scale", type=float, default=1.0 / 255.0, help="multiplies 0..255 pixels (default 1/255)")
    g.add_argument("--mean", type=float, nargs=3, default=IMAGENET_MEAN, metavar=("M0", "M1", "M2"),
                   help="per channel, in --color-order (default ImageNet)")
    g.add_argument("--std", type=float, nargs=3, default=IMAGENET_STD, metavar=("S0", "S1", "S2"),
                   help="per channel, in --color-order (default ImageNet)")
    g.add_argument("--no-dct-scaling", action="store_true",
                   help="always decode JPEGs at full size (slower; only when your reference "
                   "resizes full-size pictures without anti-aliasing and you need its exact numbers)")
    ap.add_argument("--output", choices=["logits", "probs"], default="logits",
                    help="what the model returns: logits (framewire applies softmax) or probabilities")
    ap.add_argument("--method", choices=["auto", "script", "trace"], default="auto",
                    help="torch.jit.script, torch.jit.trace, or script then trace (default)")
    ap.add_argument("--description")
    ap.add_argument("--license")
    ap.add_argument("--source")
    args = ap.parse_args(argv)
    size = args.size or 224
    args.width = args.width or size
    args.height = args.height or size
    if min(args.width, args.height) < 1:
        ap.error("input size must be positive")
    if args.resize_shorter is None and args.resize == "shorter_side_crop":
        args.resize_shorter = max(round(max(args.width, args.height) * 256 / 224), args.width, args.height)
    if args.resize == "stretch" and args.resize_shorter is not None:
        ap.error("--resize-shorter applies only to --resize shorter_side_crop")
    if args.resize_shorter is not None and args.resize_shorter < max(args.width, args.height):
        ap.error("--resize-shorter must be at least the input width and height")
    if any(s == 0 for s in args.std):
        ap.error("--std values must not be 0")
    return args


def export(args):
    labels = read_labels(args.labels)
    model, default_name = build_model(args, len(labels))
    example = torch.rand(1, 3, args.height, args.width)
    scripted, method = compile_model(model, example, args.method)
    pt = os.path.join(args.out, "model.pt")
    tmp = f"{pt}.tmp{os.getpid()}"
    try:
        os.makedirs(args.out, exist_ok=True)
        torch.jit.save(scripted, tmp)
    except (OSError, RuntimeError) as e:
        raise ExportError(f"--out {args.out}: cannot write the TorchScript file: {e}") from None
    try:
        diffs = check_saved(tmp, model, args.height, args.width, len(labels), args.output)
    except ExportError:
        os.unlink(tmp)
        raise
    os.replace(tmp, pt)
    manifest = {
        "name": args.name or default_name,
        "file": "model.pt",
        "input_width": args.width,
        "input_height": args.height,
        "color_order": args.color_order,
        "resize": args.resize,
    }
    if args.resize == "shorter_side_crop":
        manifest["resize_shorter"] = args.resize_shorter
    manifest.update({
        "align_corners": args.align_corners,
        "scale": args.scale,
        "mean": args.mean,
        "std": args.std,
        "output": args.output,
        "labels": labels,
    })
    if args.no_dct_scaling:
        manifest["jpeg_dct_scaling"] = False
    for key in ("description", "license", "source"):
        if getattr(args, key):
            manifest[key] = getattr(args, key)
    js = os.path.join(args.out, "model.json")
    try:
        with open(js + ".tmp", "w") as f:
            f.write(json.dumps(manifest, indent=1) + "\n")
        os.replace(js + ".tmp", js)
    except OSError as e:
        raise ExportError(f"--out {args.out}: cannot write the manifest: {e}") from None
    print(f"export: {manifest['name']} -> {pt} ({method}) + {js}: input {args.width}x{args.height}, "
          f"{len(labels)} labels, {args.output}; TorchScript matches eager within {diffs['saved']:.2g} "
          f"(frozen {diffs['frozen']:.2g}, optimised {diffs['optimised']:.2g})")


def main(argv=None):
    args = parse_args(argv)
    try:
        export(args)
    except ExportError as e:
        print(f"export: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
