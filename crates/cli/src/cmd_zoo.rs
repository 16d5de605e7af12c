//! `edgebench zoo`: the built-in model architectures. `zoo list` shows them, `zoo export` writes
//! one as an ONNX file. Models are built by `edgebench-zoo`; this module only parses and prints.

use anyhow::Result;
use clap::{Args, Subcommand};
use edgebench_torch::source::{write_zoo, zoo_export_spec};
use edgebench_zoo::{MAX_BATCH, MAX_CLASSES};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ZooArgs {
    #[command(subcommand)]
    command: ZooCommand,
}

#[derive(Debug, Subcommand)]
enum ZooCommand {
    /// List the built-in models: task, input shape, parameters, MACs and where each comes from.
    List(ListArgs),
    /// Write a built-in model as an ONNX file (opset 17) with deterministic random weights.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Print one JSON document (an array of models) on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// The model, e.g. `resnet18`, optionally with options: `resnet18?classes=2&batch=4`.
    /// `edgebench zoo list` shows the names.
    name: String,
    /// The ONNX file to write (replaced if it exists).
    #[arg(short, long, value_name = "FILE.onnx")]
    output: PathBuf,
    /// Number of classes of the classifier [default: 1000 for images, 4 for video].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_CLASSES as u64))]
    classes: Option<u64>,
    /// Batch size, fixed in the graph's input shape [default: 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_BATCH as u64))]
    batch: Option<u64>,
    /// Seed of the random weights [default: 0].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

pub fn run(args: ZooArgs) -> Result<ExitCode> {
    match args.command {
        ZooCommand::List(a) => list(a),
        ZooCommand::Export(a) => export(a),
    }
}

fn list(a: ListArgs) -> Result<ExitCode> {
    let entries = edgebench_zoo::list();
    if a.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&entries)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    emit(&edgebench_torch::source::zoo_list_text())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a closed pipe (`edgebench zoo list | head`) is not an error.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn shape(s: &[usize]) -> String {
    s.iter().map(usize::to_string).collect::<Vec<_>>().join("x")
}

fn export(a: ExportArgs) -> Result<ExitCode> {
    // Ranges were checked by clap; the conversions cannot fail on 64-bit targets but must not
    // panic elsewhere.
    let to_usize = |v: Option<u64>| v.map(|v| usize::try_from(v).unwrap_or(usize::MAX));
    let spec = zoo_export_spec(&a.name, to_usize(a.classes), to_usize(a.batch), a.seed)?;
    crate::shared::check_writable("--output", &a.output)?;
    let file = write_zoo(&spec, &a.output)?;
    println!(
        "wrote {} to {} ({:.1} MB): input {} -> logits {}x{}, seed {}",
        spec.name,
        a.output.display(),
        file.bytes as f64 / 1e6,
        shape(&file.input),
        file.input[0],
        file.classes,
        file.seed,
    );
    Ok(ExitCode::SUCCESS)
}
