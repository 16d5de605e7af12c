#!/usr/bin/env bash
# A sharded study through a real Slurm, end to end: starts a single-node Slurm on localhost
# (tests/slurm/start.sh), has `edgebench slurm --submit` submit a 3-shard study for two device
# labels (two job arrays) and the merge job that depends on both, cancels one array task
# mid-run (scancel) and requeues it (scontrol requeue), waits for the merge, and checks that
# the merged folder holds, for each device, exactly the jobs of the unsharded study (its
# --dry-run list), that the requeued shard resumed rather than started over, and that the
# merged report, with its cross-device view, renders in headless Chromium.
#
#   tests/slurm/check.sh [EDGEBENCH_BINARY]
#
# Needs root, Debian's slurm-wlm and munge (apt-get install slurm-wlm munge) and chromium. The
# study is tract only (no Python): three small zoo models, four rounds each; about a minute and a
# half on 2 cores.
#
# Slurm 22.05 (Debian 12) never releases a job that depends with afterok on an array once a
# task of the array was cancelled, even when the task is requeued and then succeeds: the
# array's record keeps the cancelled task's exit code (array_recs->max_exit_code, read by
# test_job_array_complete in src/slurmctld/job_mgr.c) and the dependency stays
# DependencyNeverSatisfied. This check expects that, says so, and does what docs/fleet.md
# tells users to do: point the merge's dependency at the array's tasks one by one
# (scontrol update JobId=M Dependency=afterok:A_1:A_2:A_3:B_1:...), which Slurm then finds
# satisfied.
# If a newer Slurm releases the merge by itself, the check says that instead.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-$root/target/release/edgebench}"
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [[ ! -x "$bin" ]]; then
    echo "check.sh: $bin not found: cargo build --release first" >&2
    exit 2
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
if [[ -z "$chromium" ]]; then
    echo "check.sh: chromium not found: apt-get install chromium" >&2
    exit 2
fi

t0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - t0 )) s"; }
say() { echo "[$(elapsed)] $*"; }
fail() { echo "check.sh: FAILED: $*" >&2; exit 1; }

work="$(mktemp -d)"
state="$work/slurm"
cleanup() {
    local rc=$?
    if [[ $rc != 0 && -n "${SLURM_CONF:-}" ]]; then
        echo "--- squeue / scontrol at the failure:" >&2
        squeue >&2 || true
        scontrol show job >&2 || true
        for f in "$work"/out/slurm/logs/* "$state"/slurmctld.log; do
            [[ -f "$f" ]] && { echo "--- $f (end):" >&2; tail -n 30 "$f" >&2; }
        done
    fi
    "$root/tests/slurm/start.sh" stop "$state" || true
    if [[ -n "${KEEP:-}" ]]; then cp -r "$work/out" "$KEEP"/ || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

eval "$("$root/tests/slurm/start.sh" start "$state")"
say "slurm is up: $(sinfo -h -o '%P %D node(s) %T' | tr '\n' ' ')(SLURM_CONF=$SLURM_CONF)"

# Three units (one model each at batch 1), eight jobs per shard: long enough that the second
# shard can be caught after its first measurement and before its last.
cat > "$work/study.toml" <<'TOML'
name = "slurm check"
baseline = "tract:reference"
variants = ["tract:optimized"]
[measure]
warmup_s = 0.05
min_warmup_runs = 1
min_samples = 3
max_time_s = 4
target_ci_pct = 0.01
gate_inputs = 1
rounds = 4
[[model]]
source = "zoo:mobilenet_v3_small?classes=2"
[[model]]
source = "zoo:squeezenet1_1?classes=2"
[[model]]
source = "zoo:ae3d?classes=4"
TOML
"$bin" study --config "$work/study.toml" --dry-run 2>/dev/null | sort > "$work/expected-jobs.txt"
[[ $(wc -l < "$work/expected-jobs.txt") -eq 24 ]] || fail "the unsharded plan has $(wc -l < "$work/expected-jobs.txt") jobs, not 24"

out="$work/out"
# Two device labels on the one node: two arrays, and a merged study with two devices.
"$bin" slurm --config "$work/study.toml" --shards 3 --max-parallel 2 --partition ci \
    --device cpu-a --device cpu-b --out "$out" --submit --json > "$work/submitted.json"
read -r array other merge < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["submitted"]
print(d["arrays"][0]["job_id"], d["arrays"][1]["job_id"], d["merge"])' "$work/submitted.json")
say "submitted: job arrays $array (device cpu-a) and $other (device cpu-b), 3 tasks each; merge job $merge"

state_of() { { scontrol show job "$1" 2>/dev/null || true; } | grep -o 'JobState=[A-Z_]*' | head -n 1 | cut -d= -f2 || true; }
reason_of() { { scontrol show job "$1" 2>/dev/null || true; } | grep -o ' Reason=[A-Za-z_]*' | head -n 1 | cut -d= -f2 || true; }
wait_for() { # SECONDS DESCRIPTION COMMAND...
    local limit="$1" what="$2"; shift 2
    for _ in $(seq $(( limit * 2 ))); do "$@" && return 0; sleep 0.5; done
    fail "$what: not within $limit s"
}

# Catch shard 2 mid-run: running, with at least one measurement written and more to come.
shard2="$out/cpu-a/shard-2/results.jsonl"
measured() { local n=0; [[ -f "$1" ]] && n=$(grep -c '"type":"measurement"' "$1" || true); echo "${n:-0}"; }
mid_run() { [[ $(state_of "${array}_2") == RUNNING && $(measured "$shard2") -ge 1 ]]; }
wait_for 300 "task ${array}_2 running with a measurement written" mid_run
cancel_unix=$(date +%s.%N)
scancel "${array}_2"
is_cancelled() { [[ $(state_of "${array}_2") == CANCELLED ]]; }
wait_for 60 "task ${array}_2 cancelled" is_cancelled
after=$(measured "$shard2")
[[ $after -lt 8 ]] || fail "task ${array}_2 had finished all 8 of its jobs before the cancel took effect: not a mid-run cancel"
say "cancelled task ${array}_2 mid-run: $after of its 8 jobs measured"
scontrol requeue "${array}_2"
say "requeued task ${array}_2 (state $(state_of "${array}_2"), reason $(reason_of "${array}_2"))"

tasks_done() {
    local s t
    for t in "${array}"_{1,2,3} "${other}"_{1,2,3}; do
        s=$(state_of "$t")
        [[ $s == COMPLETED ]] || { [[ $s == FAILED || $s == CANCELLED || $s == TIMEOUT || $s == NODE_FAIL ]] && fail "task $t ended $s"; return 1; }
    done
}
wait_for 600 "every array task completed" tasks_done
say "every array task completed"

merge_moved() { local s; s=$(state_of "$merge"); [[ $s != PENDING || $(reason_of "$merge") == DependencyNeverSatisfied ]]; }
wait_for 60 "the merge job leaving its plain Dependency wait" merge_moved
if [[ $(state_of "$merge") == PENDING && $(reason_of "$merge") == DependencyNeverSatisfied ]]; then
    say "as documented for Slurm 22.05: the merge job $merge is DependencyNeverSatisfied although the requeued task succeeded; pointing its dependency at the tasks (docs/fleet.md)"
    scontrol update JobId="$merge" Dependency="afterok:${array}_1:${array}_2:${array}_3:${other}_1:${other}_2:${other}_3"
else
    say "note: this Slurm released the merge job by itself after the requeue (state $(state_of "$merge")); docs/fleet.md describes 22.05, which does not"
fi
merge_done() { local s; s=$(state_of "$merge"); [[ $s == COMPLETED ]] || { [[ $s == FAILED || $s == CANCELLED ]] && fail "merge job $merge ended $s"; return 1; }; }
wait_for 300 "merge job $merge completed" merge_done
say "merge job $merge completed"

python3 - "$out" "$work/expected-jobs.txt" "$cancel_unix" <<'PY'
import json, sys
from collections import Counter
out, expected_file, cancel_unix = sys.argv[1], sys.argv[2], float(sys.argv[3])
expected = sorted(open(expected_file).read().split())
def lines(path):
    return [json.loads(l) for l in open(path) if l.strip()]
merged = [m for m in lines(f"{out}/merged/results.jsonl") if m["type"] == "measurement"]
problems = []
devices = sorted({m.get("device") for m in merged})
if devices != ["cpu-a", "cpu-b"]:
    problems.append(f"devices {devices}, not ['cpu-a', 'cpu-b']")
for d in devices:
    keys = [m["key"] for m in merged if m.get("device") == d]
    dupes = [k for k, n in Counter(keys).items() if n > 1]
    if dupes:
        problems.append(f"{d}: measured twice: {dupes}")
    if sorted(set(keys)) != expected:
        problems.append(f"{d}: missing {sorted(set(expected) - set(keys))}, extra {sorted(set(keys) - set(expected))}")
# The requeued shard resumed: its first run's measurements were kept, not measured again.
s2 = lines(f"{out}/cpu-a/shard-2/results.jsonl")
sessions = [l for l in s2 if l["type"] == "session"]
first_run = [l for l in s2 if l["type"] == "measurement" and l["finished_unix"] < cancel_unix]
if len(sessions) != 2 or not sessions[1].get("resumed"):
    problems.append(f"shard 2 has {len(sessions)} session(s), resumed {[s.get('resumed') for s in sessions]}: expected a first run and a resumed one")
if not first_run:
    problems.append("shard 2 kept no measurement from before the cancel")
if problems:
    sys.exit("merged study: " + "; ".join(problems))
print(f"ok: the merged study holds exactly the {len(expected)} jobs of the unsharded plan on each of {devices}, once each")
print(f"ok: shard 2 resumed after the requeue, keeping {len(first_run)} measurement(s) from before the cancel")
PY
grep -q "resuming: " "$out"/slurm/logs/cpu-a-"${array}"_2.out || fail "the requeued task's log does not say it resumed"

page="file://$out/merged/report.html"
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$work/profile" --enable-logging=stderr --v=0)
"$chromium" "${flags[@]}" --virtual-time-budget=2000 --dump-dom "$page" > "$work/dom.html" 2> "$work/console.log"
[[ $(wc -c < "$work/dom.html") -gt 10000 ]] || fail "the merged report did not render (DOM of $(wc -c < "$work/dom.html") bytes)"
[[ $(grep -o "<svg" "$work/dom.html" | wc -l) -ge 3 ]] || fail "the merged report has fewer than 3 SVG charts"
! grep -E "CONSOLE|Uncaught|Refused to" "$work/console.log" || fail "the browser logged console errors"
grep -q "slurm check" "$work/dom.html" || fail "the merged report does not name the study"
grep -q 'id="across"' "$work/dom.html" || fail "the merged report has no cross-device view (id=across)"
say "ok: the merged report renders in headless Chromium ($(grep -o "<svg" "$work/dom.html" | wc -l) SVG charts, no console errors, a cross-device view)"
say "slurm check passed"
