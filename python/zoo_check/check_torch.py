"""Compares every exported zoo model with its PyTorch twin (run under Debian's /usr/bin/python3
with python3-torch, python3-torchvision and python3-onnx).

For each model: the ONNX file passes onnx.checker; the parameter count equals
sum(p.numel() for p in model.parameters()); the sequence of convolution, linear and pooling
layers that PyTorch actually executes (forward hooks, plus functional global pooling) equals the
ONNX graph's, attribute by attribute; the zoo's weights load into the PyTorch model by
state_dict name with nothing missing or left over (the state_dict's keys and shapes are exactly
the float initializers, BatchNorm's num_batches_tracked aside). The PyTorch twin is
torchvision's builder, or for the models torchvision lacks edgebench's own definition in
python/edgebench_worker/models.py (the code the torch engine runs). The PyTorch output on a fixed input is saved
for check_ort.py, which runs the ONNX file and compares.

usage: check_torch.py WORKDIR   (WORKDIR holds list.json and NAME.onnx for every model)
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision
from onnx import numpy_helper
from torch.overrides import TorchFunctionMode

# edgebench's own PyTorch definitions (the twins of the zoo models torchvision lacks) are the
# worker's: the same code the torch engine runs.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from edgebench_worker import models  # noqa: E402


def torch_model(entry, classes):
    tv = entry["torchvision"]
    if tv is None:
        own = entry.get("edgebench_twin")
        if own is None:
            raise ValueError("no PyTorch twin: neither torchvision nor edgebench_twin is set")
        return models.build(own, {"num_classes": classes})
    kwargs = {"weights": None, "num_classes": classes}
    if tv == "googlenet":
        kwargs.update(aux_logits=False, init_weights=False)
    if tv.startswith("video."):
        return getattr(torchvision.models.video, tv.split(".", 1)[1])(**kwargs)
    return getattr(torchvision.models, tv)(**kwargs)


def tup(v, rank):
    if isinstance(v, int):
        return [v] * rank
    return [int(i) for i in v]


class Recorder(TorchFunctionMode):
    """Records the layers PyTorch executes, in order."""

    POOLS = (nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool2d, nn.AvgPool3d)
    ADAPTIVE = (nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)

    def __init__(self, model):
        super().__init__()
        self.seq = []
        self.depth = 0  # > 0 inside a pooling module, whose own hook records it
        self.handles = []
        for m in model.modules():
            if isinstance(m, self.POOLS + self.ADAPTIVE):
                self.handles.append(m.register_forward_pre_hook(self.enter))
            if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear) + self.POOLS + self.ADAPTIVE):
                self.handles.append(m.register_forward_hook(self.hook))

    def enter(self, module, inputs):
        self.depth += 1

    def hook(self, m, inputs, output):
        x = inputs[0]
        rank = x.dim() - 2
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            self.seq.append(
                ("conv", m.in_channels, m.out_channels, tup(m.kernel_size, rank), tup(m.stride, rank),
                 tup(m.padding, rank), tup(m.dilation, rank), m.groups, m.bias is not None)
            )
        elif isinstance(m, nn.Linear):
            self.seq.append(("linear", m.in_features, m.out_features, m.bias is not None))
        elif isinstance(m, self.POOLS):
            self.depth -= 1
            kind = "maxpool" if isinstance(m, (nn.MaxPool2d, nn.MaxPool3d)) else "avgpool"
            stride = m.stride if m.stride is not None else m.kernel_size
            self.seq.append(
                (kind, tup(m.kernel_size, rank), tup(stride, rank), tup(m.padding, rank), bool(m.ceil_mode))
            )
        elif isinstance(m, self.ADAPTIVE):
            self.depth -= 1
            self.adaptive(x, output)

    def adaptive(self, x, y):
        if all(s == 1 for s in y.shape[2:]):
            self.seq.append(("global_avg_pool",))
        elif tuple(y.shape) != tuple(x.shape):
            self.seq.append(("adaptive_avg_pool", list(y.shape[2:])))
        # else: the identity at this input size (AlexNet's and VGG's pools at 224x224)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if self.depth == 0 and name in ("adaptive_avg_pool2d", "adaptive_avg_pool3d"):
            self.adaptive(args[0], out)
        elif self.depth == 0 and name == "mean" and isinstance(out, torch.Tensor):
            x = args[0]
            if x.dim() >= 4 and out.numel() == x.shape[0] * x.shape[1]:
                self.seq.append(("global_avg_pool",))
        return out

    def close(self):
        for h in self.handles:
            h.remove()


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def onnx_sequence(model):
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    seq = []
    for n in g.node:
        if n.op_type == "Conv":
            w = inits[n.input[1]].dims
            rank = len(w) - 2
            group = attr(n, "group", 1)
            pads = list(attr(n, "pads", [0] * 2 * rank))
            pad = pads[:rank] if pads[:rank] == pads[rank:] else pads
            seq.append(
                ("conv", w[1] * group, w[0], list(attr(n, "kernel_shape", w[2:])),
                 list(attr(n, "strides", [1] * rank)), pad, list(attr(n, "dilations", [1] * rank)),
                 group, len(n.input) > 2 and n.input[2] != "")
            )
        elif n.op_type == "Gemm":
            w = inits[n.input[1]].dims
            assert attr(n, "transB", 0) == 1, "Gemm without transB"
            seq.append(("linear", w[1], w[0], len(n.input) > 2))
        elif n.op_type in ("MaxPool", "AveragePool"):
            k = list(attr(n, "kernel_shape"))
            rank = len(k)
            pads = list(attr(n, "pads", [0] * 2 * rank))
            pad = pads[:rank] if pads[:rank] == pads[rank:] else pads
            kind = "maxpool" if n.op_type == "MaxPool" else "avgpool"
            seq.append((kind, k, list(attr(n, "strides", [1] * rank)), pad, attr(n, "ceil_mode", 0) == 1))
        elif n.op_type == "GlobalAveragePool":
            seq.append(("global_avg_pool",))
    return seq


def onnx_params(model):
    slots = {"Conv": (1, 2), "Gemm": (1, 2), "BatchNormalization": (1, 2)}
    used = set()
    for n in model.graph.node:
        for s in slots.get(n.op_type, ()):
            if s < len(n.input):
                used.add(n.input[s])
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.name in used)


def norm(seq):
    return [tuple(tuple(v) if isinstance(v, list) else v for v in item) for item in seq]


def check(entry, workdir):
    name = entry["name"]
    res = {"name": name, "errors": []}
    err = res["errors"].append
    path = workdir / f"{name}.onnx"
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    classes = entry["default_classes"]
    tm = torch_model(entry, classes).eval()

    res["params"] = onnx_params(model)
    res["torch_params"] = sum(p.numel() for p in tm.parameters())
    if res["params"] != res["torch_params"]:
        err(f"params {res['params']} != torch {res['torch_params']}")

    state = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    # The state_dict's keys are exactly the zoo's initializer names (BatchNorm's
    # num_batches_tracked counters aside: ONNX has no such tensor), with the same shapes.
    keys = {k: list(v.shape) for k, v in tm.state_dict().items() if not k.endswith("num_batches_tracked")}
    inits = {k: list(v.shape) for k, v in state.items()}
    if set(keys) != set(inits):
        err(
            f"state_dict keys != ONNX initializers: only in torch {sorted(set(keys) - set(inits))[:5]}, "
            f"only in ONNX {sorted(set(inits) - set(keys))[:5]}"
        )
    shapes = [k for k in keys if k in inits and keys[k] != inits[k]]
    if shapes:
        err(f"{len(shapes)} shapes differ, e.g. {shapes[0]}: torch {keys[shapes[0]]}, ONNX {inits[shapes[0]]}")
    try:
        missing, unexpected = tm.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing:
            err(f"state_dict keys missing from the ONNX file: {missing[:5]}")
        if unexpected:
            err(f"ONNX initializers that are not state_dict keys: {unexpected[:5]}")
    except RuntimeError as e:
        err("weights do not load: " + " ".join(str(e).split())[:300])

    rng = np.random.default_rng(12345)
    x = rng.standard_normal(entry["input_shape"]).astype(np.float32)
    rec = Recorder(tm)
    with torch.no_grad(), rec:
        y = tm(torch.from_numpy(x))
    rec.close()
    tseq, oseq = norm(rec.seq), norm(onnx_sequence(model))
    res["layers"] = len(oseq)
    if tseq != oseq:
        i = next((i for i, (a, b) in enumerate(zip(tseq, oseq)) if a != b), min(len(tseq), len(oseq)))
        err(
            f"layer sequence differs at #{i} (torch {len(tseq)} layers, onnx {len(oseq)}): "
            f"torch {tseq[i] if i < len(tseq) else None} vs onnx {oseq[i] if i < len(oseq) else None}"
        )
    y = y.numpy()
    if not np.all(np.isfinite(y)):
        err("torch output not finite")
    np.save(workdir / f"{name}.input.npy", x)
    np.save(workdir / f"{name}.torch.npy", y)
    return res


def main():
    workdir = Path(sys.argv[1])
    torch.set_num_threads(max(1, torch.get_num_threads()))
    entries = json.loads((workdir / "list.json").read_text())
    results = []
    for entry in entries:
        t = time.time()
        try:
            res = check(entry, workdir)
        except Exception as e:  # one broken model must not hide the others
            res = {"name": entry["name"], "errors": [f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"]}
        res["torch_seconds"] = round(time.time() - t, 1)
        print(f"  torch  {entry['name']:<20} {res['torch_seconds']:>5.1f}s {'; '.join(res['errors']) or 'ok'}",
              file=sys.stderr, flush=True)
        results.append(res)
    versions = f"torch {torch.__version__}, torchvision {torchvision.__version__}, onnx {onnx.__version__}"
    doc = {"versions": versions, "models": results}
    (workdir / "torch_results.json").write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
