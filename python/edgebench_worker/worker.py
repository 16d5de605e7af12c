"""The worker's commands: load, set_inputs, run, measure, outputs, activations, export, ci,
shutdown."""

import inspect
import os
import sys

import torch

from edgebench_worker import compat, sources, timing

DTYPES = {
    "f32": torch.float32,
    "f64": torch.float64,
    "i64": torch.int64,
    "i32": torch.int32,
    "i8": torch.int8,
    "u8": torch.uint8,
    "bool": torch.bool,
}
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
PRECISION_NAMES = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}


class WorkerError(Exception):
    """A failure whose message is meant for the user as it is."""


def flatten(out):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in flatten(o)]
    if isinstance(out, dict):
        return [t for v in out.values() for t in flatten(v)]
    return []


def read_tensor(spec):
    dtype = DTYPES.get(spec["dtype"])
    if dtype is None:
        raise WorkerError("input `%s`: element type %s is not supported" % (spec["name"], spec["dtype"]))
    shape = [int(d) for d in spec["shape"]]
    with open(spec["path"], "rb") as f:
        data = bytearray(f.read())
    numel = 1
    for d in shape:
        numel *= d
    if numel == 0:
        return torch.zeros(shape, dtype=dtype)
    expected = numel * torch.empty((), dtype=dtype).element_size()
    if len(data) != expected:
        raise WorkerError(
            "input `%s`: %s holds %d bytes, %d expected" % (spec["name"], spec["path"], len(data), expected)
        )
    return compat.frombuffer(data, dtype).reshape(shape)


def write_tensor(t, path):
    """Writes a tensor as raw little-endian bytes; floating types become float32 (the accuracy
    gate compares in f64 anyway). Returns the element type written."""
    t = t.detach()
    if t.is_floating_point():
        t, code = t.float(), "f32"
    else:
        codes = {v: k for k, v in DTYPES.items()}
        code = codes.get(t.dtype)
        if code is None:
            t, code = t.to(torch.int64), "i64"
    t = t.contiguous().cpu()
    try:
        data = t.numpy().tobytes()
    except Exception:  # torch without numpy
        data = bytes(t.reshape(-1).view(torch.uint8).tolist())
    with open(path, "wb") as f:
        f.write(data)
    return code


class Worker:
    def __init__(self, hello):
        self.hello = hello
        self.model = None
        self.inputs = []
        self.specs = []
        self.out = None
        self.graph = None
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.memory_format = None
        self.output_names = []
        self.inference_mode = True
        # torch.compile: the model before compilation (forward hooks go there), and the call
        # that starts a new step of torch's CUDA graph trees before each run.
        self.eager_model = None
        self.step_marker = None

    def _grad_mode(self):
        return compat.grad_mode(self.inference_mode)

    def handle(self, cmd, req):
        handler = {
            "load": self.load,
            "set_inputs": self.set_inputs,
            "run": self.run,
            "measure": self.measure,
            "outputs": self.outputs,
            "export": self.export,
            "ci": self.ci,
            "activations": self.activations,
            "shutdown": lambda req: {},
        }.get(cmd)
        if handler is None:
            raise WorkerError("unknown command `%s`" % cmd)
        try:
            return handler(req)
        except (sources.SourceError, compat.CompatError) as e:
            raise WorkerError(str(e))

    # --- preparation -------------------------------------------------------------------

    def load(self, req):
        if req.get("threads"):
            torch.set_num_threads(int(req["threads"]))
        device = torch.device(req.get("device", "cpu"))
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise WorkerError(
                    "torch %s sees no CUDA device (built without CUDA, or no GPU and driver): "
                    "install a CUDA build of PyTorch (pip install torch) or use device=cpu"
                    % torch.__version__
                )
            index = device.index or 0
            if index >= torch.cuda.device_count():
                raise WorkerError(
                    "device=cuda:%d: this machine has %d CUDA device(s)" % (index, torch.cuda.device_count())
                )
            device = torch.device("cuda", index)
            torch.cuda.set_device(device)
        elif device.type != "cpu":
            raise WorkerError("device=%s: use cpu or cuda[:N]" % device)
        tf32 = bool(req.get("tf32"))
        # inference_mode (default) or no_grad around every call: recorded, switchable.
        self.inference_mode = req.get("inference_mode", True) is not False
        cudnn_benchmark = bool(req.get("cudnn_benchmark"))
        if cudnn_benchmark and device.type != "cuda":
            raise WorkerError("cudnn_benchmark needs device=cuda")
        if device.type == "cuda":
            # Fixed shapes: a careful user lets cuDNN time its algorithms once and keep the
            # fastest (cudnn_benchmark=off keeps PyTorch's heuristic choice).
            torch.backends.cudnn.benchmark = cudnn_benchmark
            # fp32 means IEEE fp32: PyTorch lets cuDNN use TF32 for convolutions by default,
            # which changes the results at the 1e-3 level. `tf32` allows it, and is recorded.
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
        elif tf32:
            raise WorkerError("tf32 needs device=cuda")
        precision = req.get("dtype", "fp32")
        if precision not in PRECISIONS:
            raise WorkerError("dtype=%s: use fp32, fp16 or bf16" % precision)
        self.device, self.dtype = device, PRECISIONS[precision]
        self.specs = req["inputs"]
        self.output_names = req.get("output_names") or []
        cuda_graph = bool(req.get("cuda_graph"))
        compile_mode = compat.compile_mode(req.get("compile"))
        if cuda_graph and device.type != "cuda":
            raise WorkerError("cuda_graph needs device=cuda")
        if cuda_graph and not compat.HAS_CUDA_GRAPHS:
            raise WorkerError(
                "cuda_graph needs torch 1.10 or newer (torch.cuda.graph) and this is torch %s: "
                "drop cuda_graph or use a newer torch" % torch.__version__
            )
        if cuda_graph and compile_mode is not None:
            raise WorkerError(
                "cuda_graph and compile together are not supported: compile=reduce-overhead "
                "makes torch.compile capture CUDA graphs itself"
            )

        seed = req.get("seed", 0)
        model = sources.build(req["source"], seed)
        details = {"source": sources.describe(req["source"]), "seed": str(seed)}
        details["weights"], details["weights_detail"] = sources.apply_weights(
            model, req.get("weights"), req["source"], seed
        )
        model.eval()
        model = model.to(device)
        if self.dtype != torch.float32:
            model = model.to(self.dtype)
        if req.get("channels_last"):
            ranks = {len(s["shape"]) for s in self.specs}
            self.memory_format = compat.memory_format(5 if 5 in ranks else 4)
            model = model.to(memory_format=self.memory_format)
            details["memory_format"] = str(self.memory_format).replace("torch.", "")
        self.eager_model = model
        if compile_mode is not None:
            counters = compat.dynamo_counters()
            before = compat.counter_snapshot(counters)
            model = torch.compile(model, mode=compile_mode)
        self.model = model

        # Inputs on the device, allocated now so that a CUDA graph can be captured here.
        gen = torch.Generator().manual_seed(0)
        self.inputs = []
        for s in self.specs:
            dtype = DTYPES.get(s["dtype"], torch.float32)
            if dtype.is_floating_point:
                t = torch.rand([int(d) for d in s["shape"]], generator=gen) * 2 - 1
            else:
                t = torch.ones([int(d) for d in s["shape"]], dtype=dtype)
            self.inputs.append(self._to_device(t))
        if compile_mode is not None:
            details.update(self._compile(compile_mode, counters, before))
        if cuda_graph:
            try:
                with self._grad_mode():
                    self._capture()
                details["cuda_graph"] = "captured once under %s; each run is one graph replay" % (
                    "inference_mode" if self.inference_mode and compat.HAS_INFERENCE_MODE else "no_grad"
                )
            except RuntimeError as e:
                # Some models cannot be captured under inference_mode; no_grad is the
                # other way PyTorch users capture graphs for inference.
                sys.stderr.write("edgebench worker: capture under inference_mode failed (%s); retrying under no_grad\n" % e)
                self.graph = None
                torch.cuda.synchronize()
                with torch.no_grad():
                    self._capture()
                details["cuda_graph"] = "captured once under no_grad; each run is one graph replay"
        if device.type == "cuda":
            details["gpu"] = torch.cuda.get_device_name(device)
            details["cuda"] = str(torch.version.cuda)
            if torch.backends.cudnn.is_available():
                details["cudnn"] = str(torch.backends.cudnn.version())
            details["tf32"] = "allowed" if tf32 else "off (IEEE fp32)"
            details["cudnn_benchmark"] = (
                "on (cuDNN autotuning for the fixed shapes)" if cudnn_benchmark else "off"
            )
            details["timing"] = "wall clock around the call and torch.cuda.synchronize()"
        else:
            details["timing"] = "wall clock around the call"
        details["grad_mode"] = compat.grad_mode_name(self.inference_mode)
        details["timer"] = timing.CLOCK_NAME
        details["python"] = self.hello.get("python", "?")
        if self.hello.get("torchvision"):
            details["torchvision"] = self.hello["torchvision"]
        return {
            "device": "cpu" if device.type == "cpu" else "cuda:%d" % device.index,
            "precision": "tf32" if (tf32 and precision == "fp32") else PRECISION_NAMES[precision],
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "details": details,
        }

    def _to_device(self, t):
        t = t.to(self.device)
        if t.is_floating_point() and self.dtype != t.dtype:
            t = t.to(self.dtype)
        if self.memory_format is not None and t.dim() in (4, 5):
            fmt = compat.memory_format(t.dim())
            t = t.contiguous(memory_format=fmt)
        return t

    def _compile(self, mode, counters, before):
        """Compiles the model by calling it (torch.compile compiles on the first call) and
        calls it twice more (CUDA graph trees run a function once before recording it), each
        call timed on its own, then asks torch what it built. Returns the session's details."""
        self.step_marker = compat.cuda_graph_step_marker()
        calls = []
        try:
            with self._grad_mode():
                for _ in range(3):
                    start = timing.CLOCK_NS()
                    self._step()
                    calls.append((timing.CLOCK_NS() - start) / 1e6)
        except Exception as e:
            first = str(e).strip().splitlines()
            raise WorkerError(
                "torch.compile(mode=%r) failed on torch %s: %s: %s"
                % (mode, torch.__version__, type(e).__name__, first[0] if first else "")
            )
        delta = compat.counter_delta(before, compat.counter_snapshot(counters))
        options = compat.compile_mode_options(mode)
        recorded = None
        if self.device.type == "cuda":
            asked, manager = compat.cuda_graph_tree_manager(self.device.index or 0)
            recorded = compat.recorded_cuda_graphs(manager) if asked else None
        details = {
            "compile": "torch.compile(model, mode=%r), compiled during prepare by the first call" % mode,
            "compile_mode": mode,
            "compile_first_call_ms": "%.1f" % calls[0],
            "compile_next_calls_ms": ", ".join("%.3f" % c for c in calls[1:]),
            "compile_cuda_graphs": compat.cuda_graph_verdict(self.device.type, mode, options, recorded, delta),
        }
        if options is not None:
            details["compile_mode_options"] = options
        if recorded is not None:
            details["compile_cuda_graphs_recorded"] = str(recorded)
        if delta is not None:
            details["compile_graphs"] = str(delta["graphs"])
            details["compile_graph_breaks"] = str(delta["graph_breaks"])
            if delta["graph_break_reasons"]:
                details["compile_graph_break_reasons"] = "; ".join(delta["graph_break_reasons"][:3])
            details["compile_cudagraph_skips"] = str(delta["cudagraph_skips"])
        try:
            import triton

            details["triton"] = str(triton.__version__)
        except Exception:
            pass
        return details

    def _capture(self):
        # Warm up on a side stream (cuDNN picks its algorithms, the allocator settles), then
        # capture one forward pass; run() replays it on the same static input buffers.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self.model(*self.inputs)
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.out = self.model(*self.inputs)
        torch.cuda.synchronize()
        self.graph = graph

    def _require_model(self):
        if self.model is None:
            raise WorkerError("no model loaded: send `load` first")

    # --- running -------------------------------------------------------------------------

    def set_inputs(self, req):
        self._require_model()
        tensors = req["tensors"]
        if len(tensors) != len(self.inputs):
            raise WorkerError("%d inputs given, the model has %d" % (len(tensors), len(self.inputs)))
        with compat.grad_mode(True):
            for i, spec in enumerate(tensors):
                t = self._to_device(read_tensor(spec))
                if t.shape == self.inputs[i].shape and t.dtype == self.inputs[i].dtype:
                    self.inputs[i].copy_(t)  # in place: a captured graph reads these buffers
                elif self.graph is not None:
                    raise WorkerError(
                        "input `%s` has shape %s, the CUDA graph was captured for %s"
                        % (spec["name"], list(t.shape), list(self.inputs[i].shape))
                    )
                else:
                    self.inputs[i] = t
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
        return {}

    def _step(self):
        if self.graph is not None:
            self.graph.replay()
        else:
            if self.step_marker is not None:
                self.step_marker()
            self.out = self.model(*self.inputs)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, req):
        self._require_model()
        with self._grad_mode():
            self._step()
        return {}

    def measure(self, req):
        self._require_model()
        with self._grad_mode():
            return timing.measure(self._step, req["options"])

    def activations(self, req):
        """One forward pass (outside any CUDA graph) with a hook on every module: the scale of
        the output, and the modules whose outputs hold subnormal or non-finite values."""
        self._require_model()
        tiny = torch.finfo(torch.float32).tiny
        subnormal, non_finite = [], []
        smallest = [float("inf")]
        seen = [0]
        model = self.eager_model if self.eager_model is not None else self.model
        names = {id(m): (n or type(m).__name__) for n, m in model.named_modules()}

        def hook(m, inputs, out):
            for t in flatten(out):
                if not t.is_floating_point():
                    continue
                seen[0] += 1
                a = t.detach().float().abs()
                finite = torch.isfinite(a)
                if not bool(finite.all()):
                    non_finite.append(names.get(id(m), "?"))
                a = a[finite]
                nz = a[a > 0]
                if nz.numel():
                    smallest[0] = min(smallest[0], float(nz.min()))
                # Subnormal in the precision that ran (fp16 and bf16 have their own limits).
                limit = torch.finfo(t.dtype).tiny if t.dtype != torch.float32 else tiny
                n = int(((a > 0) & (a < limit)).sum())
                if n:
                    subnormal.append({"module": names.get(id(m), "?"), "count": n})

        handles = [m.register_forward_hook(hook) for m in model.modules()]
        try:
            with self._grad_mode():
                out = flatten(model(*self.inputs))
        finally:
            for h in handles:
                h.remove()
        if not out:
            raise WorkerError("the model returned no tensors")
        return {
            "output_median_abs": float(out[0].detach().float().abs().median()),
            "modules": seen[0],
            "min_nonzero_abs": smallest[0] if smallest[0] != float("inf") else None,
            "subnormal": subnormal,
            "non_finite": non_finite,
        }

    def outputs(self, req):
        if self.out is None:
            raise WorkerError("no outputs yet: send `run` or `measure` first")
        tensors = flatten(self.out)
        names = self.output_names if len(self.output_names) == len(tensors) else [
            "output_%d" % i for i in range(len(tensors))
        ]
        result = []
        for i, (t, name) in enumerate(zip(tensors, names)):
            path = os.path.join(req["dir"], "out_%d.bin" % i)
            code = write_tensor(t, path)
            result.append({"name": name, "shape": list(t.shape), "dtype": code, "path": path})
        return {"tensors": result}

    # --- export --------------------------------------------------------------------------

    def export(self, req):
        seed = int(req.get("seed", 0))
        top = compat.max_onnx_opset()
        if top is not None and int(req["opset"]) > top:
            raise WorkerError(
                "torch %s exports ONNX opsets up to %d, not %d: pass --opset %d"
                % (torch.__version__, top, int(req["opset"]), top)
            )
        model = sources.build(req["source"], seed)
        weights, weights_detail = sources.apply_weights(model, req.get("weights"), req["source"], seed)
        model.eval()
        gen = torch.Generator().manual_seed(seed)
        args = tuple(torch.rand([int(d) for d in s["shape"]], generator=gen) * 2 - 1 for s in req["inputs"])
        input_names = [s["name"] for s in req["inputs"]]
        with torch.no_grad():
            outs = flatten(model(*args))
        if not outs:
            raise WorkerError("%s returned no tensors" % sources.describe(req["source"]))
        output_names = ["output"] if len(outs) == 1 else ["output_%d" % i for i in range(len(outs))]
        kwargs = dict(
            export_params=True,
            do_constant_folding=True,
            input_names=input_names,
            output_names=output_names,
            opset_version=int(req["opset"]),
        )
        if req.get("dynamic_batch"):
            kwargs["dynamic_axes"] = {n: {0: "batch"} for n in input_names + output_names}
        params = inspect.signature(torch.onnx.export).parameters
        if "dynamo" in params:
            # The TorchScript exporter: what torch 1.x/2.x users have run for years, and it
            # needs no onnxscript. Newer torch defaults to the dynamo exporter.
            kwargs["dynamo"] = False
        try:
            with torch.no_grad():
                torch.onnx.export(model, args, req["output"], **kwargs)
        except Exception as e:
            raise WorkerError("torch.onnx.export failed: %s: %s" % (type(e).__name__, e))
        checker = "skipped: the onnx package is not installed"
        try:
            import onnx
        except Exception:
            onnx = None
        if onnx is not None:
            try:
                onnx.checker.check_model(req["output"])
                checker = "passed (onnx %s)" % onnx.__version__
            except Exception as e:
                raise WorkerError("the exported file fails onnx.checker: %s" % e)
        return {
            "torch": torch.__version__,
            "exporter": "torch.onnx.export (TorchScript)",
            "input_names": input_names,
            "output_names": output_names,
            "output_shapes": [list(t.shape) for t in outs],
            "parameters": sum(p.numel() for p in model.parameters()),
            "weights": weights,
            "weights_detail": weights_detail,
            "checker": checker,
        }

    # --- checks ----------------------------------------------------------------------------

    def ci(self, req):
        """The stopping rule's statistic for given samples (tests compare it with Rust's)."""
        s = sorted(float(x) for x in req["samples"])
        rel = timing.relative_half_width(s)
        return {"rel_half_width": rel if rel != float("inf") else None, "median": timing.percentile(s, 50.0)}
