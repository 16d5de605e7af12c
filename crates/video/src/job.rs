//! A whole `edgebench video` run in one call ([`run`]): the clip plan and preprocessing from
//! the model's input, the source opened, the memory the run needs checked against the limit,
//! telemetry opened, the engine prepared and warmed up, the stream run and analysed. The
//! caller parses arguments, loads the model, renders the [`VideoReport`] and writes its
//! exports.

use crate::clip::ModelPlan;
use crate::error::{PrepareError, Result, VideoError};
use crate::preprocess::{PreprocessConfig, Preprocessor};
use crate::queue::DropPolicy;
use crate::report::{analyse, Context, VideoReport, VideoSettings};
use crate::run::{run_stream, warm_up, Prediction, VideoRunOptions};
use crate::source::{open, OpenOptions, SourceSpec};
use edgebench_core::engine::{Engine, EngineSpec, PrepareOptions};
use edgebench_core::host::HostInfo;
use edgebench_core::memory::{self, Limit, Run};
use edgebench_core::model::Model;
use edgebench_core::schema::{ModelInfo, ToolInfo};
use edgebench_core::telemetry::Telemetry;
use edgebench_core::tensor::ConcreteSpec;
use std::sync::Arc;

/// What to run, with every setting as given or defaulted by the caller.
pub struct VideoJob<'a> {
    pub engine: &'a dyn Engine,
    pub spec: &'a EngineSpec,
    pub model: &'a Model,
    /// The model's inputs at their concrete shapes (batch 1).
    pub inputs: Vec<ConcreteSpec>,
    /// The report's `model`: `model` run with `inputs`, named as the caller names it
    /// (`edgebench_torch::source::describe`, or [`ModelInfo::new`]).
    pub model_info: ModelInfo,
    /// The source as given (`--input`), for messages and the report.
    pub input: &'a str,
    pub source: SourceSpec,
    pub open: OpenOptions,
    pub paced: bool,
    /// Frames between clip starts; `None`: the clip length.
    pub stride: Option<usize>,
    pub drop: DropPolicy,
    pub queue_depth: usize,
    /// End-to-end budget per clip; `None`: stride / fps.
    pub deadline_ms: Option<f64>,
    pub warmup_runs: usize,
    pub threads: usize,
    /// `--resize`, `--mean`, `--std` as given.
    pub resize: Option<&'a str>,
    pub mean: Option<&'a str>,
    pub std: Option<&'a str>,
    /// Class names, and the file they came from as the report records it.
    pub labels: Option<(Vec<String>, String)>,
    pub seed: u64,
    pub memory: Limit,
    pub tool: ToolInfo,
}

/// Where a [`run`] is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum VideoEvent<'p> {
    Preparing,
    WarmingUp,
    Streaming { paced: bool },
    Clip(&'p Prediction),
}

/// Runs `job`. `open_telemetry` opens the device's sensors (and measures idle power) once
/// the run is known to fit, before the engine touches the device; `on_event` follows the
/// run. A stream that ends early is a report with `error` set, not an error: everything
/// measured before is kept.
pub fn run(
    job: VideoJob,
    open_telemetry: &mut dyn FnMut() -> Option<Arc<Telemetry>>,
    on_event: &mut dyn FnMut(VideoEvent),
) -> Result<VideoReport> {
    let plan = ModelPlan::from_inputs(&job.inputs)?;
    let pre = PreprocessConfig::for_plan(&plan, job.resize, job.mean, job.std)?;
    let stride = job.stride.unwrap_or(plan.frames);
    let source = open(&job.source, job.input, &job.open)?;
    let info = source.info().clone();
    // Refuses a run that could not fit in memory (the model's tensors, frames x clip length
    // x resolution, the queue) before the engine or the stream allocates any of it.
    let need = Run {
        extra: plan.buffers(info.width, info.height, job.queue_depth)?,
        ..Run::bench(job.spec, 1)
    };
    memory::check(
        job.model,
        &job.inputs,
        &[(job.spec.to_string(), need)],
        &job.memory,
    )?;
    // Refuses frames smaller than the crop before anything runs.
    Preprocessor::new(&pre, info.width as usize, info.height as usize, job.input)?;
    // Idle power is measured before the engine touches the device (as `bench` does); the
    // source is open by now, but ffmpeg blocks on its full pipe and costs nothing.
    let telemetry = open_telemetry();
    let deadline_ms = job
        .deadline_ms
        .unwrap_or(edgebench_core::realtime::deadline_ms(info.fps, stride));
    let (labels, labels_file) = job.labels.map_or((None, None), |(l, f)| (Some(l), Some(f)));
    let opts = VideoRunOptions {
        paced: job.paced,
        drop: job.drop,
        queue_depth: job.queue_depth,
        stride,
        deadline_ms,
        warmup_runs: job.warmup_runs,
        labels,
        telemetry,
    };

    on_event(VideoEvent::Preparing);
    let prepare = PrepareOptions {
        inputs: job.inputs.clone(),
        threads: Some(job.threads),
    };
    let mut session = job
        .engine
        .prepare(job.model, job.spec, &prepare)
        .map_err(|source| {
            VideoError::Prepare(Box::new(PrepareError {
                model: job.model.name.clone(),
                spec: job.spec.to_string(),
                source,
            }))
        })?;
    on_event(VideoEvent::WarmingUp);
    let first_run_ms = warm_up(session.as_mut(), &plan, &opts)?;
    on_event(VideoEvent::Streaming { paced: job.paced });
    let mut raw = run_stream(session.as_mut(), source, &pre, &plan, &opts, &mut |p| {
        on_event(VideoEvent::Clip(p))
    })?;
    raw.first_run_ms = first_run_ms;
    raw.check_measured(job.input, plan.frames)?;

    Ok(analyse(
        raw,
        Context {
            tool: job.tool,
            host: HostInfo::detect(),
            model: job.model_info,
            session: session.info(),
            source: info,
            settings: VideoSettings {
                engine: job.spec.to_string(),
                threads: Some(job.threads),
                paced: job.paced,
                stride,
                drop_policy: opts.drop,
                queue_depth: opts.queue_depth,
                deadline_ms,
                warmup_runs: opts.warmup_runs,
                preprocess: pre,
                clip: plan,
                labels: labels_file,
                seed: job.seed,
            },
        },
    ))
}
