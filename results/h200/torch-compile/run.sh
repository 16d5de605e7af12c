#!/bin/bash
# The device call behind README.md, as it ran (from the checkout's root, with the binary staged
# by ../shared/tools/stage-for-device.sh target/release/edgebench and carried as .device-carry):
# `BUDGET_S=SECONDS bash results/h200/torch-compile/run.sh`. Two zoo models, a CUDA graph
# against torch.compile's modes, fp16, batch 1. Everything goes into one tar file under $OUT.
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
# Two runs per model, so that a long max-autotune compilation cannot cost the others: the CUDA
# graph against compile's default and reduce-overhead modes, then the CUDA graph against
# max-autotune. Each run gets what is left of BUDGET_S.
run() {  # NAME MODEL VARIANT...
  local name=$1 m=$2; shift 2
  local left=$(( ${BUDGET_S:-540} - ($(date +%s) - start) ))
  echo "== $name (time limit ${left}s)" >> $O/log.txt
  [ $left -gt 20 ] || return
  local args=(); for v in "$@"; do args+=(-e "$v"); done
  timeout $left $B bench zoo:$m --python $PY "${args[@]}" \
    --warmup 0.5 --max-time 3 --gate-inputs 2 \
    --export-json $O/$name.json --export-markdown $O/$name.md > $O/$name.txt 2>&1
  echo "exit $? after $(( $(date +%s) - start ))s" >> $O/log.txt
}
for m in resnet18 mobilenet_v2; do
  run $m $m $V,cuda_graph $V,compile $V,compile=reduce-overhead
done
for m in resnet18 mobilenet_v2; do
  run $m-max-autotune $m $V,cuda_graph $V,compile=max-autotune
done
date -u >> $O/log.txt
tar czf ${OUT:-/tmp}/torch-compile.tgz -C $O .
cat $O/log.txt $O/*.txt
