"""Reads bench/ort_parity/run.sh's folder (pairN.python.json, pairN.edgebench.json) and prints
each pair's medians and ratio, then the ratio over all pairs (edgebench / python; below 1,
edgebench measured less). Both medians are taken here, with `statistics.median`, from the raw
samples each side recorded, so that one definition of the median serves both.

    python3 bench/ort_parity/summarize.py OUT_DIR          # every pair, then the summary
    python3 bench/ort_parity/summarize.py --pair OUT_DIR 3 # one pair's line
"""

import glob
import json
import math
import os
import re
import statistics
import sys

# Two-sided 95% quantiles of Student's t, by degrees of freedom.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
       10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}



def fail(msg):
    """Bad input: one line on stderr, exit code 2."""
    print(msg, file=sys.stderr)
    sys.exit(2)


def t95(df):
    return next((T95[k] for k in sorted(T95) if k >= df), 1.96)


def pair(out, i):
    with open(os.path.join(out, "pair%d.edgebench.json" % i)) as f:
        doc = json.load(f)
    res = doc["results"][0]
    if res.get("status") != "ok":
        fail("summarize.py: pair %d: edgebench's variant did not run: %s" % (i, res.get("error")))
    with open(os.path.join(out, "pair%d.python.json" % i)) as f:
        py = json.loads(f.read().strip().splitlines()[-1])
    e = statistics.median(res["raw_ms"])
    p = statistics.median(py["samples_ms"])
    row = {"pair": i, "edgebench_ms": e, "python_ms": p, "ratio": e / p,
           "edgebench_samples": len(res["raw_ms"]), "python_samples": len(py["samples_ms"]),
           "session": res["session"], "python": {k: v for k, v in py.items() if k != "samples_ms"}}
    for bare in BARE:
        path = os.path.join(out, "pair%d.%s.json" % (i, bare))
        if os.path.exists(path):
            with open(path) as f:
                row[bare + "_ms"] = statistics.median(json.loads(f.read().strip().splitlines()[-1])["samples_ms"])
    return row


# The bare Rust loops (crates/engines/examples/ort_loop.rs), when run.sh ran them.
BARE = ("engine", "plain")


def line(r):
    s = ("pair %2d: edgebench %8.3f ms (%d runs)   python %8.3f ms (%d runs)   edgebench/python %.4f"
         % (r["pair"], r["edgebench_ms"], r["edgebench_samples"], r["python_ms"], r["python_samples"], r["ratio"]))
    for bare in BARE:
        if bare + "_ms" in r:
            s += "   %s %8.3f ms (/python %.4f)" % (bare, r[bare + "_ms"], r[bare + "_ms"] / r["python_ms"])
    return s


def geomean_ci(ratios):
    logs = [math.log(x) for x in ratios]
    m = statistics.mean(logs)
    if len(logs) < 2:
        return math.exp(m), "(one pair: no interval)"
    h = t95(len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.exp(m), "[%.4f, %.4f]" % (math.exp(m - h), math.exp(m + h))


def main():
    args = sys.argv[1:]
    if args[:1] == ["--pair"]:
        print(line(pair(args[1], int(args[2]))), flush=True)
        return
    out = args[0]
    ids = sorted(int(m.group(1)) for m in (re.search(r"pair(\d+)\.edgebench\.json$", p)
                                           for p in glob.glob(os.path.join(out, "pair*.edgebench.json"))) if m)
    rows = [pair(out, i) for i in ids if os.path.exists(os.path.join(out, "pair%d.python.json" % i))]
    if not rows:
        fail("summarize.py: no complete pair in %s" % out)
    for r in rows:
        print(line(r))
    ratios = [r["ratio"] for r in rows]
    g, ci = geomean_ci(ratios)
    print()
    print("pairs: %d; edgebench/python: median of the pairs' ratios %.4f, geometric mean %.4f, 95%% t-interval %s; "
          "pairs where edgebench measured less: %d of %d"
          % (len(rows), statistics.median(ratios), g, ci, sum(x < 1 for x in ratios), len(rows)))
    print("medians over pairs: edgebench %.3f ms, python %.3f ms"
          % (statistics.median(r["edgebench_ms"] for r in rows), statistics.median(r["python_ms"] for r in rows)))
    for bare in BARE:
        if all(bare + "_ms" in r for r in rows):
            for other in ("python_ms", "edgebench_ms"):
                rs = [r[bare + "_ms"] / r[other] for r in rows]
                bg, bci = geomean_ci(rs)
                print("%s/%s: median %.4f, geometric mean %.4f, 95%% t-interval %s"
                      % (bare, other[:-3], statistics.median(rs), bg, bci))
    s = rows[-1]["session"]
    print("edgebench session: onnxruntime %s, threads %s, %s"
          % (s["engine_version"], s["threads"], ", ".join("%s=%s" % kv for kv in sorted(s["details"].items()))))
    p = rows[-1]["python"]
    print("python session: onnxruntime %s, %s, %s" % (p["onnxruntime"], p["module"], p["session_options"]))
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"pairs": [{k: v for k, v in r.items() if k not in ("session", "python")} for r in rows],
                   "ratio_median": statistics.median(ratios), "ratio_geomean": g,
                   "edgebench_session": s, "python": p}, f, indent=1)


if __name__ == "__main__":
    main()
