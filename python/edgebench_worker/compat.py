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
