//! `edgebench zoo`: the built-in model architectures. `zoo list` shows them, `zoo export` writes
//! one as an ONNX file. Models are built by `edgebench-zoo`; this module only parses and prints.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use edgebench_zoo::{ZooSpec, MAX_BATCH, MAX_CLASSES};
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
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "model",
        "task",
        "input",
        "classes",
        "params",
        "GMACs",
        "PyTorch twin",
    ]);
    for e in &entries {
        let right = |s: String| Cell::new(s).set_alignment(CellAlignment::Right);
        t.add_row(vec![
            Cell::new(e.name),
            Cell::new(e.task.name()),
            Cell::new(shape(&e.input_shape)),
            right(e.default_classes.to_string()),
            right(e.params.to_string()),
            right(format!("{:.2}", e.macs as f64 / 1e9)),
            Cell::new(
                e.torchvision
                    .map(|b| format!("tv:{b}"))
                    .or_else(|| e.edgebench_twin.map(|b| format!("edgebench:{b}")))
                    .unwrap_or_else(|| "-".into()),
            ),
        ]);
    }
    let mut out = format!(
        "{t}\nParameters and MACs at the default classes and batch 1. PyTorch twin: what the torch engine runs for zoo:NAME, with the zoo's weights (tv: a torchvision builder, edgebench: edgebench's own definition in its worker).\nSources:\n"
    );
    for e in &entries {
        out.push_str(&format!("  {}: {}\n", e.name, e.source));
    }
    emit(&out)?;
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

/// Takes an option from the flag or from the name's query, not both.
fn merge<T: PartialEq + std::fmt::Display>(
    option: &str,
    query: Option<T>,
    flag: Option<T>,
) -> Result<Option<T>> {
    match (query, flag) {
        (Some(q), Some(f)) if q != f => {
            bail!("{option} given twice, as {option}={q} in the name and as --{option} {f}; give it once")
        }
        (q, f) => Ok(f.or(q)),
    }
}

fn export(a: ExportArgs) -> Result<ExitCode> {
    let name = edgebench_torch::source::zoo_query(&a.name).unwrap_or(&a.name);
    let mut spec = ZooSpec::parse(name)?;
    // Ranges were checked by clap; the conversions cannot fail on 64-bit targets but must not
    // panic elsewhere.
    let to_usize = |v: Option<u64>| v.map(|v| usize::try_from(v).unwrap_or(usize::MAX));
    spec.classes = merge("classes", spec.classes, to_usize(a.classes))?;
    spec.batch = merge("batch", spec.batch, to_usize(a.batch))?;
    spec.seed = merge("seed", spec.seed, a.seed)?;
    crate::shared::check_writable("--output", &a.output)?;
    let bytes = edgebench_zoo::build_bytes(&spec)?;
    edgebench_core::write::write_atomic(&a.output, &bytes)?;
    let entry = edgebench_zoo::list()
        .into_iter()
        .find(|e| e.name == spec.name)
        .context("model vanished from the zoo list")?;
    let classes = spec.classes.unwrap_or(entry.default_classes);
    let batch = spec.batch.unwrap_or(1);
    let mut input = entry.input_shape.clone();
    input[0] = batch;
    println!(
        "wrote {} to {} ({:.1} MB): input {} -> logits {batch}x{classes}, seed {}",
        spec.name,
        a.output.display(),
        bytes.len() as f64 / 1e6,
        shape(&input),
        spec.seed.unwrap_or(edgebench_zoo::DEFAULT_SEED),
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_may_come_from_the_name_or_a_flag_but_not_both_differently() {
        assert_eq!(merge("classes", Some(2), None).unwrap(), Some(2));
        assert_eq!(merge("classes", None, Some(3)).unwrap(), Some(3));
        assert_eq!(merge("classes", Some(3), Some(3)).unwrap(), Some(3));
        let e = merge("classes", Some(2), Some(3)).unwrap_err().to_string();
        assert!(e.contains("--classes"), "{e}");
    }
}
