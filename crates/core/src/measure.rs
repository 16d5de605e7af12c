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
    while !opts.warmed_up(warmup_runs, (clock.now() - warm_start).as_secs_f64()) {
        session.run()?;
        session.synchronize()?;
        warmup_runs += 1;
        progress(Progress::WarmingUp {
            runs: warmup_runs,
            elapsed_s: (clock.now() - warm_start).as_secs_f64(),
        });
    }
    let warmup_ms = ms(clock.now() - warm_start);

    // Sampling: the rule's buffers are allocated before the first sample.
    let mut rule = StopRule::preallocated(opts);
    let window_start = Instant::now();
    let start = clock.now();
    let stop_reason = loop {
        let t0 = clock.now();
        session.run()?;
        session.synchronize()?;
        let t1 = clock.now();
        let elapsed_s = (t1 - start).as_secs_f64();
        let step = rule.push(ms(t1 - t0), elapsed_s);
        if let Some(rel_ci) = step.rel_ci {
            progress(Progress::Sampling {
                samples: rule.len(),
                elapsed_s,
                rel_ci,
            });
        }
        if let Some(reason) = step.stop {
            break reason;
        }
    };
    let sampling_ms = ms(clock.now() - start);
    let window_end = Instant::now();
    Ok(Measurement {
        first_run_ms,
        warmup_runs,
        warmup_ms,
        samples_ms: rule.into_samples(),
        stop_reason,
        sampling_ms,
        timer_overhead_ns,
        sampling_window: Some((window_start, window_end)),
    })
}

impl MeasureOptions {
    /// Whether warm-up is over after `runs` runs (the first one included) that took
    /// `elapsed_s` seconds: both `min_warmup_runs` and `warmup_s` must be reached.
    pub fn warmed_up(&self, runs: usize, elapsed_s: f64) -> bool {
        runs >= self.min_warmup_runs && elapsed_s >= self.warmup_s.max(0.0)
    }

    /// The sampling time limit in seconds: a minimum sampling time (for power sensors) longer
    /// than `max_time_s` extends the limit, so that the confidence rule can stop sampling
    /// once both hold.
    pub fn time_limit_s(&self) -> f64 {
        self.max_time_s.max(0.0).max(self.min_time_s.max(0.0))
    }
}

/// What [`StopRule::push`] decided about one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The relative half-width of the median's 95% interval, when the rule evaluated it at
    /// this sample (about 20 times per doubling of the sample count, and at every limit).
    pub rel_ci: Option<f64>,
    /// `Some` when sampling must stop at this sample, with the reason.
    pub stop: Option<StopReason>,
}

/// edgebench's stopping rule for sampling, fed one sample at a time: stop once the 95%
/// interval of the median is within `target_rel_ci`, after `min_samples` samples and
/// `min_time_s` of sampling; else at `max_samples` or at the time limit
/// ([`MeasureOptions::time_limit_s`]). The measurement loop and the engines that time
/// themselves (TensorRT's trtexec) both use it, so they stop at the same points.
#[derive(Debug, Clone)]
pub struct StopRule {
    target_rel_ci: f64,
    min_samples: usize,
    max_samples: usize,
    min_time_s: f64,
    max_time_s: f64,
    samples: Vec<f64>,
    scratch: Vec<f64>,
    next_check: usize,
    elapsed_s: f64,
}

impl StopRule {
    /// A rule with no samples yet; buffers grow as samples come.
    pub fn new(opts: &MeasureOptions) -> StopRule {
        StopRule {
            target_rel_ci: opts.target_rel_ci,
            min_samples: opts.min_samples,
            max_samples: opts.max_samples.max(1),
            min_time_s: opts.min_time_s.max(0.0),
            max_time_s: opts.time_limit_s(),
            samples: vec![],
            scratch: vec![],
            next_check: 1,
            elapsed_s: 0.0,
        }
    }

    /// As [`StopRule::new`], with room for `max_samples` samples allocated at once, so that
    /// a timed loop never allocates.
    pub fn preallocated(opts: &MeasureOptions) -> StopRule {
        let mut rule = StopRule::new(opts);
        rule.samples.reserve_exact(rule.max_samples);
        rule.scratch.reserve_exact(rule.max_samples);
        rule
    }

    /// Adds one sample (ms) that ended `elapsed_s` seconds after sampling began and says
    /// whether sampling must stop there.
    pub fn push(&mut self, sample_ms: f64, elapsed_s: f64) -> Step {
        self.samples.push(sample_ms);
        self.elapsed_s = elapsed_s;
        let n = self.samples.len();
        let at_limit = n >= self.max_samples || elapsed_s >= self.max_time_s;
        let mut step = Step {
            rel_ci: None,
            stop: None,
        };
        // Evaluate the interval about 20 times per doubling of the sample count, so its cost
        // stays a small, constant fraction of the loop, and always at a limit, so that a run
        // whose target is met exactly then says so.
        if n >= self.min_samples.max(2) && (n >= self.next_check || at_limit) {
            self.next_check = n + (n / 20).max(1);
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.samples);
            self.scratch.sort_unstable_by(f64::total_cmp);
            let rel = relative_half_width(&self.scratch);
            step.rel_ci = Some(rel);
            if rel <= self.target_rel_ci && elapsed_s >= self.min_time_s {
                step.stop = Some(StopReason::TargetReached);
                return step;
            }
        }
        if n >= self.max_samples {
            step.stop = Some(StopReason::SampleLimit);
        } else if elapsed_s >= self.max_time_s {
            step.stop = Some(StopReason::TimeLimit);
        }
        step
    }

    /// The number of samples so far.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The samples so far (ms), in order.
    pub fn samples(&self) -> &[f64] {
        &self.samples
    }

    pub fn into_samples(self) -> Vec<f64> {
        self.samples
    }

    /// The sampling time at the last sample, in seconds.
    pub fn elapsed_s(&self) -> f64 {
        self.elapsed_s
    }
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

    /// Feeds `ms` (cycling) to a rule as back-to-back samples.
    fn feed(opts: &MeasureOptions, ms: &[f64]) -> (usize, StopReason) {
        let mut rule = StopRule::new(opts);
        let mut t = 0.0;
        for x in ms.iter().cycle() {
            t += x / 1e3;
            if let Some(r) = rule.push(*x, t).stop {
                return (rule.len(), r);
            }
        }
        unreachable!("a cycle never ends")
    }

    #[test]
    fn the_rule_alone_stops_where_the_loop_does() {
        // The loop's cases above, fed as samples (what an engine that times itself does).
        assert_eq!(
            feed(&MeasureOptions::default(), &[10.0]),
            (10, StopReason::TargetReached)
        );
        let never = MeasureOptions {
            target_rel_ci: 0.0,
            ..Default::default()
        };
        assert_eq!(
            feed(&never, &[1000.0, 1100.0, 900.0]),
            (20, StopReason::TimeLimit)
        );
        let few = MeasureOptions {
            max_samples: 50,
            max_time_s: 1e9,
            ..Default::default()
        };
        let noisy = [1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0, 10.0, 20.0];
        assert_eq!(feed(&few, &noisy), (50, StopReason::SampleLimit));
        let long = MeasureOptions {
            min_time_s: 2.0,
            max_time_s: 1.0,
            ..Default::default()
        };
        let (n, r) = feed(&long, &[10.0]);
        assert_eq!(r, StopReason::TargetReached);
        assert!((200..=215).contains(&n), "{n}");
    }

    #[test]
    fn the_rule_reports_the_interval_when_it_evaluates_it() {
        let opts = MeasureOptions {
            target_rel_ci: 0.0,
            max_time_s: 1e9,
            max_samples: 100,
            ..Default::default()
        };
        let mut rule = StopRule::new(&opts);
        let evaluated: Vec<usize> = (1..=100)
            .filter(|i| rule.push(10.0 + (i % 3) as f64, *i as f64).rel_ci.is_some())
            .collect();
        // From min_samples on, then every n/20 (at least 1) samples, and at the limit.
        assert_eq!(evaluated[0], 10);
        assert!(evaluated.contains(&100), "{evaluated:?}");
        assert!(evaluated.windows(2).all(|w| w[1] - w[0] <= 100 / 20 + 1));
        assert!(evaluated.len() < 90, "{evaluated:?}");
        assert_eq!(rule.samples().len(), 100);
    }

    #[test]
    fn warm_up_needs_both_the_runs_and_the_time() {
        let opts = MeasureOptions::default();
        assert!(!opts.warmed_up(2, 5.0));
        assert!(!opts.warmed_up(50, 0.5));
        assert!(opts.warmed_up(3, 1.0));
        assert_eq!(
            MeasureOptions {
                min_time_s: 30.0,
                ..Default::default()
            }
            .time_limit_s(),
            30.0
        );
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
