//! The result document (`schema_version` 2), shared by every export. Documented in
//! `docs/schema.md`; CSV and Markdown are views of it.

use crate::engine::SessionInfo;
use crate::gate::Agreement;
use crate::host::HostInfo;
use crate::measure::{MeasureOptions, StopReason};
use crate::stats::{Outliers, Summary};
use crate::tensor::{ConcreteSpec, TensorSpec};
use edgebench_telemetry::Energy;
use serde::{Deserialize, Serialize};
use std::fmt;

pub mod study;

fn one() -> usize {
    1
}

/// A whole `edgebench bench` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub host: HostInfo,
    pub model: ModelInfo,
    pub settings: Settings,
    pub results: Vec<VariantResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    pub git_commit: String,
}

/// The model a document is about: the `model` of a bench, pipeline or video document and of a
/// study's `results.jsonl` line, one type for all of them. Every document writes every key, in
/// this order; what a document cannot know is `null`, never left out. Documents of schema
/// version 1 (a bench document without `label` ... `task` and the counts, a study line without
/// `path`, `opset`, `load_ms`, `declared_inputs` and `outputs`) still load: the missing counts
/// and facts are `None`, `path` and `source` stand in for each other and `label` is `path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ModelInfoKeys")]
pub struct ModelInfo {
    /// What reports call it: a study's label, else the zoo model's name, the PyTorch model's
    /// short name or the file's stem (`edgebench_torch::source::default_label`).
    pub label: String,
    /// The model argument as given (`bench MODEL`, `pipeline SOURCE`, `video MODEL`), or the
    /// study config's source.
    pub source: String,
    /// The study's task of the model; elsewhere the zoo's, `None` for files.
    pub task: Option<study::Task>,
    /// The path or `zoo:` spec loaded (`pipeline`: the exported model's).
    pub path: String,
    /// `None` when the model could not be loaded (a failed variant of a study).
    pub sha256: Option<String>,
    pub opset: Option<i64>,
    pub load_ms: Option<f64>,
    /// As declared by the model.
    pub declared_inputs: Option<Vec<TensorSpec>>,
    /// As run.
    pub inputs: Vec<ConcreteSpec>,
    pub outputs: Option<Vec<TensorSpec>>,
    /// Learnable parameters (`inspect`); `None` where tract cannot count them.
    pub params: Option<u64>,
    /// Multiply-accumulates per inference (one call, `batch` items).
    pub macs: Option<u64>,
    /// 2 x MACs.
    pub flops: Option<u64>,
    /// Bytes one inference moves at the run's input shapes: weights read once, every
    /// activation written once and read once (`inspect::bytes_moved`); a roofline's arithmetic
    /// intensity is `flops / bytes_moved`.
    pub bytes_moved: Option<u64>,
}

impl ModelInfo {
    /// The description of `model` as run with `inputs`, named by the model's own name (the
    /// argument as given) with no task; its parameters, MACs and FLOPs are counted by
    /// [`crate::inspect`], `None` where it cannot count them. `edgebench_torch::source::describe`
    /// names it as a study does.
    pub fn new(model: &crate::model::Model, inputs: Vec<ConcreteSpec>) -> ModelInfo {
        let counts = crate::inspect::inspect(model, &inputs).ok();
        let bytes_moved = crate::inspect::bytes_moved(model, &inputs)
            .ok()
            .map(|b| b.total());
        ModelInfo {
            label: model.name.clone(),
            source: model.name.clone(),
            task: None,
            path: model.name.clone(),
            sha256: Some(model.sha256.clone()),
            opset: Some(model.opset()),
            load_ms: Some(model.load_ms),
            declared_inputs: Some(model.inputs.clone()),
            inputs,
            outputs: Some(model.outputs.clone()),
            params: counts.as_ref().map(|c| c.params),
            macs: counts.as_ref().map(|c| c.macs),
            flops: counts.as_ref().map(|c| c.flops),
            bytes_moved,
        }
    }

    /// A model that could not be loaded: only where it comes from is known (`path` is its
    /// source).
    pub fn unloaded(label: &str, source: &str, task: Option<study::Task>) -> ModelInfo {
        ModelInfo {
            label: label.to_owned(),
            source: source.to_owned(),
            task,
            path: source.to_owned(),
            sha256: None,
            opset: None,
            load_ms: None,
            declared_inputs: None,
            inputs: vec![],
            outputs: None,
            params: None,
            macs: None,
            flops: None,
            bytes_moved: None,
        }
    }
}

/// [`ModelInfo`] as read: every key that one of the two schema-1 documents lacked has a
/// default.
#[derive(Deserialize)]
struct ModelInfoKeys {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    task: Option<study::Task>,
    #[serde(default)]
    path: Option<String>,
    sha256: Option<String>,
    #[serde(default)]
    opset: Option<i64>,
    #[serde(default)]
    load_ms: Option<f64>,
    #[serde(default)]
    declared_inputs: Option<Vec<TensorSpec>>,
    inputs: Vec<ConcreteSpec>,
    #[serde(default)]
    outputs: Option<Vec<TensorSpec>>,
    #[serde(default)]
    params: Option<u64>,
    #[serde(default)]
    macs: Option<u64>,
    #[serde(default)]
    flops: Option<u64>,
    #[serde(default)]
    bytes_moved: Option<u64>,
}

impl From<ModelInfoKeys> for ModelInfo {
    fn from(k: ModelInfoKeys) -> ModelInfo {
        let path = k.path.or_else(|| k.source.clone()).unwrap_or_default();
        ModelInfo {
            label: k.label.unwrap_or_else(|| path.clone()),
            source: k.source.unwrap_or_else(|| path.clone()),
            task: k.task,
            path,
            sha256: k.sha256,
            opset: k.opset,
            load_ms: k.load_ms,
            declared_inputs: k.declared_inputs,
            inputs: k.inputs,
            outputs: k.outputs,
            params: k.params,
            macs: k.macs,
            flops: k.flops,
            bytes_moved: k.bytes_moved,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub engines: Vec<String>,
    pub batch: usize,
    pub threads: Option<usize>,
    pub seed: u64,
    pub target_fps: f64,
    pub measure: MeasureOptions,
    /// Interleaved rounds the variants were measured in (`measure`'s limits are shared out
    /// over them).
    #[serde(default = "one")]
    pub rounds: usize,
    /// Input sets compared by the accuracy gate.
    pub gate_input_sets: usize,
    pub gate_enforced: bool,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// It ran, but its outputs disagree with the reference.
    GateFailed,
    /// It could not be prepared or run; see `error`.
    Failed,
    /// It ran, but the reference it is checked against did not, so its outputs are unchecked
    /// and it gets no speed-up; `error` says why.
    Unverified,
}

/// One engine variant's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantResult {
    pub engine: String,
    pub variant: String,
    /// The `--engine` spec as given, normalized.
    pub spec: String,
    pub status: Status,
    pub error: Option<String>,
    pub session: Option<SessionInfo>,
    pub prepare_ms: Option<f64>,
    pub first_run_ms: Option<f64>,
    pub warmup_runs: usize,
    /// Per inference (one call, `batch` items).
    pub latency_ms: Option<Summary>,
    /// Median latency divided by the batch size.
    pub per_item_ms: Option<f64>,
    /// Items per second at the median latency.
    pub throughput_per_s: Option<f64>,
    pub samples: usize,
    pub stop_reason: Option<StopReason>,
    pub outliers: Outliers,
    pub timer_overhead_ns: Option<f64>,
    pub speedup: Option<Speedup>,
    pub realtime: Option<Realtime>,
    pub accuracy: Option<Agreement>,
    pub warnings: Vec<Warning>,
    /// Power, energy, clocks and throttling over the sampling window (`docs/energy.md`);
    /// absent when telemetry was turned off or the variant did not run.
    #[serde(default)]
    pub energy: Option<Energy>,
    /// Every sample, in milliseconds, in the order taken.
    pub raw_ms: Vec<f64>,
    /// Sample counts of the interleaved rounds, in order: `raw_ms` is their concatenation.
    /// Empty means one round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<usize>,
    /// The MLPerf scenario run after the measurement (`bench --scenario`,
    /// `docs/scenarios.md`); absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<crate::scenario::ScenarioResult>,
}

impl VariantResult {
    /// A variant that could not be measured.
    pub fn failed(spec: &crate::engine::EngineSpec, error: String) -> VariantResult {
        VariantResult {
            engine: spec.engine.clone(),
            variant: spec.variant().unwrap_or("default").to_owned(),
            spec: spec.to_string(),
            status: Status::Failed,
            error: Some(error),
            session: None,
            prepare_ms: None,
            first_run_ms: None,
            warmup_runs: 0,
            latency_ms: None,
            per_item_ms: None,
            throughput_per_s: None,
            samples: 0,
            stop_reason: None,
            outliers: Outliers::default(),
            timer_overhead_ns: None,
            speedup: None,
            realtime: None,
            accuracy: None,
            warnings: vec![],
            energy: None,
            raw_ms: vec![],
            rounds: vec![],
            scenario: None,
        }
    }

    pub fn median_ms(&self) -> Option<f64> {
        self.latency_ms.as_ref().map(|s| s.median)
    }

    /// The samples of each interleaved round, in order (one slice when `rounds` is empty or
    /// does not add up to the samples).
    pub fn round_samples(&self) -> Vec<&[f64]> {
        if self.rounds.iter().sum::<usize>() != self.raw_ms.len() || self.rounds.len() < 2 {
            return vec![&self.raw_ms[..]];
        }
        let mut out = Vec::with_capacity(self.rounds.len());
        let mut rest = &self.raw_ms[..];
        for &n in &self.rounds {
            let (head, tail) = rest.split_at(n);
            out.push(head);
            rest = tail;
        }
        out
    }
}

/// Speed-up over the baseline variant: baseline median / this median.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speedup {
    pub baseline: String,
    /// With rounds: the geometric mean of the rounds' ratios of medians; with one round: the
    /// ratio of the medians.
    pub ratio: f64,
    /// 95% interval of the ratio: across rounds (Student's t on the log ratios) when both
    /// sides were measured in interleaved rounds, else a bootstrap of the two sample sets.
    /// Absent when either side has too few samples (or rounds) to say.
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
    /// (ratio - 1) * 100: the study's "speed improvement".
    pub percent: f64,
    pub verdict: Verdict,
    /// Where the interval comes from.
    #[serde(default)]
    pub method: IntervalMethod,
    /// Each paired round's ratio of medians (empty with one round).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub round_ratios: Vec<f64>,
    /// Why the interval is absent, wide or not to be trusted, each naming its fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<SpeedupWarning>,
}

impl Speedup {
    /// `2.31x [2.10, 2.55]`, or `2.31x [n/a]` without an interval.
    pub fn label(&self) -> String {
        match (self.ci95_low, self.ci95_high) {
            (Some(lo), Some(hi)) => format!("{:.2}x [{lo:.2}, {hi:.2}]", self.ratio),
            _ => format!("{:.2}x [n/a]", self.ratio),
        }
    }
}

/// How a speed-up's interval was obtained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// Across interleaved rounds (A B A B ...): covers run-to-run variation.
    Rounds,
    /// Bootstrap of one run of each side: covers only the noise within that run.
    #[default]
    Samples,
    /// No interval: too few samples or rounds.
    None,
}

/// A reason to doubt a speed-up, with its fix in the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SpeedupWarning {
    /// One side has fewer samples than the minimum: no interval.
    FewSamples {
        spec: String,
        samples: usize,
        min_samples: usize,
    },
    /// One round each: the interval covers the noise within one run, not between runs.
    OneRound,
    /// The rounds' ratios spread more than their own intervals allow (Cochran's Q).
    RoundsDisagree {
        q: f64,
        critical: f64,
        min_ratio: f64,
        max_ratio: f64,
    },
}

impl fmt::Display for SpeedupWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpeedupWarning::FewSamples { spec, samples, min_samples } => write!(
                f,
                "{spec} has {samples} sample(s), fewer than {min_samples}: the speed-up has no interval; raise --max-time"
            ),
            SpeedupWarning::OneRound => write!(
                f,
                "measured in one round: the interval ignores run-to-run variation; use --rounds 3 or more"
            ),
            SpeedupWarning::RoundsDisagree { min_ratio, max_ratio, .. } => write!(
                f,
                "the rounds disagree beyond their own intervals (ratios {min_ratio:.3} to {max_ratio:.3}): the machine's speed drifted; close other programs, pin clocks, or use more --rounds"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Faster,
    Slower,
    WithinNoise,
    /// Too few samples or rounds to say.
    Undetermined,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::WithinNoise => "within noise",
            Verdict::Undetermined => "undetermined",
        })
    }
}

/// Does it keep up with a target frame rate? Made by [`crate::realtime::judge`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Realtime {
    pub target_fps: f64,
    /// New frames one inference consumes: the batch for an image model, batch x clip stride
    /// for a video model (see [`crate::realtime`]).
    #[serde(default = "one")]
    pub frames_per_inference: usize,
    /// One inference's budget: the time its frames take to arrive, 1000 x
    /// frames_per_inference / target_fps.
    pub deadline_ms: f64,
    /// Median latency within the deadline.
    pub meets: bool,
    /// Share of samples over the deadline.
    pub miss_share: f64,
}

/// A reason not to trust a result, with the fix in its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    TooFewSamples {
        samples: usize,
    },
    CiNotReached {
        achieved_pct: f64,
        target_pct: f64,
    },
    HighVariation {
        cv_pct: f64,
    },
    SlowFirstRun {
        ratio: f64,
    },
    HarnessOverhead {
        overhead_pct: f64,
    },
    ManyOutliers {
        share_pct: f64,
    },
    /// The device slowed down while samples were taken (throttle reasons or falling clocks).
    Throttled {
        detail: String,
    },
    /// Consecutive samples are alike (drift, background load): the samples are not
    /// independent, so the interval of the median is too narrow.
    Autocorrelated {
        lag1: f64,
    },
    /// A Jetson board measured below its maximum performance (a power mode below the maximum,
    /// or jetson_clocks off; see `host.board`): its numbers are below what it can do.
    BoardNotAtMaxPerformance {
        /// What falls short: `power mode 5W (1), not the maximum MAXN (0); jetson_clocks is
        /// off (...)`.
        detail: String,
        /// The commands that fix it: `sudo nvpmodel -m 0 && sudo jetson_clocks`.
        fix: String,
    },
    /// The spec asked for a precision (`quant=int8`, `dtype=fp16`, `openvino:f16`) that the
    /// engine did not run, or ran in fewer than `core::precision::MIN_SHARE` of its compute
    /// kernels, as read from the engine itself (`core::precision`).
    PrecisionNotRun {
        asked: String,
        /// What most compute kernels ran in (`unknown` when the engine could not say).
        ran: String,
        /// Share of the compute kernels that ran in `asked`, in percent.
        share_pct: f64,
        /// The counts and where they come from.
        detail: String,
    },
    /// The variant's model was quantized with synthetic (random) calibration inputs: its
    /// speed is real, its accuracy on real data unknown.
    SyntheticCalibration,
}

/// Lag-1 autocorrelation above which samples are flagged as dependent. Independent samples of
/// n = 30 give |r| < 0.36 in 95% of runs (2 / sqrt(n)); 0.5 flags clear drift without crying
/// wolf on short runs.
pub const MAX_AUTOCORRELATION: f64 = 0.5;

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::TooFewSamples { samples } => write!(
                f,
                "only {samples} samples: statistics are rough; raise --max-time or lower --batch"
            ),
            Warning::CiNotReached { achieved_pct, target_pct } => write!(
                f,
                "the 95% confidence interval of the median is ±{achieved_pct:.2}%, wider than the ±{target_pct:.2}% target: raise --max-time, close other programs, or pin --threads"
            ),
            Warning::HighVariation { cv_pct } => write!(
                f,
                "high variation (coefficient of variation {cv_pct:.1}%): the machine is busy or throttling; close other programs and compare medians, not means"
            ),
            Warning::SlowFirstRun { ratio } => write!(
                f,
                "the first run was {ratio:.1}x slower than the median: count first_run_ms in start-up budgets; a longer --warmup keeps it out of the samples"
            ),
            Warning::HarnessOverhead { overhead_pct } => write!(
                f,
                "reading the clock costs {overhead_pct:.2}% of one inference: time larger units of work with --batch"
            ),
            Warning::ManyOutliers { share_pct } => write!(
                f,
                "{share_pct:.1}% of samples are outliers (Tukey fences; kept, not dropped): something else ran on the machine; rerun on an idle machine"
            ),
            Warning::Throttled { detail } => write!(
                f,
                "the device throttled while sampling ({detail}): its numbers are low; let it cool down, check its power limit and cooling, then rerun"
            ),
            Warning::Autocorrelated { lag1 } => write!(
                f,
                "consecutive samples are correlated (lag-1 autocorrelation {lag1:.2}): the machine's speed drifted while sampling, so the interval is too narrow; close other programs, pin clocks, or use more --rounds"
            ),
            Warning::BoardNotAtMaxPerformance { detail, fix } => write!(
                f,
                "the board is not in its maximum-performance mode ({detail}): its numbers are below what it can do; run `{fix}` and rerun"
            ),
            Warning::PrecisionNotRun { asked, ran, share_pct, detail } => {
                if asked == ran {
                    write!(f, "{asked} was asked but ran in only {share_pct:.0}% of the compute kernels")?;
                } else {
                    write!(f, "{asked} was asked but {ran} ran ({share_pct:.0}% of the compute kernels in {asked})")?;
                }
                write!(
                    f,
                    " ({detail}): the figures are not {asked}'s; check that the engine has {asked} kernels for these operators on this device, or use another engine"
                )
            }
            Warning::SyntheticCalibration => write!(
                f,
                "quantized with synthetic calibration (random inputs): the activation ranges say nothing about accuracy on real data; give calib=DIR with images like the ones the model will see"
            ),
        }
    }
}

impl BenchReport {
    /// Adds the warnings the host calls for (a Jetson below its maximum performance) to every
    /// variant that ran, once.
    pub fn add_host_warnings(&mut self) {
        let Some(w) = Warning::for_host(&self.host) else {
            return;
        };
        for r in &mut self.results {
            if r.status != Status::Failed && !r.warnings.contains(&w) {
                r.warnings.push(w.clone());
            }
        }
    }
}

impl Warning {
    /// The warning a host's state calls for: a Jetson board that is known not to be at its
    /// maximum performance (`board.max_performance == Some(false)`).
    pub fn for_host(host: &HostInfo) -> Option<Warning> {
        let board = host.board.as_ref()?;
        (board.max_performance == Some(false)).then(|| Warning::BoardNotAtMaxPerformance {
            detail: board.shortfall.clone().unwrap_or_default(),
            fix: board.fix.clone().unwrap_or_default(),
        })
    }

    /// Warnings for a finished measurement.
    pub fn assess(
        summary: &Summary,
        samples: usize,
        first_run_ms: f64,
        timer_overhead_ns: f64,
        outliers: &Outliers,
        target_rel_ci: f64,
    ) -> Vec<Warning> {
        let mut w = vec![];
        if samples < 10 {
            w.push(Warning::TooFewSamples { samples });
        }
        let rel = (summary.ci95_high - summary.ci95_low) / 2.0 / summary.median;
        if rel > target_rel_ci {
            w.push(Warning::CiNotReached {
                achieved_pct: rel * 100.0,
                target_pct: target_rel_ci * 100.0,
            });
        }
        if summary.cv > 0.10 {
            w.push(Warning::HighVariation {
                cv_pct: summary.cv * 100.0,
            });
        }
        if first_run_ms > 3.0 * summary.median {
            w.push(Warning::SlowFirstRun {
                ratio: first_run_ms / summary.median,
            });
        }
        let overhead = timer_overhead_ns / (summary.median * 1e6);
        if overhead > 0.01 {
            w.push(Warning::HarnessOverhead {
                overhead_pct: overhead * 100.0,
            });
        }
        let share = outliers.total() as f64 / samples.max(1) as f64;
        if share > 0.05 {
            w.push(Warning::ManyOutliers {
                share_pct: share * 100.0,
            });
        }
        if let Some(r) = summary.autocorr_lag1.filter(|r| *r > MAX_AUTOCORRELATION) {
            w.push(Warning::Autocorrelated { lag1: r });
        }
        w
    }
}
