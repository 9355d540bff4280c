#!/usr/bin/python3
"""tfjs_converter_check.py WORKDIR - the Python half of tests/tfjs_converter_test.js.

For each case folder (model.json, weights.bin, input.bin, output.bin, case.json written by
tfjs): converts the model with models/tfjs_keras.py, traces it as convert_nsfwjs.py does, runs
it on tfjs' input (NHWC -> NCHW) and requires tfjs' output within 1e-5; or, for a case with
"expect_error", requires a ConversionError whose message contains that text. Exit 1 on failure.
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
import tfjs_keras  # noqa: E402

TOL = 1e-5


def main():
    work = sys.argv[1]
    failures = 0
    for name in sorted(os.listdir(work)):
        d = os.path.join(work, name)
        with open(os.path.join(d, "case.json")) as f:
            case = json.load(f)
        with open(os.path.join(d, "model.json")) as f:
            mj = json.load(f)
        with open(os.path.join(d, "weights.bin"), "rb") as f:
            data = f.read()
        h, w, c = case["input_shape"]
        try:
            weights = tfjs_keras.read_weights(mj["weightsManifest"], data)
            net = tfjs_keras.build_model(mj["modelTopology"], weights, h, w)
        except tfjs_keras.ConversionError as e:
            if case["expect_error"] and case["expect_error"] in str(e):
                print(f"  {name:22s} refused as expected: {e}")
                continue
            print(f"  {name:22s} FAIL: ConversionError {e}")
            failures += 1
            continue
        if case["expect_error"]:
            print(f"  {name:22s} FAIL: converted, expected an error with {case['expect_error']!r}")
            failures += 1
            continue
        x = np.fromfile(os.path.join(d, "input.bin"), dtype="<f4").reshape(2, h, w, c)
        want = np.fromfile(os.path.join(d, "output.bin"), dtype="<f4").reshape(case["output_shape"])
        xt = torch.from_numpy(x.copy()).permute(0, 3, 1, 2).contiguous()
        with torch.no_grad():
            traced = torch.jit.trace(net, xt[:1])
            got = traced(xt).numpy()
        diff = float(np.abs(got - want).max())
        ok = got.shape == want.shape and diff <= TOL
        print(f"  {name:22s} {'ok' if ok else 'FAIL'}: {len(weights)} weights, output {list(got.shape)}, "
              f"max |torch - tfjs| {diff:.2e} (tolerance {TOL})")
        failures += 0 if ok else 1
    if failures:
        print(f"tfjs_converter_check: {failures} case(s) failed")
        sys.exit(1)
    print("tfjs_converter_check: all cases passed")


if __name__ == "__main__":
    main()
