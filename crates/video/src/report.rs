//! The result of a video run: per-stage statistics (the same [`edgebench_core::stats`] as
//! `bench`), paced real-time figures, throughput, the verdict and warnings. A plain data
//! document; views live in [`crate::export`] and the CLI.

use crate::clip::ModelPlan;
use crate::preprocess::PreprocessConfig;
use crate::queue::DropPolicy;
use crate::run::{Prediction, RawRun};
use crate::source::SourceInfo;
use edgebench_core::engine::SessionInfo;
use edgebench_core::host::HostInfo;
use edgebench_core::schema::{ModelInfo, ToolInfo};
use edgebench_core::stats::{self, Outliers, Summary};
use edgebench_core::telemetry::Energy;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The most clips that may miss the deadline in a run that still keeps up.
pub const MAX_MISS_SHARE: f64 = 0.05;
/// Fewer predicted clips than this makes the statistics rough.
pub const MIN_CLIPS: usize = 10;

/// A frame rate without needless decimals: 30, 29.97.
pub fn fps_text(fps: f64) -> String {
    let s = format!("{fps:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Decode,
    Preprocess,
    Assemble,
    QueueWait,
    Transfer,
    Inference,
    Postprocess,
    EndToEnd,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Decode,
        Stage::Preprocess,
        Stage::Assemble,
        Stage::QueueWait,
        Stage::Transfer,
        Stage::Inference,
        Stage::Postprocess,
        Stage::EndToEnd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Preprocess => "preprocess",
            Stage::Assemble => "assemble",
            Stage::QueueWait => "queue wait",
            Stage::Transfer => "transfer",
            Stage::Inference => "inference",
            Stage::Postprocess => "postprocess",
            Stage::EndToEnd => "end to end",
        }
    }

    /// What one sample covers.
    pub fn unit(self) -> &'static str {
        match self {
            Stage::Decode | Stage::Preprocess => "frame",
            _ => "clip",
        }
    }
}

/// Statistics of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageStats {
    pub stage: Stage,
    /// `frame` or `clip`.
    pub per: String,
    pub count: usize,
    pub latency_ms: Option<Summary>,
    pub outliers: Outliers,
    pub raw_ms: Vec<f64>,
}

/// Real-time figures of a paced run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paced {
    pub drop_policy: DropPolicy,
    pub queue_depth: usize,
    pub deadline_ms: f64,
    /// Predicted clips whose end-to-end latency exceeded the deadline.
    pub deadline_misses: usize,
    /// Misses / predicted clips.
    pub miss_share: f64,
    pub dropped_clips: usize,
    /// Mean absolute difference of consecutive end-to-end latencies (RFC 3550 style).
    pub jitter_ms: f64,
    /// Frames released more than one frame interval after their due time (the decoder or the
    /// machine could not keep up with the source by itself).
    pub late_frames: usize,
    /// How late frames were released relative to the source clock.
    pub release_lateness_ms: Option<Summary>,
    /// Most clips waiting at once.
    pub max_queue_len: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub source_fps: f64,
    /// One clip's share of time: stride / fps.
    pub clip_budget_ms: f64,
    /// Frames per second the model alone could cover: stride / median inference.
    pub model_only_fps: Option<f64>,
    /// Frames read through the whole pipeline per second of wall time (unpaced: the
    /// sustained throughput).
    pub pipeline_fps: f64,
    /// Frames covered by predicted clips per second of wall time: predicted x stride / wall.
    /// Paced, this is the part of the source rate that gets labelled.
    pub labelled_fps: f64,
    /// Predictions per second of wall time.
    pub predictions_per_s: f64,
    pub wall_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Paced: drops and deadline misses observed at the source rate.
    Paced,
    /// Unpaced: sustained pipeline throughput against the source rate.
    Throughput,
}

/// Does the pipeline keep up with the source, and by how much?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaceVerdict {
    pub keeps_up: bool,
    pub basis: Basis,
    /// Above 1: headroom (how many times faster than needed); below 1: the pipeline must get
    /// 1 / factor times faster. Paced: clip budget / work per clip of the slower thread.
    /// Unpaced: pipeline fps / source fps.
    pub factor: f64,
    pub source_fps: f64,
    pub clip_budget_ms: f64,
    /// Median work per clip of the busier thread (frame thread: stride x (decode +
    /// preprocess) + assemble; inference thread: transfer + inference + postprocess).
    pub work_per_clip_ms: f64,
    pub pipeline_fps: f64,
    pub predicted: usize,
    pub dropped: usize,
    pub deadline_misses: usize,
    pub deadline_ms: f64,
}

impl fmt::Display for PaceVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fps = fps_text(self.source_fps);
        if self.predicted == 0 {
            return write!(
                f,
                "no verdict for {fps} fps: no clip was predicted ({} dropped)",
                self.dropped
            );
        }
        let how = if self.factor >= 1.0 {
            format!("{:.2}x headroom", self.factor)
        } else {
            format!("needs to be {:.2}x faster", 1.0 / self.factor.max(1e-9))
        };
        let head = if self.keeps_up {
            "keeps up with"
        } else {
            "does not keep up with"
        };
        match self.basis {
            Basis::Paced => write!(
                f,
                "{head} {fps} fps: {how} (about {:.1} ms of work per clip against a {:.1} ms budget); {} of {} clips dropped, {} of {} over the {:.1} ms deadline",
                self.work_per_clip_ms,
                self.clip_budget_ms,
                self.dropped,
                self.dropped + self.predicted,
                self.deadline_misses,
                self.predicted,
                self.deadline_ms
            ),
            Basis::Throughput => write!(
                f,
                "{head} {fps} fps: the whole pipeline runs at {:.1} fps, {how}",
                self.pipeline_fps
            ),
        }
    }
}

/// A reason not to trust a result, with the fix in its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VideoWarning {
    FewClips {
        clips: usize,
    },
    DecoderMessages {
        message: String,
    },
    FewerFramesThanDeclared {
        decoded: u64,
        declared: u64,
    },
    LateFrames {
        late: usize,
        frames: u64,
    },
    HighVariation {
        stage: Stage,
        cv_pct: f64,
    },
    /// Throttle reasons fired or clocks fell during the run (`energy.throttle`).
    Throttled {
        detail: String,
    },
}

impl fmt::Display for VideoWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VideoWarning::FewClips { clips } => write!(
                f,
                "only {clips} clips were predicted: statistics are rough; use a longer input (--duration, --max-frames) or a smaller --stride"
            ),
            VideoWarning::DecoderMessages { message } => write!(
                f,
                "the decoder reported: {message}; the file may be truncated or damaged: check it with `ffmpeg -v error -i FILE -f null -`"
            ),
            VideoWarning::FewerFramesThanDeclared { decoded, declared } => write!(
                f,
                "decoded {decoded} frames but the file declares {declared}: it may be truncated; check it with `ffmpeg -v error -i FILE -f null -`"
            ),
            VideoWarning::LateFrames { late, frames } => write!(
                f,
                "{late} of {frames} frames were released more than one frame interval late: decoding alone cannot keep up with the source rate here; use a smaller source resolution or a lighter codec"
            ),
            VideoWarning::HighVariation { stage, cv_pct } => write!(
                f,
                "{} times vary a lot (coefficient of variation {cv_pct:.1}%): the machine is busy or throttling; close other programs and compare medians",
                stage.name()
            ),
            VideoWarning::Throttled { detail } => write!(
                f,
                "the device throttled during the run ({detail}): its numbers are low; let it cool down, check its power limit and cooling, then rerun"
            ),
        }
    }
}

/// Settings of the run, as given or defaulted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoSettings {
    pub engine: String,
    pub threads: Option<usize>,
    pub paced: bool,
    pub stride: usize,
    pub drop_policy: DropPolicy,
    pub queue_depth: usize,
    pub deadline_ms: f64,
    pub warmup_runs: usize,
    pub preprocess: PreprocessConfig,
    pub clip: ModelPlan,
    pub labels: Option<String>,
    pub seed: u64,
}

/// The whole document written by `--json` and `--export-json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoReport {
    pub schema_version: u32,
    /// Always `video`: tells this document from a bench report.
    pub kind: String,
    pub tool: ToolInfo,
    pub host: HostInfo,
    pub model: ModelInfo,
    pub session: SessionInfo,
    pub source: SourceInfo,
    pub settings: VideoSettings,
    pub frames: u64,
    pub clips: usize,
    pub predicted: usize,
    pub dropped: usize,
    /// The first warm-up inference, before the stream starts: a start-up cost.
    pub first_run_ms: f64,
    pub stages: Vec<StageStats>,
    pub paced: Option<Paced>,
    pub throughput: Throughput,
    pub verdict: PaceVerdict,
    pub warnings: Vec<VideoWarning>,
    /// False when the stream ended early; `error` says why.
    pub complete: bool,
    pub error: Option<String>,
    /// Power, energy per clip (`energy.total.energy_per_inference_j`), FPS per watt and
    /// throttling over the whole run (`energy.window.kind = "pipeline"`, the span of
    /// `throughput.wall_s`); `null` with `--no-telemetry`. A missing power sensor gives
    /// `energy.total = null` and the reason in `energy.total_na`.
    #[serde(default)]
    pub energy: Option<Energy>,
    /// Joules per frame covered by a predicted clip (energy / (predicted x stride)), the
    /// inverse of FPS per watt; `null` without an energy total.
    #[serde(default)]
    pub energy_per_frame_j: Option<f64>,
    pub predictions: Vec<Prediction>,
}

/// Everything around the run that the report records.
pub struct Context {
    pub tool: ToolInfo,
    pub host: HostInfo,
    pub model: ModelInfo,
    pub session: SessionInfo,
    pub source: SourceInfo,
    pub settings: VideoSettings,
}

fn stage(stage: Stage, raw: &[f64], seed: u64) -> StageStats {
    StageStats {
        stage,
        per: stage.unit().into(),
        count: raw.len(),
        latency_ms: stats::summarize(raw, seed),
        outliers: if raw.is_empty() {
            Outliers::default()
        } else {
            stats::tukey_outliers(raw)
        },
        raw_ms: raw.to_vec(),
    }
}

fn median_or_zero(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        stats::median(v)
    }
}

/// Turns raw timings into the report.
pub fn analyse(raw: RawRun, ctx: Context) -> VideoReport {
    let s = &ctx.settings;
    let seed = s.seed;
    let fps = ctx.source.fps;
    let stride = s.stride;
    let samples: [(Stage, &Vec<f64>); 8] = [
        (Stage::Decode, &raw.decode_ms),
        (Stage::Preprocess, &raw.preprocess_ms),
        (Stage::Assemble, &raw.assemble_ms),
        (Stage::QueueWait, &raw.queue_wait_ms),
        (Stage::Transfer, &raw.transfer_ms),
        (Stage::Inference, &raw.inference_ms),
        (Stage::Postprocess, &raw.postprocess_ms),
        (Stage::EndToEnd, &raw.end_to_end_ms),
    ];
    let stages: Vec<StageStats> = samples.iter().map(|(st, v)| stage(*st, v, seed)).collect();
    let predicted = raw.predictions.iter().filter(|p| !p.dropped).count();
    let dropped = raw.predictions.len() - predicted;
    // One clip's budget: the time its `stride` new frames take to arrive (core's real-time rule).
    let clip_budget_ms = edgebench_core::realtime::deadline_ms(fps, stride);
    let wall = raw.wall_s.max(1e-9);
    let inference_median = (!raw.inference_ms.is_empty()).then(|| stats::median(&raw.inference_ms));
    let throughput = Throughput {
        source_fps: fps,
        clip_budget_ms,
        model_only_fps: inference_median.map(|m| stride as f64 * 1e3 / m),
        pipeline_fps: raw.frames as f64 / wall,
        labelled_fps: (predicted * stride) as f64 / wall,
        predictions_per_s: predicted as f64 / wall,
        wall_s: raw.wall_s,
    };
    let frame_thread = stride as f64
        * (median_or_zero(&raw.decode_ms) + median_or_zero(&raw.preprocess_ms))
        + median_or_zero(&raw.assemble_ms);
    let inference_thread = median_or_zero(&raw.transfer_ms)
        + median_or_zero(&raw.inference_ms)
        + median_or_zero(&raw.postprocess_ms);
    let work = frame_thread.max(inference_thread);
    let misses = raw
        .predictions
        .iter()
        .filter(|p| p.deadline_missed == Some(true))
        .count();
    let interval_ms = 1e3 / fps;
    let late_frames = raw
        .release_lateness_ms
        .iter()
        .filter(|&&l| l > interval_ms)
        .count();
    let paced = s.paced.then(|| Paced {
        drop_policy: s.drop_policy,
        queue_depth: s.queue_depth,
        deadline_ms: s.deadline_ms,
        deadline_misses: misses,
        miss_share: misses as f64 / predicted.max(1) as f64,
        dropped_clips: dropped,
        jitter_ms: if raw.end_to_end_ms.len() > 1 {
            raw.end_to_end_ms
                .windows(2)
                .map(|w| (w[1] - w[0]).abs())
                .sum::<f64>()
                / (raw.end_to_end_ms.len() - 1) as f64
        } else {
            0.0
        },
        late_frames,
        release_lateness_ms: stats::summarize(&raw.release_lateness_ms, seed),
        max_queue_len: raw.max_queue_len,
    });
    let verdict = if s.paced {
        let keeps_up = predicted > 0
            && dropped == 0
            && misses as f64 <= MAX_MISS_SHARE * predicted as f64
            && late_frames as f64 <= MAX_MISS_SHARE * raw.frames as f64;
        PaceVerdict {
            keeps_up,
            basis: Basis::Paced,
            factor: if work > 0.0 {
                clip_budget_ms / work
            } else {
                0.0
            },
            source_fps: fps,
            clip_budget_ms,
            work_per_clip_ms: work,
            pipeline_fps: throughput.pipeline_fps,
            predicted,
            dropped,
            deadline_misses: misses,
            deadline_ms: s.deadline_ms,
        }
    } else {
        let factor = if predicted > 0 {
            throughput.pipeline_fps / fps
        } else {
            0.0
        };
        PaceVerdict {
            keeps_up: predicted > 0 && factor >= 1.0,
            basis: Basis::Throughput,
            factor,
            source_fps: fps,
            clip_budget_ms,
            work_per_clip_ms: work,
            pipeline_fps: throughput.pipeline_fps,
            predicted,
            dropped,
            deadline_misses: 0,
            deadline_ms: s.deadline_ms,
        }
    };

    let mut warnings = vec![];
    if predicted < MIN_CLIPS {
        warnings.push(VideoWarning::FewClips { clips: predicted });
    }
    for message in &raw.diagnostics {
        warnings.push(VideoWarning::DecoderMessages {
            message: message.clone(),
        });
    }
    if let Some(declared) = ctx.source.declared_frames {
        let expected = ctx.source.frame_limit.map_or(declared, |l| l.min(declared));
        if raw.error.is_none() && raw.frames < expected {
            warnings.push(VideoWarning::FewerFramesThanDeclared {
                decoded: raw.frames,
                declared: expected,
            });
        }
    }
    if s.paced && late_frames as f64 > 0.01 * raw.frames as f64 {
        warnings.push(VideoWarning::LateFrames {
            late: late_frames,
            frames: raw.frames,
        });
    }
    if let Some(e) = raw.energy.as_ref().filter(|e| crate::energy::throttled(e)) {
        warnings.push(VideoWarning::Throttled {
            detail: e.throttle.detail.clone(),
        });
    }
    for st in &stages {
        if matches!(st.stage, Stage::Inference) && st.count >= 3 {
            if let Some(sum) = &st.latency_ms {
                if sum.cv > 0.10 {
                    warnings.push(VideoWarning::HighVariation {
                        stage: st.stage,
                        cv_pct: sum.cv * 100.0,
                    });
                }
            }
        }
    }
    VideoReport {
        schema_version: edgebench_core::SCHEMA_VERSION,
        kind: "video".into(),
        tool: ctx.tool,
        host: ctx.host,
        model: ctx.model,
        session: ctx.session,
        source: ctx.source,
        settings: ctx.settings,
        frames: raw.frames,
        clips: raw.predictions.len(),
        predicted,
        dropped,
        first_run_ms: raw.first_run_ms,
        stages,
        paced,
        throughput,
        verdict,
        warnings,
        complete: raw.error.is_none(),
        error: raw.error,
        energy_per_frame_j: raw
            .energy
            .as_ref()
            .and_then(|e| crate::energy::energy_per_frame_j(e, predicted * stride)),
        energy: raw.energy,
        predictions: raw.predictions,
    }
}
