"""The worker's measurement loop follows the same rules as crates/core/src/measure.rs: these are
the Rust unit tests, replayed on the Python side with a fake clock (run by
crates/torch/tests/python_timing.rs, or `python3 -m unittest discover python/tests`)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from edgebench_worker import timing  # noqa: E402


class FakeClock:
    def __init__(self, durations_ms):
        self.now = 0
        self.durations = [int(d * 1e6) for d in durations_ms]
        self.runs = 0

    def clock(self):
        return self.now

    def step(self):
        self.now += self.durations[self.runs % len(self.durations)]
        self.runs += 1


def opts(**kw):
    o = dict(warmup_s=1.0, min_warmup_runs=3, min_samples=10, max_samples=10000, max_time_s=20.0, target_rel_ci=0.01)
    o.update(kw)
    return o


class MeasureRules(unittest.TestCase):
    def run_fake(self, durations, o):
        c = FakeClock(durations)
        return timing.measure(c.step, o, clock=c.clock), c.runs

    def test_steady_model_stops_at_target_after_min_samples(self):
        m, runs = self.run_fake([10], opts())
        self.assertEqual(m["stop_reason"], "target_reached")
        self.assertEqual(len(m["samples_ms"]), 10)
        self.assertEqual(m["warmup_runs"], 100)
        self.assertEqual(runs, 110)
        self.assertEqual(m["first_run_ms"], 10.0)
        self.assertEqual(m["timer_overhead_ns"], 0.0)

    def test_slow_model_warms_up_min_runs_and_hits_time_limit(self):
        m, _ = self.run_fake([1000, 1100, 900], opts(target_rel_ci=0.0))
        self.assertEqual(m["warmup_runs"], 3)
        self.assertEqual(m["stop_reason"], "time_limit")
        self.assertEqual(len(m["samples_ms"]), 20)

    def test_noisy_model_samples_until_sample_limit(self):
        m, _ = self.run_fake([1, 9, 2, 8, 3, 7, 4, 6, 5, 10, 20], opts(max_samples=50, max_time_s=1e9))
        self.assertEqual(m["stop_reason"], "sample_limit")
        self.assertEqual(len(m["samples_ms"]), 50)

    def test_min_time_keeps_a_steady_model_sampling(self):
        m, _ = self.run_fake([10], opts(min_time_s=2.0))
        self.assertEqual(m["stop_reason"], "target_reached")
        self.assertGreaterEqual(len(m["samples_ms"]), 200)
        self.assertLessEqual(len(m["samples_ms"]), 215)

    def test_first_run_is_recorded_on_its_own(self):
        m, _ = self.run_fake([50, 10, 10, 10], opts(warmup_s=0.0))
        self.assertEqual(m["first_run_ms"], 50.0)
        self.assertEqual(m["warmup_runs"], 3)

    def test_percentile_and_ci_match_rust_definitions(self):
        s = [float(x) for x in range(1, 11)]
        self.assertEqual(timing.percentile(s, 50.0), 5.5)
        self.assertEqual(timing.order_statistic_median_ci(s), (2.0, 10.0))
        self.assertEqual(timing.order_statistic_median_ci([3.0, 1.0][:1]), (3.0, 3.0))


if __name__ == "__main__":
    unittest.main()
