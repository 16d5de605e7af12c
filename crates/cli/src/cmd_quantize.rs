//! `edgebench quantize MODEL -o OUT.onnx`: post-training static quantization to a QDQ int8
//! ONNX model with ONNX Runtime's quantizer (`edgebench_torch::quantize`). Calibration images
//! are decoded and preprocessed by the video pipeline's folder source and preprocessing, the
//! same code `edgebench video` runs on frames.

use anyhow::{bail, Context, Result};
use clap::Args;
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_torch::export::{export, inputs_for, ExportOptions, DEFAULT_OPSET};
use edgebench_torch::qat::{qat, QatOptions};
use edgebench_torch::quantize::{
    quantize, Activations, Calibration, CalibrationSource, Method, QuantizeError, QuantizeOptions,
    DEFAULT_SYNTHETIC_SAMPLES,
};
use edgebench_torch::source::{ModelSource, ZooDefaults};
use edgebench_torch::tuning::{TrainSettings, DEFAULT_BATCH, DEFAULT_LR};
use edgebench_torch::worker::Timeouts;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What synthetic calibration means for the result.
const SYNTHETIC_WARNING: &str = "synthetic calibration (random inputs) gives the quantizer activation ranges that say nothing about accuracy on real data; give --calibration DIR with images like the ones the model will see";

#[derive(Debug, Args)]
pub struct QuantizeArgs {
    /// The model: an ONNX file, zoo:NAME, or a PyTorch source (tv:NAME, file.py:factory),
    /// which is exported to ONNX first.
    pub model: String,
    /// The quantized ONNX file to write (written only once complete). With --qat the default
    /// is NAME-qat.onnx in the current folder.
    #[arg(long, short = 'o', value_name = "OUT.onnx")]
    pub output: Option<PathBuf>,
    /// Calibration data: a folder of PNG/JPEG images, preprocessed as the model expects
    /// (torchvision's resize, centre crop and ImageNet normalization), or `synthetic` (random
    /// inputs: fast, but they say nothing about accuracy).
    #[arg(long, value_name = "DIR|synthetic", default_value = "synthetic")]
    pub calibration: String,
    /// Calibration samples: the number of synthetic inputs (default 16), or at most this
    /// many images (default: every image in the folder).
    #[arg(long, value_name = "N")]
    pub samples: Option<u64>,
    /// How activation ranges are chosen from the calibration data: minmax, entropy or
    /// percentile.
    #[arg(long, default_value = "minmax")]
    pub method: String,
    /// One scale per output channel of each weight, instead of one per tensor.
    #[arg(long)]
    pub per_channel: bool,
    /// Quantized activations: u8 (unsigned, asymmetric: ONNX Runtime's fast path on CPUs) or
    /// s8 (signed, symmetric: what TensorRT needs). Weights are always signed int8.
    #[arg(long, default_value = "u8", value_name = "u8|s8")]
    pub activations: String,
    /// Quantization-aware training instead of post-training quantization: fine-tune a
    /// PyTorch source (tv:NAME, file.py:factory) with PyTorch's fake quantizers on --train,
    /// then export the QDQ model.
    #[arg(long, requires = "train", conflicts_with_all = ["calibration", "samples", "method", "per_channel", "activations"])]
    pub qat: bool,
    /// The labelled image folder of --qat: one subfolder per class, PNG/JPEG images.
    #[arg(long, value_name = "DIR", requires = "qat")]
    pub train: Option<PathBuf>,
    /// Training epochs of --qat.
    #[arg(long, default_value_t = 1, requires = "qat")]
    pub epochs: u32,
    /// Learning rate of --qat (SGD, momentum 0.9).
    #[arg(long, default_value_t = DEFAULT_LR, requires = "qat")]
    pub lr: f64,
    /// Training batch size of --qat.
    #[arg(long, default_value_t = DEFAULT_BATCH, requires = "qat")]
    pub batch: usize,
    /// The input shape of --qat (default: the torchvision model's; required for
    /// file.py:factory).
    #[arg(long, value_name = "1x3xHxW", requires = "qat")]
    pub shape: Option<String>,
    /// Threads torch uses for --qat (default: torch's own choice).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), requires = "qat")]
    pub threads: Option<u32>,
    /// Print the report as JSON on stdout and nothing else.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: QuantizeArgs) -> Result<ExitCode> {
    if a.qat {
        return run_qat(a);
    }
    let Some(output) = a.output.clone() else {
        bail!("-o OUT.onnx: give the file to write the quantized model to");
    };
    if a.samples == Some(0) {
        bail!("--samples 0: give at least 1 calibration sample");
    }
    let samples = a.samples.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let method = Method::parse(&a.method).map_err(edgebench_core::Error::from)?;
    let activations = Activations::parse(&a.activations).map_err(edgebench_core::Error::from)?;
    let scratch = tempfile::Builder::new()
        .prefix("edgebench-quantize-")
        .tempdir()
        .context("creating a temporary folder")?;
    let model = load(&a.model, scratch.path())?;
    let inputs = model.resolve_inputs(&ShapeRequest::default())?;
    let calibration = if a.calibration.trim() == "synthetic" {
        Calibration::synthetic(&inputs, samples.unwrap_or(DEFAULT_SYNTHETIC_SAMPLES))
    } else {
        let dir = Path::new(&a.calibration);
        edgebench_video::calibration::from_folder(dir, &inputs, samples)
            .map(|samples| Calibration {
                source: CalibrationSource::Folder {
                    path: dir.to_owned(),
                },
                samples,
            })
            .map_err(|e| QuantizeError::Calibration {
                folder: e.folder,
                reason: e.reason,
            })
    }
    .map_err(edgebench_core::Error::from)?;
    let report = quantize(
        &model,
        &inputs,
        &QuantizeOptions {
            output,
            method,
            per_channel: a.per_channel,
            activations,
            calibration,
            python: None,
            timeout: Timeouts::from_env().export,
        },
    )
    .map_err(edgebench_core::Error::from)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    // After the result, so that a failure stays one line.
    if report.calibration == CalibrationSource::Synthetic {
        eprintln!("edgebench: warning: {SYNTHETIC_WARNING}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `--qat`: quantization-aware training of a PyTorch source (`edgebench_torch::qat`).
fn run_qat(a: QuantizeArgs) -> Result<ExitCode> {
    let source = match ModelSource::parse(&a.model, None)? {
        ModelSource::Pytorch(s) => s,
        _ => bail!(
            "{}: --qat needs a PyTorch source (tv:NAME or path/to/file.py:factory) to train; an ONNX or zoo model has no training graph here: drop --qat for post-training quantization",
            a.model
        ),
    };
    let input = crate::source::one_image_input(&source, a.shape.as_deref())?;
    let output = a
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-qat.onnx", source.short_name())));
    let quiet = a.json;
    let report = qat(
        &QatOptions {
            source,
            input,
            output,
            train: TrainSettings {
                folder: a.train.clone().unwrap_or_default(),
                epochs: a.epochs,
                lr: a.lr,
                batch: a.batch,
                seed: 0,
            },
            threads: a.threads.map(|t| t as usize),
            timeout: Timeouts::from_env().export,
        },
        &mut |e| {
            if !quiet {
                eprintln!(
                    "edgebench: qat epoch {}/{}: loss {:.4}, accuracy {:.1}% ({:.1} s)",
                    e.epoch,
                    e.epochs,
                    e.loss,
                    e.accuracy * 100.0,
                    e.seconds
                );
            }
        },
    )
    .map_err(edgebench_core::Error::from)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    Ok(ExitCode::SUCCESS)
}

/// The ONNX model of any source; a PyTorch source is exported first (default input shape).
fn load(arg: &str, scratch: &Path) -> Result<Model> {
    match ModelSource::parse(arg, None)? {
        ModelSource::Pytorch(src) => {
            let info = edgebench_torch::python::discover()?;
            let inputs = inputs_for(&src, &[], None)?;
            let output = scratch.join(format!("{}.onnx", src.short_name()));
            let label = src.label();
            let (_, mut model) = export(
                &info,
                &ExportOptions {
                    source: src,
                    inputs,
                    output,
                    opset: DEFAULT_OPSET,
                    seed: 0,
                    dynamic_batch: false,
                },
            )?;
            // Named by its source: the export is a scratch file.
            model.name = label;
            Ok(model)
        }
        other => Ok(other.load(ZooDefaults::default())?),
    }
}
