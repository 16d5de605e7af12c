"""A careful user's PyTorch timing loop: the "B" side of bench/torch_baseline/run.py.

Builds the torchvision model, copies in the weights of an ONNX file whose initializers are
named like torchvision's state_dict keys (the zoo's, written by `edgebench zoo export`), and
times batch-1 inference as a careful user would: model.eval(), torch.inference_mode(), the
same thread count, fp32 with TF32 off on a GPU (what edgebench measures as fp32),
torch.backends.cudnn.benchmark on for fixed shapes (unless --cudnn-benchmark off), a
warm-up, torch.cuda.synchronize() after every call on a GPU. Prints one JSON line.

Only torch, torchvision and onnx: no edgebench code.
"""

import argparse
import json
import statistics
import time

import onnx
import torch
import torchvision
from onnx import numpy_helper


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--builder", required=True, help="torchvision builder, e.g. resnet18 or video.r3d_18")
    p.add_argument("--weights", required=True, help="ONNX file with the weights (edgebench zoo export)")
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--shape", required=True, help="input shape, e.g. 1x3x224x224")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup", type=float, default=1.0, help="seconds")
    p.add_argument("--time", type=float, default=3.0, help="seconds of timed calls")
    p.add_argument("--cudnn-benchmark", choices=["on", "off"], default="on")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = a.cudnn_benchmark == "on"
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False

    fn = torchvision.models
    for part in a.builder.split("."):
        fn = getattr(fn, part)
    kwargs = {"num_classes": a.classes}
    if a.builder == "googlenet":
        kwargs.update(aux_logits=False, init_weights=False)
    model = fn(**kwargs)
    state = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(a.weights).graph.initializer}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing:
        raise SystemExit("weights missing for %s" % missing[:5])
    model.eval().to(device)

    shape = [int(d) for d in a.shape.split("x")]
    x = (torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 2 - 1).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    samples = []
    with torch.inference_mode():
        end = time.perf_counter() + a.warmup
        runs = 0
        while runs < 3 or time.perf_counter() < end:
            model(x)
            sync()
            runs += 1
        end = time.perf_counter() + a.time
        while time.perf_counter() < end or len(samples) < 10:
            t0 = time.perf_counter()
            model(x)
            sync()
            samples.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({
        "median_ms": statistics.median(samples),
        "samples": len(samples),
        "warmup_runs": runs,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
    }))


if __name__ == "__main__":
    main()
