//! `edgebench inspect MODEL`.

use crate::source::{self, ZooFlags};
use anyhow::Result;
use clap::Args;
use edgebench_core::model::ShapeRequest;
use edgebench_core::tensor::Dim;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// An ONNX file, or zoo:NAME for a built-in model.
    pub model: String,
    /// Size of dynamic dimensions, trtexec style: --shape input:1x3x224x224 (repeatable).
    #[arg(long = "shape", value_name = "NAME:DIMS", value_parser = ShapeRequest::parse_shape)]
    pub shapes: Vec<(String, Vec<usize>)>,
    /// Batch size for a dynamic first dimension (default 1 for inspect).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: Option<u32>,
    /// Number of classes of a zoo model.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub classes: Option<u32>,
    /// Print one JSON document on stdout (every node's cost included).
    #[arg(long)]
    pub json: bool,
    /// How many of the costliest nodes to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

pub fn run(a: InspectArgs) -> Result<ExitCode> {
    let flags = ZooFlags {
        classes: a.classes.map(|c| c as usize),
        batch: a.batch.map(|b| b as usize),
    };
    let model = source::load(&a.model, flags)?;
    // A symbolic batch dimension is counted at batch 1 unless told otherwise.
    let symbolic_batch = model
        .inputs
        .iter()
        .any(|i| matches!(i.shape.first(), Some(Dim::Symbolic(_))));
    let batch = a
        .batch
        .map(|b| b as usize)
        .or(if symbolic_batch { Some(1) } else { None });
    let inputs = model.resolve_inputs(&ShapeRequest {
        shapes: a.shapes,
        batch,
    })?;
    let inspection = edgebench_core::inspect::inspect(&model, &inputs)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        print!(
            "{}",
            edgebench_report::inspect_view::inspect_text(&inspection, a.top)
        );
    }
    Ok(ExitCode::SUCCESS)
}
