"""Is edgebench's PyTorch baseline honest? Times `edgebench bench zoo:MODEL -e torch:eager...`
(A) against a careful user's plain PyTorch loop (B, plain_loop.py) in interleaved rounds
A B A B ..., each side a fresh process per round, same model, same weights (the zoo's), same
input shape, same thread count, same device. Prints every round's medians, then the ratio A/B
as the geometric mean over rounds with its 95% t-interval (on log ratios, so a round's noise
enters the interval, not just one run's), and whether that interval lies within 3% of 1.

A benchmark, not a test: nothing here asserts a timing. See docs/torch.md for the method and
the figures it gave.

    python3 bench/torch_baseline/run.py --model resnet18 --threads 2 --rounds 10
    /opt/torch/.venv/bin/python3 bench/torch_baseline/run.py --device cuda --model resnet18
"""

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VIDEO = {"r3d_18", "mc3_18", "r2plus1d_18"}
# Two-sided 95% quantiles of Student's t, by degrees of freedom.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
       10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
       18: 2.101, 19: 2.093, 20: 2.086, 25: 2.060, 30: 2.042}


def t95(df):
    if df in T95:
        return T95[df]
    return next((T95[k] for k in sorted(T95) if k >= df), 1.96)


def ratio_interval(ratios):
    """Geometric mean of the ratios and the 95% t-interval of that mean, from the log ratios."""
    logs = [math.log(r) for r in ratios]
    m = statistics.mean(logs)
    if len(logs) < 2:
        return math.exp(m), float("nan"), float("nan")
    h = t95(len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.exp(m), math.exp(m - h), math.exp(m + h)


def onnx_io_shapes(path):
    import onnx

    g = onnx.load(path, load_external_data=False).graph
    dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    inits = {t.name for t in g.initializer}
    inp = next(i for i in g.input if i.name not in inits)
    return dims(inp), dims(g.output[0])


def run(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        sys.exit("command failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-3000:]))
    return p.stdout


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--edgebench", default=os.path.join(ROOT, "target", "release", "edgebench"))
    p.add_argument("--python", default=sys.executable, help="the Python with torch, for both sides")
    p.add_argument("--model", default="resnet18", help="a zoo model with a torchvision twin")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--warmup", type=float, default=1.0, help="seconds, both sides")
    p.add_argument("--time", type=float, default=3.0, help="seconds of sampling, both sides")
    p.add_argument("--cudnn-benchmark", choices=["on", "off"], default="on", help="GPU only, both sides")
    p.add_argument("--out", help="write every round and the summary here as JSON")
    a = p.parse_args()

    gpu = a.device.startswith("cuda")
    spec = "torch:eager"
    if gpu:
        spec += ",device=%s,cudnn_benchmark=%s" % (a.device, a.cudnn_benchmark)
    builder = ("video." + a.model) if a.model in VIDEO else a.model
    tmp = tempfile.mkdtemp(prefix="edgebench-torch-baseline-")
    weights = os.path.join(tmp, a.model + ".onnx")
    run([a.edgebench, "zoo", "export", a.model, "-o", weights])
    in_shape, out_shape = onnx_io_shapes(weights)
    shape = "x".join(str(d) for d in in_shape)

    bench = [a.edgebench, "--python", a.python, "bench", "zoo:" + a.model, "-e", spec,
             "--threads", str(a.threads), "--warmup", str(a.warmup), "--max-time", str(a.time),
             "--no-telemetry", "--json", "--rounds", "1"]  # this script interleaves the rounds
    plain = [a.python, os.path.join(HERE, "plain_loop.py"), "--builder", builder, "--weights", weights,
             "--classes", str(out_shape[-1]), "--shape", shape, "--device", a.device,
             "--threads", str(a.threads), "--warmup", str(a.warmup), "--time", str(a.time),
             "--cudnn-benchmark", a.cudnn_benchmark]
    print("A: " + " ".join(bench))
    print("B: " + " ".join(plain))
    rounds = []
    session = None
    plain_info = None
    for i in range(a.rounds):
        doc = json.loads(run(bench))
        res = doc["results"][0]
        if res.get("status") != "ok":
            sys.exit("edgebench's variant did not run: %s" % res.get("error"))
        session = res["session"]
        a_ms = res["latency_ms"]["median"]
        plain_info = json.loads(run(plain).strip().splitlines()[-1])
        b_ms = plain_info["median_ms"]
        rounds.append({"edgebench_ms": a_ms, "edgebench_samples": res["samples"],
                       "plain_ms": b_ms, "plain_samples": plain_info["samples"], "ratio": a_ms / b_ms})
        print("round %2d: edgebench %8.3f ms (%4d samples)   plain %8.3f ms (%4d samples)   A/B %.3f"
              % (i + 1, a_ms, res["samples"], b_ms, plain_info["samples"], a_ms / b_ms), flush=True)

    ratios = [r["ratio"] for r in rounds]
    g, lo, hi = ratio_interval(ratios)
    a_med = statistics.median(r["edgebench_ms"] for r in rounds)
    b_med = statistics.median(r["plain_ms"] for r in rounds)
    within = lo >= 0.97 and hi <= 1.03
    print()
    print("median over rounds: edgebench %.3f ms, plain loop %.3f ms" % (a_med, b_med))
    print("A/B ratio: %.3f [%.3f, %.3f] (geometric mean over %d rounds, 95%% t-interval); "
          "round ratios %.3f to %.3f" % (g, lo, hi, len(rounds), min(ratios), max(ratios)))
    print("within 3%% either way: %s" % ("yes" if within else "no"))
    print("edgebench session: device %s, threads %s, torch %s, details %s"
          % (session["device"], session["threads"], session["engine_version"],
             {k: v for k, v in session["details"].items() if k in
              ("weights", "grad_mode", "cudnn_benchmark", "tf32", "gpu", "timing")}))
    summary = {
        "model": a.model, "device": a.device, "threads": a.threads, "rounds": rounds,
        "edgebench_median_ms": a_med, "plain_median_ms": b_med,
        "ratio_geomean": g, "ratio_ci95": [lo, hi], "within_3pct": within,
        "commands": {"edgebench": bench, "plain": plain},
        "edgebench_session": session, "plain": plain_info,
        "host": {"machine": platform.machine(), "node": platform.node(), "cpus": os.cpu_count()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if a.out:
        with open(a.out, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
