#!/bin/bash
# How results/h100 was produced: the paper-gpu study with NVML telemetry on the lent GPU
# machine (see README, "Energy on the GPU"). Run from the repository root there, with the
# release binary and (optionally) OpenVINO's libraries staged in .device-carry/:
#   bash results/h100/run.sh OUT_DIR [extra study flags, e.g. --resume]
# The machine has PyTorch 2.11 (cu130) and onnxruntime 1.30 in /opt/torch/.venv; CUDA's
# libraries for tract-cuda come from the same venv.
set -u
out=${1:?usage: run.sh OUT_DIR [study flags]}
shift
venv=/opt/torch/.venv
site=$venv/lib/python3.12/site-packages
export PATH=$venv/bin:$PATH
export LD_LIBRARY_PATH=$site/nvidia/cu13/lib:$site/nvidia/cudnn/lib:${LD_LIBRARY_PATH:-}
bin=.device-carry/edgebench
ov=()
[ -f .device-carry/ov/libopenvino_c.so.2641 ] && ov=(--openvino-lib .device-carry/ov/libopenvino_c.so.2641)

nvidia-smi --query-gpu=name,driver_version,power.limit,power.draw,clocks.max.sm,temperature.gpu --format=csv
"$bin" "${ov[@]}" engines
"$bin" "${ov[@]}" study --preset paper-gpu --out "$out" "$@"
