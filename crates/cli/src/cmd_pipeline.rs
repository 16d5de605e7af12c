//! `edgebench pipeline SOURCE`: the study in one command. Run SOURCE in PyTorch (the
//! baseline), export it to ONNX, run the ONNX model on every available engine (or those
//! named), check every engine's outputs against PyTorch's, and print the before/after table.

use crate::shared::{
    bench_options, check_writable, conclude, measure_variants, spinner, MeasureArgs, OutputArgs,
    TelemetryArgs,
};
use crate::source::{self, ZooFlags};
use anyhow::{bail, Context, Result};
use clap::Args;
use edgebench_core::bench::leave_out_unavailable;
use edgebench_core::engine::{Engine, EngineSpec};
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::schema::{BenchReport, ModelInfo};
use edgebench_torch::engine::TorchSettings;
use edgebench_torch::export::{
    export, inputs_for, parse_input_shape, ExportOptions, DEFAULT_OPSET,
};
use edgebench_torch::source::SourceKind;
use edgebench_torch::{python, Torch, TorchSource};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// The PyTorch model: tv:NAME[?num_classes=N] (torchvision), path/to/file.py:factory, or
    /// zoo:NAME (a zoo model: its ONNX graph, and its torchvision twin with the same weights).
    pub source: String,
    /// PyTorch variant (repeatable): the first is the baseline of the speed-ups and the
    /// reference of the accuracy gate. E.g. torch:eager,device=cuda,dtype=fp16,cuda_graph.
    #[arg(long = "torch", value_name = "SPEC", default_values_t = ["torch:eager".to_string()])]
    pub torch: Vec<String>,
    /// Engine variant to run on the ONNX model (repeatable; default: every variant of every
    /// engine available here, see `edgebench engines`).
    #[arg(long = "engine", short = 'e', value_name = "SPEC")]
    pub engines: Vec<String>,
    /// Keep the exported ONNX model in FILE (default: a temporary file, deleted at the end).
    #[arg(long, value_name = "FILE.onnx")]
    pub onnx: Option<PathBuf>,
    /// Input shape, DIMS or NAME:DIMS (repeatable; torchvision default 1x3x224x224, video
    /// 1x3x16x112x112; required for file.py:factory).
    #[arg(long = "shape", value_name = "[NAME:]DIMS", value_parser = parse_input_shape)]
    pub shapes: Vec<(Option<String>, Vec<usize>)>,
    /// Batch size.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
    /// Number of classes (torchvision and zoo models).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub num_classes: Option<u32>,
    /// ONNX opset of the export.
    #[arg(long, default_value_t = DEFAULT_OPSET)]
    pub opset: i64,
    /// Threads every engine may use (default: the number of physical cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Seed of the random inputs and of the PyTorch model's random weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub memory: crate::memory_args::MemoryArgs,
}

pub fn run(a: PipelineArgs) -> Result<ExitCode> {
    check_numbers(&a)?;
    let zoo = SourceKind::of(&a.source) == SourceKind::Zoo;
    let torch_source = if zoo {
        if !a.shapes.is_empty() {
            bail!("--shape does not apply to zoo models: use --batch (and --num-classes)");
        }
        None
    } else {
        Some(TorchSource::parse(
            &a.source,
            a.num_classes.map(|n| n as usize),
        )?)
    };

    // Everything that can be checked before measuring is checked first: the specs, Python
    // and torch, the engines, the output paths.
    let mut specs = TorchSettings::parse_variants(&a.torch)?;
    let mut engines: Vec<Box<dyn Engine>> = specs
        .iter()
        .map(|_| Box::new(Torch::default()) as Box<dyn Engine>)
        .collect();
    let info = python::discover()?;
    info.require_torch()?;
    for (spec, engine) in specs.iter().zip(&engines) {
        engine.validate(spec)?;
    }
    if a.engines.is_empty() {
        for (spec, engine) in edgebench_engines::available_variants()? {
            specs.push(spec);
            engines.push(engine);
        }
    } else {
        for s in &a.engines {
            let spec = EngineSpec::parse(s)?;
            if spec.engine == "torch" {
                bail!("--engine {s}: give PyTorch variants with --torch");
            }
            engines.push(edgebench_engines::ready(&spec)?);
            specs.push(spec);
        }
    }
    let onnx = a.onnx.iter().map(|p| ("--onnx", p));
    for (flag, path) in a.output.export_paths().chain(onnx) {
        check_writable(flag, path)?;
    }

    // The ONNX model: the zoo's own graph, or the export of the PyTorch model.
    let batch = a.batch.map(|b| b as usize);
    let scratch = tempfile::Builder::new()
        .prefix("edgebench-pipeline-")
        .tempdir()
        .context("creating a temporary folder")?;
    let (model, shown): (Model, String) = match &torch_source {
        None => {
            let flags = ZooFlags {
                classes: a.num_classes.map(|c| c as usize),
                batch,
            };
            let model = source::load(&a.source, flags)?;
            let shown = model.name.clone();
            (model, shown)
        }
        Some(src) => {
            let output = a
                .onnx
                .clone()
                .unwrap_or_else(|| scratch.path().join(format!("{}.onnx", src.short_name())));
            let inputs = inputs_for(src, &a.shapes, batch)?;
            edgebench_study::run::check_export_memory(&inputs, &a.memory.limit())?;
            let bar = spinner(
                a.output.quiet,
                &format!("exporting {} with torch", src.label()),
            );
            let exported = export(
                &info,
                &ExportOptions {
                    source: src.clone(),
                    inputs,
                    output: output.clone(),
                    opset: a.opset,
                    seed: a.seed,
                    dynamic_batch: false,
                },
            );
            bar.finish_and_clear();
            let (report, model) = exported?;
            if !a.output.quiet {
                eprintln!("edgebench: {}", report.summary());
            }
            let shown = match &a.onnx {
                Some(p) => p.display().to_string(),
                None => format!("{} (exported, opset {})", src.label(), a.opset),
            };
            (model, shown)
        }
    };

    let inputs = model.resolve_inputs(&ShapeRequest {
        shapes: vec![],
        batch: if zoo { batch } else { None },
    })?;
    let limit = a.memory.limit();
    edgebench_core::memory::check_bench(&model, &inputs, &specs, a.measure.gate_inputs, &limit)?;
    let opts = bench_options(
        &a.measure,
        &a.telemetry,
        a.output.quiet || a.output.json,
        &inputs,
        a.threads.map(|t| t as usize),
        a.seed,
    );
    let mut report = BenchReport::begin(
        crate::tool_info(),
        ModelInfo {
            path: shown,
            ..edgebench_torch::source::describe(&a.source, &model, inputs)
        },
        &specs,
        &opts,
        !a.measure.no_gate,
        Some(specs[0].to_string()),
    );

    let mut runs = measure_variants(&specs, &engines, &model, &opts, &report, &a.output)?;
    if a.engines.is_empty() {
        // Variants picked by default that cannot run on this machine (a GPU provider without
        // a GPU) are left out of the table and named once.
        let skipped;
        (runs, skipped) = leave_out_unavailable(runs, a.torch.len());
        if !skipped.is_empty() && !a.output.quiet {
            eprintln!(
                "edgebench: not available here, left out: {} (name them with --engine to see why)",
                skipped.join(", ")
            );
        }
        report.settings.engines = runs.iter().map(|r| r.result.spec.clone()).collect();
    }
    // The PyTorch baseline is both the speed-up baseline and the accuracy reference.
    conclude(runs, 0, &a.measure, report, &a.output)
}

fn check_numbers(a: &PipelineArgs) -> Result<()> {
    a.measure.check()?;
    a.telemetry.check()?;
    if a.torch.is_empty() {
        bail!("--torch: give at least one PyTorch variant, e.g. --torch torch:eager");
    }
    Ok(())
}
