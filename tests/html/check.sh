#!/usr/bin/env bash
# Checks a study's report.html in headless Chromium: the page renders with its SVG charts, the
# browser logs no console errors, and a model name made of HTML and script is shown as text,
# never run.
#
#   tests/html/check.sh [EDGEBENCH_BINARY]
#
# Needs Debian's `chromium` (apt-get install chromium). Builds a tiny study (two small zoo
# models, tract only, a few seconds) with a hostile model label, then loads its page.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-$root/target/release/edgebench}"
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [[ -z "$chromium" ]]; then
    echo "check.sh: chromium not found: apt-get install chromium" >&2
    exit 2
fi
if [[ ! -x "$bin" ]]; then
    echo "check.sh: $bin not found: cargo build --release first" >&2
    exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/study.toml" <<'TOML'
name = "html check <b>bold?</b>"
baseline = "tract:reference"
variants = ["tract:optimized"]
[measure]
warmup_s = 0.05
min_warmup_runs = 1
min_samples = 3
max_time_s = 0.2
gate_inputs = 1
[[model]]
source = "zoo:mobilenet_v3_small?classes=2"
label = "<script>alert('x')</script><img src=x onerror=alert(1)>"
[[model]]
source = "zoo:squeezenet1_1?classes=2"
[[model]]
source = "zoo:ae3d?classes=4"
TOML
"$bin" study --quiet --config "$work/study.toml" --out "$work/study" > /dev/null

page="file://$work/study/report.html"
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$work/profile" --enable-logging=stderr --v=0)
"$chromium" "${flags[@]}" --virtual-time-budget=2000 --dump-dom "$page" > "$work/dom.html" 2> "$work/console.log"
"$chromium" "${flags[@]}" --hide-scrollbars --window-size=1200,3000 --screenshot="$work/shot.png" "$page" > /dev/null 2>> "$work/console.log"

fail=0
check() { if ! eval "$2"; then echo "check.sh: FAILED: $1" >&2; fail=1; else echo "ok: $1"; fi; }
check "the page rendered (DOM dumped)" '[[ $(wc -c < "$work/dom.html") -gt 10000 ]]'
check "it has at least 6 SVG charts" '[[ $(grep -o "<svg" "$work/dom.html" | wc -l) -ge 6 ]]'
check "the screenshot was taken" '[[ -s "$work/shot.png" ]]'
check "no console errors" '! grep -E "CONSOLE|Uncaught|Refused to" "$work/console.log"'
check "no script element in the page" '! grep -qi "<script" "$work/dom.html"'
check "no injected img element" '! grep -qi "<img" "$work/dom.html"'
check "the hostile label is shown as text" 'grep -q "&lt;script&gt;alert(.x.)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" "$work/dom.html"'
check "the hostile title is shown as text" 'grep -q "html check &lt;b&gt;bold?&lt;/b&gt;" "$work/dom.html"'
if [[ -n "${KEEP:-}" ]]; then cp "$work/shot.png" "$work/study/report.html" "$KEEP"/; fi
exit $fail
