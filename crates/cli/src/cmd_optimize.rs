//! `edgebench optimize MODEL`: the fastest configuration that passes the accuracy gate, found
//! by racing candidates on confidence intervals (`edgebench_study::optimize`).

use crate::shared::{spinner, TelemetryArgs};
use anyhow::{bail, Result};
use clap::Args;
use edgebench_study::optimize::{self, Event, Objective, OptimizeRequest};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// An ONNX file, or zoo:NAME for a built-in model.
    pub model: String,
    /// What to minimize: latency (ms per inference at batch 1), throughput (ms per item over
    /// batch sizes), energy (mJ per item) or fps-per-watt (its inverse; needs a power sensor).
    #[arg(long, default_value = "latency", value_name = "OBJECTIVE")]
    pub objective: String,
    /// The whole search's time in seconds, preparing, screening and the final run included.
    #[arg(
        long,
        default_value_t = 300.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub budget: f64,
    /// Reduced-precision candidates (bf16, fp16, int8) pass the gate with a top-1 agreement of
    /// at least 1 - X against the fp32 reference (0.01: one point lost); default: the
    /// precision's own tolerance.
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub max_accuracy_drop: Option<f64>,
    /// Search only this engine (repeatable): tract, ort, openvino, torch, tensorrt, ...
    #[arg(long = "engine", short = 'e', value_name = "NAME")]
    pub engines: Vec<String>,
    /// The search folder: search.jsonl (the log, written as it goes) and optimize.json
    /// (default: optimize-MODEL).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the search in --out: logged trials are replayed, not measured again.
    #[arg(long)]
    pub resume: bool,
    /// Largest batch size the throughput objective tries (1, 2, 4, ... up to it).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_batch: u32,
    /// Seed of the random inputs and of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the whole report as one JSON document on stdout and nothing else.
    #[arg(long)]
    pub json: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

pub fn run(a: OptimizeArgs) -> Result<ExitCode> {
    a.telemetry.check()?;
    let Some(objective) = Objective::parse(&a.objective) else {
        bail!(
            "--objective {}: valid objectives are {}",
            a.objective,
            Objective::ALL.map(Objective::as_str).join(", ")
        );
    };
    let quiet = a.quiet || a.json;
    let telemetry = a.telemetry.open(quiet);
    let req = OptimizeRequest {
        model: a.model.clone(),
        objective,
        budget_s: a.budget,
        max_accuracy_drop: a.max_accuracy_drop,
        out: a.out.clone(),
        resume: a.resume,
        seed: a.seed,
        max_batch: a.max_batch as usize,
        engines: a.engines.clone(),
        telemetry,
        tool: crate::tool_info(),
    };
    let bar = spinner(quiet, "optimize");
    let report = optimize::run(&req, &mut |e| match e {
        Event::Candidates { count, skipped } => bar.set_message(format!(
            "{count} candidates ({skipped} specs not accepted or not runnable here)"
        )),
        Event::Trial {
            label,
            rung,
            seconds,
            outcome,
        } => {
            if !quiet {
                bar.suspend(|| eprintln!("rung {rung} {label} ({seconds:.2} s): {outcome}"));
            }
            bar.set_message(format!("rung {rung}: {label}"));
        }
        Event::Replayed { trials } => bar.set_message(format!("{trials} trials replayed")),
        Event::Final { label } => bar.set_message(format!("final measurement of {label}")),
    })?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.text());
    }
    let ok = report
        .best
        .as_ref()
        .is_some_and(|b| b.status == edgebench_core::schema::Status::Ok);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
