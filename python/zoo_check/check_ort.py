"""Runs every exported zoo model in ONNX Runtime (the pip python with the onnxruntime wheel),
compares the output with the PyTorch twin's on the same input and weights (saved by
check_torch.py), and prints one summary line per model. Exit status 1 on any mismatch.

usage: check_ort.py WORKDIR
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

RTOL = 1e-4  # of the largest |logit|
ATOL = 1e-4


def main():
    workdir = Path(sys.argv[1])
    doc = json.loads((workdir / "torch_results.json").read_text())
    results = doc["models"]
    opts = ort.SessionOptions()
    failed = 0
    for res in results:
        name, errors = res["name"], list(res["errors"])
        diff_txt = "not compared"
        try:
            sess = ort.InferenceSession(str(workdir / f"{name}.onnx"), opts, providers=["CPUExecutionProvider"])
            x = np.load(workdir / f"{name}.input.npy")
            want = np.load(workdir / f"{name}.torch.npy")
            got = sess.run(["logits"], {"input": x})[0]
            if got.shape != want.shape:
                errors.append(f"onnxruntime output shape {got.shape} != torch {want.shape}")
            else:
                scale = float(np.abs(want).max())
                diff = float(np.abs(got - want).max())
                tol = ATOL + RTOL * scale
                diff_txt = f"|onnxruntime - torch| {diff:.1e} (tol {tol:.1e}, max |logit| {scale:.2g})"
                if not np.isfinite(got).all() or diff > tol:
                    errors.append("outputs differ: " + diff_txt)
        except Exception as e:
            errors.append(f"onnxruntime: {type(e).__name__}: {' '.join(str(e).split())[:300]}")
        if errors:
            failed += 1
            print(f"FAIL {name:<20} " + "; ".join(errors))
        else:
            print(
                f"ok   {name:<20} params {res['params']} = torch; {res['layers']} conv/linear/pool layers match; "
                f"{diff_txt}"
            )
    print(
        f"zoo check: {len(results) - failed} of {len(results)} models agree "
        f"({doc['versions']}, onnxruntime {ort.__version__})"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
