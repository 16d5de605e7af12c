"""Entry point: `python3 -u path/to/edgebench_worker/__main__.py [--probe]`.

Protocol (docs/torch.md): one JSON object per line. The worker first writes a hello line
(versions, devices; `torch` is null when it cannot be imported). With `--probe` it exits
after the hello. Otherwise it reads requests {"id", "cmd", ...} from stdin and answers each
with exactly one line {"id", "ok": true, ...} or {"id", "ok": false, "error": "..."}.
Everything else the process prints (the user's model, warnings, C libraries) goes to stderr,
so nothing can corrupt the protocol.
"""

import json
import os
import platform
import signal
import sys
import time
import traceback


def _claim_stdout():
    """Keeps the real stdout for the protocol and points fd 1 (and sys.stdout) at stderr."""
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(proto_fd, "w", buffering=1, encoding="utf-8")


def _package_root():
    # Run as a script: make `edgebench_worker` importable as a package.
    here = os.path.dirname(os.path.abspath(__file__))
    parent = os.path.dirname(here)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        # The script's own folder would shadow the user's modules named like ours.
        del sys.path[0]


def send(out, obj):
    out.write(json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n")
    out.flush()


def fault(point, out):
    """Test hook: EDGEBENCH_WORKER_FAULT=POINT:KIND makes the worker misbehave at POINT (a
    command name, or `hello`). KIND: crash (exit 3), kill (SIGKILL itself), hang, garbage
    (a line that is not JSON), error (the command fails). Used by edgebench's own tests."""
    spec = os.environ.get("EDGEBENCH_WORKER_FAULT", "")
    where, _, kind = spec.partition(":")
    if where != point:
        return
    sys.stderr.write("edgebench worker: injected fault %s at %s\n" % (kind, point))
    sys.stderr.flush()
    if kind == "crash":
        os._exit(3)
    elif kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "hang":
        while True:
            time.sleep(3600)
    elif kind == "garbage":
        out.write("Segmentation fault? no: this line is not JSON\n")
        out.flush()
    elif kind == "error":
        raise RuntimeError("injected error")


def hello():
    h = {
        "hello": "edgebench-worker",
        "protocol": PROTOCOL,
        "python": platform.python_version(),
        "executable": sys.executable,
        "pid": os.getpid(),
        "byteorder": sys.byteorder,
        "torch": None,
        "torchvision": None,
        "onnx": None,
        "cuda": False,
        "devices": ["cpu"],
    }
    try:
        import torch

        h["torch"] = torch.__version__
        # What this torch can do (torch 1.8 to the newest): features by name, as compat.py.
        h["compile"] = hasattr(torch, "compile")
        h["cuda_graph"] = hasattr(torch.cuda, "CUDAGraph") and hasattr(torch.cuda, "graph")
        h["inference_mode"] = hasattr(torch, "inference_mode")
        if torch.cuda.is_available():
            h["cuda"] = True
            h["cuda_version"] = torch.version.cuda
            h["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            h["devices"] += ["cuda:%d" % i for i in range(torch.cuda.device_count())]
    except Exception as e:  # ImportError, or a broken install (missing libraries: OSError)
        h["torch_error"] = "%s: %s" % (type(e).__name__, e)
    if h["torch"] is not None:
        for name in ("torchvision", "onnx"):
            try:
                h[name] = __import__(name).__version__
            except Exception as e:
                h[name + "_error"] = "%s: %s" % (type(e).__name__, e)
    return h


def main():
    out = _claim_stdout()
    _package_root()
    fault("hello", out)
    h = hello()
    send(out, h)
    if "--probe" in sys.argv or h["torch"] is None:
        return 0
    from edgebench_worker.worker import Worker, WorkerError

    worker = Worker(h)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("a request is a JSON object")
        except ValueError as e:
            send(out, {"id": None, "ok": False, "error": "bad request: %s" % e})
            continue
        rid = req.get("id")
        cmd = req.get("cmd")
        try:
            fault(cmd, out)
            result = worker.handle(cmd, req)
            reply = {"id": rid, "ok": True}
            reply.update(result)
        except WorkerError as e:
            reply = {"id": rid, "ok": False, "error": str(e)}
        except Exception as e:
            traceback.print_exc()
            reply = {"id": rid, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        send(out, reply)
        if cmd == "shutdown":
            break
    return 0


if __name__ == "__main__":
    _package_root()
    from edgebench_worker import PROTOCOL

    sys.exit(main())
