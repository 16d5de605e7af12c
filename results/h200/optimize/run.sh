#!/bin/bash
# The device call behind results/h200/optimize (issue 16), as it ran from the checkout's root on
# the lent H200 machine, with the binary staged by
# `../shared/tools/stage-for-device.sh target/release/edgebench` and carried as .device-carry:
#   BUDGET_S=SECONDS [MODELS="resnet18 mobilenet_v2"] [OPT_BUDGET_S=150] [ENGINES="-e torch"] \
#     [ROOFLINE=1] bash results/h200/optimize/run.sh
# 1. `edgebench optimize` on resnet18 and mobilenet_v2 (every engine present: torch on the GPU,
#    tract-cuda, ONNX Runtime's CPU provider), then the winner measured side by side with the
#    hand-tuned PyTorch fp16 CUDA-graph loop in one bench run;
# 2. the roofs of the engines there (`edgebench roofline`).
# Everything goes into one tar file under $OUT.
set -u
SITE=/opt/torch/.venv/lib/python3.12/site-packages
export LD_LIBRARY_PATH=$SITE/nvidia/cu13/lib:$SITE/nvidia/cudnn/lib:${LD_LIBRARY_PATH:-}
export PATH=/opt/torch/.venv/bin:$PATH
B=$PWD/.device-carry/edgebench
PY=/opt/torch/.venv/bin/python3
O=/tmp/h200-optimize; rm -rf $O; mkdir -p $O
start=$(date +%s)
left() { echo $(( ${BUDGET_S:-560} - ($(date +%s) - start) )); }
{
  date -u
  $B --version
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  $PY -c "import sys, torch, onnxruntime; print('python', sys.version.split()[0]); print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'onnxruntime', onnxruntime.__version__)"
  lscpu | grep 'Model name'; nproc
  $B --python $PY engines
} > $O/env.txt 2>&1
HAND=torch:eager,device=cuda,dtype=fp16,cuda_graph
opt() {  # MODEL SEARCH_BUDGET_S
  local m=$1 b=$2
  echo "== optimize $m (budget ${b}s, $(left)s left)" >> $O/log.txt
  [ $(left) -gt $((b + 30)) ] || return
  timeout $(( b + 120 )) $B --python $PY optimize zoo:$m ${ENGINES:-} --budget $b --out $O/optimize-$m \
    --json > $O/optimize-$m.json 2> $O/optimize-$m.txt
  echo "exit $? after $(( $(date +%s) - start ))s" >> $O/log.txt
  local w
  w=$($PY -c "import json,sys; w=json.load(open(sys.argv[1]))['winner']; print(w['spec'], w['threads'], w['batch'])" $O/optimize-$m.json) || return
  set -- $w
  echo "== bench $m: winner $1 (threads $2, batch $3) against $HAND ($(left)s left)" >> $O/log.txt
  [ $(left) -gt 40 ] || return
  timeout $(left) $B --python $PY bench zoo:$m -e $HAND -e $1 --threads $2 --batch $3 \
    --warmup 0.5 --max-time 3 --gate-inputs 2 \
    --export-json $O/bench-$m.json --export-markdown $O/bench-$m.md > $O/bench-$m.txt 2>&1
  echo "exit $? after $(( $(date +%s) - start ))s" >> $O/log.txt
}
for m in ${MODELS:-resnet18 mobilenet_v2}; do opt $m ${OPT_BUDGET_S:-150}; done
[ "${ROOFLINE:-1}" = 1 ] || { tar -C /tmp -cf $OUT/h200-optimize.tar h200-optimize; exit 0; }
echo "== roofline ($(left)s left)" >> $O/log.txt
timeout $(left) $B --python $PY roofline -e tract-cuda:f32 -e ort:all -e tract:optimized --json > $O/roofline.json 2> $O/roofline.txt
echo "exit $? after $(( $(date +%s) - start ))s" >> $O/log.txt
tar -C /tmp -cf $OUT/h200-optimize.tar h200-optimize
