//! MLPerf inference scenarios with LoadGen's definitions, driving one engine [`Session`]:
//! single-stream, multi-stream, offline and server, LoadGen's early stopping, and a search
//! for the highest server rate that keeps the latency bound.
//!
//! Read from the sources themselves, not paraphrases:
//! - mlcommons/inference at b66003e10e2db4b8c36a448b0545ec90fcc6e9e9 (LoadGen 6.0.17):
//!   `loadgen/test_settings.h` (defaults: `single_stream_target_latency_percentile = 0.90`,
//!   `multi_stream_target_latency_percentile = 0.99`, `multi_stream_samples_per_query = 8`,
//!   `server_target_latency_ns = 100000000`, `server_target_latency_percentile = 0.99`,
//!   `min_query_count = 100`, `server_find_peak_qps_decimals_of_precision = 1`,
//!   `server_find_peak_qps_boundary_step_size = 1`), `loadgen/mlperf.conf` (what a submission
//!   runs with: `min_duration = 600000` ms for every scenario, `*.MultiStream.min_query_count
//!   = 662`, `resnet50.Offline.min_query_count = 24576` samples, `*.Server.target_latency = 10`
//!   ms, `resnet50.Server.target_latency = 15` ms), `loadgen/test_settings_internal.cc` and
//!   `.h` (samples per query, `FindBoundaries`' widening by `1 + step` and `IsFinished`),
//!   `loadgen/loadgen.cc` (`ScheduleDistribution<Server>`: exponential inter-arrival times at
//!   `target_qps`; queries generated while the last scheduled time is under the minimum
//!   duration or fewer than `min_query_count`; `FindPeakPerformanceBinarySearch`),
//!   `loadgen/results.cc` (`ProcessLatencies`: the percentile is `sorted[floor(n * p)]`;
//!   `EarlyStopping`, `MinDurationMet`, `PerfConstraintsMet`, the reported rates) and
//!   `loadgen/early_stopping.cc` (the binomial rule, [`early_stopping`]).
//! - mlcommons/inference_policies at ac93e89c0c9a8819eb0ad987768c2f6e22896714:
//!   `inference_rules.adoc`, section "Scenarios" (600 s for every scenario; 1, 8 and at least
//!   24,576 samples per query; the 90th and 99th percentile early-stopping estimates; the
//!   server's "maximum Poisson throughput parameter supported") and the appendix "Early
//!   Stopping Criterion" (d = 0, c = 0.99).
//!
//! What differs from LoadGen, on purpose: the system under test is one session that runs
//! one query at a time (LoadGen lets a SUT hold any number of server queries in flight), so
//! server latencies include the wait behind earlier queries; the caller warms the session up
//! before a scenario starts (LoadGen leaves warm-up to the SUT); the server schedule comes
//! from a seeded ChaCha generator, not LoadGen's `std::mt19937`, so the same seed does not
//! give LoadGen's arrival times; offline issues batches until both minimums are met instead
//! of one query sized beforehand from an expected rate. A run shorter than LoadGen's
//! minimums is measured all the same and its [`Validity`] says it is not compliant.

pub mod early_stopping;
mod search;

pub use early_stopping::{EarlyStoppingParams, PercentileEstimate, ServerEarlyStopping};
pub use search::{search_rate, RateRun, RateSearch, RateSearchSettings};

use crate::engine::Session;
use crate::measure::{Clock, SystemClock};
use early_stopping::{loadgen_percentile, percentile_estimate, server_check};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// LoadGen's minimum duration of every scenario in a submission (`mlperf.conf`:
/// `*.<Scenario>.min_duration = 600000` ms; `inference_rules.adoc`: 600 seconds).
pub const LOADGEN_MIN_DURATION_S: f64 = 600.0;
/// `min_query_count` of `test_settings.h`, which `mlperf.conf` keeps for single-stream and
/// server.
pub const LOADGEN_MIN_QUERY_COUNT: u64 = 100;
/// `*.MultiStream.min_query_count` of `mlperf.conf`.
pub const LOADGEN_MULTI_STREAM_MIN_QUERY_COUNT: u64 = 662;
/// `*.MultiStream.samples_per_query` of `mlperf.conf` (`multi_stream_samples_per_query`).
pub const LOADGEN_MULTI_STREAM_SAMPLES_PER_QUERY: u64 = 8;
/// The offline query's size in `inference_rules.adoc` ("at least 24,576", or the whole
/// dataset when smaller) and `resnet50.Offline.min_query_count` of `mlperf.conf`.
pub const LOADGEN_OFFLINE_MIN_SAMPLES: u64 = 24_576;
/// `single_stream_target_latency_percentile` (`test_settings.h`, `mlperf.conf`).
pub const LOADGEN_SINGLE_STREAM_PERCENTILE: f64 = 0.90;
/// `multi_stream_target_latency_percentile` and `server_target_latency_percentile`.
pub const LOADGEN_TAIL_PERCENTILE: f64 = 0.99;
/// `server_target_latency_ns` of `test_settings.h` (100 ms); `mlperf.conf` sets each
/// benchmark's own (10 ms unless named, resnet50 15 ms).
pub const LOADGEN_SERVER_LATENCY_BOUND_MS: f64 = 100.0;
/// The schedule seed of [`ServerSettings`] by default: `*.*.schedule_rng_seed` of
/// `mlperf.conf` (fed to a different generator than LoadGen's, see the module doc).
pub const DEFAULT_SCHEDULE_SEED: u64 = 16_159_082_839_903_944_936;

/// The four scenarios, named as on the command line (`single-stream`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    SingleStream,
    MultiStream,
    Offline,
    Server,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::SingleStream,
        Scenario::MultiStream,
        Scenario::Offline,
        Scenario::Server,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::SingleStream => "single-stream",
            Scenario::MultiStream => "multi-stream",
            Scenario::Offline => "offline",
            Scenario::Server => "server",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = ScenarioError;
    fn from_str(s: &str) -> Result<Scenario, ScenarioError> {
        Scenario::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| ScenarioError::UnknownScenario(s.to_owned()))
    }
}

/// What can go wrong: settings a user gave, or the session itself.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "--scenario {0}: unknown scenario; use single-stream, multi-stream, offline or server"
    )]
    UnknownScenario(String),
    #[error("{setting} {value}: {expected}")]
    Setting {
        setting: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{flag} applies to --scenario {applies_to} only, not {given}: drop it or use --scenario {applies_to}")]
    OtherScenario {
        flag: &'static str,
        given: Scenario,
        applies_to: Scenario,
    },
    #[error("{flag} is a setting of --scenario: add --scenario NAME (single-stream, multi-stream, offline or server) or drop it")]
    NoScenario { flag: &'static str },
    #[error("--scenario server needs --target-qps Q: the arrival rate in queries per second (with --find-peak, the first rate tried)")]
    NoRate,
    #[error(transparent)]
    Session(#[from] crate::Error),
}

fn check(
    ok: bool,
    setting: &'static str,
    value: impl fmt::Display,
    expected: &'static str,
) -> Result<(), ScenarioError> {
    if ok {
        Ok(())
    } else {
        Err(ScenarioError::Setting {
            setting,
            value: value.to_string(),
            expected,
        })
    }
}

fn check_duration(s: f64) -> Result<(), ScenarioError> {
    check(
        s.is_finite() && s >= 0.0,
        "--scenario-duration",
        s,
        "give the minimum duration in seconds, 0 or more (LoadGen's is 600)",
    )
}

fn check_percentile(p: f64) -> Result<(), ScenarioError> {
    check(
        p > 0.0 && p < 1.0,
        "percentile",
        p,
        "give a fraction strictly between 0 and 1, e.g. 0.9",
    )
}

fn check_params(e: &EarlyStoppingParams, p: f64) -> Result<(), ScenarioError> {
    check(
        e.confidence > 0.0 && e.confidence < 1.0,
        "early-stopping confidence",
        e.confidence,
        "give a fraction strictly between 0 and 1 (LoadGen's is 0.99)",
    )?;
    check(
        e.tolerance >= 0.0 && e.tolerance < p,
        "early-stopping tolerance",
        e.tolerance,
        "give 0 or more, below the percentile (LoadGen's is 0)",
    )
}

fn check_batch(b: u64) -> Result<(), ScenarioError> {
    check(
        b >= 1,
        "--batch",
        b,
        "give the samples one session run processes, 1 or more",
    )
}

/// Single-stream: one query of one sample after the other; the metric is the 90th
/// percentile's early-stopping estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SingleStreamSettings {
    /// Queries are issued until the last one was issued at least this long after the first...
    pub min_duration_s: f64,
    /// ...and at least this many were issued.
    pub min_query_count: u64,
    pub percentile: f64,
    pub early_stopping: EarlyStoppingParams,
}

impl Default for SingleStreamSettings {
    fn default() -> Self {
        SingleStreamSettings {
            min_duration_s: LOADGEN_MIN_DURATION_S,
            min_query_count: LOADGEN_MIN_QUERY_COUNT,
            percentile: LOADGEN_SINGLE_STREAM_PERCENTILE,
            early_stopping: EarlyStoppingParams::default(),
        }
    }
}

impl SingleStreamSettings {
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check_duration(self.min_duration_s)?;
        check_percentile(self.percentile)?;
        check_params(&self.early_stopping, self.percentile)
    }
}

/// Multi-stream: one query of `samples_per_query` samples after the other; the metric is the
/// 99th percentile of query latency (its early-stopping estimate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiStreamSettings {
    pub min_duration_s: f64,
    pub min_query_count: u64,
    pub samples_per_query: u64,
    /// Samples one session run processes (the batch it was prepared with): a query takes
    /// `ceil(samples_per_query / batch)` runs.
    pub batch: u64,
    pub percentile: f64,
    pub early_stopping: EarlyStoppingParams,
}

impl Default for MultiStreamSettings {
    fn default() -> Self {
        MultiStreamSettings {
            min_duration_s: LOADGEN_MIN_DURATION_S,
            min_query_count: LOADGEN_MULTI_STREAM_MIN_QUERY_COUNT,
            samples_per_query: LOADGEN_MULTI_STREAM_SAMPLES_PER_QUERY,
            batch: 1,
            percentile: LOADGEN_TAIL_PERCENTILE,
            early_stopping: EarlyStoppingParams::default(),
        }
    }
}

impl MultiStreamSettings {
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check_duration(self.min_duration_s)?;
        check(
            self.samples_per_query >= 1,
            "--samples-per-query",
            self.samples_per_query,
            "give 1 or more (LoadGen's is 8)",
        )?;
        check_batch(self.batch)?;
        check_percentile(self.percentile)?;
        check_params(&self.early_stopping, self.percentile)
    }

    /// Session runs per query.
    pub fn runs_per_query(&self) -> u64 {
        self.samples_per_query.div_ceil(self.batch.max(1))
    }
}

/// Offline: all samples at once; the metric is throughput, samples over the time to the
/// last completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfflineSettings {
    pub min_duration_s: f64,
    pub min_sample_count: u64,
    /// Samples one session run processes.
    pub batch: u64,
}

impl Default for OfflineSettings {
    fn default() -> Self {
        OfflineSettings {
            min_duration_s: LOADGEN_MIN_DURATION_S,
            min_sample_count: LOADGEN_OFFLINE_MIN_SAMPLES,
            batch: 1,
        }
    }
}

impl OfflineSettings {
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check_duration(self.min_duration_s)?;
        check_batch(self.batch)
    }
}

/// Server: one-sample queries arriving as a Poisson process at `target_qps`; the run meets
/// its constraint when the 99th percentile of latency (from scheduled arrival to completion)
/// is at most `latency_bound_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSettings {
    pub target_qps: f64,
    pub latency_bound_ms: f64,
    pub percentile: f64,
    /// Queries are scheduled while the last scheduled arrival is under this...
    pub min_duration_s: f64,
    /// ...or fewer than this many are scheduled.
    pub min_query_count: u64,
    /// Seed of the arrival schedule.
    pub seed: u64,
    pub early_stopping: EarlyStoppingParams,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            target_qps: 1.0,
            latency_bound_ms: LOADGEN_SERVER_LATENCY_BOUND_MS,
            percentile: LOADGEN_TAIL_PERCENTILE,
            min_duration_s: LOADGEN_MIN_DURATION_S,
            min_query_count: LOADGEN_MIN_QUERY_COUNT,
            seed: DEFAULT_SCHEDULE_SEED,
            early_stopping: EarlyStoppingParams::default(),
        }
    }
}

impl ServerSettings {
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check(
            self.target_qps.is_finite() && self.target_qps > 0.0,
            "--target-qps",
            self.target_qps,
            "give the arrival rate in queries per second, more than 0",
        )?;
        check(
            self.latency_bound_ms.is_finite() && self.latency_bound_ms > 0.0,
            "--latency-bound-ms",
            self.latency_bound_ms,
            "give the latency bound in milliseconds, more than 0",
        )?;
        check_duration(self.min_duration_s)?;
        check_percentile(self.percentile)?;
        check_params(&self.early_stopping, self.percentile)
    }

    /// The arrival schedule (seconds from the start), as `loadgen.cc` generates it: the first
    /// query at 0, then exponential gaps with mean `1 / target_qps`, while the last scheduled
    /// time is under `min_duration_s` or fewer than `min_query_count` are scheduled (at
    /// least one query).
    pub fn schedule(&self) -> Vec<f64> {
        let mut arrivals = PoissonArrivals::new(self.target_qps, self.seed);
        let mut out = vec![0.0];
        let mut last = 0.0;
        while last < self.min_duration_s || (out.len() as u64) < self.min_query_count {
            last = arrivals.next_arrival_s();
            out.push(last);
        }
        out
    }
}

/// Arrival times of a Poisson process (exponential gaps by inversion), from a seed.
#[derive(Debug, Clone)]
pub struct PoissonArrivals {
    rate: f64,
    rng: rand_chacha::ChaCha8Rng,
    t: f64,
}

impl PoissonArrivals {
    /// The process at `rate` per second; its first arrival is at 0, which
    /// [`PoissonArrivals::next_arrival_s`] does not return.
    pub fn new(rate: f64, seed: u64) -> PoissonArrivals {
        PoissonArrivals {
            rate,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            t: 0.0,
        }
    }

    /// The next gap, `-ln(1 - U) / rate` with `U` uniform on [0, 1).
    pub fn next_gap_s(&mut self) -> f64 {
        let u: f64 = self.rng.random();
        -(1.0 - u).ln() / self.rate
    }

    /// The next arrival time, in seconds from the first.
    pub fn next_arrival_s(&mut self) -> f64 {
        self.t += self.next_gap_s();
        self.t
    }
}

/// A clock that can also wait: the server scenario waits for each query's arrival. The
/// system clock sleeps, then spins for the last millisecond; a test's fake clock jumps.
pub trait Pacer: Clock {
    /// Returns once `now() >= t` (at once if it already is).
    fn wait_until(&self, t: Duration);
}

impl Pacer for SystemClock {
    fn wait_until(&self, t: Duration) {
        loop {
            let now = self.now();
            if now >= t {
                return;
            }
            let left = t - now;
            if left > Duration::from_millis(2) {
                std::thread::sleep(left - Duration::from_millis(1));
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// Latency statistics with LoadGen's percentile definition (`sorted[floor(n * p)]`) at
/// LoadGen's reported percentiles (50, 90, 95, 97, 99, 99.9: `results.h`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub count: u64,
    pub mean_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p97_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
}

impl LatencyStats {
    /// `None` when there are no latencies.
    pub fn of(latencies_ms: &[f64]) -> Option<LatencyStats> {
        let mut s = latencies_ms.to_vec();
        s.sort_by(f64::total_cmp);
        let p = |q: f64| loadgen_percentile(&s, q);
        Some(LatencyStats {
            count: s.len() as u64,
            mean_ms: crate::stats::mean(&s),
            min_ms: *s.first()?,
            max_ms: *s.last()?,
            p50_ms: p(0.50)?,
            p90_ms: p(0.90)?,
            p95_ms: p(0.95)?,
            p97_ms: p(0.97)?,
            p99_ms: p(0.99)?,
            p999_ms: p(0.999)?,
        })
    }
}

/// One reason a run is not what LoadGen would accept; its `Display` is one line for users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Note {
    /// Shorter than LoadGen's minimum duration.
    ShortRun { ran_s: f64, required_s: f64 },
    /// Fewer queries than LoadGen's minimum.
    FewQueries { queries: u64, required: u64 },
    /// Offline: fewer samples than LoadGen's minimum.
    FewSamples { samples: u64, required: u64 },
    /// Too few queries for the early-stopping estimate or check.
    EarlyStoppingUnmet { queries: u64, required: u64 },
    /// Server: the percentile is over the bound (LoadGen's "performance constraints").
    LatencyBoundMissed {
        percentile: f64,
        latency_ms: f64,
        bound_ms: f64,
    },
    /// A setting LoadGen fixes was changed.
    SettingDiffers {
        setting: String,
        value: String,
        loadgen: String,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::fmt::sig;
        match self {
            Note::ShortRun { ran_s, required_s } => write!(
                f,
                "not a compliant run: ran {}s, LoadGen requires {}s (raise --scenario-duration)",
                sig(*ran_s),
                sig(*required_s)
            ),
            Note::FewQueries { queries, required } => write!(
                f,
                "not a compliant run: {queries} queries, LoadGen requires {required}"
            ),
            Note::FewSamples { samples, required } => write!(
                f,
                "not a compliant run: {samples} samples, LoadGen requires {required}"
            ),
            Note::EarlyStoppingUnmet { queries, required } => write!(
                f,
                "not a compliant run: early stopping needs {required} queries, the run had {queries}"
            ),
            Note::LatencyBoundMissed {
                percentile,
                latency_ms,
                bound_ms,
            } => write!(
                f,
                "latency bound missed: the {}th percentile is {} ms, over the {} ms bound (lower --target-qps)",
                percent(*percentile),
                crate::fmt::ms(*latency_ms),
                crate::fmt::ms(*bound_ms)
            ),
            Note::SettingDiffers {
                setting,
                value,
                loadgen,
            } => write!(
                f,
                "not a compliant run: {setting} is {value}, LoadGen's is {loadgen}"
            ),
        }
    }
}

/// A fraction as a percentage with at most one decimal: 0.99 -> "99", 0.999 -> "99.9".
fn percent(p: f64) -> String {
    let s = format!("{:.1}", p * 100.0);
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// Whether a run is one LoadGen would report as valid, and if not, every reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validity {
    pub compliant: bool,
    pub notes: Vec<Note>,
}

impl Validity {
    fn from_notes(notes: Vec<Note>) -> Validity {
        Validity {
            compliant: notes.is_empty(),
            notes,
        }
    }

    /// The notes as lines, for a view.
    pub fn lines(&self) -> Vec<String> {
        self.notes.iter().map(ToString::to_string).collect()
    }
}

fn duration_note(ran_s: f64, required_s: f64) -> Option<Note> {
    (ran_s < LOADGEN_MIN_DURATION_S.max(required_s)).then_some(Note::ShortRun {
        ran_s,
        required_s: LOADGEN_MIN_DURATION_S.max(required_s),
    })
}

fn count_note(queries: u64, required: u64) -> Option<Note> {
    (queries < required).then_some(Note::FewQueries { queries, required })
}

fn differs(setting: &str, value: f64, loadgen: f64) -> Option<Note> {
    (value != loadgen).then(|| Note::SettingDiffers {
        setting: setting.to_owned(),
        value: value.to_string(),
        loadgen: loadgen.to_string(),
    })
}

fn params_notes(p: &EarlyStoppingParams) -> [Option<Note>; 2] {
    [
        differs(
            "the early-stopping confidence",
            p.confidence,
            early_stopping::LOADGEN_CONFIDENCE,
        ),
        differs(
            "the early-stopping tolerance",
            p.tolerance,
            early_stopping::LOADGEN_TOLERANCE,
        ),
    ]
}

/// Where a latency scenario's reported figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricSource {
    /// LoadGen's early-stopping estimate.
    EarlyStopping,
    /// Too few queries for the estimate: the plain percentile, which LoadGen would not
    /// report.
    Percentile,
}

/// A single-stream run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SingleStreamResult {
    pub settings: SingleStreamSettings,
    /// One latency per query (ms), in the order issued.
    pub query_latencies_ms: Vec<f64>,
    /// When the last query was issued, from the first (LoadGen's `final_query_issued_time`).
    pub duration_s: f64,
    pub latency: LatencyStats,
    /// The target percentile, `sorted[floor(n * p)]`.
    pub percentile_ms: f64,
    pub early_stopping: PercentileEstimate,
    /// The 99th percentile's estimate, which LoadGen also logs for single-stream.
    pub early_stopping_p99: PercentileEstimate,
    /// The reported figure: the early-stopping estimate, or the percentile without one.
    pub metric_ms: f64,
    pub metric_source: MetricSource,
    /// `(n - 1) / duration_s` (LoadGen's "QPS w/ loadgen overhead"); `None` with one query.
    pub qps_with_overhead: Option<f64>,
    /// `1 / mean latency` ("QPS w/o loadgen overhead"); `None` when the mean is 0.
    pub qps_without_overhead: Option<f64>,
    pub validity: Validity,
}

/// A multi-stream run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiStreamResult {
    pub settings: MultiStreamSettings,
    /// One latency per query (ms, all its samples), in the order issued.
    pub query_latencies_ms: Vec<f64>,
    pub duration_s: f64,
    pub latency: LatencyStats,
    pub percentile_ms: f64,
    pub early_stopping: PercentileEstimate,
    pub metric_ms: f64,
    pub metric_source: MetricSource,
    pub validity: Validity,
}

/// An offline run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfflineResult {
    pub settings: OfflineSettings,
    /// One latency per session run (ms, `batch` samples each), in order.
    pub batch_latencies_ms: Vec<f64>,
    pub samples: u64,
    /// From the start to the last completion (LoadGen's `max_latency`).
    pub duration_s: f64,
    /// `samples / duration_s`: the metric.
    pub samples_per_s: f64,
    pub validity: Validity,
}

/// A server run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerResult {
    pub settings: ServerSettings,
    /// One latency per query (ms, from its scheduled arrival to completion), in arrival
    /// order; fewer than scheduled when the run was stopped once the bound could no longer be
    /// met.
    pub query_latencies_ms: Vec<f64>,
    /// Queries in the schedule.
    pub scheduled_queries: u64,
    /// The last scheduled arrival (LoadGen's `final_query_scheduled_time`).
    pub scheduled_s: f64,
    /// From the start to the last completion.
    pub duration_s: f64,
    pub latency: LatencyStats,
    /// The target percentile, `sorted[floor(n * p)]`.
    pub percentile_ms: f64,
    /// `percentile_ms <= latency_bound_ms` (LoadGen's "performance constraints satisfied").
    pub bound_met: bool,
    pub early_stopping: ServerEarlyStopping,
    /// `(n - 1) / scheduled_s` (LoadGen's "scheduled samples per second"); `None` with one
    /// query.
    pub scheduled_qps: Option<f64>,
    /// `(n - 1) / duration_s` ("completed samples per second"); `None` with one query.
    pub completed_qps: Option<f64>,
    /// Whether the run stopped early because more queries were over the bound than the
    /// percentile allows in the whole schedule (only when asked, as the rate search does).
    pub stopped_early: bool,
    pub validity: Validity,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn run_once(session: &mut dyn Session, runs: u64) -> Result<(), ScenarioError> {
    for _ in 0..runs {
        session.run()?;
    }
    session.synchronize()?;
    Ok(())
}

/// Where a run is: reported between queries (never inside a query's latency), about once a
/// second of the run, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunProgress {
    pub scenario: Scenario,
    /// Queries completed (offline: batches).
    pub queries: u64,
    pub elapsed_s: f64,
    /// The run's minimum duration, for a display of how far it is.
    pub min_duration_s: f64,
}

/// Calls `report` when a whole second of the run has passed since the last call.
struct Ticker<'a> {
    scenario: Scenario,
    min_duration_s: f64,
    next_s: f64,
    report: &'a mut dyn FnMut(RunProgress),
}

impl<'a> Ticker<'a> {
    fn new(
        scenario: Scenario,
        min_duration_s: f64,
        report: &'a mut dyn FnMut(RunProgress),
    ) -> Self {
        Ticker {
            scenario,
            min_duration_s,
            next_s: 1.0,
            report,
        }
    }

    fn tick(&mut self, queries: usize, elapsed_s: f64) {
        if elapsed_s >= self.next_s {
            self.next_s = elapsed_s.floor() + 1.0;
            (self.report)(RunProgress {
                scenario: self.scenario,
                queries: queries as u64,
                elapsed_s,
                min_duration_s: self.min_duration_s,
            });
        }
    }
}

/// Issues back-to-back queries of `runs` session runs each, as `issue_query_controller.cc`
/// does: after each query, stop once `min_queries` were issued and that query was issued at
/// least `min_duration_s` after the first. Returns the latencies (ms) and the last issue
/// time (s, LoadGen's `final_query_issued_time`).
fn back_to_back<C: Clock>(
    session: &mut dyn Session,
    clock: &C,
    runs: u64,
    min_duration_s: f64,
    min_queries: u64,
    ticker: &mut Ticker,
) -> Result<(Vec<f64>, f64), ScenarioError> {
    let mut lat = Vec::with_capacity(min_queries.clamp(1, 1 << 20) as usize);
    let start = clock.now();
    loop {
        let t0 = clock.now();
        run_once(session, runs)?;
        let t1 = clock.now();
        lat.push(secs(t1 - t0) * 1e3);
        let issued_s = secs(t0 - start);
        if lat.len() as u64 >= min_queries && issued_s >= min_duration_s {
            return Ok((lat, issued_s));
        }
        ticker.tick(lat.len(), secs(t1 - start));
    }
}

/// `count / over`, `None` when that is not a finite positive rate (nothing to divide by).
fn per_s(count: u64, over: f64) -> Option<f64> {
    let r = count as f64 / over;
    (count > 0 && r.is_finite()).then_some(r)
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

fn metric(e: &PercentileEstimate, percentile_ms: f64) -> (f64, MetricSource) {
    match e.estimate_ms {
        Some(x) => (x, MetricSource::EarlyStopping),
        None => (percentile_ms, MetricSource::Percentile),
    }
}

fn estimate_note(e: &PercentileEstimate) -> Option<Note> {
    (!e.met()).then_some(Note::EarlyStoppingUnmet {
        queries: e.queries,
        required: e.min_queries,
    })
}

/// Runs single-stream on a session whose inputs are set and which is warmed up.
pub fn run_single_stream<C: Clock>(
    session: &mut dyn Session,
    settings: &SingleStreamSettings,
    clock: &C,
    progress: &mut dyn FnMut(RunProgress),
) -> Result<SingleStreamResult, ScenarioError> {
    settings.validate()?;
    let mut ticker = Ticker::new(Scenario::SingleStream, settings.min_duration_s, progress);
    let (lat, duration_s) = back_to_back(
        session,
        clock,
        1,
        settings.min_duration_s,
        settings.min_query_count,
        &mut ticker,
    )?;
    let s = sorted(&lat);
    let percentile_ms = loadgen_percentile(&s, settings.percentile).unwrap_or(f64::NAN);
    let early_stopping = percentile_estimate(&s, settings.percentile, settings.early_stopping);
    let early_stopping_p99 =
        percentile_estimate(&s, LOADGEN_TAIL_PERCENTILE, settings.early_stopping);
    let (metric_ms, metric_source) = metric(&early_stopping, percentile_ms);
    let latency = LatencyStats::of(&lat).expect("at least one query ran");
    let n = lat.len() as u64;
    let [c, d] = params_notes(&settings.early_stopping);
    let notes = [
        duration_note(duration_s, settings.min_duration_s),
        count_note(n, LOADGEN_MIN_QUERY_COUNT.max(settings.min_query_count)),
        estimate_note(&early_stopping),
        differs(
            "the percentile",
            settings.percentile,
            LOADGEN_SINGLE_STREAM_PERCENTILE,
        ),
        c,
        d,
    ];
    Ok(SingleStreamResult {
        settings: settings.clone(),
        qps_with_overhead: per_s(n - 1, duration_s),
        qps_without_overhead: per_s(1000, latency.mean_ms),
        query_latencies_ms: lat,
        duration_s,
        latency,
        percentile_ms,
        early_stopping,
        early_stopping_p99,
        metric_ms,
        metric_source,
        validity: Validity::from_notes(notes.into_iter().flatten().collect()),
    })
}

/// Runs multi-stream on a session whose inputs are set and which is warmed up.
pub fn run_multi_stream<C: Clock>(
    session: &mut dyn Session,
    settings: &MultiStreamSettings,
    clock: &C,
    progress: &mut dyn FnMut(RunProgress),
) -> Result<MultiStreamResult, ScenarioError> {
    settings.validate()?;
    let mut ticker = Ticker::new(Scenario::MultiStream, settings.min_duration_s, progress);
    let (lat, duration_s) = back_to_back(
        session,
        clock,
        settings.runs_per_query(),
        settings.min_duration_s,
        settings.min_query_count,
        &mut ticker,
    )?;
    let s = sorted(&lat);
    let percentile_ms = loadgen_percentile(&s, settings.percentile).unwrap_or(f64::NAN);
    let early_stopping = percentile_estimate(&s, settings.percentile, settings.early_stopping);
    let (metric_ms, metric_source) = metric(&early_stopping, percentile_ms);
    let [c, d] = params_notes(&settings.early_stopping);
    let notes = [
        duration_note(duration_s, settings.min_duration_s),
        count_note(
            lat.len() as u64,
            LOADGEN_MULTI_STREAM_MIN_QUERY_COUNT.max(settings.min_query_count),
        ),
        estimate_note(&early_stopping),
        differs(
            "the percentile",
            settings.percentile,
            LOADGEN_TAIL_PERCENTILE,
        ),
        differs(
            "samples per query",
            settings.samples_per_query as f64,
            LOADGEN_MULTI_STREAM_SAMPLES_PER_QUERY as f64,
        ),
        c,
        d,
    ];
    Ok(MultiStreamResult {
        settings: settings.clone(),
        latency: LatencyStats::of(&lat).expect("at least one query ran"),
        query_latencies_ms: lat,
        duration_s,
        percentile_ms,
        early_stopping,
        metric_ms,
        metric_source,
        validity: Validity::from_notes(notes.into_iter().flatten().collect()),
    })
}

/// Runs offline: batches back to back until `min_duration_s` has passed and
/// `min_sample_count` samples are done (at least one batch).
pub fn run_offline<C: Clock>(
    session: &mut dyn Session,
    settings: &OfflineSettings,
    clock: &C,
    progress: &mut dyn FnMut(RunProgress),
) -> Result<OfflineResult, ScenarioError> {
    settings.validate()?;
    let mut ticker = Ticker::new(Scenario::Offline, settings.min_duration_s, progress);
    let batches = settings
        .min_sample_count
        .div_ceil(settings.batch)
        .clamp(1, 1 << 20);
    let mut lat = Vec::with_capacity(batches as usize);
    let start = clock.now();
    let mut samples = 0u64;
    let duration_s = loop {
        let t0 = clock.now();
        session.run()?;
        session.synchronize()?;
        let t1 = clock.now();
        lat.push(secs(t1 - t0) * 1e3);
        samples += settings.batch;
        let elapsed = secs(t1 - start);
        if elapsed >= settings.min_duration_s && samples >= settings.min_sample_count {
            break elapsed;
        }
        ticker.tick(lat.len(), elapsed);
    };
    let notes = [
        duration_note(duration_s, settings.min_duration_s),
        (samples < LOADGEN_OFFLINE_MIN_SAMPLES.max(settings.min_sample_count)).then_some(
            Note::FewSamples {
                samples,
                required: LOADGEN_OFFLINE_MIN_SAMPLES.max(settings.min_sample_count),
            },
        ),
    ];
    Ok(OfflineResult {
        settings: settings.clone(),
        batch_latencies_ms: lat,
        samples,
        duration_s,
        samples_per_s: samples as f64 / duration_s,
        validity: Validity::from_notes(notes.into_iter().flatten().collect()),
    })
}

/// Runs server: queries arrive on [`ServerSettings::schedule`]; the session takes them one
/// at a time in arrival order, waiting for each one's arrival when it is idle. With
/// `stop_when_failed`, the run ends once more queries are over the bound than the
/// percentile allows in the whole schedule (the bound can then no longer be met).
pub fn run_server<C: Pacer>(
    session: &mut dyn Session,
    settings: &ServerSettings,
    clock: &C,
    stop_when_failed: bool,
    progress: &mut dyn FnMut(RunProgress),
) -> Result<ServerResult, ScenarioError> {
    settings.validate()?;
    let mut ticker = Ticker::new(Scenario::Server, settings.min_duration_s, progress);
    let schedule = settings.schedule();
    let n_planned = schedule.len();
    // sorted[floor(n p)] <= bound needs at most n - floor(n p) - 1 latencies over it.
    let allowed_over =
        n_planned - 1 - ((n_planned as f64 * settings.percentile) as usize).min(n_planned - 1);
    let mut lat = Vec::with_capacity(n_planned);
    let mut over = 0usize;
    let mut stopped_early = false;
    let start = clock.now();
    for &arrival in &schedule {
        let at = start + Duration::from_secs_f64(arrival);
        clock.wait_until(at);
        run_once(session, 1)?;
        let done = clock.now();
        let l = secs(done - at) * 1e3;
        lat.push(l);
        ticker.tick(lat.len(), secs(done - start));
        if l > settings.latency_bound_ms {
            over += 1;
            if stop_when_failed && over > allowed_over {
                stopped_early = true;
                break;
            }
        }
    }
    let duration_s = secs(clock.now() - start);
    let s = sorted(&lat);
    let percentile_ms = loadgen_percentile(&s, settings.percentile).unwrap_or(f64::NAN);
    let bound_met = !stopped_early && percentile_ms <= settings.latency_bound_ms;
    let early_stopping = server_check(
        &lat,
        settings.latency_bound_ms,
        settings.percentile,
        settings.early_stopping,
    );
    let scheduled_s = *schedule.last().expect("a schedule has a query");
    let n = lat.len() as u64;
    let [c, d] = params_notes(&settings.early_stopping);
    let notes = [
        (!bound_met).then_some(Note::LatencyBoundMissed {
            percentile: settings.percentile,
            latency_ms: percentile_ms,
            bound_ms: settings.latency_bound_ms,
        }),
        duration_note(scheduled_s, settings.min_duration_s),
        count_note(n, LOADGEN_MIN_QUERY_COUNT.max(settings.min_query_count)),
        (!early_stopping.met).then_some(Note::EarlyStoppingUnmet {
            queries: n,
            required: early_stopping.required_queries,
        }),
        differs(
            "the percentile",
            settings.percentile,
            LOADGEN_TAIL_PERCENTILE,
        ),
        c,
        d,
    ];
    Ok(ServerResult {
        settings: settings.clone(),
        latency: LatencyStats::of(&lat).expect("at least one query ran"),
        query_latencies_ms: lat,
        scheduled_queries: n_planned as u64,
        scheduled_s,
        duration_s,
        percentile_ms,
        bound_met,
        early_stopping,
        scheduled_qps: per_s(n.saturating_sub(1), scheduled_s),
        completed_qps: per_s(n.saturating_sub(1), duration_s),
        stopped_early,
        validity: Validity::from_notes(notes.into_iter().flatten().collect()),
    })
}

/// The highest server rate whose percentile stays under the bound: [`search_rate`] with one
/// [`run_server`] per rate (each stopped once its bound can no longer be met), `server`'s
/// `target_qps` as the first rate. `on_run` gets each rate's result as it finishes.
pub fn find_peak_qps<C: Pacer>(
    session: &mut dyn Session,
    server: &ServerSettings,
    search: &RateSearchSettings,
    clock: &C,
    on_run: &mut dyn FnMut(&ServerResult),
    progress: &mut dyn FnMut(RunProgress),
) -> Result<RateSearch<ServerResult>, ScenarioError> {
    server.validate()?;
    search_rate(
        server.target_qps,
        search,
        |qps| {
            let settings = ServerSettings {
                target_qps: qps,
                ..server.clone()
            };
            let r = run_server(session, &settings, clock, true, &mut *progress)?;
            on_run(&r);
            Ok(r)
        },
        |r: &ServerResult| r.bound_met,
    )
}

/// One scenario with its settings: what `bench --scenario` asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scenario", rename_all = "kebab-case")]
pub enum ScenarioSettings {
    SingleStream(SingleStreamSettings),
    MultiStream(MultiStreamSettings),
    Offline(OfflineSettings),
    /// One run at `server.target_qps`, or with `search`, the rate search from it.
    Server {
        server: ServerSettings,
        search: Option<RateSearchSettings>,
    },
}

impl ScenarioSettings {
    pub fn scenario(&self) -> Scenario {
        match self {
            ScenarioSettings::SingleStream(_) => Scenario::SingleStream,
            ScenarioSettings::MultiStream(_) => Scenario::MultiStream,
            ScenarioSettings::Offline(_) => Scenario::Offline,
            ScenarioSettings::Server { .. } => Scenario::Server,
        }
    }

    /// Checks the settings without running anything.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        match self {
            ScenarioSettings::SingleStream(s) => s.validate(),
            ScenarioSettings::MultiStream(s) => s.validate(),
            ScenarioSettings::Offline(s) => s.validate(),
            ScenarioSettings::Server { server, .. } => server.validate(),
        }
    }
}

/// A scenario as a user asks for it: `bench --scenario NAME` and its flags, or the study's
/// `[scenario]` table (the same keys). Only what differs from LoadGen is given; the rest is
/// LoadGen's. [`ScenarioRequest::settings`] checks it as a whole, so that both places refuse
/// the same things with the same words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRequest {
    pub scenario: Scenario,
    /// Server: the arrival rate (with `find_peak`, the first rate tried). Required there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_qps: Option<f64>,
    /// Server: the bound of the 99th percentile (default LoadGen's 100 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_bound_ms: Option<f64>,
    /// LoadGen's `min_duration`, in seconds (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// LoadGen's `min_query_count` (offline: samples); default LoadGen's for the scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_query_count: Option<u64>,
    /// Multi-stream: samples per query (default 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples_per_query: Option<u64>,
    /// Server: search the highest rate that keeps the bound (LoadGen's
    /// `FindPeakPerformance` mode) instead of one run at `target_qps`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub find_peak: bool,
}

impl ScenarioRequest {
    /// LoadGen's settings for `scenario`, nothing changed (a server run still needs its
    /// rate).
    pub fn new(scenario: Scenario) -> ScenarioRequest {
        ScenarioRequest {
            scenario,
            target_qps: None,
            latency_bound_ms: None,
            duration_s: None,
            min_query_count: None,
            samples_per_query: None,
            find_peak: false,
        }
    }

    /// The settings to run, checked: a setting of another scenario, a server run without a
    /// rate, and every number a run cannot use are refused, naming the flag and the fix.
    /// Multi-stream and offline run at batch 1 here; the caller sets the session's batch.
    pub fn settings(&self) -> Result<ScenarioSettings, ScenarioError> {
        let only = |given: bool, flag: &'static str, scenario: Scenario| {
            if given && self.scenario != scenario {
                Err(ScenarioError::OtherScenario {
                    flag,
                    given: self.scenario,
                    applies_to: scenario,
                })
            } else {
                Ok(())
            }
        };
        only(self.target_qps.is_some(), "--target-qps", Scenario::Server)?;
        only(
            self.latency_bound_ms.is_some(),
            "--latency-bound-ms",
            Scenario::Server,
        )?;
        only(self.find_peak, "--find-peak", Scenario::Server)?;
        only(
            self.samples_per_query.is_some(),
            "--samples-per-query",
            Scenario::MultiStream,
        )?;
        let settings = match self.scenario {
            Scenario::SingleStream => {
                let d = SingleStreamSettings::default();
                ScenarioSettings::SingleStream(SingleStreamSettings {
                    min_duration_s: self.duration_s.unwrap_or(d.min_duration_s),
                    min_query_count: self.min_query_count.unwrap_or(d.min_query_count),
                    ..d
                })
            }
            Scenario::MultiStream => {
                let d = MultiStreamSettings::default();
                ScenarioSettings::MultiStream(MultiStreamSettings {
                    min_duration_s: self.duration_s.unwrap_or(d.min_duration_s),
                    min_query_count: self.min_query_count.unwrap_or(d.min_query_count),
                    samples_per_query: self.samples_per_query.unwrap_or(d.samples_per_query),
                    ..d
                })
            }
            Scenario::Offline => {
                let d = OfflineSettings::default();
                ScenarioSettings::Offline(OfflineSettings {
                    min_duration_s: self.duration_s.unwrap_or(d.min_duration_s),
                    min_sample_count: self.min_query_count.unwrap_or(d.min_sample_count),
                    ..d
                })
            }
            Scenario::Server => {
                let d = ServerSettings::default();
                let target_qps = self.target_qps.ok_or(ScenarioError::NoRate)?;
                ScenarioSettings::Server {
                    server: ServerSettings {
                        target_qps,
                        latency_bound_ms: self.latency_bound_ms.unwrap_or(d.latency_bound_ms),
                        min_duration_s: self.duration_s.unwrap_or(d.min_duration_s),
                        min_query_count: self.min_query_count.unwrap_or(d.min_query_count),
                        ..d
                    },
                    search: self.find_peak.then(RateSearchSettings::default),
                }
            }
        };
        settings.validate()?;
        Ok(settings)
    }
}

impl ScenarioSettings {
    /// The same settings for a session that processes `batch` samples per run (multi-stream
    /// and offline count samples; the others run one query per run).
    pub fn with_batch(mut self, batch: u64) -> ScenarioSettings {
        match &mut self {
            ScenarioSettings::MultiStream(s) => s.batch = batch.max(1),
            ScenarioSettings::Offline(s) => s.batch = batch.max(1),
            _ => {}
        }
        self
    }
}

/// The result of [`run`], by scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scenario", rename_all = "kebab-case")]
pub enum ScenarioResult {
    SingleStream(SingleStreamResult),
    MultiStream(MultiStreamResult),
    Offline(OfflineResult),
    Server(ServerResult),
    ServerSearch(RateSearch<ServerResult>),
}

/// A result's one figure, for a table: what it is, its value and unit, and whether the run
/// is compliant with the reasons it is not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    pub metric: String,
    /// `None` when there is no figure (a rate search where no rate passed).
    pub value: Option<f64>,
    pub unit: String,
    pub compliant: bool,
    pub notes: Vec<String>,
}

impl ScenarioResult {
    pub fn headline(&self) -> Headline {
        let latency = |p: f64, source: MetricSource, value: f64, v: &Validity| Headline {
            metric: match source {
                MetricSource::EarlyStopping => {
                    format!(
                        "{}th percentile latency, early-stopping estimate",
                        percent(p)
                    )
                }
                MetricSource::Percentile => format!("{}th percentile latency", percent(p)),
            },
            value: Some(value),
            unit: "ms".into(),
            compliant: v.compliant,
            notes: v.lines(),
        };
        match self {
            ScenarioResult::SingleStream(r) => latency(
                r.settings.percentile,
                r.metric_source,
                r.metric_ms,
                &r.validity,
            ),
            ScenarioResult::MultiStream(r) => latency(
                r.settings.percentile,
                r.metric_source,
                r.metric_ms,
                &r.validity,
            ),
            ScenarioResult::Offline(r) => Headline {
                metric: "throughput".into(),
                value: Some(r.samples_per_s),
                unit: "samples/s".into(),
                compliant: r.validity.compliant,
                notes: r.validity.lines(),
            },
            ScenarioResult::Server(r) => Headline {
                metric: format!(
                    "{}th percentile latency at {} queries/s",
                    percent(r.settings.percentile),
                    crate::fmt::sig(r.settings.target_qps)
                ),
                value: Some(r.percentile_ms),
                unit: "ms".into(),
                compliant: r.validity.compliant,
                notes: r.validity.lines(),
            },
            ScenarioResult::ServerSearch(s) => {
                let (compliant, mut notes) = match &s.best {
                    Some(b) => (b.validity.compliant && s.complete, b.validity.lines()),
                    None => (false, vec![]),
                };
                if s.best.is_none() {
                    notes.push("no rate kept the latency bound: raise --latency-bound-ms or lower --target-qps".into());
                } else if !s.complete {
                    notes.push(format!(
                        "the rate search stopped after {} runs before reaching its precision",
                        s.runs.len()
                    ));
                }
                Headline {
                    metric: "highest rate within the latency bound".into(),
                    value: s.best_qps,
                    unit: "queries/s".into(),
                    compliant,
                    notes,
                }
            }
        }
    }
}

/// Runs one scenario on a session whose inputs are set and which is warmed up; `on_rate`
/// gets each rate's run of a server search as it finishes.
pub fn run<C: Pacer>(
    session: &mut dyn Session,
    settings: &ScenarioSettings,
    clock: &C,
    on_rate: &mut dyn FnMut(&ServerResult),
    progress: &mut dyn FnMut(RunProgress),
) -> Result<ScenarioResult, ScenarioError> {
    Ok(match settings {
        ScenarioSettings::SingleStream(s) => {
            ScenarioResult::SingleStream(run_single_stream(session, s, clock, progress)?)
        }
        ScenarioSettings::MultiStream(s) => {
            ScenarioResult::MultiStream(run_multi_stream(session, s, clock, progress)?)
        }
        ScenarioSettings::Offline(s) => {
            ScenarioResult::Offline(run_offline(session, s, clock, progress)?)
        }
        ScenarioSettings::Server {
            server,
            search: None,
        } => ScenarioResult::Server(run_server(session, server, clock, false, progress)?),
        ScenarioSettings::Server {
            server,
            search: Some(search),
        } => ScenarioResult::ServerSearch(find_peak_qps(
            session, server, search, clock, on_rate, progress,
        )?),
    })
}

#[cfg(test)]
mod tests;
