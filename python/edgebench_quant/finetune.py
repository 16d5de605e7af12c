"""What edgebench's training scripts share (`qat.py`, `prune.py`): the answer protocol, the
PyTorch model of an edgebench source, the labelled image folder and the training loop.

The scripts run as `python3 -u SCRIPT REQUEST.json` with this folder and the worker package
(`edgebench_worker`, for model sources and weights) on `sys.path`. Their stdout is JSON, one
object per line: progress events (`{"event": "epoch", ...}`) as they happen, then exactly one
answer (`{"ok": true, ...}` or `{"ok": false, "kind": ..., "error": "one line"}`) as the last
line. Everything else (warnings, tracebacks) goes to stderr.
"""

import json
import os
import sys
import time
import traceback

# torchvision's preprocessing for ImageNet models, as edgebench's video pipeline does it
# (crates/video/src/preprocess.rs): shorter side to 256/224 of the crop, centre crop,
# mean/std.
IMAGE_MEAN = [0.485, 0.456, 0.406]
IMAGE_STD = [0.229, 0.224, 0.225]

_OUT = None


class BadInput(Exception):
    """Something the user can fix (the folder, the model's outputs); the message says how."""


def claim_stdout():
    """Keeps the real stdout for the protocol and points fd 1 (and sys.stdout) at stderr, so
    that nothing a library prints can corrupt it."""
    global _OUT
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _OUT = os.fdopen(fd, "w", encoding="utf-8")


def emit(obj):
    """One JSON line on the protocol's stdout, flushed at once."""
    _OUT.write(json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n")
    _OUT.flush()


def last_line(exc):
    """The exception as one line: its last non-empty line."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[-1] if lines else type(exc).__name__


def main(run):
    """Reads the request named on the command line, calls `run(req)` and writes its answer."""
    claim_stdout()
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            req = json.load(f)
        answer = run(req)
    except BadInput as e:
        answer = {"ok": False, "kind": "bad_input", "error": str(e)}
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        kind = "missing" if isinstance(e, ImportError) else "failed"
        answer = {"ok": False, "kind": kind, "error": last_line(e)}
    emit(answer)
    return 0


def versions():
    import torch

    v = {"python": sys.version.split()[0], "torch": torch.__version__}
    try:
        import torchvision

        v["torchvision"] = torchvision.__version__
    except Exception:
        v["torchvision"] = ""
    return v


def build_model(req):
    """The source's nn.Module with the weights edgebench gives it (the zoo's deterministic
    weights for a torchvision model the zoo has, else the rescaled random initialisation), as
    `edgebench export` builds it."""
    from edgebench_worker import sources

    source, seed = req["source"], int(req.get("seed", 0))
    try:
        module = sources.build(source, seed)
        label, detail = sources.apply_weights(module, req.get("weights"), source, seed)
    except sources.SourceError as e:
        raise BadInput(str(e))
    return module.float(), label, detail


def image_size(shape):
    if len(shape) != 4 or shape[1] != 3:
        raise BadInput(
            "the model's input is %s; training on an image folder needs one Nx3xHxW image "
            "input (give --shape 1x3xHxW)" % "x".join(str(d) for d in shape)
        )
    return int(shape[2]), int(shape[3])


def dataset(folder, shape):
    """The labelled folder (one subfolder per class) as torchvision's ImageFolder, with the
    model's preprocessing."""
    import torchvision.transforms as T
    from torchvision.datasets import ImageFolder

    h, w = image_size(shape)
    transform = T.Compose(
        [
            T.Lambda(lambda im: im.convert("RGB")),
            T.Resize(int(round(max(h, w) * 256.0 / 224.0))),
            T.CenterCrop((h, w)),
            T.ToTensor(),
            T.Normalize(IMAGE_MEAN, IMAGE_STD),
        ]
    )
    try:
        data = ImageFolder(folder, transform=transform)
    except (FileNotFoundError, RuntimeError) as e:
        raise BadInput("--train %s: %s; give one subfolder per class with PNG/JPEG images" % (folder, e))
    if len(data) == 0:
        raise BadInput("--train %s: no images; give one subfolder per class with PNG/JPEG images" % folder)
    return data


def check_outputs(model, data, shape, folder):
    """The model must have at least as many outputs as the folder has classes."""
    import torch

    model.eval()
    with torch.no_grad():
        out = model(torch.zeros([1] + list(shape[1:])))
    if isinstance(out, (tuple, list)):
        out = out[0]
    classes = len(data.classes)
    if out.dim() != 2 or out.shape[1] < classes:
        raise BadInput(
            "the model's output has shape %s but %s has %d classes: give a model with %d outputs "
            "(tv:NAME?num_classes=%d)" % (list(out.shape), folder, classes, classes, classes)
        )


def loader(data, batch, shuffle, seed):
    import torch

    gen = torch.Generator()
    gen.manual_seed(int(seed))
    return torch.utils.data.DataLoader(
        data, batch_size=int(batch), shuffle=shuffle, generator=gen, num_workers=0
    )


def train(model, data, settings, phase, extra=None):
    """`settings["epochs"]` epochs of SGD (momentum 0.9) with cross-entropy on `data`; one
    `epoch` event per epoch with its mean loss and its accuracy (of the training-mode
    predictions seen during the epoch). Returns the epochs' figures."""
    import torch

    torch.manual_seed(int(settings.get("seed", 0)))
    opt = torch.optim.SGD(model.parameters(), lr=float(settings["lr"]), momentum=0.9)
    batches = loader(data, settings["batch"], True, settings.get("seed", 0))
    epochs = int(settings["epochs"])
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        started = time.perf_counter()
        total, correct, loss_sum = 0, 0, 0.0
        for x, y in batches:
            out = model(x)
            if isinstance(out, (tuple, list)):
                out = out[0]
            loss = torch.nn.functional.cross_entropy(out, y)
            if not torch.isfinite(loss):
                raise BadInput(
                    "the %s loss became %s at epoch %d: lower --lr (now %s)"
                    % (phase, float(loss), epoch, settings["lr"])
                )
            opt.zero_grad()
            loss.backward()
            opt.step()
            n = int(y.shape[0])
            total += n
            loss_sum += float(loss) * n
            correct += int((out.argmax(1) == y).sum())
        row = {
            "event": "epoch",
            "phase": phase,
            "epoch": epoch,
            "epochs": epochs,
            "loss": loss_sum / max(total, 1),
            "accuracy": correct / max(total, 1),
            "images": total,
            "seconds": time.perf_counter() - started,
        }
        row.update(extra or {})
        emit(row)
        history.append(row)
    model.eval()
    return history


def export(model, shape, path, opset, input_name="input"):
    """`torch.onnx.export` of `model` in eval mode at input `shape` (named as edgebench's
    exports name it), output `output`."""
    import inspect

    import torch

    kwargs = {
        "opset_version": int(opset),
        "input_names": [input_name],
        "output_names": ["output"],
        "do_constant_folding": True,
    }
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter, as edgebench's export uses
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, (torch.zeros(list(shape)),), path, **kwargs)
