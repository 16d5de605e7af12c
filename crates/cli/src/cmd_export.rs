//! `edgebench export SOURCE -o FILE.onnx`: a PyTorch model to ONNX, in the torch worker.

use anyhow::Result;
use clap::Args;
use edgebench_torch::export::{
    export, inputs_for, parse_input_shape, ExportOptions, DEFAULT_OPSET,
};
use edgebench_torch::python;
use edgebench_torch::TorchSource;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The PyTorch model: tv:NAME[?num_classes=N] (a torchvision builder, e.g. tv:resnet18,
    /// tv:video.r3d_18) or path/to/file.py:factory (a function that returns an nn.Module).
    pub source: String,
    /// The ONNX file to write (written only once complete).
    #[arg(long, short = 'o', value_name = "FILE.onnx")]
    pub output: PathBuf,
    /// Input shape, DIMS or NAME:DIMS, e.g. 1x3x224x224 (repeatable, one per model input;
    /// torchvision default 1x3x224x224, video models 1x3x16x112x112).
    #[arg(long = "shape", value_name = "[NAME:]DIMS", value_parser = parse_input_shape)]
    pub shapes: Vec<(Option<String>, Vec<usize>)>,
    /// Batch size (the first dimension of every input).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
    /// Number of classes of a torchvision model.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub num_classes: Option<u32>,
    /// ONNX opset.
    #[arg(long, default_value_t = DEFAULT_OPSET)]
    pub opset: i64,
    /// torch.manual_seed before the model is built (its random weights).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Make the first dimension of every input and output dynamic.
    #[arg(long)]
    pub dynamic_batch: bool,
    /// Print the export report as JSON on stdout and nothing else.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ExportArgs) -> Result<ExitCode> {
    let source = TorchSource::parse(&a.source, a.num_classes.map(|n| n as usize))?;
    let inputs = inputs_for(&source, &a.shapes, a.batch.map(|b| b as usize))?;
    let info = python::discover()?;
    let (report, _model) = export(
        &info,
        &ExportOptions {
            source,
            inputs,
            output: a.output.clone(),
            opset: a.opset,
            seed: a.seed,
            dynamic_batch: a.dynamic_batch,
        },
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    Ok(ExitCode::SUCCESS)
}
