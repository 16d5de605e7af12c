#!/bin/bash
# The device call behind README.md, as it ran (from the checkout's root, with the binary staged
# by ../shared/tools/stage-for-device.sh target/release/edgebench and carried as .device-carry):
# two zoo models, a CUDA graph against torch.compile's modes, fp16, batch 1. Everything goes
# into one tar file under $OUT.
set -u
SITE=/opt/torch/.venv/lib/python3.12/site-packages
export LD_LIBRARY_PATH=$SITE/nvidia/cu13/lib:$SITE/nvidia/cudnn/lib:${LD_LIBRARY_PATH:-}
export PATH=/opt/torch/.venv/bin:$PATH
B=$PWD/.device-carry/edgebench
PY=/opt/torch/.venv/bin/python3
O=/tmp/torch-compile; rm -rf $O; mkdir -p $O
start=$(date +%s)
{
  date -u
  $B --version
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  $PY -c "import sys, torch, triton; print('python', sys.version.split()[0]); print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version()); print('triton', triton.__version__)"
  lscpu | grep 'Model name'
} > $O/env.txt 2>&1
V=torch:eager,device=cuda,dtype=fp16
for m in resnet18 mobilenet_v2; do
  left=$(( ${BUDGET_S:-540} - ($(date +%s) - start) ))
  [ $m = resnet18 ] && [ $left -gt 270 ] && left=270
  echo "== $m (time limit ${left}s)" >> $O/log.txt
  timeout $left $B bench zoo:$m --python $PY \
    -e $V,cuda_graph -e $V,compile -e $V,compile=reduce-overhead -e $V,compile=max-autotune \
    --warmup 0.5 --max-time 3 --gate-inputs 2 \
    --export-json $O/$m.json --export-markdown $O/$m.md > $O/$m.txt 2>&1
  echo "exit $? after $(( $(date +%s) - start ))s" >> $O/log.txt
done
date -u >> $O/log.txt
tar czf ${OUT:-/tmp}/torch-compile.tgz -C $O .
cat $O/log.txt $O/*.txt
