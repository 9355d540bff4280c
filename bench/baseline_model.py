"""baseline_model.py - the model half of the Python baselines that bench/fw_bench compares
framewire with: what a team would write around the same TorchScript file in Flask or FastAPI.

It loads the file a framewire manifest names, optimises it the way framewire does (freeze +
optimize_for_inference, so the forward itself costs the same), and classifies one JPEG: Pillow
decodes it (Debian's Pillow uses libjpeg-turbo too), the manifest's preprocessing is applied with
torch (bilinear resize with the declared align_corners, stretch or shorter side + centre crop,
scale/mean/std, RGB or BGR), then a batch-1 forward under inference mode and top-k.

Run with the interpreter that has torch (Debian: /usr/bin/python3). Shared by baseline_flask.py
and baseline_fastapi.py; not used by framewire itself.
"""
import argparse
import io
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def load_from_command_line():
    """The baselines' shared command line (MANIFEST [--port N] [--threads N]): returns the parsed
    arguments and the loaded Model."""
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="libtorch intra-op threads")
    args = ap.parse_args()
    return args, Model(args.manifest, args.threads)


class Model:
    def __init__(self, manifest_path, threads=1):
        with open(manifest_path) as f:
            m = json.load(f)
        torch.set_num_threads(threads)
        path = os.path.join(os.path.dirname(os.path.abspath(manifest_path)), m["file"])
        net = torch.jit.load(path, map_location="cpu").eval()
        self.net = torch.jit.optimize_for_inference(torch.jit.freeze(net))
        self.name = m["name"]
        self.w, self.h = int(m["input_width"]), int(m["input_height"])
        self.bgr = m.get("color_order", "rgb") == "bgr"
        self.resize = m.get("resize", "stretch")
        self.shorter = int(m.get("resize_shorter", 0))
        self.align = bool(m.get("align_corners", False))
        self.scale = float(m.get("scale", 1.0))
        self.mean = torch.tensor(m.get("mean", [0, 0, 0]), dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(m.get("std", [1, 1, 1]), dtype=torch.float32).view(3, 1, 1)
        self.logits = m.get("output", "probs") == "logits"
        self.labels = m["labels"]
        with torch.inference_mode():  # warm-up: TorchScript's profiling runs
            for _ in range(3):
                self.net(torch.zeros(1, 3, self.h, self.w))

    def preprocess(self, jpeg):
        img = Image.open(io.BytesIO(jpeg)).convert("RGB")
        x = torch.from_numpy(np.asarray(img)).permute(2, 0, 1).unsqueeze(0).float()
        w, h = img.size
        if self.resize == "stretch":
            rw, rh, top, left = self.w, self.h, 0, 0
        else:
            s = self.shorter
            rw, rh = (s, int(s * h / w)) if w <= h else (int(s * w / h), s)
            top, left = int(round((rh - self.h) / 2.0)), int(round((rw - self.w) / 2.0))
        y = F.interpolate(x, size=(rh, rw), mode="bilinear", align_corners=self.align)
        y = y[:, :, top:top + self.h, left:left + self.w]
        if self.bgr:
            y = y[:, [2, 1, 0]]
        return (y * self.scale - self.mean) / self.std

    def classify(self, jpeg, top_k=5):
        """The answer as a dict: top (label, index, prob). Raises on a bad image."""
        x = self.preprocess(jpeg)
        with torch.inference_mode():
            out = self.net(x)[0]
        p = torch.softmax(out, 0) if self.logits else out
        v, i = torch.topk(p, min(top_k, p.numel()))
        return {"top": [{"label": self.labels[int(k)], "index": int(k), "prob": round(float(q), 6)}
                        for q, k in zip(v, i)]}
