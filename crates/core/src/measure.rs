//! The measurement loop: first run, warm-up by time, then sampling until the 95% confidence
//! interval of the median is narrow enough or a limit is reached. The timed region holds
//! only `run` and `synchronize`: samples go into a buffer allocated before sampling starts,
//! and the stopping rule is evaluated between samples.

use crate::engine::Session;
use crate::error::Result;
use crate::stats::order_statistic_median_ci;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Warm-up and sampling controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureOptions {
    /// Warm up for at least this long...
    pub warmup_s: f64,
    /// ...and at least this many runs (the first run counts).
    pub min_warmup_runs: usize,
    /// Never stop sampling before this many samples (unless `max_time_s` is spent).
    pub min_samples: usize,
    /// Never take more than this many samples.
    pub max_samples: usize,
    /// Stop sampling after this long even if the target was not reached.
    pub max_time_s: f64,
    /// Target half-width of the 95% CI of the median, relative to the median (0.01 = 1%).
    pub target_rel_ci: f64,
    /// Never stop sampling before this long (unless `max_samples` is reached): power sensors
    /// need a window of a second or more to say anything (see `docs/energy.md`).
    #[serde(default)]
    pub min_time_s: f64,
}

impl Default for MeasureOptions {
    /// Chosen so that a 10 ms model finishes in a few seconds and a 1 s model in under a
    /// minute: 1 s warm-up, at least 10 samples, at most 20 s of sampling.
    fn default() -> Self {
        MeasureOptions {
            warmup_s: 1.0,
            min_warmup_runs: 3,
            min_samples: 10,
            max_samples: 10_000,
            max_time_s: 20.0,
            target_rel_ci: 0.01,
            min_time_s: 0.0,
        }
    }
}

/// Why sampling stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    TargetReached,
    TimeLimit,
    SampleLimit,
}

/// Raw outcome of measuring one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub first_run_ms: f64,
    /// Warm-up runs, the first run included.
    pub warmup_runs: usize,
    pub warmup_ms: f64,
    /// One entry per timed run, in order.
    pub samples_ms: Vec<f64>,
    pub stop_reason: StopReason,
    /// Wall time of the sampling phase, including the harness between samples.
    pub sampling_ms: f64,
    /// Cost of reading the clock twice (one sample's timing overhead), in nanoseconds.
    pub timer_overhead_ns: f64,
    /// When sampling began and ended, for telemetry over the same window (not serialized;
    /// `None` from engines that time themselves).
    #[serde(skip)]
    pub sampling_window: Option<(Instant, Instant)>,
}

/// What a run of one variant is doing, for a progress display. The measurement loop reports
/// `WarmingUp` and `Sampling`, between samples (never from inside the timed region); a
/// process that loads and prepares the model first (the study's child) reports `Loading` and
/// `Preparing` before them. The study's child sends these to its parent as JSON lines
/// (`{"phase":"sampling","samples":12,...}`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Progress {
    Loading,
    Preparing,
    WarmingUp {
        runs: usize,
        elapsed_s: f64,
    },
    Sampling {
        samples: usize,
        elapsed_s: f64,
        rel_ci: f64,
    },
}

/// A monotonic clock; the real one is [`Instant`], tests use a fake one.
pub trait Clock {
    fn now(&self) -> Duration;
}

/// The system's monotonic clock.
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    #[inline(always)]
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// Measures a session whose inputs are already set, with the system clock.
pub fn measure(
    session: &mut dyn Session,
    opts: &MeasureOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Measurement> {
    measure_with_clock(session, opts, &SystemClock::default(), progress)
}

/// Measures with a given clock (tests drive a fake clock from a fake session).
pub fn measure_with_clock<C: Clock>(
    session: &mut dyn Session,
    opts: &MeasureOptions,
    clock: &C,
    progress: &mut dyn FnMut(Progress),
) -> Result<Measurement> {
    let timer_overhead_ns = timer_overhead(clock);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;

    // First run, then warm-up by time.
    let warm_start = clock.now();
    let t0 = clock.now();
    session.run()?;
    session.synchronize()?;
    let first_run_ms = ms(clock.now() - t0);
    let mut warmup_runs = 1;
    let warmup = Duration::from_secs_f64(opts.warmup_s.max(0.0));
    while warmup_runs < opts.min_warmup_runs || clock.now() - warm_start < warmup {
        session.run()?;
        session.synchronize()?;
        warmup_runs += 1;
        progress(Progress::WarmingUp {
            runs: warmup_runs,
            elapsed_s: (clock.now() - warm_start).as_secs_f64(),
        });
    }
    let warmup_ms = ms(clock.now() - warm_start);

    // Sampling. A minimum sampling time (for power sensors) longer than the time limit
    // extends the limit: the confidence rule must be able to stop sampling once both hold.
    let max_samples = opts.max_samples.max(1);
    let min_time = Duration::from_secs_f64(opts.min_time_s.max(0.0));
    let max_time = Duration::from_secs_f64(opts.max_time_s.max(0.0)).max(min_time);
    let mut samples: Vec<f64> = Vec::with_capacity(max_samples);
    let mut scratch: Vec<f64> = Vec::with_capacity(max_samples);
    let window_start = Instant::now();
    let start = clock.now();
    let mut next_check = 1usize;
    let stop_reason = loop {
        let t0 = clock.now();
        session.run()?;
        session.synchronize()?;
        let t1 = clock.now();
        samples.push(ms(t1 - t0));

        let n = samples.len();
        let elapsed = t1 - start;
        let at_limit = n >= max_samples || elapsed >= max_time;
        // Evaluate the stopping rule about 20 times per doubling of the sample count, so
        // its cost stays a small, constant fraction of the loop, and always at a limit, so
        // that a run whose target is met exactly then says so.
        if n >= opts.min_samples.max(2) && (n >= next_check || at_limit) {
            next_check = n + (n / 20).max(1);
            scratch.clear();
            scratch.extend_from_slice(&samples);
            scratch.sort_unstable_by(f64::total_cmp);
            let rel = relative_half_width(&scratch);
            progress(Progress::Sampling {
                samples: n,
                elapsed_s: elapsed.as_secs_f64(),
                rel_ci: rel,
            });
            if rel <= opts.target_rel_ci && elapsed >= min_time {
                break StopReason::TargetReached;
            }
        }
        if n >= max_samples {
            break StopReason::SampleLimit;
        }
        if elapsed >= max_time {
            break StopReason::TimeLimit;
        }
    };
    let sampling_ms = ms(clock.now() - start);
    let window_end = Instant::now();
    Ok(Measurement {
        first_run_ms,
        warmup_runs,
        warmup_ms,
        samples_ms: samples,
        stop_reason,
        sampling_ms,
        timer_overhead_ns,
        sampling_window: Some((window_start, window_end)),
    })
}

/// Half-width of the order-statistic 95% CI of the median, relative to the median.
pub fn relative_half_width(sorted: &[f64]) -> f64 {
    let (lo, hi) = order_statistic_median_ci(sorted);
    let med = crate::stats::percentile(sorted, 50.0);
    if med > 0.0 {
        (hi - lo) / 2.0 / med
    } else {
        f64::INFINITY
    }
}

/// Median cost of two consecutive clock reads, in nanoseconds.
fn timer_overhead<C: Clock>(clock: &C) -> f64 {
    let mut v: Vec<f64> = (0..201)
        .map(|_| {
            let a = clock.now();
            let b = clock.now();
            (b - a).as_secs_f64() * 1e9
        })
        .collect();
    v.sort_unstable_by(f64::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SessionInfo;
    use crate::tensor::HostTensor;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A fake clock advanced only by the fake session.
    #[derive(Clone, Default)]
    struct FakeClock(Rc<Cell<Duration>>);
    impl Clock for FakeClock {
        fn now(&self) -> Duration {
            self.0.get()
        }
    }

    /// A session whose runs take `durations` in turn (cycling), on the fake clock.
    struct FakeSession {
        clock: FakeClock,
        durations: Vec<Duration>,
        runs: usize,
    }
    impl Session for FakeSession {
        fn set_inputs(&mut self, _: &[HostTensor]) -> Result<()> {
            Ok(())
        }
        fn run(&mut self) -> Result<()> {
            let d = self.durations[self.runs % self.durations.len()];
            self.clock.0.set(self.clock.0.get() + d);
            self.runs += 1;
            Ok(())
        }
        fn outputs(&mut self) -> Result<Vec<HostTensor>> {
            Ok(vec![])
        }
        fn info(&self) -> SessionInfo {
            SessionInfo::default()
        }
    }

    fn run(durations_ms: &[u64], opts: &MeasureOptions) -> (Measurement, usize) {
        let clock = FakeClock::default();
        let mut s = FakeSession {
            clock: clock.clone(),
            durations: durations_ms
                .iter()
                .map(|&m| Duration::from_millis(m))
                .collect(),
            runs: 0,
        };
        let m = measure_with_clock(&mut s, opts, &clock, &mut |_| {}).unwrap();
        (m, s.runs)
    }

    #[test]
    fn steady_model_stops_at_target_after_min_samples() {
        let (m, runs) = run(&[10], &MeasureOptions::default());
        assert_eq!(m.stop_reason, StopReason::TargetReached);
        assert_eq!(m.samples_ms.len(), 10);
        // 1 s of warm-up at 10 ms a run is 100 runs, the first included.
        assert_eq!(m.warmup_runs, 100);
        assert_eq!(runs, 110);
        assert_eq!(m.first_run_ms, 10.0);
        assert_eq!(m.timer_overhead_ns, 0.0);
    }

    #[test]
    fn slow_model_warms_up_min_runs_and_hits_time_limit() {
        let opts = MeasureOptions {
            target_rel_ci: 0.0,
            ..Default::default()
        };
        let (m, _) = run(&[1000, 1100, 900], &opts);
        assert_eq!(m.warmup_runs, 3);
        assert_eq!(m.stop_reason, StopReason::TimeLimit);
        // 20 s of sampling at about 1 s a run.
        assert_eq!(m.samples_ms.len(), 20);
    }

    #[test]
    fn noisy_model_samples_until_sample_limit() {
        let opts = MeasureOptions {
            max_samples: 50,
            max_time_s: 1e9,
            ..Default::default()
        };
        let (m, _) = run(&[1, 9, 2, 8, 3, 7, 4, 6, 5, 10, 20], &opts);
        assert_eq!(m.stop_reason, StopReason::SampleLimit);
        assert_eq!(m.samples_ms.len(), 50);
    }

    #[test]
    fn min_time_keeps_a_steady_model_sampling() {
        let opts = MeasureOptions {
            min_time_s: 2.0,
            ..Default::default()
        };
        let (m, _) = run(&[10], &opts);
        assert_eq!(m.stop_reason, StopReason::TargetReached);
        // 10 ms a sample: the rule may stop it only once 2 s have passed.
        assert!(m.samples_ms.len() >= 200, "{}", m.samples_ms.len());
        assert!(m.samples_ms.len() <= 215, "{}", m.samples_ms.len());
        assert!(m.sampling_window.is_some());
    }

    #[test]
    fn min_time_beyond_max_time_still_lets_the_target_stop_sampling() {
        // The committed GPU study had min_time_s (2 s, for the sensors) >= max_time_s: every
        // row stopped at the time limit although its interval was reached.
        let opts = MeasureOptions {
            min_time_s: 2.0,
            max_time_s: 1.0,
            ..Default::default()
        };
        let (m, _) = run(&[10], &opts);
        assert_eq!(m.stop_reason, StopReason::TargetReached);
        assert!(m.samples_ms.len() >= 200, "{}", m.samples_ms.len());
    }

    #[test]
    fn target_met_at_the_time_limit_is_target_reached() {
        // 100 ms a run, 1 s of sampling: the 10th sample meets both the limit and the target.
        let opts = MeasureOptions {
            max_time_s: 1.0,
            ..Default::default()
        };
        let (m, _) = run(&[100], &opts);
        assert_eq!(m.samples_ms.len(), 10);
        assert_eq!(m.stop_reason, StopReason::TargetReached);
    }

    #[test]
    fn first_run_is_recorded_on_its_own() {
        let (m, _) = run(
            &[50, 10, 10, 10],
            &MeasureOptions {
                warmup_s: 0.0,
                ..Default::default()
            },
        );
        assert_eq!(m.first_run_ms, 50.0);
        assert_eq!(m.warmup_runs, 3);
    }
}
