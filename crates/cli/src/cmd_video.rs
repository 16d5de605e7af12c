//! `edgebench video MODEL --input SOURCE`: real-time video recognition, every stage measured.

use crate::shared::{check_writable, spinner, TelemetryArgs};
use crate::source::{self, ZooFlags};
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use edgebench_core::bench::default_threads;
use edgebench_core::engine::EngineSpec;
use edgebench_core::model::ShapeRequest;
use edgebench_video::export::{read_labels, Outputs};
use edgebench_video::job::{VideoEvent, VideoJob};
use edgebench_video::queue::DropPolicy;
use edgebench_video::source::{OpenOptions, SourceSpec};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DropArg {
    /// Keep only the newest --queue-depth waiting clips; older ones are dropped.
    Oldest,
    /// Keep every clip: none is dropped, latency grows when inference is too slow.
    Queue,
}

#[derive(Debug, Args)]
pub struct VideoArgs {
    /// A clip model (input 1x3xTxHxW) or image model (1x3xHxW): an ONNX file or zoo:NAME.
    pub model: String,
    /// A video file (decoded by ffmpeg), a folder of PNG/JPEG frames in name order, or
    /// synthetic:WxH@FPS (a generated moving pattern).
    #[arg(long, short = 'i', value_name = "SOURCE")]
    pub input: String,
    /// Engine variant, NAME[:VARIANT][,KEY=VALUE...] (see `edgebench engines`).
    #[arg(
        long,
        short = 'e',
        value_name = "SPEC",
        default_value = "tract:optimized"
    )]
    pub engine: String,
    /// Release frames at the source frame rate, as a camera does, and report end-to-end
    /// latency, deadline misses, dropped clips and jitter. Without it the pipeline runs as
    /// fast as it can, decoding on one thread while inference runs on another.
    #[arg(long)]
    pub paced: bool,
    /// Frames between the starts of consecutive clips (default: the clip length T, so clips
    /// do not overlap; 1 for image models).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub stride: Option<u32>,
    /// Paced: what happens to clips that arrive while inference is busy.
    #[arg(long, value_enum, default_value_t = DropArg::Oldest)]
    pub drop: DropArg,
    /// Clips that may wait for inference (paced with --drop oldest; unpaced, before decoding
    /// waits).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub queue_depth: u32,
    /// Paced: end-to-end latency budget per clip in ms (default: stride / fps, the time
    /// until the next clip is complete).
    #[arg(long, value_name = "MS")]
    pub deadline: Option<f64>,
    /// Frame rate of the source: overrides the file's or the synthetic spec's rate; image
    /// folders default to 30.
    #[arg(long)]
    pub fps: Option<f64>,
    /// Read at most this many frames.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_frames: Option<u64>,
    /// Read at most this many seconds of the source (synthetic sources default to 10).
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Resize before the center crop: HEIGHTxWIDTH, or one number for the shorter side
    /// (default as torchvision: 128x171 for a 112 crop of video models, shorter side 256
    /// for a 224 crop of image models, both scaled with the crop).
    #[arg(long, value_name = "HxW|N")]
    pub resize: Option<String>,
    /// Per-channel mean, R,G,B on a 0-1 scale (default: torchvision's video models'
    /// 0.43216,0.394666,0.37645; ImageNet's for image models).
    #[arg(long, value_name = "R,G,B")]
    pub mean: Option<String>,
    /// Per-channel standard deviation (default: 0.22803,0.22145,0.216989 for video models;
    /// ImageNet's for image models).
    #[arg(long, value_name = "R,G,B")]
    pub std: Option<String>,
    /// Inferences before the stream starts.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub warmup: u32,
    /// Threads the engine may use (default: the number of physical cores, as `bench`); the
    /// frame thread runs beside them.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Number of classes of a zoo model.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub classes: Option<u32>,
    /// Size of dynamic dimensions: --shape input:1x3x16x112x112 (repeatable).
    #[arg(long = "shape", value_name = "NAME:DIMS", value_parser = ShapeRequest::parse_shape)]
    pub shapes: Vec<(String, Vec<usize>)>,
    /// Class names, one per line in class order (default: class indices).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Write one JSON line per clip (label, score, timestamps, latency, or dropped) to FILE.
    #[arg(long, value_name = "FILE")]
    pub predictions: Option<PathBuf>,
    /// Seed of the bootstrap confidence intervals.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Exit with 1 when the pipeline does not keep up with the source.
    #[arg(long)]
    pub fail_if_slow: bool,
    /// Print one JSON document on stdout and nothing else.
    #[arg(long)]
    pub json: bool,
    /// Write the JSON document (raw per-stage samples and every prediction) to FILE.
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,
    /// Write one CSV row per stage to FILE.
    #[arg(long, value_name = "FILE")]
    pub export_csv: Option<PathBuf>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
    /// Power, energy and throttling over the whole run (--energy-min-time does not apply:
    /// the source sets the run's length).
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub memory: crate::memory_args::MemoryArgs,
}

fn check_numbers(a: &VideoArgs) -> Result<()> {
    for (flag, v) in [
        ("--fps", a.fps),
        ("--deadline", a.deadline),
        ("--duration", a.duration),
    ] {
        if let Some(v) = v {
            if !v.is_finite() || v <= 0.0 {
                bail!("{flag} {v}: must be a positive number");
            }
        }
    }
    if a.fps.is_some_and(|f| f > 1000.0) {
        bail!("--fps {}: at most 1000", a.fps.unwrap_or_default());
    }
    Ok(())
}

pub fn run(a: VideoArgs) -> Result<ExitCode> {
    check_numbers(&a)?;
    a.telemetry.check()?;
    // The flag is shared with `bench`, where it lengthens sampling; say so rather than
    // ignore a value someone chose.
    if a.telemetry.energy_min_time
        != edgebench_core::telemetry::TelemetrySettings::default().min_time_s
        && !a.telemetry.no_telemetry
    {
        eprintln!("edgebench: note: --energy-min-time does not apply to video: the source sets the run's length (use --duration or --max-frames)");
    }
    let spec = EngineSpec::parse(&a.engine)?;
    let engine = edgebench_engines::ready(&spec)?;
    for (flag, path) in [
        ("--export-json", &a.export_json),
        ("--export-csv", &a.export_csv),
        ("--predictions", &a.predictions),
    ] {
        if let Some(p) = path {
            check_writable(flag, p)?;
        }
    }
    let labels = match &a.labels {
        Some(p) => Some((read_labels(p)?, p.display().to_string())),
        None => None,
    };
    let source = SourceSpec::parse(&a.input)?;
    let flags = ZooFlags {
        classes: a.classes.map(|c| c as usize),
        batch: None,
    };
    let model = source::load(&a.model, flags)?;
    let inputs = model.resolve_inputs(&ShapeRequest {
        shapes: a.shapes.clone(),
        batch: Some(1),
    })?;
    let job = VideoJob {
        engine: engine.as_ref(),
        spec: &spec,
        model: &model,
        model_info: edgebench_torch::source::describe(&a.model, &model, inputs.clone()),
        inputs,
        input: &a.input,
        source,
        open: OpenOptions {
            fps: a.fps,
            max_frames: a.max_frames,
            duration_s: a.duration,
        },
        paced: a.paced,
        stride: a.stride.map(|s| s as usize),
        drop: match a.drop {
            DropArg::Oldest => DropPolicy::Oldest,
            DropArg::Queue => DropPolicy::Queue,
        },
        queue_depth: a.queue_depth as usize,
        deadline_ms: a.deadline,
        warmup_runs: a.warmup as usize,
        threads: a.threads.map_or_else(default_threads, |t| t as usize),
        resize: a.resize.as_deref(),
        mean: a.mean.as_deref(),
        std: a.std.as_deref(),
        labels,
        seed: a.seed,
        memory: a.memory.limit(),
        tool: crate::tool_info(),
    };
    let mut bar = spinner(true, "");
    let (mut done, mut dropped) = (0u64, 0u64);
    let report =
        edgebench_video::job::run(job, &mut || a.telemetry.open(a.quiet), &mut |e| match e {
            VideoEvent::Preparing => {
                bar = spinner(a.quiet, &format!("{} on {spec}", model.name));
                bar.set_message("preparing");
            }
            VideoEvent::WarmingUp => bar.set_message("warming up"),
            VideoEvent::Streaming { paced } => bar.set_message(match paced {
                true => "streaming (paced)",
                false => "streaming",
            }),
            VideoEvent::Clip(p) => {
                if p.dropped {
                    dropped += 1;
                } else {
                    done += 1;
                }
                bar.set_message(edgebench_video::view::clip_progress(p, done, dropped));
            }
        });
    bar.finish_and_clear();
    let report = report?;
    let outputs = Outputs {
        json: a.export_json.as_deref(),
        csv: a.export_csv.as_deref(),
        predictions: a.predictions.as_deref(),
    };
    edgebench_video::export::write(&report, &outputs)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", edgebench_video::view::terminal(&report));
    }
    if let Some(e) = edgebench_video::view::stopped(&report, &outputs) {
        bail!("{e}");
    }
    if a.fail_if_slow && !report.verdict.keeps_up {
        eprintln!(
            "edgebench: the pipeline does not keep up with the source ({:.2}x); --fail-if-slow makes this exit 1",
            report.verdict.factor
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
