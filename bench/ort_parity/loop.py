"""ONNX Runtime's own Python loop, the "B" side of bench/ort_parity/run.sh.

Times `sess.run(None, feed)` with `time.perf_counter_ns` around that call only, after the same
warm-up edgebench does (a first run, then runs until both `--warmup` seconds and
`--min-warmup-runs` runs are reached, the first run included), for exactly `--runs` runs. The
session gets what edgebench gives ONNX Runtime for `ort:LEVEL --threads N`: N intra-op threads,
the graph optimization level, ONNX Runtime's defaults for everything else (sequential execution,
memory pattern and CPU arena on, thread spinning on). The input is uniform in [-1, 1) away from
zero, as edgebench's random inputs (the same distribution, not the same bytes).

Prints one JSON line: the samples in milliseconds, their median, and what ran.

    python3 bench/ort_parity/loop.py MODEL.onnx --threads 2 --level all --runs 300
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as C

LEVELS = {
    "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
          "tensor(int32)": np.int32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8,
          "tensor(bool)": np.bool_}



def fail(msg):
    """Bad input: one line on stderr, exit code 2."""
    print(msg, file=sys.stderr)
    sys.exit(2)


def random_input(meta, rng):
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in meta.shape]
    dtype = DTYPES.get(meta.type)
    if dtype is None:
        fail("loop.py: input `%s` has type %s, which this loop does not generate" % (meta.name, meta.type))
    if dtype in (np.float32, np.float64):
        x = rng.uniform(-1.0, 1.0, size=shape)
        x = np.where(np.abs(x) < 1e-3, np.copysign(1e-3, x), x)
        return x.astype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    return rng.integers(1, 10, size=shape).astype(dtype)


def spinning(so):
    try:
        return so.get_session_config_entry("session.intra_op.allow_spinning")
    except Exception:  # not set: ONNX Runtime's default
        return "unset (ONNX Runtime's default, 1)"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--level", choices=sorted(LEVELS), default="all")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up (edgebench's --warmup)")
    p.add_argument("--min-warmup-runs", type=int, default=3)
    p.add_argument("--runs", type=int, default=300, help="timed runs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--allow-spinning", choices=["0", "1"], help="set session.intra_op.allow_spinning "
                   "(default: leave it unset, as a Python user does)")
    a = p.parse_args()
    if not os.path.isfile(a.model):
        fail("loop.py: %s: no such file; export one with `edgebench zoo export efficientnet_b0 -o FILE`" % a.model)
    if a.threads < 1 or a.runs < 1:
        fail("loop.py: --threads and --runs must be positive")

    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.graph_optimization_level = LEVELS[a.level]
    if a.allow_spinning is not None:
        so.add_session_config_entry("session.intra_op.allow_spinning", a.allow_spinning)
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(a.seed)
    feed = {m.name: random_input(m, rng) for m in sess.get_inputs()}

    # First run, then warm-up by time and count, as edgebench's measurement loop.
    warm_start = time.perf_counter_ns()
    t0 = time.perf_counter_ns()
    sess.run(None, feed)
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    warmup_runs = 1
    while warmup_runs < a.min_warmup_runs or time.perf_counter_ns() - warm_start < a.warmup * 1e9:
        sess.run(None, feed)
        warmup_runs += 1

    samples = [0] * a.runs
    run = sess.run
    clock = time.perf_counter_ns
    for i in range(a.runs):
        t0 = clock()
        run(None, feed)
        samples[i] = clock() - t0
    ms = [s / 1e6 for s in samples]
    print(json.dumps({
        "median_ms": statistics.median(ms),
        "samples": len(ms),
        "samples_ms": ms,
        "first_run_ms": first_ms,
        "warmup_runs": warmup_runs,
        "onnxruntime": ort.__version__,
        # The wheel's Python extension, which has ONNX Runtime linked in (it does not load the
        # wheel's libonnxruntime.so, which edgebench loads).
        "module": C.__file__,
        "providers": sess.get_providers(),
        "session_options": {
            "intra_op_num_threads": so.intra_op_num_threads,
            "inter_op_num_threads": so.inter_op_num_threads,
            "graph_optimization_level": str(so.graph_optimization_level),
            "execution_mode": str(so.execution_mode),
            "enable_mem_pattern": so.enable_mem_pattern,
            "enable_cpu_mem_arena": so.enable_cpu_mem_arena,
            "session.intra_op.allow_spinning": spinning(so),
        },
    }))


if __name__ == "__main__":
    main()
