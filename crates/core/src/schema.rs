//! The result document (`schema_version` 1), shared by every export. Documented in
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The path or `zoo:` spec as given.
    pub path: String,
    pub sha256: String,
    pub opset: i64,
    pub load_ms: f64,
    /// As declared by the model.
    pub declared_inputs: Vec<TensorSpec>,
    /// As run.
    pub inputs: Vec<ConcreteSpec>,
    pub outputs: Vec<TensorSpec>,
}

impl ModelInfo {
    /// The description of `model` as run with `inputs`.
    pub fn new(model: &crate::model::Model, inputs: Vec<ConcreteSpec>) -> ModelInfo {
        ModelInfo {
            path: model.name.clone(),
            sha256: model.sha256.clone(),
            opset: model.opset(),
            load_ms: model.load_ms,
            declared_inputs: model.inputs.clone(),
            inputs,
            outputs: model.outputs.clone(),
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
        }
    }

    pub fn median_ms(&self) -> Option<f64> {
        self.latency_ms.as_ref().map(|s| s.median)
    }
}

/// Speed-up over the baseline variant: baseline median / this median.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speedup {
    pub baseline: String,
    pub ratio: f64,
    /// 95% bootstrap interval of the ratio of medians (both sample sets resampled).
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// (ratio - 1) * 100: the study's "speed improvement".
    pub percent: f64,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Faster,
    Slower,
    WithinNoise,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::WithinNoise => "within noise",
        })
    }
}

/// Does it keep up with a target frame rate?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Realtime {
    pub target_fps: f64,
    /// One frame's budget: 1000 / target_fps, times the batch (a batch carries that many frames).
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
}

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
        }
    }
}

impl Warning {
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
        w
    }
}
