//! Where a model comes from: a path, or `zoo:NAME[?classes=N&batch=N&seed=N]`, parsed and
//! loaded by `edgebench_torch::source::ModelSource`, as in the study's children.

use anyhow::{bail, Result};
use edgebench_core::model::Model;
use edgebench_torch::export::{inputs_for, parse_input_shape, ExportInput};
use edgebench_torch::source::{ModelSource, TorchSource, ZooDefaults};

/// Options that apply to zoo models given as flags rather than in the `zoo:` query.
pub type ZooFlags = ZooDefaults;

/// Loads and validates the ONNX model of `bench`, `inspect`, `video` and `pipeline zoo:...`.
pub fn load(arg: &str, flags: ZooFlags) -> Result<Model> {
    let source = ModelSource::parse_onnx(arg)?;
    if flags.classes.is_some() && matches!(source, ModelSource::File(_)) {
        bail!("--classes applies to zoo models only (zoo:NAME); {arg} is a file: export it with the number of classes you need");
    }
    Ok(source.load(flags)?)
}

/// The one image input of a PyTorch source that `prune` and `quantize --qat` train and export:
/// `--shape` (`[NAME:]1x3xHxW`) or the source's default.
pub fn one_image_input(source: &TorchSource, shape: Option<&str>) -> Result<ExportInput> {
    let shapes = match shape {
        Some(s) => vec![parse_input_shape(s)?],
        None => vec![],
    };
    let mut inputs = inputs_for(source, &shapes, None)?;
    if inputs.len() != 1 {
        bail!("--shape: give one input shape (1x3xHxW)");
    }
    Ok(inputs.remove(0))
}
