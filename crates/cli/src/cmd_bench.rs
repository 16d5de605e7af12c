//! `edgebench bench MODEL --engine SPEC...`.

use crate::cmd_inspect::parse_shape;
use crate::source::{self, ZooFlags};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use edgebench_core::bench::{finish, run_variant, BenchOptions, VariantRun};
use edgebench_core::engine::{Availability, Engine, EngineSpec};
use edgebench_core::gate::Tolerance;
use edgebench_core::host::HostInfo;
use edgebench_core::measure::{MeasureOptions, Progress};
use edgebench_core::model::ShapeRequest;
use edgebench_core::schema::{BenchReport, ModelInfo, Settings, Status};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// An ONNX file, or zoo:NAME for a built-in model (zoo:NAME?classes=2&batch=4).
    pub model: String,
    /// Engine variant to measure, NAME[:VARIANT][,KEY=VALUE...] (repeatable; see `edgebench
    /// engines`). The first is the baseline of the speed-ups.
    #[arg(long = "engine", short = 'e', value_name = "SPEC", default_values_t = ["tract:reference".to_string(), "tract:optimized".to_string()])]
    pub engines: Vec<String>,
    /// Size of dynamic dimensions, trtexec style: --shape input:1x3x224x224 (repeatable).
    #[arg(long = "shape", value_name = "NAME:DIMS", value_parser = parse_shape)]
    pub shapes: Vec<(String, Vec<usize>)>,
    /// Batch size (a dynamic first dimension, or a zoo model's batch).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
    /// Number of classes of a zoo model.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub classes: Option<u32>,
    /// Threads every engine may use (default: the number of physical cores), so that engines
    /// are compared like for like; each result records what its engine used.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Seed of the random inputs; the same seed gives the same inputs on every engine.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Warm-up time in seconds (at least --min-warmup-runs runs).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub warmup: f64,
    #[arg(long, default_value_t = 3)]
    pub min_warmup_runs: usize,
    /// Fewest samples before the confidence target may stop sampling.
    #[arg(long, default_value_t = 10)]
    pub min_samples: usize,
    #[arg(long, default_value_t = 10_000)]
    pub max_samples: usize,
    /// Most seconds of sampling per variant.
    #[arg(long, default_value_t = 20.0, value_name = "SECONDS")]
    pub max_time: f64,
    /// Stop when the 95% CI of the median is within this many percent of the median.
    #[arg(long, default_value_t = 1.0, value_name = "PERCENT")]
    pub target_ci: f64,
    /// Real-time target in frames per second.
    #[arg(long, default_value_t = 30.0)]
    pub fps: f64,
    /// Variant whose outputs the accuracy gate compares against (default: the first).
    #[arg(long, value_name = "SPEC")]
    pub reference: Option<String>,
    /// Random input sets the accuracy gate compares.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub gate_inputs: u32,
    /// Absolute tolerance of the accuracy gate (overrides the per-precision default).
    #[arg(long)]
    pub atol: Option<f64>,
    /// Relative tolerance of the accuracy gate (overrides the per-precision default).
    #[arg(long)]
    pub rtol: Option<f64>,
    /// Report accuracy-gate failures without failing the command (exit 0 instead of 1).
    #[arg(long)]
    pub no_gate: bool,
    /// Print one JSON document on stdout and nothing else.
    #[arg(long)]
    pub json: bool,
    /// Write the JSON document (raw samples included) to FILE.
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,
    /// Write one CSV row per variant to FILE.
    #[arg(long, value_name = "FILE")]
    pub export_csv: Option<PathBuf>,
    /// Write a Markdown table to FILE.
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(a: BenchArgs) -> Result<ExitCode> {
    check_numbers(&a)?;
    // Everything that can be checked before measuring is checked first.
    let specs = a
        .engines
        .iter()
        .map(|s| EngineSpec::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut engines: Vec<Box<dyn Engine>> = Vec::with_capacity(specs.len());
    for spec in &specs {
        let engine = edgebench_engines::find(&spec.engine)?;
        engine.validate(spec)?;
        match engine.availability() {
            Availability::Available { .. } => {}
            Availability::Unavailable { reason, fix } => {
                bail!("engine {spec} is not available: {reason}; {fix}")
            }
            Availability::NotCompiled { feature } => {
                bail!("engine {spec} is not compiled into this build: rebuild with `cargo build --release --features {feature}`")
            }
        }
        engines.push(engine);
    }
    let reference = match &a.reference {
        None => 0,
        Some(r) => {
            let r = EngineSpec::parse(r)?;
            specs.iter().position(|s| *s == r).ok_or_else(|| {
                anyhow!(
                    "--reference {r}: not one of the --engine variants ({})",
                    a.engines.join(", ")
                )
            })?
        }
    };
    for path in [&a.export_json, &a.export_csv, &a.export_markdown]
        .into_iter()
        .flatten()
    {
        check_writable(path)?;
    }

    let batch = a.batch.map(|b| b as usize);
    let model = source::load(
        &a.model,
        ZooFlags {
            classes: a.classes.map(|c| c as usize),
            batch,
        },
    )?;
    let inputs = model.resolve_inputs(&ShapeRequest {
        shapes: a.shapes.clone(),
        batch,
    })?;
    let measure = MeasureOptions {
        warmup_s: a.warmup,
        min_warmup_runs: a.min_warmup_runs.max(1),
        min_samples: a.min_samples,
        max_samples: a.max_samples.max(1),
        max_time_s: a.max_time,
        target_rel_ci: a.target_ci / 100.0,
    };
    let opts = BenchOptions {
        batch: inputs
            .first()
            .and_then(|i| i.shape.first().copied())
            .unwrap_or(1),
        inputs: inputs.clone(),
        threads: Some(
            a.threads
                .map(|t| t as usize)
                .unwrap_or_else(edgebench_core::bench::default_threads),
        ),
        seed: a.seed,
        measure: measure.clone(),
        target_fps: a.fps,
        gate_input_sets: a.gate_inputs as usize,
    };
    let tolerance = match (a.atol, a.rtol) {
        (None, None) => None,
        (atol, rtol) => {
            let base = Tolerance::for_precision("f32");
            Some(Tolerance {
                atol: atol.unwrap_or(base.atol),
                rtol: rtol.unwrap_or(base.rtol),
                ..base
            })
        }
    };
    let mut report = BenchReport {
        schema_version: edgebench_core::SCHEMA_VERSION,
        tool: crate::tool_info(),
        host: HostInfo::detect(),
        model: ModelInfo {
            path: model.name.clone(),
            sha256: model.sha256.clone(),
            opset: model.opset(),
            load_ms: model.load_ms,
            declared_inputs: model.inputs.clone(),
            inputs,
            outputs: model.outputs.clone(),
        },
        settings: Settings {
            engines: specs.iter().map(|s| s.to_string()).collect(),
            batch: opts.batch,
            threads: opts.threads,
            seed: a.seed,
            target_fps: a.fps,
            measure,
            gate_input_sets: opts.gate_input_sets,
            gate_enforced: !a.no_gate,
            reference: a.reference.clone(),
        },
        results: vec![],
    };

    let mut runs: Vec<VariantRun> = Vec::with_capacity(specs.len());
    for (i, (spec, engine)) in specs.iter().zip(&engines).enumerate() {
        let bar = progress_bar(a.quiet, &format!("[{}/{}] {spec}", i + 1, specs.len()));
        let run = run_variant(engine.as_ref(), &model, spec, &opts, &mut |p| show(&bar, p));
        bar.finish_and_clear();
        runs.push(run);
        // Write what has been measured so far, so an interrupted run keeps it.
        let mut partial = report.clone();
        partial.results = runs.iter().map(|r| r.result.clone()).collect();
        if partial.results.iter().any(|r| r.status != Status::Failed) {
            write_exports(&a, &partial)?;
        }
    }
    finish(&mut runs, reference, tolerance, a.seed);
    report.results = runs.into_iter().map(|r| r.result).collect();

    if let Some(first_error) = report
        .results
        .iter()
        .all(|r| r.status == Status::Failed)
        .then(|| report.results[0].error.clone())
        .flatten()
    {
        bail!("{first_error}");
    }
    write_exports(&a, &report)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", edgebench_report::table::bench_table(&report));
    }
    let gate_failed = report
        .results
        .iter()
        .any(|r| r.status == Status::GateFailed);
    if gate_failed && !a.no_gate {
        eprintln!("edgebench: the accuracy gate failed for at least one variant (its speed-up is not counted); --no-gate reports without failing");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn check_numbers(a: &BenchArgs) -> Result<()> {
    let positive = [
        ("--warmup", a.warmup, true),
        ("--max-time", a.max_time, false),
        ("--target-ci", a.target_ci, false),
        ("--fps", a.fps, false),
    ];
    for (flag, v, zero_ok) in positive {
        if !v.is_finite() || v < 0.0 || (!zero_ok && v == 0.0) {
            bail!(
                "{flag} {v}: must be a {} number",
                if zero_ok { "non-negative" } else { "positive" }
            );
        }
    }
    if a.min_samples > a.max_samples {
        bail!(
            "--min-samples {} is more than --max-samples {}: lower one of them",
            a.min_samples,
            a.max_samples
        );
    }
    Ok(())
}

/// Fails early (before measuring) when an export path cannot be written.
fn check_writable(path: &std::path::Path) -> Result<()> {
    if path.is_dir() {
        bail!(
            "cannot write {}: it is a directory; give a file name",
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write {}: folder {} does not exist; create it first",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

fn write_exports(a: &BenchArgs, report: &BenchReport) -> Result<()> {
    use edgebench_report::{csv_export::bench_csv, markdown::bench_markdown, write_atomic};
    if let Some(p) = &a.export_json {
        let json = serde_json::to_vec_pretty(report)?;
        write_atomic(p, &json).map_err(|e| anyhow!(e))?;
    }
    if let Some(p) = &a.export_csv {
        let csv = bench_csv(report)
            .map_err(|e| anyhow!(e))
            .context("rendering CSV")?;
        write_atomic(p, csv.as_bytes()).map_err(|e| anyhow!(e))?;
    }
    if let Some(p) = &a.export_markdown {
        write_atomic(p, bench_markdown(report).as_bytes()).map_err(|e| anyhow!(e))?;
    }
    Ok(())
}

fn progress_bar(quiet: bool, label: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(label.to_owned());
    bar.set_message("preparing");
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn show(bar: &ProgressBar, p: Progress) {
    match p {
        Progress::WarmingUp { runs, elapsed_s } => {
            bar.set_message(format!("warming up: {runs} runs, {elapsed_s:.1} s"))
        }
        Progress::Sampling {
            samples,
            elapsed_s,
            rel_ci,
        } => bar.set_message(format!(
            "sampling: {samples} samples, {elapsed_s:.1} s, CI ±{:.2}%",
            rel_ci * 100.0
        )),
    }
}
