"""Where a PyTorch model comes from: a torchvision builder or a user's `file.py:factory`,
optionally with weights handed over by edgebench (the zoo's initializers)."""

import importlib.util
import os
import sys

import torch


class SourceError(Exception):
    """A problem with the model source the user can fix; the message names the fix."""


def build(source, seed):
    """Builds the module on the CPU, with `torch.manual_seed(seed)` so that random
    initialisation is the same in every worker (and in the export) on the same torch."""
    torch.manual_seed(int(seed))
    kind = source.get("kind")
    if kind == "torchvision":
        module = _torchvision(source["builder"], source.get("kwargs") or {})
    elif kind == "module":
        module = _user_module(source["file"], source["factory"])
    else:
        raise SourceError("unknown model source kind `%s`" % kind)
    if not isinstance(module, torch.nn.Module):
        raise SourceError(
            "%s returned %s, not a torch.nn.Module: make it return the model"
            % (describe(source), type(module).__name__)
        )
    return module


def describe(source):
    if source.get("kind") == "torchvision":
        return "tv:" + source.get("builder", "?")
    return "%s:%s" % (source.get("file", "?"), source.get("factory", "?"))


def _torchvision(builder, kwargs):
    try:
        import torchvision
        import torchvision.models  # noqa: F401 (the video and segmentation subpackages)
        import torchvision.models.video  # noqa: F401
    except Exception as e:  # ImportError, or a broken install raising anything else
        raise SourceError(
            "torchvision is not importable (%s: %s): apt-get install python3-torchvision, "
            "or pip install torchvision" % (type(e).__name__, e)
        )
    fn = torchvision.models
    for part in builder.split("."):
        fn = getattr(fn, part, None)
        if fn is None:
            break
    if fn is None or not callable(fn) or isinstance(fn, type(torchvision)):
        names = ""
        lister = getattr(torchvision.models, "list_models", None)
        if lister is not None:
            try:
                names = "; valid models include: " + ", ".join(
                    sorted(lister(module=torchvision.models))[:40]
                )
            except Exception:
                names = ""
        raise SourceError(
            "torchvision %s has no model `%s`%s (video models are video.NAME, e.g. video.r3d_18)"
            % (torchvision.__version__, builder, names)
        )
    # Never download weights: the weights are random (or edgebench's own).
    return fn(**kwargs)


def _user_module(path, factory):
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise SourceError("%s does not exist: check the path" % path)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # sibling imports of the user's file work
    name = "edgebench_user_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SourceError("%s is not a Python file: give path/to/file.py:factory" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise SourceError("importing %s failed: %s: %s" % (path, type(e).__name__, e))
    fn = getattr(module, factory, None)
    if fn is None or not callable(fn):
        found = sorted(
            n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
        )
        raise SourceError(
            "%s has no function `%s`; callables found: %s"
            % (path, factory, ", ".join(found) or "none")
        )
    try:
        return fn()
    except Exception as e:
        raise SourceError("%s:%s() failed: %s: %s" % (path, factory, type(e).__name__, e))


def load_weights(module, weights):
    """Copies tensors from edgebench's weight file into `module`'s state_dict.

    `weights` = {"file": path, "tensors": [{"name", "shape", "offset", "numel"}]} (float32,
    little-endian). Every parameter and buffer must be covered, except BatchNorm's
    `num_batches_tracked` counters, which do not exist in ONNX; shapes must match exactly.
    Returns how many tensors were loaded."""
    with open(weights["file"], "rb") as f:
        blob = bytearray(f.read())
    table = {t["name"]: t for t in weights["tensors"]}
    state = module.state_dict()
    missing, wrong = [], []
    loaded = {}
    for key, current in state.items():
        t = table.get(key)
        if t is None:
            if not key.endswith("num_batches_tracked"):
                missing.append(key)
            continue
        if list(current.shape) != list(t["shape"]):
            wrong.append("%s %s vs %s" % (key, list(current.shape), t["shape"]))
            continue
        if int(t["numel"]) == 0:
            loaded[key] = current.clone()
            continue
        data = torch.frombuffer(blob, dtype=torch.float32, count=int(t["numel"]), offset=int(t["offset"]))
        loaded[key] = data.reshape(t["shape"]).clone().to(current.dtype)
    if missing or wrong:
        parts = []
        if missing:
            parts.append("missing %d tensors (%s)" % (len(missing), ", ".join(missing[:5])))
        if wrong:
            parts.append("%d shapes differ (%s)" % (len(wrong), "; ".join(wrong[:3])))
        raise SourceError(
            "the model's weights do not fit its PyTorch twin: " + ", ".join(parts)
        )
    module.load_state_dict(loaded, strict=False)
    return len(loaded)
