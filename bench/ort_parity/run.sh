#!/bin/bash
# edgebench's `ort:LEVEL` against ONNX Runtime's own Python loop, in interleaved pairs.
#
#   bench/ort_parity/run.sh [MODEL]
#
# MODEL is a zoo name (default efficientnet_b0, exported with `edgebench zoo export`) or an
# ONNX file. Both sides run the same model file with the same ONNX Runtime wheel (edgebench is
# given the wheel's libonnxruntime.so with --ort-lib; the Python loop imports the wheel), the
# same thread count, graph optimization level, warm-up and number of timed runs. Each pair runs
# both sides once, each in a fresh process; odd pairs start with Python, even pairs with
# edgebench, so a slow drift of the machine hits both sides alike. Prints each pair's medians
# and their ratio (edgebench / python: below 1, edgebench measured less), then the ratio over
# all pairs. See docs/harness-parity.md.
#
# Settings (environment): PAIRS (7), THREADS (2), RUNS (timed runs per side, 300), WARMUP
# (seconds, 1), LEVEL (none|basic|extended|all, all), TELEMETRY (on|off: edgebench's power and
# clock sampler, on by default as for a user; off gives --no-telemetry), EDGEBENCH
# (target/release/edgebench), PYTHON (python3: the Python with onnxruntime and numpy), OUT (a
# folder for every side's JSON; a new temporary folder by default), BARE (a built
# `ort_loop` example, target/release/examples/ort_loop, to add its two bare Rust loops to every
# pair: edgebench's session without edgebench's harness, and the `ort` crate's plain
# `Session::run`; see crates/engines/examples/ort_loop.rs), CPUS (a CPU list for `taskset -c`,
# e.g. 2,3: every side runs on those CPUs alone, so that where the scheduler puts a process's
# threads, which can move a 2-thread median by a third on a many-core host, is the same for
# all sides; unset: no pinning).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
model=${1:-efficientnet_b0}
EDGEBENCH=${EDGEBENCH:-$root/target/release/edgebench}
PYTHON=${PYTHON:-python3}
PAIRS=${PAIRS:-7}
THREADS=${THREADS:-2}
RUNS=${RUNS:-300}
WARMUP=${WARMUP:-1}
LEVEL=${LEVEL:-all}
TELEMETRY=${TELEMETRY:-on}

fail() { echo "run.sh: $*" >&2; exit 2; }
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || fail "$1=$2 must be a positive integer"; }
positive PAIRS "$PAIRS"
positive THREADS "$THREADS"
positive RUNS "$RUNS"
[[ $WARMUP =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "WARMUP=$WARMUP must be a number of seconds, e.g. 1"
case $LEVEL in none | basic | extended | all) ;; *) fail "LEVEL=$LEVEL must be none, basic, extended or all" ;; esac
pin=()
if [ -n "${CPUS:-}" ]; then
    command -v taskset >/dev/null || fail "CPUS=$CPUS needs taskset (util-linux)"
    taskset -c "$CPUS" true 2>/dev/null || fail "CPUS=$CPUS is not a CPU list this machine can run on (see \`lscpu -e\`)"
    pin=(taskset -c "$CPUS")
fi
case $TELEMETRY in on) telemetry=() ;; off) telemetry=(--no-telemetry) ;; *) fail "TELEMETRY=$TELEMETRY must be on or off" ;; esac
[ -x "$EDGEBENCH" ] || fail "$EDGEBENCH is not an executable; build it with \`cargo build --release -p edgebench\` or set EDGEBENCH"
lib=$("$PYTHON" -c 'import glob, os, numpy, onnxruntime as o; print(sorted(glob.glob(os.path.join(os.path.dirname(o.__file__), "capi", "libonnxruntime.so*")))[-1])' 2>/dev/null) ||
    fail "$PYTHON has no onnxruntime (or numpy, or the wheel has no libonnxruntime.so); install them with \`$PYTHON -m pip install onnxruntime==1.24.4 numpy\` or set PYTHON"

out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/edgebench-ort-parity-XXXXXX")}
mkdir -p "$out"
if [ -f "$model" ]; then
    file=$model
else
    file=$out/$model.onnx
    "$EDGEBENCH" zoo export "$model" -o "$file" >/dev/null || fail "cannot export zoo model \`$model\` (see \`edgebench zoo list\`)"
fi

eb=("${pin[@]}" "$EDGEBENCH" --ort-lib "$lib" bench "$file" -e "ort:$LEVEL" --threads "$THREADS" --json
    --rounds 1 --warmup "$WARMUP" --min-warmup-runs 3 --min-samples "$RUNS" --max-samples "$RUNS"
    --max-time 100000 --gate-inputs 1 "${telemetry[@]}")
if [ -n "${BARE:-}" ]; then
    [ -x "$BARE" ] || fail "BARE=$BARE is not an executable; build it with \`cargo build --release -p edgebench-engines --example ort_loop\`"
    bare=("${pin[@]}" "$BARE" "$file" --lib "$lib" --threads "$THREADS" --level "$LEVEL" --warmup "$WARMUP"
          --min-warmup-runs 3 --runs "$RUNS")
fi
py=("${pin[@]}" "$PYTHON" "$here/loop.py" "$file" --threads "$THREADS" --level "$LEVEL" --warmup "$WARMUP"
    --min-warmup-runs 3 --runs "$RUNS")
{
    echo "edgebench: ${eb[*]}"
    echo "python:    ${py[*]}"
    [ -z "${BARE:-}" ] || echo "bare:      ${bare[*]} --path engine|plain"
    echo "host:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(uname -r)"
    echo "load:      $(uptime | sed 's/.*load average/load average/')"
    echo "versions:  $("$EDGEBENCH" --version), python $("$PYTHON" -c 'import sys, onnxruntime, numpy; print(sys.version.split()[0], "onnxruntime", onnxruntime.__version__, "numpy", numpy.__version__)')"
} | tee "$out/commands.txt"

side() { # side NAME PAIR
    local f=$out/pair$2.$1.json
    case $1 in
        python) "${py[@]}" >"$f" ;;
        edgebench) "${eb[@]}" >"$f" ;;
        engine | plain) "${bare[@]}" --path "$1" >"$f" ;;
    esac || fail "the $1 side of pair $2 failed (its output: $f)"
}
sides=(python edgebench)
[ -z "${BARE:-}" ] || sides+=(engine plain)
for ((i = 1; i <= PAIRS; i++)); do
    # Odd pairs in order, even pairs in reverse, so that a drift hits every side alike.
    if ((i % 2)); then order=("${sides[@]}"); else order=(); for ((k = ${#sides[@]} - 1; k >= 0; k--)); do order+=("${sides[k]}"); done; fi
    for s in "${order[@]}"; do side "$s" $i; done
    "$PYTHON" "$here/summarize.py" --pair "$out" $i
done
echo "load:      $(uptime | sed 's/.*load average/load average/')" | tee -a "$out/commands.txt"
"$PYTHON" "$here/summarize.py" "$out" | tee "$out/summary.txt"
