#!/bin/bash
# The GPU half of the torch-baseline benchmark, as run on the lent H200 (see docs/torch.md).
# Usage, from the repository root: bench/torch_baseline/gpu.sh EDGEBENCH_BINARY OUT_DIR
# PY (default /opt/torch/.venv/bin/python3) is the Python with a CUDA torch, torchvision, onnx.
set -u
bin=$1
out=$2
PY=${PY:-/opt/torch/.venv/bin/python3}
SITE=$($PY -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH=$SITE/nvidia/cu13/lib:$SITE/nvidia/cudnn/lib:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    lscpu | grep -E '^Model name|^CPU\(s\)'
    uname -r
    grep PRETTY_NAME /etc/os-release
    $PY -c 'import sys, torch, torchvision, onnx; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "torchvision", torchvision.__version__, "onnx", onnx.__version__)'
    $bin --version
} > "$out/host.txt" 2>&1
cat "$out/host.txt"
run() {
    name=$1
    shift
    $PY bench/torch_baseline/run.py --edgebench "$bin" --python "$PY" --device cuda --threads 2 \
        --warmup 1 --time 2 --out "$out/$name.json" "$@" 2>&1 | tee "$out/$name.txt"
}
run gpu_resnet18 --model resnet18 --rounds 6
run gpu_mobilenet_v2 --model mobilenet_v2 --rounds 6
run gpu_resnet18_cudnn_off --model resnet18 --rounds 3 --cudnn-benchmark off
