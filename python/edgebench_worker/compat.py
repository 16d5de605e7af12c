"""What this torch can do, for the oldest torch the worker supports (1.8, NVIDIA's wheels for
JetPack 4.6 with Python 3.6) up to the newest. Every feature is looked up by name, never by
version number, so that a backport or a vendor build is judged by what it has."""

import torch

HAS_INFERENCE_MODE = hasattr(torch, "inference_mode")
"""torch.inference_mode: torch 1.9 and newer."""

HAS_CUDA_GRAPHS = hasattr(torch.cuda, "CUDAGraph") and hasattr(torch.cuda, "graph")
"""torch.cuda.CUDAGraph with the torch.cuda.graph context manager: torch 1.10 and newer."""

HAS_COMPILE = hasattr(torch, "compile")
"""torch.compile: torch 2.0 and newer."""

CHANNELS_LAST_3D = getattr(torch, "channels_last_3d", None)
"""The NDHWC memory format of 5-D tensors (None where this torch has none)."""

NUMPY_DTYPES = {
    torch.float32: "<f4",
    torch.float64: "<f8",
    torch.int64: "<i8",
    torch.int32: "<i4",
    torch.int8: "i1",
    torch.uint8: "u1",
    torch.bool: "?",
}


def grad_mode(inference_mode):
    """The context every inference runs in: torch.inference_mode() where asked for and
    available, else torch.no_grad(). `grad_mode_name` says which one that is."""
    if inference_mode and HAS_INFERENCE_MODE:
        return torch.inference_mode()
    return torch.no_grad()


def grad_mode_name(inference_mode):
    if not inference_mode:
        return "torch.no_grad()"
    if HAS_INFERENCE_MODE:
        return "torch.inference_mode()"
    return "torch.no_grad() (torch %s has no torch.inference_mode, added in 1.9)" % torch.__version__


def frombuffer(buf, dtype, count=-1, offset=0):
    """A 1-D tensor over `count` elements of `buf` (a bytearray) from byte `offset`, as
    torch.frombuffer (torch 1.10 and newer) gives it; through numpy on older torch."""
    if hasattr(torch, "frombuffer"):
        return torch.frombuffer(buf, dtype=dtype, count=count, offset=offset)
    return frombuffer_numpy(buf, dtype, count, offset)


class CompatError(Exception):
    """This torch lacks something the request needs; the message names the fix."""


def frombuffer_numpy(buf, dtype, count=-1, offset=0):
    try:
        import numpy
    except Exception as e:
        raise CompatError(
            "torch %s has no torch.frombuffer (added in 1.10) and numpy is not importable "
            "(%s: %s): pip install numpy" % (torch.__version__, type(e).__name__, e)
        )
    code = NUMPY_DTYPES.get(dtype)
    if code is None:
        raise CompatError("element type %s cannot be read on torch %s" % (dtype, torch.__version__))
    array = numpy.frombuffer(buf, dtype=numpy.dtype(code), count=count, offset=offset)
    # numpy's view of a bytearray is writable; from_numpy shares its memory, as frombuffer does.
    return torch.from_numpy(array)


def max_onnx_opset():
    """The newest ONNX opset this torch's TorchScript exporter writes, or None where it does
    not say: torch.onnx._constants.ONNX_MAX_OPSET (1.13 and newer), else
    torch.onnx.symbolic_helper._onnx_main_opset (13 in torch 1.8)."""
    import importlib

    for module, name in (
        ("torch.onnx._constants", "ONNX_MAX_OPSET"),
        ("torch.onnx.symbolic_helper", "_onnx_main_opset"),
    ):
        try:
            value = getattr(importlib.import_module(module), name, None)
        except Exception:
            value = None
        if isinstance(value, int):
            return value
    return None


def memory_format(rank):
    """The channels-last memory format for tensors of `rank` (4 or 5), or a CompatError."""
    if rank == 5:
        if CHANNELS_LAST_3D is None:
            raise CompatError(
                "channels_last on a 5-D input needs torch.channels_last_3d, which torch %s lacks: "
                "drop channels_last or use a newer torch" % torch.__version__
            )
        return CHANNELS_LAST_3D
    return torch.channels_last


# --- torch.compile: what was asked for, and what torch says ran ----------------------------

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
"""The modes of torch.compile the torch engine offers (`compile=MODE`)."""


def compile_mode(value):
    """The torch.compile mode a `load` request asks for: None (no compile), or one of
    COMPILE_MODES (`true` from an older request means "default"). A CompatError names the modes
    for anything else."""
    if value is None or value is False:
        return None
    if value is True:
        value = "default"
    if value not in COMPILE_MODES:
        raise CompatError("compile=%s is not one of %s" % (value, ", ".join(COMPILE_MODES)))
    if not HAS_COMPILE:
        raise CompatError(
            "torch.compile needs torch 2.0 or newer and this is torch %s: pip install 'torch>=2'"
            % torch.__version__
        )
    return value


def compile_mode_options(mode):
    """The inductor settings torch says `mode` turns on (torch._inductor.list_mode_options),
    as "key=value" text in key order, or None where this torch cannot say."""
    try:
        import torch._inductor

        options = torch._inductor.list_mode_options(mode)
    except Exception:
        return None
    return ", ".join("%s=%s" % (k, options[k]) for k in sorted(options)) or "(none)"


def dynamo_counters():
    """torch._dynamo.utils.counters (a dict of Counters that dynamo and inductor bump as they
    compile), or None where this torch has none."""
    try:
        from torch._dynamo.utils import counters
    except Exception:
        return None
    return counters


def counter_snapshot(counters):
    """The figures of `counters` that say what torch.compile did, as plain numbers, so that two
    snapshots can be subtracted: compiled graphs, graph breaks with their reasons, and how
    often inductor skipped CUDA graphs."""
    if counters is None:
        return None
    breaks = counters.get("graph_break", {})
    return {
        "graphs": int(counters.get("stats", {}).get("unique_graphs", 0)),
        "graph_breaks": dict((str(k), int(v)) for k, v in breaks.items()),
        "cudagraph_skips": int(counters.get("inductor", {}).get("cudagraph_skips", 0)),
    }


def counter_delta(before, after):
    """What happened between two `counter_snapshot`s (None where either is None)."""
    if before is None or after is None:
        return None
    reasons = {}
    for k, v in after["graph_breaks"].items():
        n = v - before["graph_breaks"].get(k, 0)
        if n > 0:
            reasons[k] = n
    return {
        "graphs": after["graphs"] - before["graphs"],
        "graph_breaks": sum(reasons.values()),
        "graph_break_reasons": sorted(reasons),
        "cudagraph_skips": after["cudagraph_skips"] - before["cudagraph_skips"],
    }


def cuda_graph_tree_manager(device_index):
    """torch's CUDA graph trees manager of a device, which records and replays the CUDA graphs
    of torch.compile's cudagraph modes: (True, manager or None where nothing was recorded on
    that device), or (False, None) where this torch has no such manager to ask."""
    try:
        from torch._inductor import cudagraph_trees

        return True, cudagraph_trees.get_manager(device_index, create_if_none_exists=False)
    except Exception:
        return False, None


def recorded_cuda_graphs(manager):
    """How many CUDA graphs a CUDA graph trees manager holds: the nodes of its trees (`roots`,
    then each node's `children`, both {function id: [node]}), counting those that hold a
    captured graph."""
    if manager is None:
        return 0
    stack = [n for nodes in getattr(manager, "roots", {}).values() for n in nodes]
    seen = 0
    while stack:
        node = stack.pop()
        if getattr(node, "graph", None) is not None:
            seen += 1
        stack.extend(c for nodes in getattr(node, "children", {}).values() for c in nodes)
    return seen


def cuda_graph_verdict(device_type, mode, options, recorded, delta):
    """One line: did the compiled model run as CUDA graphs? `recorded` is the number of graphs
    torch's CUDA graph trees hold (None where this torch cannot say), `delta` the
    `counter_delta` over compilation and the first calls, `options` the mode's
    `compile_mode_options`."""
    skips = delta["cudagraph_skips"] if delta else 0
    if recorded:
        line = "yes: %d CUDA graph(s) recorded by torch's CUDA graph trees, replayed on every run" % recorded
        if skips:
            line += " (inductor skipped CUDA graphs for %d other graph(s))" % skips
        return line
    if device_type != "cuda":
        return "no: CUDA graphs need device=cuda"
    if skips:
        return (
            "no: inductor skipped CUDA graphs %d time(s) (torch._dynamo.utils.counters"
            "['inductor']['cudagraph_skips']; TORCH_LOGS=perf_hints says why)" % skips
        )
    if recorded is None:
        return "unknown: this torch has no torch._inductor.cudagraph_trees.get_manager to ask"
    if options is not None and "triton.cudagraphs=True" not in options:
        return "no: mode %s does not ask for CUDA graphs (its inductor options: %s)" % (mode, options)
    return "no: no CUDA graph was recorded"


def cuda_graph_step_marker():
    """The call that tells torch's CUDA graph trees a new inference begins, so that the next
    call of a compiled model replays its graph and may overwrite the previous call's outputs:
    torch.compiler.cudagraph_mark_step_begin (torch 2.1 and newer), else the trees' own
    mark_step_begin, else None."""
    fn = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", None)
    if fn is not None:
        return fn
    try:
        from torch._inductor.cudagraph_trees import mark_step_begin
    except Exception:
        return None
    return mark_step_begin
