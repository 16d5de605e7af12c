//! `edgebench quantize MODEL -o OUT.onnx`: post-training static quantization to a QDQ int8
//! ONNX model with ONNX Runtime's quantizer (`edgebench_torch::quantize`). Calibration images
//! are decoded and preprocessed by the video pipeline's folder source and preprocessing, the
//! same code `edgebench video` runs on frames.

use anyhow::{bail, Context, Result};
use clap::Args;
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::tensor::{ConcreteSpec, HostTensor};
use edgebench_torch::export::{export, inputs_for, ExportOptions, DEFAULT_OPSET};
use edgebench_torch::quantize::{
    quantize, Activations, Calibration, CalibrationSource, Method, QuantizeError, QuantizeOptions,
    DEFAULT_SYNTHETIC_SAMPLES,
};
use edgebench_torch::source::{ModelSource, ZooDefaults};
use edgebench_torch::worker::Timeouts;
use edgebench_video::clip::{ClipAssembler, ModelPlan};
use edgebench_video::preprocess::{PreprocessConfig, Preprocessor};
use edgebench_video::source::{self as video_source, OpenOptions, SourceSpec};
use edgebench_video::VideoError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What synthetic calibration means for the result.
const SYNTHETIC_WARNING: &str = "synthetic calibration (random inputs) gives the quantizer activation ranges that say nothing about accuracy on real data; give --calibration DIR with images like the ones the model will see";

#[derive(Debug, Args)]
pub struct QuantizeArgs {
    /// The model: an ONNX file, zoo:NAME, or a PyTorch source (tv:NAME, file.py:factory),
    /// which is exported to ONNX first.
    pub model: String,
    /// The quantized ONNX file to write (written only once complete).
    #[arg(long, short = 'o', value_name = "OUT.onnx")]
    pub output: PathBuf,
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
    /// Print the report as JSON on stdout and nothing else.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: QuantizeArgs) -> Result<ExitCode> {
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
        folder_calibration(Path::new(&a.calibration), &inputs, samples)
    }
    .map_err(edgebench_core::Error::from)?;
    let report = quantize(
        &model,
        &inputs,
        &QuantizeOptions {
            output: a.output.clone(),
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

/// Calibration samples from a folder of images: each image decoded by the video pipeline's
/// folder source, resized, centre-cropped and normalized by its preprocessing (torchvision's
/// defaults for the model's input), and laid out as the model's input; a video model gets
/// clips of consecutive images. `cap` limits the samples.
fn folder_calibration(
    dir: &Path,
    inputs: &[ConcreteSpec],
    cap: Option<usize>,
) -> Result<Calibration, QuantizeError> {
    let bad = |reason: String| QuantizeError::Calibration {
        folder: dir.to_owned(),
        reason,
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(bad(
                "not a folder; give a folder of PNG or JPEG images, or synthetic".into(),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(bad(
                "no such folder; give a folder of PNG or JPEG images, or synthetic".into(),
            ))
        }
        Err(e) => return Err(bad(format!("cannot read it ({e}); check its permissions"))),
    }
    let plan = ModelPlan::from_inputs(inputs).map_err(|e| {
        bad(format!(
            "image calibration needs a model with one float32 image input 1x3xHxW or clip input 1x3xTxHxW ({}); use --calibration synthetic for this model",
            e
        ))
    })?;
    let pre =
        PreprocessConfig::for_plan(&plan, None, None, None).map_err(|e| bad(e.to_string()))?;
    let input = dir.display().to_string();
    let frames_wanted = cap.map(|n| (n as u64).saturating_mul(plan.frames as u64));
    let mut source = video_source::open(
        &SourceSpec::Folder(dir.to_owned()),
        &input,
        &OpenOptions {
            max_frames: frames_wanted,
            ..Default::default()
        },
    )
    .map_err(|e| video_error(dir, &input, e))?;
    let mut planned: HashMap<(u32, u32), Preprocessor> = HashMap::new();
    let mut clips = ClipAssembler::<std::sync::Arc<Vec<f32>>>::new(plan.frames, plan.frames);
    let mut samples: Vec<Vec<HostTensor>> = vec![];
    let mut images = 0u64;
    while let Some(frame) = source
        .next_frame()
        .map_err(|e| video_error(dir, &input, e))?
    {
        images += 1;
        let p = match planned.entry((frame.width, frame.height)) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(
                Preprocessor::new(&pre, frame.width as usize, frame.height as usize, &input)
                    .map_err(|e| video_error(dir, &input, e))?,
            ),
        };
        let mut out = vec![0f32; p.output_len()];
        p.run(&frame.rgb, &mut out);
        if let Some((_, frames)) = clips.push(std::sync::Arc::new(out)) {
            let frames: Vec<&[f32]> = frames.iter().map(|f| f.as_slice()).collect();
            samples.push(vec![plan.tensor(&frames)]);
            if cap.is_some_and(|c| samples.len() >= c) {
                break;
            }
        }
    }
    if samples.is_empty() {
        return Err(bad(format!(
            "{images} images, fewer than the {} frames one clip of this model needs; add images or use --calibration synthetic",
            plan.frames
        )));
    }
    Ok(Calibration {
        source: CalibrationSource::Folder {
            path: dir.to_owned(),
        },
        samples,
    })
}

/// The video pipeline's errors, reworded for `--calibration` (they name `--input`).
fn video_error(dir: &Path, input: &str, e: VideoError) -> QuantizeError {
    let reason = match e {
        VideoError::EmptyFolder { .. } => {
            "no PNG or JPEG images in the folder; put calibration images in it, or use --calibration synthetic".into()
        }
        VideoError::BadImage { path, reason, .. } => {
            format!("image {} cannot be decoded: {reason}; replace or remove it", path.display())
        }
        VideoError::DecoderDied { reason, .. } => {
            let prefix = format!("--input {input}: ");
            reason.strip_prefix(&prefix).unwrap_or(&reason).to_owned()
        }
        VideoError::BadSource { reason, .. } => format!("{reason}; check the folder's permissions"),
        VideoError::FrameTooSmall {
            width,
            height,
            crop_w,
            crop_h,
            ..
        } => format!(
            "an image of {width}x{height} is smaller than the model's {crop_w}x{crop_h} input (width x height); use larger images"
        ),
        other => other.to_string(),
    };
    QuantizeError::Calibration {
        folder: dir.to_owned(),
        reason,
    }
}
