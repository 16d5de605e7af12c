//! `edgebench bench MODEL --engine SPEC...`.

use crate::shared::{
    bench_options, check_writable, conclude, measure_variants, MeasureArgs, OutputArgs,
    TelemetryArgs,
};
use crate::source::{self, ZooFlags};
use anyhow::{anyhow, Result};
use clap::Args;
use edgebench_core::engine::EngineSpec;
use edgebench_core::model::ShapeRequest;
use edgebench_core::schema::BenchReport;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// An ONNX file, or zoo:NAME for a built-in model (zoo:NAME?classes=2&batch=4).
    pub model: String,
    /// Engine variant to measure, NAME[:VARIANT][,KEY=VALUE...] (repeatable; see `edgebench
    /// engines`). The first is the baseline of the speed-ups.
    #[arg(long = "engine", short = 'e', value_name = "SPEC", default_values_t = ["tract:reference".to_string(), "tract:optimized".to_string()])]
    pub engines: Vec<String>,
    /// Size of dynamic dimensions, trtexec style: --shape input:1x3x224x224 (repeatable).
    #[arg(long = "shape", value_name = "NAME:DIMS", value_parser = ShapeRequest::parse_shape)]
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
    /// Variant whose outputs the accuracy gate compares against (default: the first).
    #[arg(long, value_name = "SPEC")]
    pub reference: Option<String>,
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub memory: crate::memory_args::MemoryArgs,
    #[command(flatten)]
    pub scenario: crate::scenario_args::ScenarioArgs,
}

pub fn run(a: BenchArgs) -> Result<ExitCode> {
    a.measure.check()?;
    a.telemetry.check()?;
    let scenario = a.scenario.settings()?;
    // Everything that can be checked before measuring is checked first.
    let specs = a
        .engines
        .iter()
        .map(|s| EngineSpec::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let engines = specs
        .iter()
        .map(edgebench_engines::ready)
        .collect::<Result<Vec<_>, _>>()?;
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
    for (flag, path) in a.output.export_paths() {
        check_writable(flag, path)?;
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
    let limit = a.memory.limit();
    edgebench_core::memory::check_bench(&model, &inputs, &specs, a.measure.gate_inputs, &limit)?;
    let mut opts = bench_options(
        &a.measure,
        &a.telemetry,
        a.output.quiet || a.output.json,
        &inputs,
        Some(
            a.threads
                .map(|t| t as usize)
                .unwrap_or_else(edgebench_core::bench::default_threads),
        ),
        a.seed,
    );
    opts.scenario = scenario;
    let report = BenchReport::begin(
        crate::tool_info(),
        edgebench_torch::source::describe(&a.model, &model, inputs),
        &specs,
        &opts,
        !a.measure.no_gate,
        a.reference.clone(),
    );

    let runs = measure_variants(&specs, &engines, &model, &opts, &report, &a.output)?;
    conclude(runs, reference, &a.measure, report, &a.output)
}
