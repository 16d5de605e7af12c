"""The measurement loop, with the same rules as edgebench's Rust loop (crates/core/src/measure.rs).

First run on its own, warm-up by time (and a minimum number of runs), then sampling until the
order-statistic 95% confidence interval of the median is narrow enough, or a time or sample
limit is reached. The timed region holds only the model call and the device synchronisation.
Only raw samples go back: the statistics are computed in Rust, as for every other engine.
"""

import gc
import math
import time


def percentile(sorted_samples, p):
    """Linear interpolation between closest ranks (as `stats::percentile` in Rust)."""
    n = len(sorted_samples)
    if n == 0:
        return float("nan")
    if n == 1:
        return sorted_samples[0]
    rank = min(max(p / 100.0, 0.0), 1.0) * (n - 1)
    lo = math.floor(rank)
    hi = math.ceil(rank)
    return sorted_samples[lo] + (sorted_samples[hi] - sorted_samples[lo]) * (rank - lo)


def order_statistic_median_ci(sorted_samples):
    """Distribution-free 95% CI of the median (as `stats::order_statistic_median_ci`)."""
    n = len(sorted_samples)
    if n < 6:
        if n == 0:
            return (float("nan"), float("nan"))
        return (sorted_samples[0], sorted_samples[-1])
    half_width = 1.96 * math.sqrt(n) / 2.0
    centre = n / 2.0
    lo = min(max(math.floor(centre - half_width), 0), n - 1)
    hi = min(max(math.ceil(centre + half_width), 0), n - 1)
    return (sorted_samples[lo], sorted_samples[hi])


def relative_half_width(sorted_samples):
    lo, hi = order_statistic_median_ci(sorted_samples)
    med = percentile(sorted_samples, 50.0)
    if med > 0.0:
        return (hi - lo) / 2.0 / med
    return float("inf")


def timer_overhead_ns(clock):
    v = []
    for _ in range(201):
        a = clock()
        b = clock()
        v.append(float(b - a))
    v.sort()
    return v[len(v) // 2]


def _perf_counter_ns():
    # Python 3.6 (JetPack 4's) has no perf_counter_ns: the float clock, in integer ns. On
    # Linux it counts from boot (CLOCK_MONOTONIC); a double resolves 1 ns until 2**22 s (48
    # days) of uptime and 2 ns until 97 days, far below the
    # timer's own overhead (measured and recorded as timer_overhead_ns).
    return int(time.perf_counter() * 1e9)


CLOCK_NS = getattr(time, "perf_counter_ns", None) or _perf_counter_ns
"""The sampling clock in integer nanoseconds: time.perf_counter_ns where Python has it (3.7+)."""
CLOCK_NAME = "time.perf_counter_ns" if hasattr(time, "perf_counter_ns") else "time.perf_counter (x 1e9)"


def measure(step, opts, clock=None):
    """Runs `step` (one inference followed by a device synchronisation) under `opts`.

    `opts` carries the fields of Rust's `MeasureOptions`. Returns the fields of Rust's
    `Measurement`. `clock` returns integer nanoseconds (default `CLOCK_NS`). The garbage collector is paused while timing, as `timeit` does, so that a
    collection triggered by the harness's own allocations does not land inside a sample.
    """
    if clock is None:
        clock = CLOCK_NS
    warmup_ns = max(float(opts["warmup_s"]), 0.0) * 1e9
    min_warmup_runs = int(opts["min_warmup_runs"])
    min_samples = max(int(opts["min_samples"]), 2)
    max_samples = max(int(opts["max_samples"]), 1)
    max_time_ns = max(float(opts["max_time_s"]), 0.0) * 1e9
    target = float(opts["target_rel_ci"])
    # Power sensors need a long enough window; absent in options from older callers.
    min_time_ns = max(float(opts.get("min_time_s", 0.0)), 0.0) * 1e9

    overhead = timer_overhead_ns(clock)
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        warm_start = clock()
        t0 = clock()
        step()
        first_run_ms = (clock() - t0) / 1e6
        warmup_runs = 1
        while warmup_runs < min_warmup_runs or clock() - warm_start < warmup_ns:
            step()
            warmup_runs += 1
        warmup_ms = (clock() - warm_start) / 1e6

        samples = []
        start = clock()
        next_check = 1
        while True:
            t0 = clock()
            step()
            t1 = clock()
            samples.append((t1 - t0) / 1e6)
            n = len(samples)
            if n >= max_samples:
                stop = "sample_limit"
                break
            if t1 - start >= max_time_ns:
                stop = "time_limit"
                break
            # The stopping rule about 20 times per doubling of the sample count, as in Rust.
            if n >= min_samples and n >= next_check:
                next_check = n + max(n // 20, 1)
                if relative_half_width(sorted(samples)) <= target and t1 - start >= min_time_ns:
                    stop = "target_reached"
                    break
        sampling_ms = (clock() - start) / 1e6
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        "first_run_ms": first_run_ms,
        "warmup_runs": warmup_runs,
        "warmup_ms": warmup_ms,
        "samples_ms": samples,
        "stop_reason": stop,
        "sampling_ms": sampling_ms,
        "timer_overhead_ns": overhead,
    }
