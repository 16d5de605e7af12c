//! Low-precision variants of a float32 model, made in an engine's `prepare` (so their cost is
//! part of `prepare_ms`): `quant=int8` quantizes the model to QDQ int8 with ONNX Runtime's
//! quantizer (`edgebench_torch::quantize`, cached by model hash and settings), calibrated on
//! synthetic inputs unless `calib=DIR` names a folder of images; `dtype=fp16` (ONNX Runtime)
//! converts it to float16 with float32 inputs and outputs ([`crate::fp16`]).
//!
//! What was asked is recorded in the session's details (`core::precision::ASKED`); what ran is
//! read from the engine after measurement and recorded beside it.

use edgebench_core::engine::EngineSpec;
use edgebench_core::error::{Error, Result};
use edgebench_core::model::Model;
use edgebench_core::precision;
use edgebench_core::tensor::ConcreteSpec;
use edgebench_torch::quantize::{
    quantize_in_memory, Activations, Calibration, CalibrationSource, Method, QuantizeError,
    QuantizeOptions, DEFAULT_SYNTHETIC_SAMPLES,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The spec keys of a quantized variant.
pub const QUANT_KEYS: &[&str] = &["quant", "calib"];

/// A spec's `quant=int8[,calib=DIR]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantRequest {
    /// The calibration images; `None`: synthetic inputs.
    pub calib: Option<PathBuf>,
}

/// The quantization a spec asks for (`None` without `quant=`). `quant` takes `int8` only;
/// `calib=DIR` needs `quant=int8` and a folder that exists.
pub fn quant_request(spec: &EngineSpec) -> Result<Option<QuantRequest>> {
    let shown = spec.to_string();
    let bad = |msg: String| Error::InvalidArgument(format!("--engine {shown}: {msg}"));
    let calib = spec.options.get("calib").map(PathBuf::from);
    match spec.options.get("quant").map(String::as_str) {
        None => match calib {
            Some(_) => Err(bad(
                "calib=DIR calibrates a quantization: add quant=int8".into()
            )),
            None => Ok(None),
        },
        Some("int8") => {
            if let Some(dir) = &calib {
                if !dir.is_dir() {
                    return Err(bad(format!(
                        "calib={}: no such folder; give a folder of PNG or JPEG images, or leave calib out for synthetic calibration",
                        dir.display()
                    )));
                }
            }
            Ok(Some(QuantRequest { calib }))
        }
        Some(q) => Err(bad(format!(
            "quant={q}: the only quantization is quant=int8 (QDQ, ONNX Runtime's quantizer)"
        ))),
    }
}

/// A variant's model after its transformation, and what to record about it.
pub struct Transformed {
    pub model: Model,
    /// Session details: the precision asked, the calibration, the quantizer's cache.
    pub details: BTreeMap<String, String>,
}

/// Quantizes `model` to QDQ int8 (per-channel weights, minmax ranges; `activations` u8 for
/// CPUs, s8 for TensorRT), from the quantizer's cache when it has it.
pub fn quantize(
    model: &Model,
    inputs: &[ConcreteSpec],
    req: &QuantRequest,
    activations: Activations,
) -> Result<Transformed> {
    let calibration = match &req.calib {
        None => Calibration::synthetic(inputs, DEFAULT_SYNTHETIC_SAMPLES),
        Some(dir) => edgebench_video::calibration::from_folder(dir, inputs, None)
            .map(|samples| Calibration {
                source: CalibrationSource::Folder { path: dir.clone() },
                samples,
            })
            .map_err(|e| QuantizeError::Calibration {
                folder: e.folder,
                reason: e.reason.replace("--calibration", "calib="),
            }),
    }
    .map_err(Error::from)?;
    let opts = QuantizeOptions {
        output: PathBuf::from(format!("{}.int8.onnx", model.name)),
        method: Method::MinMax,
        per_channel: true,
        activations,
        calibration,
        python: None,
        timeout: edgebench_torch::worker::Timeouts::from_env().export,
    };
    let (report, bytes) = quantize_in_memory(model, inputs, &opts).map_err(Error::from)?;
    let quantized = Model::from_bytes(&format!("{} (quant=int8)", model.name), bytes)?;
    let mut details = BTreeMap::new();
    details.insert(precision::ASKED.into(), "int8".into());
    details.insert(
        precision::CALIBRATION.into(),
        match &report.calibration {
            CalibrationSource::Synthetic => "synthetic".into(),
            CalibrationSource::Folder { path } => path.display().to_string(),
        },
    );
    details.insert(
        "quant.settings".into(),
        format!(
            "qdq, activations {}, weights s8, {}, per-channel, {} samples, onnxruntime {}",
            report.activations.as_str(),
            report.method.as_str(),
            report.samples,
            report.versions.onnxruntime
        ),
    );
    details.insert(
        "quant.model".into(),
        format!(
            "sha256 {}, {} QuantizeLinear, {} DequantizeLinear{}",
            &report.output_sha256[..12],
            report.counts.quantize_linear,
            report.counts.dequantize_linear,
            if report.cached {
                format!(
                    ", from the quantizer's cache (key {})",
                    &report.cache_key[..12]
                )
            } else {
                format!(", made in {:.1} s", report.elapsed_s)
            }
        ),
    );
    Ok(Transformed {
        model: quantized,
        details,
    })
}

/// The float16 copy of `model` (float32 inputs and outputs), for `dtype=fp16`.
pub fn to_fp16(model: &Model, engine: &str) -> Result<Transformed> {
    use prost::Message;
    let half = crate::fp16::convert(&model.proto).map_err(|e| Error::Engine {
        engine: engine.to_owned(),
        reason: format!(
            "cannot convert {} to float16: {}",
            model.name,
            edgebench_core::error::one_line(&e)
        ),
    })?;
    let converted = Model::from_bytes(
        &format!("{} (dtype=fp16)", model.name),
        half.encode_to_vec(),
    )?;
    let mut details = BTreeMap::new();
    details.insert(precision::ASKED.into(), "f16".into());
    details.insert(
        "fp16.conversion".into(),
        "float32 weights and activations to float16, float32 inputs and outputs (keep_io_types)"
            .into(),
    );
    Ok(Transformed {
        model: converted,
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Result<Option<QuantRequest>> {
        quant_request(&EngineSpec::parse(s).unwrap())
    }

    #[test]
    fn quant_options() {
        assert_eq!(req("ort:all").unwrap(), None);
        assert_eq!(
            req("ort:all,quant=int8").unwrap(),
            Some(QuantRequest { calib: None })
        );
        let dir = std::env::temp_dir();
        let s = format!("ort:all,quant=int8,calib={}", dir.display());
        assert_eq!(req(&s).unwrap().unwrap().calib, Some(dir));
        let e = req("ort:all,quant=int4").unwrap_err().to_string();
        assert!(e.contains("quant=int4") && e.contains("quant=int8"), "{e}");
        let e = req("ort:all,calib=/tmp").unwrap_err().to_string();
        assert!(e.contains("add quant=int8"), "{e}");
        let e = req("ort:all,quant=int8,calib=/no/such/dir")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such folder"), "{e}");
    }
}
