#!/usr/bin/python3
"""A stand-in for NVIDIA's trtexec, written from its source (NVIDIA/TensorRT samples/common and
samples/trtexec at release/8.2, 8.6, 10.16 and 11.1) for edgebench's tests. No TensorRT is
needed: the "engine" is a JSON file, the outputs are computed with numpy for the operators of
edgebench's tiny test models, and the timings are simulated (no waiting).

What it follows from the source:
- argsToArgumentsMap: each argument splits at its first '='; an argument without one is a key
  with an empty value, so `--onnx m.onnx` leaves `m.onnx` as an unknown option.
- the options each version parses (sampleOptions.cpp): --fp16/--int8/--best are gone in 11.x,
  --skipInference appears in 8.6 and --buildOnly is gone in 10.x, --workspace and
  --explicitBatch are gone in 10.x; unknown options print `Unknown option: KEY VALUE` and fail.
  --warmUp and --duration are integers (std::stoi) before 8.5.
- the header `&&&& RUNNING TensorRT.trtexec [TensorRT vNNNN]` (+ ` [bNN]` from 10.x), with
  NV_TENSORRT_VERSION encoded as M*1000+m*100+p up to 9.x and M*10000+m*100+p from 10.0, and
  `&&&& PASSED` / `&&&& FAILED` at the end (logging.h).
- the device block printed before any build or load (`Selected Device: NAME`).
- the static-shape rule of setupNetworkAndConfig: explicit shapes for a model with no dynamic
  input fail the build; a dynamic input without shapes gets 1 for each unknown dimension.
- --shapes propagates to the build profile (AllOptions::parse).
- --loadInputs: a list split on ',', each `name:file` split on the last ':' (or 'name':file),
  file sizes checked as loadFromFile does (10.x: exactly the binding size or twice it; 8.x:
  at least the binding size).
- the inference loop (at least --iterations queries and --duration seconds after --warmUp
  milliseconds, warm-up queries dropped from --exportTimes), and the formats of
  --exportTimes (exportJSONTrace), --exportOutput (exportJSONOutput), --exportLayerInfo and
  the performance summary (printEpilog).

Test controls (environment): TRTEXEC_STANDIN_VERSION (e.g. 8.6.1, 10.16.0, 11.1.0),
TRTEXEC_STANDIN_GPU (device name), TRTEXEC_STANDIN_LATENCY_MS (simulated GPU compute time),
TRTEXEC_STANDIN_HANG=1 (start a child and hang; TRTEXEC_STANDIN_PIDS gets both ids),
TRTEXEC_STANDIN_LOG (append each command
line to this file).
"""

import json
import os
import sys
import time

VERSION = tuple(int(x) for x in os.environ.get("TRTEXEC_STANDIN_VERSION", "10.16.0").split("."))
GPU = os.environ.get("TRTEXEC_STANDIN_GPU", "NVIDIA H200")
LATENCY_MS = float(os.environ.get("TRTEXEC_STANDIN_LATENCY_MS", "1.0"))
MAJOR, MINOR, PATCH = VERSION


def encoded():
    if MAJOR >= 10:
        return MAJOR * 10000 + MINOR * 100 + PATCH
    return MAJOR * 1000 + MINOR * 100 + PATCH


NAME = "TensorRT.trtexec [TensorRT v%d]" % encoded() + (" [b72]" if MAJOR >= 10 else "")
CMDLINE = " ".join(sys.argv)


def info(msg):
    print("[12/02/2026-09:00:00] [I] " + msg)


def warn(msg):
    print("[12/02/2026-09:00:00] [W] " + msg)


def error(msg):
    print("[12/02/2026-09:00:00] [E] " + msg, file=sys.stderr)


def fail():
    print("&&&& FAILED %s # %s" % (NAME, CMDLINE))
    sys.exit(1)


def passed():
    print("&&&& PASSED %s # %s" % (NAME, CMDLINE))
    sys.exit(0)


class Invalid(Exception):
    pass


# Options this stand-in knows, per version: (name, kind). Kinds: bool, int, float, str.
def known_options():
    o = {
        "--onnx": "str", "--saveEngine": "str", "--loadEngine": "str", "--timingCacheFile": "str",
        "--device": "int", "--profilingVerbosity": "str", "--minShapes": "str", "--optShapes": "str",
        "--maxShapes": "str", "--shapes": "str", "--exportLayerInfo": "str", "--exportTimes": "str",
        "--exportOutput": "str", "--exportProfile": "str", "--loadInputs": "str",
        "--iterations": "int", "--avgRuns": "int", "--useSpinWait": "bool",
        "--noDataTransfers": "bool", "--separateProfileRun": "bool", "--verbose": "bool",
        "--noTF32": "bool", "--dumpLayerInfo": "bool", "--dumpProfile": "bool",
        "--useCudaGraph": "bool", "--percentile": "str",
    }
    dur = "float" if VERSION >= (8, 5, 0) else "int"
    o["--warmUp"] = dur
    o["--duration"] = dur
    if MAJOR < 11:
        o.update({"--fp16": "bool", "--int8": "bool", "--best": "bool"})
    if VERSION >= (8, 6, 0):
        o["--skipInference"] = "bool"
    if MAJOR < 10:
        o.update({"--buildOnly": "bool", "--explicitBatch": "bool", "--workspace": "int"})
    if VERSION >= (8, 4, 0):
        o["--memPoolSize"] = "str"
    if MAJOR >= 10:
        o["--stronglyTyped"] = "bool"
    return o


def stoi(s):
    # std::stoi: optional sign, then digits; anything after is ignored; no digits throws.
    i = 0
    if i < len(s) and s[i] in "+-":
        i += 1
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    if j == i:
        raise Invalid("stoi")
    return int(s[:j])


def stof(s):
    import re
    m = re.match(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s)
    if not m:
        raise Invalid("stof")
    return float(m.group(0))


def split_name_value(s):
    parts = s.split("'")
    if len(parts) != 1:
        if len(parts) != 3:
            raise Invalid("Found invalid number of 's when parsing %s. Expected: 2, received: %d"
                          % (s, len(parts) - 1))
        return parts[0] + parts[1], parts[2][1:]
    name, sep, value = s.rpartition(":")
    if not sep:
        return "", s
    return name, value


def dims_of(v):
    if v == "scalar":
        return []
    return [stoi(d) for d in v.split("x")]


def shape_list(s):
    out = {}
    for item in [x for x in s.split(",") if x]:
        name, value = split_name_value(item)
        out[name.replace("'", "")] = dims_of(value)
    return out


def parse(argv):
    args = []
    for i, a in enumerate(argv[1:], 1):
        k, sep, v = a.partition("=")
        args.append((k, v if sep else ""))
    if any(k in ("--help", "-h") for k, _ in args):
        print("=== Model Options ===\n  --onnx=<file>  ONNX model\n=== Build Options ===\n  ...")
        sys.exit(0)
    known = known_options()
    opts = {}
    unknown = []
    for k, v in args:
        kind = known.get(k)
        if kind is None:
            unknown.append((k, v))
            continue
        if kind == "int":
            v = stoi(v)
        elif kind == "float":
            v = stof(v)
        elif kind == "bool":
            v = True
        opts[k] = v
    if unknown:
        print("=== Model Options ===\n  ... (help) ...")
        for k, v in unknown:
            error("Unknown option: %s %s" % (k, v))
        fail()
    if "--onnx" not in opts and "--loadEngine" not in opts:
        raise Invalid("Model missing or format not recognized")
    return opts


# ---- a tiny ONNX evaluator (numpy) for edgebench's test models ----

def evaluate(model_path, feeds, dtype):
    import numpy as np
    import onnx
    from onnx import numpy_helper
    m = onnx.load(model_path)
    g = m.graph
    env = {t.name: numpy_helper.to_array(t).astype(dtype) for t in g.initializer}
    # Integer initializers (a QDQ model's weights and zero points) keep their values as
    # floats; their type says a zero point's range (INT8 = 3, else UINT8).
    itype = {t.name: t.data_type for t in g.initializer}

    def along(v, axis, ndim):
        # A per-tensor scale or zero point broadcasts as a scalar; a per-axis one along axis.
        if v.size == 1:
            return v.reshape(())
        shape = [1] * ndim
        shape[axis % ndim] = -1
        return v.reshape(shape)
    env.update({k: v.astype(dtype) if v.dtype.kind == "f" else v for k, v in feeds.items()})

    def attr(n, name, default=None):
        for a in n.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    for n in g.node:
        x = [env[i] if i else None for i in n.input]
        op = n.op_type
        if op == "Conv":
            w = x[1]
            b = x[2] if len(x) > 2 else None
            strides = attr(n, "strides", [1, 1])
            pads = attr(n, "pads", [0, 0, 0, 0])
            group = attr(n, "group", 1)
            xp = np.pad(x[0], ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
            N, C, H, W = xp.shape
            M, Cg, kh, kw = w.shape
            oh = (H - kh) // strides[0] + 1
            ow = (W - kw) // strides[1] + 1
            y = np.zeros((N, M, oh, ow), dtype=dtype)
            mg = M // group
            for gi in range(group):
                xs = xp[:, gi * Cg:(gi + 1) * Cg]
                ws = w[gi * mg:(gi + 1) * mg]
                for i in range(kh):
                    for j in range(kw):
                        patch = xs[:, :, i:i + strides[0] * oh:strides[0], j:j + strides[1] * ow:strides[1]]
                        y[:, gi * mg:(gi + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, ws[:, :, i, j])
            if b is not None:
                y += b.reshape(1, -1, 1, 1)
            out = y
        elif op == "BatchNormalization":
            s, b, mean, var = x[1:5]
            eps = attr(n, "epsilon", 1e-5)
            sh = (1, -1) + (1,) * (x[0].ndim - 2)
            out = (x[0] - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * s.reshape(sh) + b.reshape(sh)
        elif op == "Relu":
            out = np.maximum(x[0], 0)
        elif op == "GlobalAveragePool":
            out = x[0].mean(axis=tuple(range(2, x[0].ndim)), keepdims=True)
        elif op == "Flatten":
            axis = attr(n, "axis", 1)
            out = x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
        elif op == "Gemm":
            a, b = x[0], x[1]
            if attr(n, "transA", 0):
                a = a.T
            if attr(n, "transB", 0):
                b = b.T
            out = attr(n, "alpha", 1.0) * (a @ b)
            if len(x) > 2 and x[2] is not None:
                out = out + attr(n, "beta", 1.0) * x[2]
        elif op == "MatMul":
            out = x[0] @ x[1]
        elif op == "Add":
            out = x[0] + x[1]
        elif op in ("QuantizeLinear", "DequantizeLinear"):
            # ONNX's definitions (opset 13): y = saturate(round(x / scale) + zero_point), round
            # half to even; x = (y - zero_point) * scale; `axis` (default 1) for per-axis.
            axis = attr(n, "axis", 1)
            nd = x[0].ndim
            scale = along(x[1].astype(np.float32), axis, nd)
            has_zp = len(n.input) > 2 and n.input[2]
            zp = along(x[2].astype(np.float32), axis, nd) if has_zp else np.float32(0)
            if op == "QuantizeLinear":
                lo, hi = (-128, 127) if has_zp and itype.get(n.input[2]) == 3 else (0, 255)
                env[n.output[0]] = np.clip(np.rint(x[0].astype(np.float32) / scale) + zp, lo, hi)
                continue
            out = (x[0].astype(np.float32) - zp) * scale
        elif op == "Identity":
            out = x[0]
        elif op == "Cast":
            to = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 7: np.int64}[attr(n, "to")]
            env[n.output[0]] = x[0].astype(to)
            continue
        else:
            raise Invalid("the trtexec stand-in cannot compute operator %s" % op)
        env[n.output[0]] = out.astype(dtype)
    return [(o.name, env[o.name].astype(np.float32)) for o in g.output]


def model_inputs(path):
    import onnx
    m = onnx.load(path)
    inits = {t.name for t in m.graph.initializer}
    out = []
    for i in m.graph.input:
        if i.name in inits:
            continue
        dims = []
        for d in i.type.tensor_type.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") else -1)
        out.append((i.name, i.type.tensor_type.elem_type, dims))
    return out, [n.op_type for n in m.graph.node], [t.data_type for t in m.graph.initializer]


ELEM_SIZE = {1: 4, 10: 2, 11: 8, 6: 4, 7: 8, 3: 1, 2: 1, 9: 1}


def build(opts):
    onnx_path = opts["--onnx"]
    if not os.path.isfile(onnx_path):
        error("Could not open file %s" % onnx_path)
        error("Failed to parse onnx file")
        return None
    inputs, ops, init_types = model_inputs(onnx_path)
    profile = {}
    for sel in ("--minShapes", "--optShapes", "--maxShapes"):
        for k, v in shape_list(opts.get(sel, "")).items():
            profile.setdefault(k, {})[sel] = v
    for k, v in shape_list(opts.get("--shapes", "")).items():
        for sel in ("--minShapes", "--optShapes", "--maxShapes"):
            profile.setdefault(k, {}).setdefault(sel, v)
    has_dynamic = any(-1 in d for _, _, d in inputs)
    if not has_dynamic and profile:
        error("Static model does not take explicit shapes since the shape of inference tensors will be "
              "determined by the model itself")
        error("Network And Config setup failed")
        return None
    shapes = {}
    for name, elem, dims in inputs:
        if -1 in dims:
            if name in profile:
                shapes[name] = profile[name].get("--optShapes")
            else:
                fixed = [d if d > 0 else 1 for d in dims]
                warn("Dynamic dimensions required for input: %s, but no shapes were provided. "
                     "Automatically overriding shape to: %s" % (name, "x".join(map(str, fixed))))
                shapes[name] = fixed
        else:
            shapes[name] = dims
    if MAJOR >= 11:
        precision = "fp16" if 10 in init_types else ("int8" if "QuantizeLinear" in ops else "fp32")
    else:
        precision = "fp32"
        if opts.get("--fp16"):
            precision = "fp16"
        if opts.get("--int8"):
            precision = "int8"
        if opts.get("--best"):
            precision = "best"
    return {
        "standin_engine": 1, "tensorrt": encoded(), "gpu": GPU, "onnx": os.path.abspath(onnx_path),
        "precision": precision, "shapes": shapes,
        "elem": {n: e for n, e, _ in inputs},
        "detailed": opts.get("--profilingVerbosity") == "detailed",
    }


def layer_info(engine):
    import onnx
    m = onnx.load(engine["onnx"])
    fmt = {"fp32": "Row major linear FP32", "fp16": "Channel major FP16 format where channel % 8 == 0",
           "int8": "Thirty-two wide channel vectorized row major Int8 format"}
    layers = []
    for i, n in enumerate(m.graph.node):
        p = engine["precision"]
        if p == "best":
            p = "int8" if n.op_type == "Conv" else "fp16"
        if i == len(m.graph.node) - 1:
            p = "fp32"
        if engine["detailed"]:
            layers.append({"Name": n.name or n.op_type, "LayerType": "CaskConvolution" if n.op_type == "Conv" else n.op_type,
                           "Inputs": [], "Outputs": [{"Name": n.output[0], "Location": "Device",
                                                      "Dimensions": [], "Format/Datatype": fmt[p]}],
                           "TacticValue": "0x0000000000000000"})
        else:
            layers.append(n.name or n.op_type)
    return json.dumps({"Layers": layers, "Bindings": [i.name for i in m.graph.input] + [o.name for o in m.graph.output]})


def load_engine(path):
    try:
        with open(path) as f:
            e = json.load(f)
    except OSError:
        error("Error opening engine file: %s" % path)
        return None
    except ValueError:
        e = None
    if not isinstance(e, dict) or e.get("standin_engine") != 1:
        error("1: [stdArchiveReader.cpp::StdArchiveReader::32] Error Code 1: Serialization (Serialization assertion magicTagRead == kMAGIC_TAG failed.Magic tag does not match)")
        return None
    if e["tensorrt"] != encoded():
        error("1: [stdArchiveReader.cpp::StdArchiveReader::54] Error Code 1: Serialization (Serialization assertion "
              "safeVersionRead == kSAFE_SERIALIZATION_VERSION failed.Version tag does not match.)")
        return None
    if e["gpu"] != GPU:
        warn("Using an engine plan file across different models of devices is not recommended")
    return e


def stats_line(values, percentiles=(90, 95, 99)):
    v = sorted(values)
    n = len(v)

    def pct(p):
        return v[max(0, min(n - 1, int(round(p / 100.0 * n)) - 1))]
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    s = "min = %g ms, max = %g ms, mean = %g ms, median = %g ms" % (v[0], v[-1], sum(v) / n, med)
    for p in percentiles:
        s += ", percentile(%g%%) = %g ms" % (p, pct(p))
    return s


def infer(opts, engine):
    import numpy as np
    shapes = dict(engine["shapes"])
    for k, v in shape_list(opts.get("--shapes", "")).items():
        if k not in shapes:
            error("Cannot find input tensor with name \"%s\" in the engine bindings!" % k)
            return False
        shapes[k] = v
    for k, v in shapes.items():
        if v is None or (engine["shapes"][k] != v):
            error("Error[3]: [executionContext.cpp::setInputShape] input %s dimensions %s are outside the profile" % (k, v))
            return False
    files = {}
    for item in [x for x in opts.get("--loadInputs", "").split(",") if x]:
        name, path = split_name_value(item)
        files[name] = path
    feeds = {}
    rng = np.random.default_rng(0)
    for name, dims in shapes.items():
        elem = engine["elem"][name]
        size = ELEM_SIZE.get(elem, 4)
        if elem == 7 and MAJOR < 10:
            size = 4  # INT64 inputs become INT32 bindings before TensorRT 10
        nbytes = int(np.prod(dims)) * size
        dt = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 3: np.int8, 2: np.uint8,
              9: np.uint8, 7: np.int64 if MAJOR >= 10 else np.int32}.get(elem, np.float32)
        if name in files:
            path = files[name]
            if not os.path.isfile(path):
                raise Invalid("Cannot open file %s!" % path)
            got = os.path.getsize(path)
            if MAJOR >= 10:
                if got != nbytes and got != 2 * nbytes:
                    raise Invalid("Unexpected file size for input file: %s. Note: Input binding size is: %d bytes "
                                  "but the file size is %d bytes. Double check the size and datatype of the provided data."
                                  % (path, nbytes, got))
            elif got < nbytes:
                raise Invalid("Unexpected file size for input file: %s. Note: Expected: %d bytes but only read: %d bytes"
                              % (path, nbytes, got))
            with open(path, "rb") as f:
                feeds[name] = np.frombuffer(f.read(nbytes), dtype=dt).reshape(dims)
        else:
            info("Using random values for input %s" % name)
            feeds[name] = rng.uniform(-1, 1, size=dims).astype(dt)
    dtype = np.float16 if engine["precision"] in ("fp16", "best") else np.float32
    outputs = evaluate(engine["onnx"], feeds, dtype)

    iterations = opts.get("--iterations", 10)
    warmup = float(opts.get("--warmUp", 200))
    duration = float(opts.get("--duration", 3))
    max_duration = duration * 1000 + warmup
    info("Starting inference")
    trace = []
    clock = 0.5
    i = 0
    skip = 0
    elapsed = 0.0
    while i < iterations + skip or elapsed < max_duration:
        jitter = 1.0 + 0.02 * ((i * 7919) % 11 - 5) / 5.0
        h2d, comp, d2h = 0.01 * LATENCY_MS, LATENCY_MS * jitter, 0.005 * LATENCY_MS
        enq_s = clock
        enq_e = clock + 0.05 * LATENCY_MS
        t = {"startEnqMs": enq_s, "endEnqMs": enq_e, "startH2dMs": enq_e, "endH2dMs": enq_e + h2d,
             "startComputeMs": enq_e + h2d, "endComputeMs": enq_e + h2d + comp,
             "startD2hMs": enq_e + h2d + comp, "endD2hMs": enq_e + h2d + comp + d2h}
        trace.append(t)
        clock = t["endD2hMs"]
        elapsed = clock
        i += 1
        if elapsed < warmup:
            skip += 1
    warmups = next((k for k, t in enumerate(trace) if t["startComputeMs"] >= warmup), len(trace))
    timed = trace[warmups:]
    if not timed:
        timed = trace[-1:]
        warmups = len(trace) - 1
    bench = timed[-1]["endD2hMs"] - timed[0]["startH2dMs"]
    info("Warmup completed %d queries over %g ms" % (warmups, warmup))
    info("Timing trace has %d queries over %g s" % (len(timed), bench / 1000))

    def timing(t):
        h2d = t["endH2dMs"] - t["startH2dMs"]
        comp = t["endComputeMs"] - t["startComputeMs"]
        d2h = t["endD2hMs"] - t["startD2hMs"]
        return t["endEnqMs"] - t["startEnqMs"], h2d, comp, d2h, h2d + comp + d2h
    tim = [timing(t) for t in timed]
    info("")
    info("=== Performance summary ===")
    info("Throughput: %g qps" % (len(timed) / bench * 1000))
    info("Latency: " + stats_line([x[4] for x in tim]))
    info("Enqueue Time: " + stats_line([x[0] for x in tim]))
    info("H2D Latency: " + stats_line([x[1] for x in tim]))
    info("GPU Compute Time: " + stats_line([x[2] for x in tim]))
    info("D2H Latency: " + stats_line([x[3] for x in tim]))
    info("Total Host Walltime: %g s" % (bench / 1000))
    info("Total GPU Compute Time: %g s" % (sum(x[2] for x in tim) / 1000))
    info("Explanations of the performance metrics are printed in the verbose logs.")
    if "--exportTimes" in opts:
        with open(opts["--exportTimes"], "w") as f:
            f.write("[\n")
            sep = "  "
            for t, x in zip(timed, tim):
                f.write(sep + "{ ")
                sep = ", "
                f.write(('"startEnqMs" : %g, "endEnqMs" : %g, "startH2dMs" : %g, "endH2dMs" : %g, '
                         '"startComputeMs" : %g, "endComputeMs" : %g, "startD2hMs" : %g, "endD2hMs" : %g, '
                         '"h2dMs" : %g, "computeMs" : %g, "d2hMs" : %g, "latencyMs" : %g }\n')
                        % (t["startEnqMs"], t["endEnqMs"], t["startH2dMs"], t["endH2dMs"], t["startComputeMs"],
                           t["endComputeMs"], t["startD2hMs"], t["endD2hMs"], x[1], x[2], x[3], x[4]))
            f.write("]\n")
    if "--exportOutput" in opts:
        with open(opts["--exportOutput"], "w") as f:
            f.write("[\n")
            sep = "  "
            for name, arr in outputs:
                f.write(sep + '{ "name" : "%s"\n' % name)
                sep = ", "
                f.write("  " + sep + '"dimensions" : "%s"\n' % "x".join(str(d) for d in arr.shape))
                f.write("  " + sep + '"values" : [ ' + sep.join("%g" % v for v in arr.reshape(-1)) + " ]\n  }\n")
            f.write("]\n")
    return True


def main():
    if "TRTEXEC_STANDIN_LOG" in os.environ:
        with open(os.environ["TRTEXEC_STANDIN_LOG"], "a") as f:
            f.write(json.dumps(sys.argv[1:]) + "\n")
    print("&&&& RUNNING %s # %s" % (NAME, CMDLINE))
    try:
        opts = parse(sys.argv)
    except Invalid as e:
        print("=== Model Options ===\n  ... (help) ...")
        error(str(e))
        fail()
    if os.environ.get("TRTEXEC_STANDIN_HANG") == "1":
        child = os.fork()
        if child == 0:
            time.sleep(100000)
            sys.exit(0)
        if "TRTEXEC_STANDIN_PIDS" in os.environ:
            with open(os.environ["TRTEXEC_STANDIN_PIDS"], "w") as f:
                f.write("%d %d\n" % (os.getpid(), child))
        time.sleep(100000)
    info("=== Device Information ===")
    info("Selected Device: %s" % GPU)
    info("Selected Device ID: %d" % opts.get("--device", 0))
    info("")
    info("TensorRT version: %d.%d.%d" % VERSION)
    try:
        if "--loadEngine" in opts:
            engine = load_engine(opts["--loadEngine"])
        else:
            engine = build(opts)
            if engine is not None and "--saveEngine" in opts:
                with open(opts["--saveEngine"], "w") as f:
                    json.dump(engine, f)
        if engine is None:
            error("Engine set up failed")
            fail()
        skip = opts.get("--skipInference") or opts.get("--buildOnly")
        if "--exportLayerInfo" in opts and not (skip and VERSION < (8, 6, 0)):
            with open(opts["--exportLayerInfo"], "w") as f:
                f.write(layer_info(engine))
        if skip:
            info("Skipped inference phase since --skipInference is added.")
            passed()
        if not infer(opts, engine):
            error("Inference set up failed")
            fail()
    except Invalid as e:
        error("Uncaught exception detected: %s" % e)
        fail()
    passed()


main()
