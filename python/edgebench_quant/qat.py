"""edgebench's quantization-aware training: `python3 -u qat.py REQUEST.json`.

PyTorch's own QAT tooling (torch.ao.quantization): FX graph mode `prepare_qat_fx` with the
`x86` QAT qconfig mapping, or eager mode `prepare_qat` where FX cannot trace the model; then
fine-tuning on a labelled image folder with the fake quantizers in the graph, and
`torch.onnx.export` of the fake-quantized model, which writes each fake quantizer as a
QuantizeLinear/DequantizeLinear pair (opset 13 or later): a QDQ model ONNX Runtime runs with
int8 kernels. Protocol and shared code: finetune.py.

Two changes to the x86 qconfig, both for the ONNX file:
- activations use the full 0..255 range (`reduce_range=False`): with reduce_range, torch 1.13's
  exporter writes a Clip(0, 127) between each QuantizeLinear and DequantizeLinear, which keeps
  ONNX Runtime from fusing the pair into its integer kernels; ONNX Runtime's own quantizer uses
  0..255 too.
- the fused observer/fake-quantizer (`FusedMovingAvgObsFakeQuantize`, fast in training) has no
  ONNX export (`aten::fused_moving_avg_obs_fake_quant`): after training each one runs as the
  plain `FakeQuantize` it derives from, observers off, with the scales it learnt.
"""

import copy
import time
import types

import finetune
from finetune import BadInput


def qconfig_mapping(backend):
    import torch
    from torch.ao.quantization import QConfig, get_default_qat_qconfig_mapping
    from torch.ao.quantization.fake_quantize import FusedMovingAvgObsFakeQuantize
    from torch.ao.quantization.observer import MovingAverageMinMaxObserver

    mapping = get_default_qat_qconfig_mapping(backend)
    default = mapping.global_qconfig
    full = QConfig(
        activation=FusedMovingAvgObsFakeQuantize.with_args(
            observer=MovingAverageMinMaxObserver,
            quant_min=0,
            quant_max=255,
            dtype=torch.quint8,
            reduce_range=False,
        ),
        weight=default.weight,
    )
    mapping.set_global(full)
    for key, qconfig in list(mapping.object_type_qconfigs.items()):
        if qconfig is default:
            mapping.set_object_type(key, full)
    return mapping, full


def prepare(model, shape, backend):
    """The model with fake quantizers: FX graph mode, else eager mode. Returns (model, mode,
    why FX was not used)."""
    import torch
    from torch.ao.quantization import DeQuantStub, QuantStub, prepare_qat
    from torch.ao.quantization.quantize_fx import prepare_qat_fx

    mapping, qconfig = qconfig_mapping(backend)
    example = (torch.zeros(list(shape)),)
    model.train()
    try:
        return prepare_qat_fx(copy.deepcopy(model), mapping, example), "fx", ""
    except Exception as e:  # FX cannot trace data-dependent control flow and the like
        fx_error = finetune.last_line(e)

    class Eager(torch.nn.Module):
        """Eager mode: quantize the input, dequantize the output; every module with weights
        gets fake-quantized weights and every leaf module's output a fake quantizer."""

        def __init__(self, inner):
            super().__init__()
            self.quant = QuantStub()
            self.inner = inner
            self.dequant = DeQuantStub()

        def forward(self, x):
            return self.dequant(self.inner(self.quant(x)))

    wrapped = Eager(model)
    wrapped.qconfig = qconfig
    wrapped.train()
    try:
        prepare_qat(wrapped, inplace=True)
    except Exception as e:
        raise BadInput(
            "PyTorch's quantization-aware training cannot prepare this model: FX graph mode "
            "failed (%s) and eager mode failed (%s)" % (fx_error, finetune.last_line(e))
        )
    return wrapped, "eager", fx_error


def exportable(model):
    """Turns every fused observer/fake-quantizer into the plain FakeQuantize it derives from,
    observers off (the scales stay as trained). Returns (fake quantizers, per-channel ones)."""
    from torch.ao.quantization.fake_quantize import FakeQuantize, FusedMovingAvgObsFakeQuantize

    import torch

    def per_tensor(self, x):
        # Python numbers, so that the exporter writes scalar scales and zero points: ONNX
        # Runtime fuses Q/DQ around Add into QLinearAdd only with scalars ("Scale and
        # Zero-point must be a scalar" for the 1-element tensors of the tensor variant).
        if self.fake_quant_enabled[0] == 1:
            return torch.fake_quantize_per_tensor_affine(
                x, float(self.scale), int(self.zero_point), self.quant_min, self.quant_max
            )
        return x

    n, per_channel = 0, 0
    for m in model.modules():
        if isinstance(m, FakeQuantize):
            m.disable_observer()
            if m.is_per_channel:
                if isinstance(m, FusedMovingAvgObsFakeQuantize):
                    m.forward = types.MethodType(FakeQuantize.forward, m)
            else:
                m.forward = types.MethodType(per_tensor, m)
            n += 1
            per_channel += int(bool(m.is_per_channel))
    return n, per_channel


def run(req):
    import torch

    versions = finetune.versions()
    torch.set_num_threads(max(1, int(req.get("threads") or torch.get_num_threads())))
    shape = req["input"]["shape"]
    settings = req["train"]
    started = time.perf_counter()
    data = finetune.dataset(settings["folder"], shape)
    model, weights, weights_detail = finetune.build_model(req)
    finetune.check_outputs(model, data, shape, settings["folder"])
    backend = req.get("backend", "x86")
    qat, mode, fx_error = prepare(model, shape, backend)
    history = finetune.train(qat, data, settings, "qat")
    train_s = time.perf_counter() - started
    fake_quantizers, per_channel = exportable(qat)
    export_started = time.perf_counter()
    try:
        finetune.export(qat, shape, req["output"], req["opset"], req["input"]["name"])
    except Exception as e:
        raise BadInput("torch.onnx.export of the fake-quantized model failed: %s" % finetune.last_line(e))
    return dict(
        versions,
        ok=True,
        mode=mode,
        fx_error=fx_error,
        backend=backend,
        classes=list(data.classes),
        images=len(data),
        weights=weights,
        weights_detail=weights_detail,
        fake_quantizers=fake_quantizers,
        per_channel_quantizers=per_channel,
        epochs=history,
        train_s=train_s,
        export_s=time.perf_counter() - export_started,
    )


if __name__ == "__main__":
    import sys

    sys.exit(finetune.main(run))
