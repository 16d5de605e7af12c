//! `edgebench export SOURCE -o FILE.onnx`: a PyTorch model to ONNX, in the torch worker.

use anyhow::{bail, Result};
use clap::Args;
use edgebench_torch::export::{
    export, input_names, ExportInput, ExportOptions, ExportReport, DEFAULT_OPSET,
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
    let inputs = export_inputs(&source, &a.shapes, a.batch)?;
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
        print!("{}", render(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// `1x3x224x224` or `NAME:1x3x224x224`.
pub fn parse_input_shape(s: &str) -> Result<(Option<String>, Vec<usize>), String> {
    let (name, dims) = match s.rsplit_once(':') {
        Some((n, d)) if !n.is_empty() => (Some(n.to_owned()), d),
        Some((_, _)) => return Err(format!("`{s}`: the input name before `:` is empty")),
        None => (None, s),
    };
    let dims: Option<Vec<usize>> = dims
        .split('x')
        .map(|d| d.trim().parse::<usize>().ok().filter(|&n| n > 0))
        .collect();
    match dims {
        Some(d) if !d.is_empty() => Ok((name, d)),
        _ => Err(format!(
            "`{s}`: expected positive sizes joined by x, e.g. 1x3x224x224 or input:1x3x224x224"
        )),
    }
}

/// The export's inputs from `--shape` (or the source's default) and `--batch`.
pub fn export_inputs(
    source: &TorchSource,
    shapes: &[(Option<String>, Vec<usize>)],
    batch: Option<u32>,
) -> Result<Vec<ExportInput>> {
    let mut given: Vec<(Option<String>, Vec<usize>)> = shapes.to_vec();
    if given.is_empty() {
        match source.default_input_shape() {
            Some(s) => given.push((None, s)),
            None => bail!(
                "{}: give the input shape, e.g. --shape 1x3x224x224 (one --shape per model input)",
                source.label()
            ),
        }
    }
    let names = input_names(given.len());
    let mut out = Vec::with_capacity(given.len());
    for ((name, mut shape), default) in given.into_iter().zip(names) {
        if let Some(b) = batch {
            shape[0] = b as usize;
        }
        let name = name.unwrap_or(default);
        if out.iter().any(|i: &ExportInput| i.name == name) {
            bail!("--shape {name}:...: input `{name}` is given twice");
        }
        out.push(ExportInput { name, shape });
    }
    Ok(out)
}

fn render(r: &ExportReport) -> String {
    use edgebench_core::tensor::shape_string;
    let list = |v: &[ExportInput]| {
        v.iter()
            .map(|i| format!("{} {}", i.name, shape_string(&i.shape)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = format!(
        "exported {} to {} ({}, sha256 {})\n",
        r.source,
        r.output.display(),
        edgebench_report::fmt::bytes(r.bytes),
        &r.sha256[..12.min(r.sha256.len())]
    );
    s += &format!(
        "  torch {} ({}), {}, opset {}, seed {}, {:.1} s\n",
        r.torch_version,
        r.python.display(),
        r.exporter,
        r.opset,
        r.seed,
        r.export_ms / 1e3
    );
    s += &format!(
        "  inputs: {}\n  outputs: {}\n",
        list(&r.inputs),
        list(&r.outputs)
    );
    s += &format!(
        "  parameters: {}\n  onnx.checker: {}\n",
        edgebench_report::fmt::si(r.parameters as f64),
        r.onnx_checker
    );
    if r.unsupported.is_empty() {
        s += "  tract runs every operator of this model\n";
    } else {
        for u in &r.unsupported {
            s += &format!(
                "  {} cannot run operator {} (node {}): use another engine for this model\n",
                u.engine, u.op, u.node
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shapes_with_and_without_names() {
        assert_eq!(
            parse_input_shape("1x3x8x8").unwrap(),
            (None, vec![1, 3, 8, 8])
        );
        assert_eq!(
            parse_input_shape("x:2x4").unwrap(),
            (Some("x".into()), vec![2, 4])
        );
        for bad in ["", "1x0", "ax2", ":1x2", "1xx2"] {
            assert!(parse_input_shape(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_and_batched_inputs() {
        let s = TorchSource::parse("tv:video.r3d_18", None).unwrap();
        let i = export_inputs(&s, &[], Some(2)).unwrap();
        assert_eq!(i[0].name, "input");
        assert_eq!(i[0].shape, vec![2, 3, 16, 112, 112]);
        let i = export_inputs(
            &s,
            &[(None, vec![1, 4]), (Some("b".into()), vec![1, 2])],
            None,
        )
        .unwrap();
        assert_eq!(i[0].name, "input_0");
        assert_eq!(i[1].name, "b");
    }
}
