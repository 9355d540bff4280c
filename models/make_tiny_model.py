#!/usr/bin/python3
"""make_tiny_model.py - writes framewire's tiny deterministic test models (seconds, no downloads).

Its job: give the tests a real TorchScript model that loads, optimises and runs in milliseconds,
whose answers depend on the picture, and whose expected outputs are computed by PyTorch itself.

    /usr/bin/python3 models/make_tiny_model.py --out DIR

writes into DIR (created if needed; files are replaced atomically, so running it again is safe):

  tiny.pt, tiny.json              3x32x32 RGB in, 4 logits out: red, green, blue, dark
  tiny_probs.pt, tiny_probs.json  the same net with a softmax at the end ("output": "probs")
  corrupt.pt                      the first half of tiny.pt: not loadable, for error tests
  tiny_alt.pt, tiny_alt.json      a deliberately different version of tiny (other weights and
                                  "dark" threshold): what `framewire-replay --compare` must catch
  tiny_slow.pt, tiny_slow.json    tiny with a stall: a batch holding a nearly white frame (mean
                                  brightness > 0.9) first does about --stall-ms of matrix work
                                  (calibrated here, on the optimised model); outputs equal tiny's
  tiny_ref.bin                    a fixed input batch and PyTorch's outputs for it (see below)

The net is Conv2d(3,8,3,s2)+ReLU, Conv2d(8,16,3,s2)+ReLU, AdaptiveAvgPool2d(1), Flatten,
Linear(16,4). Weights are seeded random except for a hand-set path that makes the classes respond
to colour: conv channels 0-2 undo the manifest's mean/std and pass the mean R, G and B of the
picture (0..1) through to the pooled features, and the Linear layer scores
  red   = 20 * (R - (G + B) / 2)         green = 20 * (G - (R + B) / 2)
  blue  = 20 * (B - (R + G) / 2)         dark  = 40 * (0.35 - (R + G + B) / 3)
plus a small contribution of the random channels. So the top class really varies between
photos (a dim photo is "dark", a reddish one "red", foliage "green").

Models are saved plain (torch.jit.script + torch.jit.save), never after optimize_for_inference:
such a file cannot be loaded again. framewire freezes and optimises at load time.

tiny_ref.bin layout (little-endian):
  8 bytes  b"FWREF01\\n"
  5 int32  n, c, h, w, k
  float32  input[n*c*h*w]   (NCHW, already normalised: what the model receives)
  float32  logits[n*k]      (tiny.pt on that input, computed by loading the saved file back)
  float32  probs[n*k]       (tiny_probs.pt on that input)
"""

import argparse
import io
import json
import os
import struct
import sys

# TorchScript writes some module constants in set order, which depends on Python's per-process
# string hashing: fix the seed (re-running this script once) so every run writes the same bytes.
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "PYTHONHASHSEED": "0"})

import torch  # noqa: E402 (after the re-exec above, which must not pay for importing torch)
from torch import nn  # noqa: E402

WIDTH = HEIGHT = 32
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
LABELS = ["red", "green", "blue", "dark"]
SEED = 20240607

MANIFEST = """{{"name": "{name}", "file": "{file}", "input_width": 32, "input_height": 32, "color_order": "rgb",
 "resize": "stretch", "align_corners": false, "scale": 0.00392156862745098,
 "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "output": "{output}",
 "labels": ["red", "green", "blue", "dark"]}}
"""


def build_net(seed: int = SEED, a: float = 20.0, dark: float = 0.35) -> nn.Sequential:
    torch.manual_seed(seed)
    conv1 = nn.Conv2d(3, 8, 3, stride=2)
    conv2 = nn.Conv2d(8, 16, 3, stride=2)
    fc = nn.Linear(16, 4)
    with torch.no_grad():
        # conv1 channels 0-2: 3x3 mean of the un-normalised channel, x * std + mean = pixel / 255.
        for k in range(3):
            conv1.weight[k].zero_()
            conv1.weight[k, k].fill_(STD[k] / 9.0)
            conv1.bias[k] = MEAN[k]
        # conv2 channels 0-2: 3x3 mean of conv1 channels 0-2 (non-negative, so ReLU keeps them).
        for k in range(3):
            conv2.weight[k].zero_()
            conv2.weight[k, k].fill_(1.0 / 9.0)
            conv2.bias[k] = 0.0
        # Linear: colour scores from features 0-2 (mean R, G, B), small random rest.
        fc.weight.normal_(0.0, 0.02)
        fc.bias.zero_()
        fc.weight[0, :3] = torch.tensor([a, -a / 2, -a / 2])
        fc.weight[1, :3] = torch.tensor([-a / 2, a, -a / 2])
        fc.weight[2, :3] = torch.tensor([-a / 2, -a / 2, a])
        fc.weight[3, :3] = torch.tensor([-40.0 / 3] * 3)
        fc.bias[3] = 40.0 * dark
    return nn.Sequential(conv1, nn.ReLU(), conv2, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         fc).eval()


class Stall(nn.Module):
    """The tiny net, plus `iters` rounds of matrix work when a frame of the batch is nearly white.
    The work feeds the output multiplied by zero (so it is not optimised away and the outputs stay
    exactly tiny's)."""

    def __init__(self, net: nn.Module, iters: int):
        super().__init__()
        self.net = net
        self.iters = iters
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.register_buffer("w", torch.randn(256, 256, generator=torch.Generator().manual_seed(7)) / 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)
        bright = (x * self.std + self.mean).mean(dim=[1, 2, 3])
        if bool((bright > 0.9).any()):
            z = x.reshape(x.shape[0], -1)[:, :256].repeat(64, 1)
            for _ in range(self.iters):
                z = torch.tanh(z @ self.w)
            y = y + 0.0 * z.sum()
        return y


def calibrate_stall(net: nn.Module, stall_ms: float) -> int:
    """Rounds of Stall's work that take about stall_ms here, timed on the frozen and optimised
    module (as framewire runs it) with one thread."""
    import time
    white = ((torch.ones(1, 3, HEIGHT, WIDTH) - torch.tensor(MEAN).view(1, 3, 1, 1)) /
             torch.tensor(STD).view(1, 3, 1, 1))
    probe = 20
    m = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(Stall(net, probe).eval())))
    with torch.no_grad():
        m(white)
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            m(white)
            best = min(best, time.perf_counter() - t)
    per_round_ms = best * 1000.0 / probe
    return max(1, int(round(stall_ms / per_round_ms)))


def reference_input() -> torch.Tensor:
    """Three normalised 3x32x32 pictures: reddish, greenish with noise, dim; fixed by a seed."""
    g = torch.Generator().manual_seed(SEED + 1)
    tints = torch.tensor([[0.8, 0.3, 0.25], [0.3, 0.6, 0.3], [0.15, 0.12, 0.2]])
    pix = tints.view(3, 3, 1, 1) + 0.15 * torch.randn(3, 3, HEIGHT, WIDTH, generator=g)
    pix = pix.clamp(0.0, 1.0)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return ((pix - mean) / std).contiguous()


def replace(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def save_module(module: nn.Module, path: str) -> None:
    # Saved to memory first: the zip's inner folder is then always "archive" (saving to a file
    # names it after a file name), so the bytes are the same on every run.
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buf)
    replace(path, buf.getvalue())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="directory to write the models into")
    ap.add_argument("--stall-ms", type=float, default=100.0,
                    help="tiny_slow's stall on a white frame, in milliseconds (default 100)")
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)

    net = build_net()
    probs_net = nn.Sequential(net, nn.Softmax(dim=1)).eval()

    written = []
    tiny_pt = os.path.join(out, "tiny.pt")
    probs_pt = os.path.join(out, "tiny_probs.pt")
    save_module(net, tiny_pt)
    save_module(probs_net, probs_pt)
    written += [tiny_pt, probs_pt]
    alt_pt = os.path.join(out, "tiny_alt.pt")
    save_module(build_net(seed=SEED + 100, a=15.0, dark=0.5), alt_pt)
    slow_pt = os.path.join(out, "tiny_slow.pt")
    iters = calibrate_stall(net, args.stall_ms)
    save_module(Stall(net, iters).eval(), slow_pt)
    written += [alt_pt, slow_pt]
    print(f"tiny_slow: {iters} rounds of stall work (about {args.stall_ms:.0f} ms here)")
    for name, file, output in (("tiny-test", "tiny.pt", "logits"),
                               ("tiny-test-probs", "tiny_probs.pt", "probs"),
                               ("tiny-test-alt", "tiny_alt.pt", "logits"),
                               ("tiny-test-slow", "tiny_slow.pt", "logits")):
        path = os.path.join(out, file.replace(".pt", ".json"))
        text = MANIFEST.format(name=name, file=file, output=output)
        json.loads(text)  # must stay valid JSON
        replace(path, text.encode())
        written.append(path)

    with open(tiny_pt, "rb") as f:
        blob = f.read()
    corrupt = os.path.join(out, "corrupt.pt")
    replace(corrupt, blob[: len(blob) // 2])
    written.append(corrupt)

    # Expected outputs: computed by PyTorch on the saved files, as a user's process would load them.
    x = reference_input()
    with torch.no_grad():
        logits = torch.jit.load(tiny_pt).eval()(x)
        probs = torch.jit.load(probs_pt).eval()(x)
    n, c, h, w = x.shape
    k = logits.shape[1]
    ref = os.path.join(out, "tiny_ref.bin")
    replace(ref, b"FWREF01\n" + struct.pack("<5i", n, c, h, w, k) +
            x.numpy().astype("<f4").tobytes() + logits.numpy().astype("<f4").tobytes() +
            probs.numpy().astype("<f4").tobytes())
    written.append(ref)

    for path in written:
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    print("reference top classes:", [LABELS[i] for i in logits.argmax(1).tolist()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
