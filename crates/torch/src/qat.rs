//! `edgebench quantize SOURCE --qat --train DIR --epochs N`: quantization-aware training of a
//! PyTorch source with PyTorch's own tooling (`torch.ao.quantization`: FX graph mode
//! `prepare_qat_fx` with the `x86` QAT qconfig mapping, eager mode `prepare_qat` where FX
//! cannot trace), fine-tuned on a labelled image folder, exported by `torch.onnx.export` as a
//! QDQ ONNX model (QuantizeLinear/DequantizeLinear pairs, opset 13) that ONNX Runtime runs
//! with int8 kernels. The embedded script is `python/edgebench_quant/qat.py`; it runs as
//! [`crate::tuning`] runs scripts. What was quantized is read from the output file
//! ([`QdqCounts::of`]), not from the script's word.

use crate::export::ExportInput;
use crate::quantize::{QdqCounts, META_KEY};
use crate::source::{meta, weights_for, TorchSource};
use crate::tuning::{self, EpochStats, Script, TrainSettings, TuningError};
use edgebench_core::model::Model;
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tract_onnx::pb;

/// The QAT script, embedded so that the binary stays self-contained.
pub const SCRIPT: &str = include_str!("../../../python/edgebench_quant/qat.py");
/// The opset of the export: QuantizeLinear/DequantizeLinear with per-channel `axis` need 13,
/// the first opset torch 1.13 exports fake quantizers at.
pub const QAT_OPSET: i64 = 13;
/// torch.ao.quantization's backend whose QAT qconfig mapping is used.
pub const BACKEND: &str = "x86";

/// What to train and where to put it.
#[derive(Debug, Clone)]
pub struct QatOptions {
    pub source: TorchSource,
    /// The model's one image input (N x 3 x H x W); N is the export's batch.
    pub input: ExportInput,
    pub output: PathBuf,
    pub train: TrainSettings,
    /// torch's intra-op threads; `None`: torch's default.
    pub threads: Option<usize>,
    /// Kill the script after this long.
    pub timeout: Duration,
}

/// Versions the script reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainerVersions {
    pub python: String,
    pub torch: String,
    pub torchvision: String,
}

/// What quantization-aware training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QatReport {
    /// The source as edgebench names it (`tv:resnet18`).
    pub model: String,
    pub output: PathBuf,
    pub output_sha256: String,
    /// Always `qdq`.
    pub format: String,
    /// `int8`.
    pub precision: String,
    /// `u8`: unsigned, 0..255 (the x86 qconfig's range without `reduce_range`).
    pub activations: String,
    /// `s8`: signed, symmetric.
    pub weights: String,
    /// `fx` (graph mode) or `eager`.
    pub mode: String,
    /// Why FX graph mode was not used (eager mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fx_error: Option<String>,
    pub backend: String,
    /// Fake quantizers in the trained model, and how many of them are per-channel (weights).
    pub fake_quantizers: usize,
    pub per_channel_quantizers: usize,
    pub train: TrainSettings,
    /// The folder's class names, in label order.
    pub classes: Vec<String>,
    pub images: usize,
    /// Which weights training started from (`edgebench-zoo-deterministic`, ...).
    pub initial_weights: String,
    pub epochs: Vec<EpochStats>,
    /// Read from the output file.
    pub counts: QdqCounts,
    pub opset: i64,
    pub bytes: u64,
    pub python_path: PathBuf,
    pub versions: TrainerVersions,
    pub train_s: f64,
    pub export_s: f64,
    pub elapsed_s: f64,
}

/// Checks that `out` can be written: not a folder, in a folder that exists.
pub(crate) fn check_output(out: &Path, example: &str) -> Result<(), TuningError> {
    if out.is_dir() {
        return Err(TuningError::Write {
            path: out.to_owned(),
            reason: format!("it is a directory; give a file name such as {example}"),
        });
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(TuningError::Write {
            path: out.to_owned(),
            reason: format!("folder {} does not exist; create it first", dir.display()),
        });
    }
    Ok(())
}

/// The one image input a training script can feed: N x 3 x H x W.
pub(crate) fn check_image_input(
    input: &ExportInput,
    source: &TorchSource,
) -> Result<(), TuningError> {
    let s = &input.shape;
    if s.len() != 4 || s[1] != 3 || s.contains(&0) {
        return Err(TuningError::Invalid(format!(
            "{}: the input {} is not an image batch; training on an image folder needs one Nx3xHxW input (give --shape 1x3x224x224)",
            source.label(),
            s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x")
        )));
    }
    Ok(())
}

/// Trains `opts.source` with fake quantizers and writes the QDQ model to `opts.output` (only
/// once complete: on any error no output file is created). `on_epoch` gets each epoch's
/// figures as soon as the script reports them.
pub fn qat(
    opts: &QatOptions,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<QatReport, TuningError> {
    let start = Instant::now();
    check_output(&opts.output, "model.qat.onnx")?;
    check_image_input(&opts.input, &opts.source)?;
    let folder = opts.train.check("--train")?;
    let python = tuning::python()?;
    let scratch = tempfile::Builder::new()
        .prefix("edgebench-qat-")
        .tempdir()
        .map_err(|e| TuningError::Write {
            path: std::env::temp_dir(),
            reason: e.to_string(),
        })?;
    let d = scratch.path();
    let (source, weights) = weights_for(
        &opts.source,
        opts.train.seed,
        std::slice::from_ref(&opts.input.shape),
    );
    let weights_req = weights.request(&Default::default(), d)?;
    let exported = d.join("qat.onnx");
    let request = json!({
        "source": source,
        "seed": opts.train.seed,
        "weights": weights_req,
        "input": opts.input,
        "train": {
            "folder": opts.train.absolute().folder,
            "epochs": opts.train.epochs,
            "lr": opts.train.lr,
            "batch": opts.train.batch,
            "seed": opts.train.seed,
        },
        "output": exported,
        "opset": QAT_OPSET,
        "backend": BACKEND,
        "threads": opts.threads,
    });
    let script = Script {
        name: "qat.py",
        text: SCRIPT,
        dir: d,
        timeout: opts.timeout,
    };
    let mut epochs = vec![];
    let answer = tuning::run_script(&python.path, &script, &request, &mut |v| {
        if let Some(e) = tuning::epoch_of(v) {
            on_epoch(&e);
            epochs.push(e);
        }
        Ok(())
    })?;
    let s = |k: &str| {
        answer
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let n = |k: &str| answer.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
    let f = |k: &str| answer.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let bad = |reason: String| TuningError::BadOutput {
        script: "qat.py".into(),
        path: exported.clone(),
        reason,
    };
    let bytes = std::fs::read(&exported).map_err(|e| bad(e.to_string()))?;
    let mut proto = pb::ModelProto::decode(&bytes[..]).map_err(|e| bad(e.to_string()))?;
    let counts = QdqCounts::of(&proto);
    if counts.quantize_linear == 0 || counts.dequantize_linear == 0 {
        return Err(bad(
            "it holds no QuantizeLinear/DequantizeLinear nodes: nothing was quantized".into(),
        ));
    }
    let provenance = json!({
        "tool": "torch.ao.quantization (quantization-aware training)",
        "format": "qdq",
        "precision": "int8",
        "activations": "u8",
        "weights": "s8",
        "mode": s("mode"),
        "backend": BACKEND,
        "train": opts.train,
        "epochs": epochs.len(),
        "torch": s("torch"),
    });
    let source_json = serde_json::to_string(&source).unwrap_or_default();
    let entries = [
        (META_KEY, provenance.to_string()),
        (meta::SOURCE, source_json),
        (meta::TORCH_VERSION, s("torch")),
        (meta::OPSET, QAT_OPSET.to_string()),
        (meta::TOOL, env!("CARGO_PKG_VERSION").to_owned()),
    ];
    crate::export::set_metadata(&mut proto, entries);
    let encoded = proto.encode_to_vec();
    let model = Model::from_bytes("qat", encoded.clone()).map_err(|e| bad(e.to_string()))?;
    edgebench_core::write::write_atomic(&opts.output, &encoded).map_err(|e| {
        TuningError::Write {
            path: opts.output.clone(),
            reason: e.to_string(),
        }
    })?;
    let fx_error = s("fx_error");
    Ok(QatReport {
        model: opts.source.label(),
        output: opts.output.clone(),
        output_sha256: model.sha256.clone(),
        format: "qdq".into(),
        precision: "int8".into(),
        activations: "u8".into(),
        weights: "s8".into(),
        mode: s("mode"),
        fx_error: (!fx_error.is_empty()).then_some(fx_error),
        backend: BACKEND.into(),
        fake_quantizers: n("fake_quantizers"),
        per_channel_quantizers: n("per_channel_quantizers"),
        train: opts.train.clone(),
        classes: folder.classes.iter().map(|(c, _)| c.clone()).collect(),
        images: n("images"),
        initial_weights: s("weights"),
        epochs,
        counts,
        opset: QAT_OPSET,
        bytes: encoded.len() as u64,
        python_path: python.path.clone(),
        versions: TrainerVersions {
            python: s("python"),
            torch: s("torch"),
            torchvision: s("torchvision"),
        },
        train_s: f("train_s"),
        export_s: f("export_s"),
        elapsed_s: start.elapsed().as_secs_f64(),
    })
}

impl QatReport {
    /// The report as `edgebench quantize --qat` prints it.
    pub fn text(&self) -> String {
        let r = self;
        let mut s = format!(
            "quantization-aware training of {} to {} (QDQ int8: activations {}, weights {}; torch.ao.quantization {} mode, {} qconfig)\n",
            r.model,
            r.output.display(),
            r.activations,
            r.weights,
            r.mode,
            r.backend
        );
        if let Some(e) = &r.fx_error {
            s += &format!("  FX graph mode could not trace the model ({e}): eager mode, which quantizes module outputs but not functional operators\n");
        }
        s += &format!(
            "  trained on {} images of {} classes in {} ({} epochs, lr {}, batch {}), from {} weights\n",
            r.images,
            r.classes.len(),
            r.train.folder.display(),
            r.train.epochs,
            r.train.lr,
            r.train.batch,
            r.initial_weights
        );
        for e in &r.epochs {
            s += &format!(
                "  epoch {}/{}: loss {:.4}, accuracy {:.1}% ({:.1} s)\n",
                e.epoch,
                e.epochs,
                e.loss,
                e.accuracy * 100.0,
                e.seconds
            );
        }
        let c = &r.counts;
        s += &format!(
            "  in the output: {} QuantizeLinear, {} DequantizeLinear of {} nodes; {} fake quantizers ({} per-channel)\n",
            c.quantize_linear, c.dequantize_linear, c.nodes, r.fake_quantizers, r.per_channel_quantizers
        );
        if !c.quantized_ops.is_empty() {
            let ops: Vec<String> = c
                .quantized_ops
                .iter()
                .map(|(op, n)| format!("{op} x{n}"))
                .collect();
            s += &format!(
                "  operators reading quantized tensors: {}\n",
                ops.join(", ")
            );
        }
        s += &format!(
            "  training {:.1} s, export {:.1} s ({:.1} s in all); torch {}, torchvision {} (Python {} at {})\n",
            r.train_s,
            r.export_s,
            r.elapsed_s,
            r.versions.torch,
            r.versions.torchvision,
            r.versions.python,
            r.python_path.display()
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> TorchSource {
        TorchSource::Torchvision {
            builder: "resnet18".into(),
            kwargs: Default::default(),
        }
    }

    #[test]
    fn only_an_image_batch_can_be_trained_on_an_image_folder() {
        let ok = ExportInput {
            name: "input".into(),
            shape: vec![1, 3, 32, 32],
        };
        check_image_input(&ok, &source()).unwrap();
        for shape in [vec![1, 1, 32, 32], vec![1, 3, 8, 32, 32], vec![1, 3, 0, 32]] {
            let i = ExportInput {
                name: "input".into(),
                shape,
            };
            let e = check_image_input(&i, &source()).unwrap_err().to_string();
            assert!(e.contains("tv:resnet18") && e.contains("--shape"), "{e}");
        }
    }

    #[test]
    fn the_output_must_be_a_file_in_an_existing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_output(dir.path(), "m.onnx").unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
        let e = check_output(&dir.path().join("no/m.onnx"), "m.onnx")
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        check_output(&dir.path().join("m.onnx"), "m.onnx").unwrap();
    }
}
