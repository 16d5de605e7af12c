"""edgebench's quantizer worker: `python3 -u quantize.py REQUEST.json`.

Post-training static quantization to a QDQ ONNX model with ONNX Runtime's own tool
(`onnxruntime.quantization`: `quant_pre_process`, then `quantize_static`). edgebench writes
the request and the calibration batches (raw little-endian tensors, one file per input and
sample); this script reads them and writes the quantized model. Its stdout is exactly one
JSON object on one line:

    {"ok": true, "onnxruntime": "1.24.4", "onnx": "1.20.1", "numpy": "2.4.6", ...}
    {"ok": false, "kind": "missing" | "refused", "stage": "...", "error": "one line"}

Everything else (ONNX Runtime's logging, warnings, tracebacks) goes to stderr, so nothing can
corrupt the answer.
"""

import json
import os
import sys
import time
import traceback

# numpy dtype of each element type edgebench writes (`edgebench_core::tensor::DType`).
DTYPES = {
    "f32": "<f4",
    "f64": "<f8",
    "i64": "<i8",
    "i32": "<i4",
    "i8": "i1",
    "u8": "u1",
    "bool": "?",
}


def claim_stdout():
    """Keeps the real stdout for the answer and points fd 1 (and sys.stdout) at stderr."""
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "w", encoding="utf-8")


def last_line(exc):
    """The exception as one line: its last non-empty line (where the quantizer says why)."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[-1] if lines else type(exc).__name__


class Reader:
    """ONNX Runtime's CalibrationDataReader over edgebench's calibration files."""

    def __init__(self, np, inputs, samples):
        self.np = np
        self.inputs = inputs
        self.samples = samples
        self.next = 0

    def get_next(self):
        if self.next >= len(self.samples):
            return None
        files = self.samples[self.next]
        self.next += 1
        feed = {}
        for spec, path in zip(self.inputs, files):
            a = self.np.fromfile(path, dtype=DTYPES[spec["dtype"]])
            feed[spec["name"]] = a.reshape(spec["shape"])
        return feed

    def rewind(self):
        self.next = 0


def run(req):
    try:
        import numpy as np
        import onnxruntime
    except Exception as e:  # ImportError, or a broken install
        return {"ok": False, "kind": "missing", "package": "onnxruntime", "error": last_line(e)}
    try:
        import onnx
        from onnxruntime.quantization import (
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except Exception as e:
        return {"ok": False, "kind": "missing", "package": "onnx", "error": last_line(e)}
    versions = {
        "onnxruntime": onnxruntime.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }
    methods = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    activations = {"u8": QuantType.QUInt8, "s8": QuantType.QInt8}
    stage = "quant_pre_process"
    started = time.perf_counter()
    try:
        # quant_pre_process's own first step, done here: ONNX Runtime's basic graph
        # optimizations (Conv+BatchNormalization folding, ...). With skip_symbolic_shape=True,
        # quant_pre_process (onnxruntime 1.24.4, shape_inference.py) runs them and then
        # shape-infers the model it loaded before them, dropping the optimized graph: resnet18
        # kept its 20 BatchNormalization nodes, quantized apart from their Convs.
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = req["optimized"]
        session = onnxruntime.InferenceSession(
            req["model"], options, providers=["CPUExecutionProvider"]
        )
        del session
        # Symbolic shape inference needs sympy and helps transformers, not CNNs: skipped.
        quant_pre_process(
            req["optimized"],
            req["preprocessed"],
            skip_optimization=True,
            skip_symbolic_shape=True,
        )
        pre_s = time.perf_counter() - started
        stage = "quantize_static"
        reader = Reader(np, req["inputs"], req["samples"])
        quantize_static(
            req["preprocessed"],
            req["output"],
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=bool(req["per_channel"]),
            activation_type=activations[req["activations"]],
            weight_type=QuantType.QInt8,
            calibrate_method=methods[req["method"]],
        )
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        return dict(versions, ok=False, kind="refused", stage=stage, error=last_line(e))
    return dict(
        versions,
        ok=True,
        preprocess_s=pre_s,
        quantize_s=time.perf_counter() - started - pre_s,
    )


def main():
    out = claim_stdout()
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            req = json.load(f)
        answer = run(req)
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        answer = {"ok": False, "kind": "internal", "error": last_line(e)}
    out.write(json.dumps(answer, allow_nan=False, separators=(",", ":")) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
