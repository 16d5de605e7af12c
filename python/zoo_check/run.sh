#!/usr/bin/env bash
# Checks every edgebench zoo model against PyTorch/torchvision and ONNX Runtime.
#
#   python/zoo_check/run.sh EDGEBENCH_BIN [MODEL...]
#
# Needs Debian's python3-torch, python3-torchvision, python3-onnx for /usr/bin/python3 (TORCH_PY
# overrides), and the onnxruntime wheel for the `python3` on PATH (ORT_PY overrides). Prints one
# line per model and exits non-zero on any mismatch. See docs/zoo.md.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1

if [[ $# -lt 1 ]]; then
    echo "usage: $0 EDGEBENCH_BIN [MODEL...]" >&2
    exit 2
fi
BIN=$(realpath "$1")
shift
HERE=$(cd "$(dirname "$0")" && pwd)
TORCH_PY=${TORCH_PY:-/usr/bin/python3}
ORT_PY=${ORT_PY:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/zoo_check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

"$BIN" zoo list --json > "$WORK/all.json"
# Optional model names restrict the run.
"$ORT_PY" - "$WORK" "$@" <<'PY'
import json, sys
from pathlib import Path
work, only = Path(sys.argv[1]), sys.argv[2:]
entries = json.loads((work / "all.json").read_text())
unknown = sorted(set(only) - {e["name"] for e in entries})
if unknown:
    sys.exit(f"unknown zoo models: {', '.join(unknown)}")
(work / "list.json").write_text(json.dumps([e for e in entries if not only or e["name"] in only]))
PY

echo "exporting zoo models with $BIN" >&2
for name in $("$ORT_PY" -c 'import json,sys; print(" ".join(e["name"] for e in json.load(open(sys.argv[1]))))' "$WORK/list.json"); do
    "$BIN" zoo export "$name" -o "$WORK/$name.onnx" --seed 1 > /dev/null
done

echo "comparing with PyTorch ($("$TORCH_PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'))" >&2
"$TORCH_PY" "$HERE/check_torch.py" "$WORK"
"$ORT_PY" "$HERE/check_ort.py" "$WORK"
