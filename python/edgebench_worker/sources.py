"""Where a PyTorch model comes from: a torchvision builder, edgebench's own definition of a zoo
model torchvision lacks (`models.py`), or a user's `file.py:factory`, optionally with weights
handed over by edgebench (the zoo's initializers)."""

import importlib.util
import os
import sys

import torch

from edgebench_worker import compat


class SourceError(Exception):
    """A problem with the model source the user can fix; the message names the fix."""


def build(source, seed):
    """Builds the module on the CPU, with `torch.manual_seed(seed)` so that random
    initialisation is the same in every worker (and in the export) on the same torch."""
    torch.manual_seed(int(seed))
    kind = source.get("kind")
    if kind == "torchvision":
        module = _torchvision(source["builder"], source.get("kwargs") or {})
    elif kind == "edgebench":
        module = _edgebench(source["builder"], source.get("kwargs") or {})
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
    if source.get("kind") == "edgebench":
        return "edgebench_worker.models." + source.get("builder", "?")
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


def _edgebench(builder, kwargs):
    from edgebench_worker import models

    if builder not in models.BUILDERS:
        raise SourceError(
            "edgebench's PyTorch models have no `%s` (this worker has %s): use the same edgebench "
            "build for the model and the worker" % (builder, ", ".join(sorted(models.BUILDERS)))
        )
    return models.build(builder, kwargs)


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


ZOO = "edgebench-zoo-deterministic"
RESCALED = "rescaled-deterministic"
AS_GIVEN = "as-given"
TORCH_INIT = "torch-default-init"


def apply_weights(module, weights, source, seed):
    """Gives `module` (just built by `build(source, seed)`, on the CPU, in float32) the
    weights edgebench chose. Returns (label, detail): the label names which weights were used
    (recorded in the result), the detail says how, in words.

    `weights` is one of
      {"kind": "tensors", "label", "file", "tensors"}: copied in (`load_weights`);
      {"kind": "rescale", "calibration": [shape, ...]}: `rescale` on a calibration input;
      {"kind": "as_built", "label"} or None: untouched."""
    if not weights:
        return TORCH_INIT, "random initialisation, torch.manual_seed(%s)" % seed
    kind = weights.get("kind")
    if kind == "tensors":
        n = load_weights(module, weights)
        return weights.get("label", ZOO), "%d tensors from edgebench's deterministic weights" % n
    if kind == "rescale":
        return rescale(module, source, seed, weights["calibration"])
    if kind == "as_built":
        label = weights.get("label", TORCH_INIT)
        if label == AS_GIVEN:
            return label, "the factory's own weights, untouched"
        return label, "random initialisation, torch.manual_seed(%s)" % seed
    raise SourceError("unknown weights kind `%s`" % kind)


RESCALED_TYPES = (torch.nn.modules.conv._ConvNd, torch.nn.Linear)


def seeded_modules(module, source, seed):
    """The convolution and linear layers of `module` whose weight depends on the seed: the
    source is built a second time with seed + 1 and the weights compared. Layers the factory
    filled itself (trained or loaded weights) come out the same and are left alone."""
    other = dict(build(source, int(seed) + 1).state_dict())
    found = []
    for name, m in module.named_modules():
        if not isinstance(m, RESCALED_TYPES):
            continue
        w = m._parameters.get("weight")
        if not isinstance(w, torch.nn.Parameter):
            continue  # a weight computed by a parametrization: not ours to rescale
        twin = other.get(name + ".weight" if name else "weight")
        if twin is None or twin.shape != w.shape or not torch.equal(twin, w.detach()):
            found.append((name, m))
    return found


def rescale(module, source, seed, calibration):
    """Rescales the seed's random initialisation so that activations are of order 1.

    Default initialisations can shrink the signal at every layer (torchvision's mobilenet_v2
    ends with logits of about 1e-9, efficientnet_b0 about 1e-15): fp16 engines then underflow,
    top-1 agreement is a coin toss, and values may become subnormal, which slows many CPUs.
    One forward pass in eval mode on a calibration input (uniform in [-1, 1), drawn from a
    generator seeded with `seed`, shapes `calibration`): a hook on each convolution and linear
    layer whose weight depends on the seed divides that layer's weight and bias by the RMS of
    its output and hands the rescaled output on, so every such layer's output has RMS 1 on the
    calibration input (LSUV, Mishkin & Matas 2016, in one pass). Deterministic for a given
    torch, seed and calibration shape. Layers whose weights do not depend on the seed (the
    factory loaded them) are left alone; when there is none, the weights are `as-given`."""
    layers = seeded_modules(module, source, seed)
    if not layers:
        return AS_GIVEN, "no weight depends on the seed (trained or loaded by the factory): untouched"
    total = sum(1 for m in module.modules() if isinstance(m, RESCALED_TYPES))
    done = set()

    def hook(m, inputs, out):
        if id(m) in done or not torch.is_tensor(out) or not out.is_floating_point():
            return None
        done.add(id(m))
        rms = float(out.detach().double().pow(2).mean().sqrt())
        if not (rms > 0.0 and rms < float("inf")):
            return None
        f = 1.0 / rms
        m.weight.mul_(f)
        if m.bias is not None:
            m.bias.mul_(f)
        return out * f

    gen = torch.Generator().manual_seed(int(seed))
    args = tuple(torch.rand([int(d) for d in shape], generator=gen) * 2 - 1 for shape in calibration)
    was_training = module.training
    module.eval()
    handles = [m.register_forward_hook(hook) for _, m in layers]
    try:
        with torch.no_grad():
            module(*args)
    except Exception as e:
        raise SourceError(
            "rescaling %s's random weights failed in its calibration pass on inputs %s: %s: %s"
            % (describe(source), [list(a.shape) for a in args], type(e).__name__, e)
        )
    finally:
        for h in handles:
            h.remove()
    module.train(was_training)
    shapes = ", ".join("x".join(str(int(d)) for d in s) for s in calibration)
    return RESCALED, (
        "random initialisation (torch.manual_seed(%s)), %d of %d convolution/linear layers "
        "rescaled to output RMS 1 on a calibration input %s" % (seed, len(done), total, shapes)
    )


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
        data = compat.frombuffer(blob, torch.float32, count=int(t["numel"]), offset=int(t["offset"]))
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
