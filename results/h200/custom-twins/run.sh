#!/bin/bash
# The study's four custom models (no torchvision twin; edgebench's own PyTorch definitions with
# the zoo's weights) on the H200: PyTorch eager fp32 as the baseline, fp16 with a CUDA graph, and
# tract on CUDA, each gated against the baseline. Run on the device machine from the checkout
# root with the binary staged in .device-carry/ (../shared/tools/stage-for-device.sh).
# tract-cuda's first prepare compiles its kernels with NVRTC (102 s for c3d_small on a fresh
# machine), hence the long limit per model.
set -u
SITE=/opt/torch/.venv/lib/python3.12/site-packages
export LD_LIBRARY_PATH=$SITE/nvidia/cu13/lib:$SITE/nvidia/cudnn/lib:${LD_LIBRARY_PATH:-}
export EDGEBENCH_PYTHON=/opt/torch/.venv/bin/python3
out=${OUT:-results/h200/custom-twins}
bin=.device-carry/edgebench
$bin --version > "$out/version.txt"
$bin engines > "$out/engines.txt" 2>&1
nvidia-smi -q > "$out/nvidia-smi-q.txt" 2>&1
for m in ${MODELS:-"c3d_small?classes=4" "ae3d?classes=4" "densenet3d_121?classes=4" "resnet50v2?classes=2"}; do
    name=${m%%\?*}
    timeout 300 $bin bench "zoo:$m" -e torch:eager,device=cuda \
        -e torch:eager,device=cuda,dtype=fp16,cuda_graph -e tract-cuda \
        --warmup 0.5 --max-time 2 --export-json "$out/$name.json" \
        --export-markdown "$out/$name.md" > "$out/$name.txt" 2>&1
    echo "$name exit $?" >> "$out/exit-codes.txt"
done
