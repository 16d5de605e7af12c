//! Calibration samples for a quantizer from a folder of images, through the video pipeline's
//! own folder source and preprocessing (so that calibration sees exactly what the model sees
//! in `edgebench video`): `edgebench quantize --calibration DIR`.

use crate::clip::{ClipAssembler, ModelPlan};
use crate::preprocess::{PreprocessConfig, Preprocessor};
use crate::source::{self, OpenOptions, SourceSpec};
use crate::VideoError;
use edgebench_core::tensor::{ConcreteSpec, HostTensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why a folder gives no calibration samples: the folder and the reason, worded for
/// `--calibration` (the fix included).
#[derive(Debug, thiserror::Error)]
#[error("--calibration {}: {reason}", folder.display())]
pub struct CalibrationError {
    pub folder: PathBuf,
    pub reason: String,
}

/// Calibration samples from a folder of images: each image decoded by the video pipeline's
/// folder source, resized, centre-cropped and normalized by its preprocessing (torchvision's
/// defaults for the model's input), and laid out as the model's input; a video model gets
/// clips of consecutive images. `cap` limits the samples.
pub fn from_folder(
    dir: &Path,
    inputs: &[ConcreteSpec],
    cap: Option<usize>,
) -> Result<Vec<Vec<HostTensor>>, CalibrationError> {
    let bad = |reason: String| CalibrationError {
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
    let mut source = source::open(
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
    Ok(samples)
}

/// The video pipeline's errors, reworded for `--calibration` (they name `--input`).
fn video_error(dir: &Path, input: &str, e: VideoError) -> CalibrationError {
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
    CalibrationError {
        folder: dir.to_owned(),
        reason,
    }
}
