#!/bin/bash
# How results/h200 was produced: the paper-gpu study with NVML telemetry on the lent GPU
# machine (an NVIDIA H200). Run from the repository root there:
#   bash results/h200/run.sh OUT_DIR [extra study flags, e.g. --quick or --resume]
# with the release binary at $EDGEBENCH (default .ev-carry/edgebench, or .ev-carry/edgebench.xz
# unpacked to /tmp) and, optionally, OpenVINO's libraries from the PyPI wheel packed as
# .ev-carry/ov.tar.xz (see README.md here). The machine has PyTorch 2.11 (cu130) and
# onnxruntime 1.30 in /opt/torch/.venv; CUDA's libraries for tract-cuda come from the same venv.
# Writes OUT_DIR (the study folder) and, beside it, OUT_DIR.nvidia-smi-q.txt.
set -u
out=${1:?usage: run.sh OUT_DIR [study flags]}
shift
venv=/opt/torch/.venv
py=$venv/bin/python3
site=$venv/lib/python3.12/site-packages
export PATH=$venv/bin:$PATH
export LD_LIBRARY_PATH=$site/nvidia/cu13/lib:$site/nvidia/cudnn/lib:${LD_LIBRARY_PATH:-}
bin=${EDGEBENCH:-.ev-carry/edgebench}
if [ ! -x "$bin" ] && [ -f .ev-carry/edgebench.xz ]; then
  "$py" -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' .ev-carry/edgebench.xz /tmp/edgebench
  chmod +x /tmp/edgebench
  bin=/tmp/edgebench
fi
ov=()
if [ -f .ev-carry/ov.tar.xz ]; then
  mkdir -p /tmp/ov && "$py" -c 'import tarfile,sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' .ev-carry/ov.tar.xz /tmp/ov
  ov=(--openvino-lib /tmp/ov/libopenvino_c.so.2641)
fi

nvidia-smi -q > "$out.nvidia-smi-q.txt"
nvidia-smi --query-gpu=name,driver_version,power.limit,power.draw,clocks.max.sm,temperature.gpu --format=csv
"$py" -c 'import torch, torchvision, onnxruntime; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "torchvision", torchvision.__version__, "onnxruntime", onnxruntime.__version__)'
"$bin" --version
"$bin" "${ov[@]}" engines
"$bin" "${ov[@]}" study --preset paper-gpu --out "$out" "$@"
