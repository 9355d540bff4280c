#!/usr/bin/env python3
"""preprocess_ref.py JOBS - PyTorch reference for framewire's fw_preprocess (src/fw_preprocess.h).

Independent of the C code: it uses torch.nn.functional.interpolate(mode="bilinear",
antialias=False) on the whole image, torchvision's Resize(int) size rule and CenterCrop offsets
(re-implemented here because Debian's python3-torch ships without torchvision), tensor slicing
for the crop, then (x * scale - mean) / std in float32.

JOBS is a text file, one job per line, whitespace separated:
    rgb_path w h out_path W H mode resize_shorter align_corners color scale m0 m1 m2 s0 s1 s2
rgb_path holds w*h*3 bytes (R,G,B interleaved, rows of w*3); mode is "stretch" or "crop";
color is "rgb" or "bgr" (planes written in that order, mean/std given in that order).
Writes 3*H*W little-endian float32 values (planes) to out_path.

Run with the interpreter that has torch (Debian: /usr/bin/python3).
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F


def resized_size(w, h, size):
    """torchvision.transforms.functional._compute_resized_output_size for an int size."""
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return new_w, new_h


def center_crop_offsets(rw, rh, cw, ch):
    """torchvision.transforms.functional.center_crop (crop inside the image)."""
    top = int(round((rh - ch) / 2.0))
    left = int(round((rw - cw) / 2.0))
    return top, left


def run(fields):
    (rgb_path, w, h, out_path, W, H, mode, rs, ac, color, scale,
     m0, m1, m2, s0, s1, s2) = fields
    w, h, W, H, rs, ac = int(w), int(h), int(W), int(H), int(rs), int(ac)
    f32 = lambda s: np.float32(float(s))  # noqa: E731 - the C side prints %.9g of a float
    scale = f32(scale)
    mean = torch.tensor([f32(m0), f32(m1), f32(m2)], dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor([f32(s0), f32(s1), f32(s2)], dtype=torch.float32).view(3, 1, 1)

    pix = np.fromfile(rgb_path, dtype=np.uint8)
    if pix.size != w * h * 3:
        raise SystemExit(f"{rgb_path}: {pix.size} bytes, expected {w * h * 3}")
    # NCHW float32, contiguous (not channels-last: same math, one well-defined kernel).
    x = torch.from_numpy(pix.reshape(h, w, 3)).permute(2, 0, 1).unsqueeze(0)
    x = x.to(torch.float32).contiguous()

    if mode == "stretch":
        rw, rh, top, left = W, H, 0, 0
    elif mode == "crop":
        rw, rh = resized_size(w, h, rs)
        top, left = center_crop_offsets(rw, rh, W, H)
        assert 0 <= top <= rh - H and 0 <= left <= rw - W, "crop outside the resized image"
    else:
        raise SystemExit(f"unknown mode {mode}")

    y = F.interpolate(x, size=(rh, rw), mode="bilinear", align_corners=bool(ac),
                      antialias=False)
    y = y[0, :, top:top + H, left:left + W]
    if color == "bgr":
        y = y[[2, 1, 0]]
    elif color != "rgb":
        raise SystemExit(f"unknown color {color}")
    out = (y * torch.tensor(scale, dtype=torch.float32) - mean) / std
    assert out.dtype == torch.float32 and tuple(out.shape) == (3, H, W)
    out.contiguous().numpy().astype("<f4").tofile(out_path)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: preprocess_ref.py JOBS")
    torch.set_num_threads(1)
    n = 0
    with open(sys.argv[1]) as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 17:
                raise SystemExit(f"bad job line: {line!r}")
            run(fields)
            n += 1
    print(f"preprocess_ref.py: {n} jobs, torch {torch.__version__}")


if __name__ == "__main__":
    main()
