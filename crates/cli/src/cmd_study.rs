//! `edgebench study`: run a matrix of models x engine variants and write the study folder.

use crate::shared::{spinner, TelemetryArgs};
use anyhow::Result;
use clap::{Args, ValueEnum};
use edgebench_core::schema::study::{Shard, StudyConfig};
use edgebench_report::bench_progress::progress_text;
use edgebench_report::study_progress;
use edgebench_study::run::{Event, StudyOptions, StudyOutcome};
use edgebench_study::runner::Event as RunEvent;
use edgebench_study::{config, preset};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    /// Check the config and show the plan without measuring anything (with --shard: the
    /// shard's jobs).
    #[arg(long)]
    pub dry_run: bool,
    /// Measure only part I of N of the plan (each model at each batch size goes whole to one
    /// shard); `edgebench merge` joins the shards' folders into one study.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// The device these measurements describe, recorded with each of them (default in a
    /// shard: this machine's host name); `edgebench merge` reports each device apart.
    #[arg(long, value_name = "LABEL", value_parser = edgebench_study::run::device_label)]
    pub device: Option<String>,
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
    let opts = StudyOptions {
        out: a.out.clone(),
        resume: a.resume,
        dry_run: a.dry_run,
        max_memory_gib: a.memory.max_memory,
        worker_exe: std::env::current_exe().map_err(|e| {
            anyhow::anyhow!("cannot find the edgebench binary to start workers: {e}")
        })?,
        tool: crate::tool_info(),
        telemetry: (!a.telemetry.no_telemetry).then(|| a.telemetry.settings()),
        shard: a.shard,
        device: a.device.clone(),
    };
    let rounds = cfg.measure.rounds;
    let mut view = Progress::new(a.quiet, &a.out, rounds);
    let outcome = edgebench_study::run::run(cfg, &opts, &mut |ev| view.show(ev))?;
    let done = match outcome {
        StudyOutcome::DryRun(planned) => {
            for j in planned.jobs() {
                println!("{}", j.key);
            }
            return Ok(ExitCode::SUCCESS);
        }
        StudyOutcome::Finished(done) => done,
    };
    view.bar.finish_and_clear();
    print!(
        "{}",
        edgebench_report::study_md::terminal_table(&done.summary)
    );
    eprintln!(
        "edgebench: study finished in {:.0} s ({:.1} min); wrote {}",
        done.elapsed_s,
        done.elapsed_s / 60.0,
        study_progress::paths(&done.written)
    );
    Ok(crate::cmd_report::exit_code(&done.summary))
}

/// The study's progress on stderr: the plan, the sensors, a bar over the jobs.
struct Progress<'a> {
    quiet: bool,
    out: &'a std::path::Path,
    rounds: usize,
    bar: ProgressBar,
    idle: Option<ProgressBar>,
    current: String,
}

impl<'a> Progress<'a> {
    fn new(quiet: bool, out: &'a std::path::Path, rounds: usize) -> Self {
        Progress {
            quiet,
            out,
            rounds,
            bar: ProgressBar::hidden(),
            idle: None,
            current: String::new(),
        }
    }

    fn show(&mut self, ev: Event) {
        match ev {
            Event::Exporting { label } => {
                eprintln!("edgebench: exporting {label} with torch (cached after the first time)")
            }
            Event::Planned {
                config,
                plan,
                shard,
            } => eprint!("{}", study_progress::planned(config, plan, shard, self.out)),
            Event::MeasuringIdle { seconds } => {
                let s = spinner(self.quiet, "idle power");
                s.set_message(format!("measuring for {seconds:.1} s"));
                self.idle = Some(s);
            }
            Event::Telemetry(t) => {
                if let Some(s) = self.idle.take() {
                    s.finish_and_clear();
                }
                eprintln!("{}", study_progress::telemetry(t));
            }
            Event::Run(ev) => self.job(ev),
        }
    }

    fn job(&mut self, ev: RunEvent) {
        let bar = &self.bar;
        match ev {
            RunEvent::Start {
                total,
                already_done,
                torn_line_ignored,
            } => {
                if !self.quiet {
                    self.bar = ProgressBar::new(total as u64);
                    self.bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{pos}/{len}] {wide_msg} {elapsed_precise} (ETA {eta})",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    self.bar.enable_steady_tick(Duration::from_millis(120));
                }
                let bar = &self.bar;
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
            RunEvent::JobStart { job, label, .. } => {
                self.current = study_progress::job(label, job, self.rounds);
                bar.set_message(format!("{} · loading", self.current));
            }
            RunEvent::Worker(p) => {
                bar.set_message(format!("{} · {}", self.current, progress_text(p)))
            }
            RunEvent::JobSkipped {
                job, label, reason, ..
            } => {
                bar.inc(1);
                bar.suspend(|| eprintln!("  {label} · {}: {reason}", job.spec));
            }
            RunEvent::JobDone { measurement, .. } => {
                bar.inc(1);
                if let Some(e) = &measurement.result.error {
                    bar.suspend(|| {
                        eprintln!(
                            "  {} · {}: failed: {e}",
                            measurement.model.label, measurement.spec
                        )
                    });
                }
            }
        }
    }
}
