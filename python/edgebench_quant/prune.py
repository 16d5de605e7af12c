"""edgebench's structured channel pruning: `python3 -u prune.py REQUEST.json`.

Torch-Pruning (PyPI `torch-pruning`) removes whole channels of convolutions and linear layers,
with their dependants (BatchNorm, the next layer's input channels, residual partners) found
from the traced graph, so the result is a smaller dense model that every engine runs faster:
`MetaPruner` with `MagnitudeImportance(p=1)` (the L1 norm of each channel's weights), one
step to each ratio, the classifier left whole so the model keeps its outputs. With a
`finetune` setting each pruned model is fine-tuned on a labelled folder before export.

Events (finetune.py's protocol), in order: `original` (the unpruned model, exported), then per
ratio the fine-tuning epochs and `pruned` (its ONNX file), then the answer.
"""

import copy
import time

import finetune
from finetune import BadInput


def classifier_layers(model, outputs):
    """The layers to leave whole: every Linear (or 1x1 Conv) whose outputs are the model's
    `outputs` classes, else the last Linear/Conv of the model."""
    import torch

    found = [
        m
        for m in model.modules()
        if (isinstance(m, torch.nn.Linear) and m.out_features == outputs)
        or (isinstance(m, torch.nn.Conv2d) and m.out_channels == outputs and m.kernel_size == (1, 1))
    ]
    if found:
        return found
    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.modules.conv._ConvNd))]
    return layers[-1:]


def params(model):
    return int(sum(p.numel() for p in model.parameters()))


def run(req):
    import torch

    versions = finetune.versions()
    try:
        import torch_pruning as tp
    except ImportError as e:
        return dict(versions, ok=False, kind="missing", package="torch_pruning", error=finetune.last_line(e))
    versions["torch_pruning"] = getattr(tp, "__version__", "")
    torch.set_num_threads(max(1, int(req.get("threads") or torch.get_num_threads())))
    shape = req["input"]["shape"]
    name = req["input"]["name"]
    settings = req.get("finetune")
    data = None
    if settings:
        data = finetune.dataset(settings["folder"], shape)
    model, weights, weights_detail = finetune.build_model(req)
    model.eval()
    if data is not None:
        finetune.check_outputs(model, data, shape, settings["folder"])
    example = torch.zeros(list(shape))
    with torch.no_grad():
        out = model(example)
    if isinstance(out, (tuple, list)):
        out = out[0]
    ignored = classifier_layers(model, int(out.shape[-1]) if out.dim() >= 2 else 0)
    started = time.perf_counter()
    try:
        finetune.export(model, shape, req["original"], req["opset"], name)
    except Exception as e:
        raise BadInput("torch.onnx.export of the unpruned model failed: %s" % finetune.last_line(e))
    finetune.emit({"event": "original", "file": req["original"], "params": params(model)})
    results = []
    for ratio in req["ratios"]:
        pruned = copy.deepcopy(model)
        index = [i for i, m in enumerate(model.modules()) if any(m is g for g in ignored)]
        modules = list(pruned.modules())
        keep = [modules[i] for i in index]
        t0 = time.perf_counter()
        try:
            pruner = tp.pruner.MetaPruner(
                pruned,
                example,
                importance=tp.importance.MagnitudeImportance(p=1),
                pruning_ratio=float(ratio),
                ignored_layers=keep,
            )
            pruner.step()
        except Exception as e:
            raise BadInput(
                "Torch-Pruning could not prune %s at %s: %s"
                % (req.get("label", "the model"), ratio, finetune.last_line(e))
            )
        prune_s = time.perf_counter() - t0
        history = []
        if data is not None:
            history = finetune.train(pruned, data, settings, "finetune", {"ratio": ratio})
        path = req["outputs"] + "/prune-%s.onnx" % ratio
        try:
            finetune.export(pruned, shape, path, req["opset"], name)
        except Exception as e:
            raise BadInput("torch.onnx.export of the model pruned at %s failed: %s" % (ratio, finetune.last_line(e)))
        row = {
            "event": "pruned",
            "ratio": ratio,
            "file": path,
            "params": params(pruned),
            "ignored": [type(m).__name__ for m in keep],
            "prune_s": prune_s,
            "epochs": history,
        }
        finetune.emit(row)
        results.append(row)
    return dict(
        versions,
        ok=True,
        weights=weights,
        weights_detail=weights_detail,
        params=params(model),
        elapsed_s=time.perf_counter() - started,
    )


if __name__ == "__main__":
    import sys

    sys.exit(finetune.main(run))
