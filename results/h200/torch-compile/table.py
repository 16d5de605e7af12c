"""The README's table from the bench exports in this folder: python3 table.py [FOLDER]."""

import glob
import json
import os
import sys

folder = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
print("| model (run) | variant | median ms [95% CI] | vs CUDA graph [95% CI over rounds] | gate (fp16) | prepare s | compile: first call s | CUDA graphs (torch's own record) | graphs / breaks |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
    doc = json.load(open(path))
    run = os.path.basename(path)[: -len(".json")]
    for r in doc["results"]:
        d = (r.get("session") or {}).get("details") or {}
        spec = r["spec"]
        if r["status"] != "ok":
            print("| %s | `%s` | %s: %s | | | | | | |" % (run, spec, r["status"], (r.get("error") or "")[:200]))
            continue
        lat = r["latency_ms"]
        s = r.get("speedup") or {}
        sp = "baseline" if not s.get("ratio") else "%.2fx [%.2f, %.2f]" % (s["ratio"], s["ci95_low"], s["ci95_high"])
        acc = r.get("accuracy") or {}
        gate = "reference" if not acc else ("passed, %.1e" % acc["max_abs_err"] if acc.get("passed") else "FAILED: %s" % acc.get("reason"))
        first = d.get("compile_first_call_ms")
        print(
            "| %s | `%s` | %.3f [%.3f, %.3f] | %s | %s | %.1f | %s | %s | %s |"
            % (
                run,
                spec,
                lat["median"],
                lat["ci95_low"],
                lat["ci95_high"],
                sp,
                gate,
                r["prepare_ms"] / 1e3,
                "%.1f" % (float(first) / 1e3) if first else "",
                d.get("compile_cuda_graphs", d.get("cuda_graph", "")),
                "%s / %s" % (d["compile_graphs"], d["compile_graph_breaks"]) if "compile_graphs" in d else "",
            )
        )
