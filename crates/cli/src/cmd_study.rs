//! `edgebench study`: run a matrix of models x engine variants and write the study folder.

use crate::shared::{progress_text, TelemetryArgs};
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use edgebench_core::analysis;
use edgebench_core::schema::study::StudyConfig;
use edgebench_study::lock::StudyLock;
use edgebench_study::runner::{self, Event, RunOptions};
use edgebench_study::worker::JobTelemetry;
use edgebench_study::{config, plan, preset};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// The published study on this device: every zoo model, classification with a 2-class
    /// head, action recognition with a 4-class head; baseline PyTorch eager when available.
    Paper,
    /// The study's models on an NVIDIA GPU: PyTorch eager fp32 on CUDA as the baseline,
    /// PyTorch fp16 with CUDA graphs, tract on CUDA, and the optimized CPU engines.
    PaperGpu,
}

#[derive(Debug, Args)]
pub struct StudyArgs {
    /// Built-in study to run (the default when no --config is given).
    #[arg(long, value_enum, conflicts_with = "config")]
    pub preset: Option<Preset>,
    /// A study config file (TOML; see examples/study.toml and docs/study.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The study folder: results.jsonl, summary.json, results.csv, report.md, report.html.
    #[arg(long, default_value = "study-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Finish an interrupted study: skip what DIR/results.jsonl already holds.
    #[arg(long)]
    pub resume: bool,
    /// A short smoke run of the preset: three small models, well under a second of sampling
    /// per variant.
    #[arg(long, conflicts_with = "config")]
    pub quick: bool,
    /// Check the config and show the plan without measuring anything.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub memory: crate::memory_args::MemoryArgs,
}

pub fn run(a: StudyArgs) -> Result<ExitCode> {
    a.telemetry.check()?;
    let cfg: StudyConfig = match &a.config {
        Some(path) => config::load(path)?,
        None => match a.preset.unwrap_or(Preset::Paper) {
            Preset::Paper => preset::paper(a.quick),
            Preset::PaperGpu => preset::paper_gpu(a.quick),
        },
    };
    let mut cfg = cfg;
    export_pytorch_models(&mut cfg, &a.memory)?;
    let plan = plan::resolve(&cfg)?;
    if a.out.exists() && !a.out.is_dir() {
        bail!("--out {}: it is a file; give a folder", a.out.display());
    }
    // One writer per study folder, from here until its reports are written: a second study
    // (or `edgebench report`) on the same folder is refused and writes nothing. A dry run
    // writes nothing and takes no lock.
    let lock = if a.dry_run {
        None
    } else {
        Some(StudyLock::acquire(&a.out, "edgebench study")?)
    };
    // Refuse a folder that holds another study before anything runs.
    runner::open_dir(&a.out, a.resume, &cfg)?;

    eprintln!(
        "edgebench study `{}`: {} models, {} jobs ({} interleaved round(s) per variant), into {}",
        cfg.name,
        plan.models.len(),
        plan.jobs.len(),
        cfg.measure.rounds.max(1),
        a.out.display()
    );
    eprintln!("  {}", plan.baseline_note);
    eprintln!("  optimized variants: {}", plan.variants.join(", "));
    if plan.reference != plan.baseline {
        eprintln!("  accuracy gate reference: {}", plan.reference);
    }
    for n in &plan.notes {
        eprintln!("  note: {n}");
    }
    if a.dry_run {
        for j in &plan.jobs {
            println!("{}", j.key);
        }
        return Ok(ExitCode::SUCCESS);
    }

    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find the edgebench binary to start workers: {e}"))?;
    let mut worker_args = vec![];
    let libs = edgebench_engines::library_paths();
    if let Some(p) = libs.ort {
        worker_args.push("--ort-lib".to_owned());
        worker_args.push(p.display().to_string());
    }
    if let Some(p) = libs.openvino {
        worker_args.push("--openvino-lib".to_owned());
        worker_args.push(p.display().to_string());
    }
    if let Some(p) = edgebench_torch::python::python_flag() {
        worker_args.push("--python".to_owned());
        worker_args.push(p.display().to_string());
    }
    worker_args.push("worker".to_owned());
    worker_args.extend(a.memory.worker_args());
    // The parent opens the sensors once, before any child runs, to measure idle power;
    // each child samples its own variant.
    let telemetry = a.telemetry.open(a.quiet);
    if let Some(t) = &telemetry {
        match (&t.idle, t.has_power()) {
            (Some(idle), _) => eprintln!(
                "  telemetry: {}; idle power {:.1} W over {:.1} s",
                sensors(t),
                idle.total_w,
                idle.duration_s
            ),
            (None, true) => eprintln!("  telemetry: {}", sensors(t)),
            (None, false) => eprintln!(
                "  telemetry: no power sensor ({}): energy is n/a",
                t.unavailable
                    .iter()
                    .map(|u| format!("{}: {}", u.source, u.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    }
    let opts = RunOptions {
        dir: a.out.clone(),
        resume: a.resume,
        worker_exe: exe,
        worker_args,
        tool: crate::tool_info(),
        telemetry: telemetry.as_ref().map(|t| JobTelemetry {
            settings: a.telemetry.settings(),
            idle: t.idle.clone(),
        }),
        min_sampling_s: a.telemetry.min_sampling_s(telemetry.as_deref()),
    };
    drop(telemetry);

    let started = Instant::now();
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        let b = ProgressBar::new(plan.jobs.len() as u64);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{pos}/{len}] {wide_msg} {elapsed_precise} (ETA {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.enable_steady_tick(Duration::from_millis(120));
        b
    };
    let mut current = String::new();
    let Some(lock) = lock else {
        unreachable!("a dry run returned above")
    };
    let loaded = runner::run(&cfg, &plan, &opts, &lock, &mut |ev| match ev {
        Event::Start {
            total,
            already_done,
            torn_line_ignored,
        } => {
            if torn_line_ignored {
                bar.suspend(|| eprintln!("  note: the last line of results.jsonl was torn (an interrupted write) and was dropped; that measurement runs again"));
            }
            if already_done > 0 {
                bar.suspend(|| {
                    eprintln!("  resuming: {already_done} of {total} jobs already measured")
                });
            }
            bar.set_position(already_done as u64);
            bar.reset_eta();
        }
        Event::JobStart { job, label, .. } => {
            current = format!(
                "{label} · {}{}{}",
                job.spec,
                if job.batch > 1 {
                    format!(" · batch {}", job.batch)
                } else {
                    String::new()
                },
                if cfg.measure.rounds > 1 {
                    format!(" · round {}/{}", job.round, cfg.measure.rounds)
                } else {
                    String::new()
                }
            );
            bar.set_message(format!("{current} · loading"));
        }
        Event::Worker(p) => bar.set_message(format!("{current} · {}", progress_text(p))),
        Event::JobSkipped {
            job, label, reason, ..
        } => {
            bar.inc(1);
            let spec = job.spec.clone();
            bar.suspend(|| eprintln!("  {label} · {spec}: {reason}"));
        }
        Event::JobDone { measurement, .. } => {
            bar.inc(1);
            if let Some(e) = &measurement.result.error {
                let e = e.clone();
                let spec = measurement.spec.clone();
                let label = measurement.model.label.clone();
                bar.suspend(|| eprintln!("  {label} · {spec}: failed: {e}"));
            }
        }
    })?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();

    // The reports come from results.jsonl as written, exactly as `edgebench report` reads it.
    drop(loaded);
    let loaded =
        edgebench_study::results::load(&a.out.join(edgebench_study::results::RESULTS_FILE))?;
    let summary = analysis::analyse(&loaded)
        .ok_or_else(|| anyhow::anyhow!("{} holds no study session", a.out.display()))?;
    let written = crate::cmd_report::write_reports(&a.out, &summary)?;
    drop(lock);
    print!("{}", edgebench_report::study_md::terminal_table(&summary));
    eprintln!(
        "edgebench: study finished in {:.0} s ({:.1} min); wrote {}",
        elapsed,
        elapsed / 60.0,
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(crate::cmd_report::exit_code(&summary))
}

/// PyTorch sources in a config (`tv:NAME`, `file.py:factory`) are exported to ONNX once (into
/// the cache folder) and studied as that file; the export records the source, so PyTorch
/// eager is their baseline.
fn export_pytorch_models(
    cfg: &mut StudyConfig,
    memory: &crate::memory_args::MemoryArgs,
) -> Result<()> {
    use edgebench_core::schema::study::Task;
    use edgebench_torch::export::{export_cached, input_names, ExportInput};
    use edgebench_torch::TorchSource;
    let dynamic_batch = cfg.batch.iter().any(|&b| b != 1);
    let mut python = None;
    for m in &mut cfg.models {
        if !(m.source.starts_with("tv:") || m.source.contains(".py:")) {
            continue;
        }
        let source = TorchSource::parse(&m.source, None)?;
        let given: Vec<(String, Vec<usize>)> = m
            .shapes
            .iter()
            .map(|s| edgebench_core::model::ShapeRequest::parse_shape(s))
            .collect::<Result<_, _>>()?;
        let inputs: Vec<ExportInput> = if given.is_empty() {
            let Some(shape) = source.default_input_shape() else {
                bail!(
                    "{}: model {} needs its input shape: add shapes = [\"input:1x3x224x224\"] to its [[model]]",
                    m.declared_at,
                    source.label()
                );
            };
            input_names(1)
                .into_iter()
                .map(|name| ExportInput {
                    name,
                    shape: shape.clone(),
                })
                .collect()
        } else {
            given
                .into_iter()
                .map(|(name, shape)| ExportInput { name, shape })
                .collect()
        };
        // PyTorch allocates these inputs: the same memory rule as every other path.
        memory.check_export(&inputs)?;
        let py = match &python {
            Some(p) => p,
            None => python.insert(edgebench_torch::python::discover()?),
        };
        eprintln!(
            "edgebench: exporting {} with torch (cached after the first time)",
            source.label()
        );
        let file = export_cached(py, &source, inputs, cfg.seed, dynamic_batch)?;
        if m.label.is_none() {
            m.label = Some(source.short_name());
        }
        if m.task.is_none() {
            // The task follows from the source's own input: a clip (N x 3 x T x H x W) or an
            // image; a module of unknown input is `other`.
            m.task = Some(match source.default_input_shape().map(|s| s.len()) {
                Some(5) => Task::ActionRecognition,
                Some(_) => Task::Classification,
                None => Task::Other,
            });
        }
        m.source = file.display().to_string();
    }
    Ok(())
}

/// The sensors that opened, in a few words: `nvml (gpu0), rapl (package-0, dram)`.
fn sensors(t: &edgebench_core::telemetry::Telemetry) -> String {
    let mut by_source: Vec<(String, Vec<String>)> = vec![];
    for c in t.channels() {
        match by_source.iter_mut().find(|(s, _)| *s == c.source) {
            Some((_, devices)) => {
                if !devices.contains(&c.device) {
                    devices.push(c.device.clone());
                }
            }
            None => by_source.push((c.source.clone(), vec![c.device.clone()])),
        }
    }
    by_source
        .iter()
        .map(|(s, d)| format!("{s} ({})", d.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}
