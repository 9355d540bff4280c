#!/usr/bin/python3
"""test_export.py - "bring your own model" end to end: models/export.py, then the real framewire
server, checked against PyTorch in Python on the same input tensor.

    /usr/bin/python3 tests/test_export.py --framewire BIN --probe MODEL_PROBE --photos DIR --work DIR

1. torchvision's mobilenet_v3_small with random weights (seeded; BatchNorm statistics taken from
   one batch of random input so that activations neither vanish nor saturate, and a wider last
   layer so that the classes differ) is saved as a state_dict with torch.save, the way most
   people save models, and exported with `export.py --arch mobilenet_v3_small --weights ...`.
2. framewire serves it; a WebSocket client (python3-websocket) sends each photo as a bare JPEG
   and asks for all classes (top_k = number of labels).
3. tests/model_probe writes the float32 input tensor framewire's decode + preprocessing made for
   each photo. The eager PyTorch model (the nn.Module itself, not the TorchScript file) runs on
   that tensor; its softmax must equal every probability the server sent (which are rounded to
   6 decimals) within 2e-6, labels and order included.
4. The other route, `--class file.py:Class --class-args ... --weights ...`, exports a small model
   of its own; it is checked the same way in process (model_probe) against eager PyTorch.
5. export.py fails with one line for: labels that do not fit the model, a state_dict of another
   architecture, a missing weights file, an unknown architecture.
Prints the largest differences. Exit 0 on success, 1 on failure.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision
import websocket
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT = os.path.join(HERE, "..", "models", "export.py")
NUM_CLASSES = 10
TOL = 2e-6  # the server rounds probabilities to 6 decimals

SMALLNET = '''
import torch
from torch import nn


class SmallNet(nn.Module):
    def __init__(self, classes: int, width: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 5, stride=4)
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc(x.mean(dim=(2, 3)))
'''


def fail(msg):
    print(f"test_export: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def random_mobilenet():
    torch.manual_seed(20240607)
    m = torchvision.models.mobilenet_v3_small(num_classes=NUM_CLASSES)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.momentum = None  # running stats = this batch's
        m.train()
        m(torch.rand(16, 3, 224, 224) * 4 - 2)
        m.classifier[-1].weight.normal_(0, 0.3)
    return m.eval()


def run_export(*args, expect_ok=True):
    r = subprocess.run([sys.executable, EXPORT, *args], capture_output=True, text=True)
    if expect_ok and r.returncode != 0:
        fail(f"export.py {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r


def probe(probe_bin, manifest, work, photos):
    out = subprocess.run([probe_bin, manifest, work, *photos], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"model_probe failed: {out.stderr.strip()}")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    return lines[0], lines[1:]


def read_input(path, h, w):
    x = np.fromfile(path, dtype="<f4")
    if x.size != 3 * h * w:
        fail(f"{path}: {x.size} floats, expected {3 * h * w}")
    return torch.from_numpy(x.reshape(1, 3, h, w).copy())


class Server:
    def __init__(self, binary, manifest):
        self.p = subprocess.Popen([binary, "--model", manifest, "--port", "0"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        self.port = None
        lines = []
        while time.monotonic() < deadline:
            line = self.p.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"listening on http://[^:]+:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.stop()
            fail(f"framewire did not start: {''.join(lines)}")

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def served_probs(port, photos, labels):
    """Sends each photo bare; returns {photo: [prob per label index]} from the results."""
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/", subprotocols=["framewire.v1"], timeout=60)
    try:
        hello = json.loads(ws.recv())
        if hello.get("type") != "hello" or hello["model"]["labels"] != len(labels):
            fail(f"unexpected hello: {hello}")
        ws.send(json.dumps({"type": "config", "top_k": len(labels)}))
        cfg = json.loads(ws.recv())
        if cfg.get("type") != "config" or cfg.get("top_k") != len(labels):
            fail(f"config not applied: {cfg}")
        out = {}
        for i, photo in enumerate(photos, start=1):
            with open(photo, "rb") as f:
                ws.send_binary(f.read())
            msg = json.loads(ws.recv())
            if msg.get("type") != "result" or msg.get("frame_id") != i:
                fail(f"{photo}: expected result for frame {i}, got {msg}")
            probs = [None] * len(labels)
            for t in msg["top"]:
                if labels[t["index"]] != t["label"]:
                    fail(f"{photo}: label {t['label']} at index {t['index']}, manifest says {labels[t['index']]}")
                probs[t["index"]] = t["prob"]
            if None in probs:
                fail(f"{photo}: result lacks classes: {msg['top']}")
            out[photo] = probs
        return out
    finally:
        ws.close()


def check_arch_route(args, photos, work):
    model = random_mobilenet()
    sd_path = os.path.join(work, "mnv3_small_state_dict.pt")
    torch.save(model.state_dict(), sd_path)
    labels = [f"class_{i:02d}" for i in range(NUM_CLASSES)]
    labels_path = os.path.join(work, "labels.txt")
    with open(labels_path, "w") as f:
        f.write("\n".join(labels) + "\n")
    out = os.path.join(work, "mnv3_small")
    r = run_export("--arch", "mobilenet_v3_small", "--weights", sd_path, "--labels", labels_path, "--out", out)
    print(r.stdout.strip())
    manifest = os.path.join(out, "model.json")
    with open(manifest) as f:
        man = json.load(f)
    want = {"resize": "shorter_side_crop", "resize_shorter": 256, "input_width": 224, "input_height": 224,
            "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "output": "logits",
            "labels": labels, "color_order": "rgb", "align_corners": False}
    for k, v in want.items():
        if man.get(k) != v:
            fail(f"manifest {k} = {man.get(k)!r}, expected {v!r} (ImageNet defaults)")

    server = Server(args.framewire, manifest)
    try:
        served = served_probs(server.port, photos, labels)
    finally:
        rc = server.stop()
    if rc != 0:
        fail(f"framewire exited {rc} on SIGTERM")

    info, rows = probe(args.probe, manifest, work, photos)
    worst = 0.0
    tops = set()
    for row in rows:
        x = read_input(row["input"], info["input_h"], info["input_w"])
        with torch.no_grad():
            ref = torch.softmax(model(x), dim=1)[0].tolist()
        d = max(abs(a - b) for a, b in zip(ref, served[row["photo"]]))
        worst = max(worst, d)
        tops.add(int(np.argmax(ref)))
        print(f"  {os.path.basename(row['photo']):12s} served top-1 {labels[int(np.argmax(served[row['photo']]))]} "
              f"{max(served[row['photo']]):.6f}  PyTorch {labels[int(np.argmax(ref))]} {max(ref):.6f}  max|d| {d:.2e}")
        if d > TOL:
            fail(f"{row['photo']}: served probabilities differ from PyTorch by {d:.3g} > {TOL}")
        os.unlink(row["input"])
        os.unlink(row["rgb"])
    if len(tops) < 2:
        fail("every photo got the same top class: the test model does not discriminate")
    print(f"arch route: {len(rows)} photos served by framewire = PyTorch on the same input tensor "
          f"(largest difference {worst:.2e}, tolerance {TOL})")
    return labels_path, sd_path


def check_class_route(args, photos, work):
    mod_path = os.path.join(work, "smallnet.py")
    with open(mod_path, "w") as f:
        f.write(SMALLNET)
    sys.path.insert(0, work)
    import smallnet  # noqa: E402 (written just above)

    torch.manual_seed(7)
    net = smallnet.SmallNet(classes=3, width=8).eval()
    sd_path = os.path.join(work, "smallnet.pt")
    torch.save({"epoch": 3, "state_dict": net.state_dict()}, sd_path)  # a checkpoint dict
    labels_path = os.path.join(work, "labels3.txt")
    with open(labels_path, "w") as f:
        f.write("cat\n\ndog\nbird\n")
    out = os.path.join(work, "smallnet")
    r = run_export("--class", f"{mod_path}:SmallNet", "--class-args", '{"classes": 3, "width": 8}',
                   "--weights", sd_path, "--labels", labels_path, "--out", out, "--size", "96",
                   "--resize", "stretch", "--mean", "0.5", "0.5", "0.5", "--std", "0.25", "0.25", "0.25",
                   "--name", "smallnet")
    print(r.stdout.strip())
    manifest = os.path.join(out, "model.json")
    with open(manifest) as f:
        man = json.load(f)
    if man["labels"] != ["cat", "dog", "bird"] or man["input_width"] != 96 or man["resize"] != "stretch" \
            or "resize_shorter" in man or man["mean"] != [0.5] * 3 or man["name"] != "smallnet":
        fail(f"class route manifest: {man}")
    info, rows = probe(args.probe, manifest, work, photos)
    worst = 0.0
    for row in rows:
        x = read_input(row["input"], 96, 96)
        with torch.no_grad():
            ref = torch.softmax(net(x), dim=1)[0].tolist()
        d = max(abs(a - b) for a, b in zip(ref, row["e2e"]))
        worst = max(worst, d)
        if d > 1e-5:
            fail(f"class route, {row['photo']}: framewire differs from PyTorch by {d:.3g}")
        os.unlink(row["input"])
        os.unlink(row["rgb"])
    print(f"class route: {len(rows)} photos, framewire (in process) = PyTorch within {worst:.2e}")
    return mod_path


def check_failures(work, labels10, sd10, mod_path):
    bad_labels = os.path.join(work, "labels7.txt")
    with open(bad_labels, "w") as f:
        f.write("\n".join(f"l{i}" for i in range(7)) + "\n")
    out = os.path.join(work, "bad")
    cases = [
        (["--class", f"{mod_path}:SmallNet", "--class-args", '{"classes": 3}', "--labels", bad_labels],
         "3 outputs but --labels lists 7"),
        (["--arch", "resnet18", "--weights", sd10, "--labels", labels10], "does not fit the model"),
        (["--arch", "mobilenet_v3_small", "--weights", os.path.join(work, "nope.pt"), "--labels", labels10],
         "nope.pt: no such file"),
        (["--arch", "no_such_net", "--weights", sd10, "--labels", labels10], "--arch no_such_net"),
        (["--class", f"{mod_path}:SmallNet", "--class-args", '{"classes": 3', "--labels", bad_labels],
         "--class-args / --arch-args is not valid JSON"),
    ]
    blocker = os.path.join(work, "a-file")  # --out under a plain file: cannot be made
    with open(blocker, "w") as f:
        f.write("not a folder\n")
    cases.append((["--arch", "mobilenet_v3_small", "--weights", sd10, "--labels", labels10,
                   "--out", os.path.join(blocker, "m")], "cannot write the TorchScript file"))
    for argv, must in cases:
        if "--out" not in argv:
            argv = argv + ["--out", out]
        r = run_export(*argv, expect_ok=False)
        err = r.stderr.strip()
        if r.returncode == 0 or must not in err or len(err.splitlines()) != 1:
            fail(f"export.py {' '.join(argv)}: exit {r.returncode}, stderr {err!r}; expected one line with {must!r}")
        print(f"  refused as expected: {err}")
    if os.path.exists(os.path.join(out, "model.pt")):
        fail("a failed export left a model.pt behind")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--framewire", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--photos", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    photos = sorted(os.path.join(args.photos, p) for p in os.listdir(args.photos) if p.endswith(".jpg"))
    if len(photos) < 3:
        fail(f"need the darknet photos in {args.photos}")
    labels10, sd10 = check_arch_route(args, photos, args.work)
    mod_path = check_class_route(args, photos, args.work)
    check_failures(args.work, labels10, sd10, mod_path)
    print("test_export: all checks passed")


if __name__ == "__main__":
    main()
