//! `edgebench export`: PyTorch model -> ONNX file, in the worker, with `torch.onnx.export`.
//! The file gets the source, seed, torch and opset versions in its metadata (so the torch
//! engine can rebuild the PyTorch model later), is checked to load, and is scanned for
//! operators the engines here cannot run.

use crate::error::TorchError;
use crate::python::PythonInfo;
use crate::source::{meta, weights_for, TorchSource, Weights};
use crate::worker::{Timeouts, Worker};
use edgebench_core::model::Model;
use prost::Message;
use serde::Serialize;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tract_onnx::pb;

/// Opsets accepted on the command line (torch itself may support fewer).
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=23;
/// The default opset: supported by torch 1.13 and every later torch, and by every engine here.
pub const DEFAULT_OPSET: i64 = 17;

/// One model input of the export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportInput {
    pub name: String,
    pub shape: Vec<usize>,
}

/// What to export and where.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    pub source: TorchSource,
    pub inputs: Vec<ExportInput>,
    pub output: PathBuf,
    pub opset: i64,
    /// `torch.manual_seed` before the model is built (random initialisation).
    pub seed: u64,
    /// Make the first dimension of every input and output dynamic.
    pub dynamic_batch: bool,
}

/// An operator some engine here cannot run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnsupportedOp {
    pub engine: String,
    pub op: String,
    pub node: String,
}

/// What the export did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportReport {
    pub source: String,
    pub output: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub python: PathBuf,
    pub torch_version: String,
    pub exporter: String,
    pub opset: i64,
    pub seed: u64,
    /// Which weights the file holds: `edgebench-zoo-deterministic`, `rescaled-deterministic`
    /// or `as-given` (see [`Weights`]).
    pub weights: String,
    /// How they were made, in words (what the worker did).
    pub weights_detail: String,
    pub parameters: u64,
    pub inputs: Vec<ExportInput>,
    pub outputs: Vec<ExportInput>,
    /// The `onnx.checker` verdict, or why it was skipped.
    pub onnx_checker: String,
    pub unsupported: Vec<UnsupportedOp>,
    pub export_ms: f64,
}

impl ExportReport {
    /// What `edgebench export` prints: the file, the torch that wrote it, the inputs and
    /// outputs, the parameters, the checker's verdict and the operators tract cannot run.
    pub fn text(&self) -> String {
        use edgebench_core::fmt::{bytes, si};
        use edgebench_core::tensor::shape_string;
        let list = |v: &[ExportInput]| {
            v.iter()
                .map(|i| format!("{} {}", i.name, shape_string(&i.shape)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = format!(
            "exported {} to {} ({}, sha256 {})\n",
            self.source,
            self.output.display(),
            bytes(self.bytes),
            &self.sha256[..12.min(self.sha256.len())]
        );
        s += &format!(
            "  torch {} ({}), {}, opset {}, seed {}, {:.1} s\n",
            self.torch_version,
            self.python.display(),
            self.exporter,
            self.opset,
            self.seed,
            self.export_ms / 1e3
        );
        s += &format!(
            "  inputs: {}\n  outputs: {}\n",
            list(&self.inputs),
            list(&self.outputs)
        );
        s += &format!(
            "  parameters: {}\n  onnx.checker: {}\n",
            si(self.parameters as f64),
            self.onnx_checker
        );
        if self.unsupported.is_empty() {
            s += "  tract runs every operator of this model\n";
        } else {
            for u in &self.unsupported {
                s += &format!(
                    "  {} cannot run operator {} (node {}): use another engine for this model\n",
                    u.engine, u.op, u.node
                );
            }
        }
        s
    }

    /// The export in one line, as `edgebench pipeline` notes it on stderr.
    pub fn summary(&self) -> String {
        let tract = if self.unsupported.is_empty() {
            "tract runs every operator".to_string()
        } else {
            format!(
                "tract cannot run {}",
                self.unsupported
                    .iter()
                    .map(|u| u.op.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!(
            "exported {} with torch {} (opset {}, {:.1} s; onnx.checker {}; {tract})",
            self.source,
            self.torch_version,
            self.opset,
            self.export_ms / 1e3,
            self.onnx_checker
        )
    }
}

/// Exports `opts.source` to `opts.output` (written atomically) and returns the report and
/// the loaded model.
pub fn export(
    python: &PythonInfo,
    opts: &ExportOptions,
) -> Result<(ExportReport, Model), TorchError> {
    python.require_torch()?;
    if matches!(opts.source, TorchSource::Torchvision { .. }) {
        python.require_torchvision()?;
    }
    if !OPSETS.contains(&opts.opset) {
        return Err(TorchError::Invalid(format!(
            "--opset {}: choose an opset from {} to {} (default {DEFAULT_OPSET})",
            opts.opset,
            OPSETS.start(),
            OPSETS.end()
        )));
    }
    if opts.inputs.is_empty() {
        return Err(TorchError::Invalid(
            "no input shape: give --shape 1x3x224x224 (one per model input)".into(),
        ));
    }
    let out = &opts.output;
    let werr = |path: &Path, e: &dyn std::fmt::Display| TorchError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    if out.is_dir() {
        return Err(TorchError::Write {
            path: out.clone(),
            reason: "it is a directory; give a file name such as model.onnx".into(),
        });
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(TorchError::Write {
            path: out.clone(),
            reason: format!("folder {} does not exist; create it first", dir.display()),
        });
    }
    // torch writes into a scratch file beside the output; the final file appears only once
    // it is complete.
    let scratch = tempfile::Builder::new()
        .prefix(".edgebench-export-")
        .suffix(".onnx")
        .tempfile_in(&dir)
        .map_err(|e| werr(out, &e))?;
    let scratch_path = scratch.path().to_owned();

    let shapes: Vec<Vec<usize>> = opts.inputs.iter().map(|i| i.shape.clone()).collect();
    let (source, weights) = weights_for(&opts.source, opts.seed, &shapes);
    let weights_dir = tempfile::Builder::new()
        .prefix("edgebench-export-")
        .tempdir()
        .map_err(|e| werr(&std::env::temp_dir(), &e))?;
    let weights_req = weights.request(&Default::default(), weights_dir.path())?;

    let start = Instant::now();
    let timeouts = Timeouts::from_env();
    let mut worker = Worker::start(&python.path, false, timeouts)?;
    let reply = worker.request(
        "export",
        json!({
            "source": source,
            "weights": weights_req,
            "seed": opts.seed,
            "inputs": opts.inputs,
            "output": scratch_path,
            "opset": opts.opset,
            "dynamic_batch": opts.dynamic_batch,
        }),
        timeouts.export,
    )?;
    drop(worker);
    drop(weights_dir);
    let export_ms = start.elapsed().as_secs_f64() * 1e3;
    let s = |k: &str| {
        reply
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let torch_version = s("torch");
    let exporter = s("exporter");

    // Record where the model came from, then write the final file.
    let bytes = std::fs::read(&scratch_path).map_err(|e| werr(&scratch_path, &e))?;
    let mut proto = pb::ModelProto::decode(&bytes[..]).map_err(|e| {
        TorchError::Invalid(format!(
            "torch.onnx.export wrote a file that is not an ONNX protobuf ({e}); a model over 2 GB needs external data, which this export does not support"
        ))
    })?;
    let source_json =
        serde_json::to_string(&source).map_err(|e| TorchError::Invalid(e.to_string()))?;
    // The worker says which weights it used: a rescaling finds nothing to rescale when no
    // weight depends on the seed.
    let weights_label = match reply.get("weights").and_then(Value::as_str) {
        Some(Weights::AS_GIVEN) => Weights::AS_GIVEN,
        _ => weights.label(),
    };
    let mut entries = vec![
        (meta::SOURCE, source_json),
        (meta::SEED, opts.seed.to_string()),
        (meta::TORCH_VERSION, torch_version.clone()),
        (meta::OPSET, opts.opset.to_string()),
        (meta::EXPORTER, exporter.clone()),
        (meta::TOOL, env!("CARGO_PKG_VERSION").to_owned()),
        (meta::WEIGHTS, weights_label.to_owned()),
    ];
    if let (Weights::Rescaled { calibration }, Weights::RESCALED) = (&weights, weights_label) {
        entries.push((
            meta::WEIGHTS_CALIBRATION,
            serde_json::to_string(calibration).map_err(|e| TorchError::Invalid(e.to_string()))?,
        ));
    }
    proto
        .metadata_props
        .retain(|kv| kv.key != meta::WEIGHTS_CALIBRATION);
    set_metadata(&mut proto, entries);
    let encoded = proto.encode_to_vec();
    {
        let mut f = scratch.as_file();
        f.set_len(0).map_err(|e| werr(&scratch_path, &e))?;
        // The scratch file was written by another process: rewrite it from the start.
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(0))
            .map_err(|e| werr(&scratch_path, &e))?;
        f.write_all(&encoded).map_err(|e| werr(&scratch_path, &e))?;
        f.sync_all().map_err(|e| werr(&scratch_path, &e))?;
    }
    scratch.persist(out).map_err(|e| werr(out, &e.error))?;

    // The file must load as a model edgebench accepts.
    let model = Model::from_path(out)
        .map_err(|e| TorchError::Invalid(format!("the exported file does not load: {e}")))?;
    let unsupported = edgebench_core::tract_support::unsupported_ops(&model.proto)
        .into_iter()
        .map(|(op, node)| UnsupportedOp {
            engine: "tract".into(),
            op,
            node,
        })
        .collect();
    let names = |k: &str| -> Vec<String> {
        reply
            .get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let shapes: Vec<Vec<usize>> = reply
        .get("output_shapes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| {
                    s.as_array()
                        .map(|d| {
                            d.iter()
                                .filter_map(Value::as_u64)
                                .map(|x| x as usize)
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let outputs = names("output_names")
        .into_iter()
        .zip(shapes)
        .map(|(name, shape)| ExportInput { name, shape })
        .collect();
    let report = ExportReport {
        source: opts.source.label(),
        output: out.clone(),
        bytes: model.bytes.len() as u64,
        sha256: model.sha256.clone(),
        python: python.path.clone(),
        torch_version,
        exporter,
        opset: opts.opset,
        seed: opts.seed,
        weights: weights_label.to_owned(),
        weights_detail: s("weights_detail"),
        parameters: reply.get("parameters").and_then(Value::as_u64).unwrap_or(0),
        inputs: opts.inputs.clone(),
        outputs,
        onnx_checker: s("checker"),
        unsupported,
        export_ms,
    };
    Ok((report, model))
}

/// Input names for `n` inputs: `input`, or `input_0`, `input_1`, ...
pub fn input_names(n: usize) -> Vec<String> {
    if n == 1 {
        vec!["input".into()]
    } else {
        (0..n).map(|i| format!("input_{i}")).collect()
    }
}

/// One `--shape` of `export` and `pipeline`: `1x3x224x224` or `NAME:1x3x224x224`.
pub fn parse_input_shape(s: &str) -> Result<(Option<String>, Vec<usize>), TorchError> {
    let (name, dims) = match s.rsplit_once(':') {
        Some((n, d)) if !n.is_empty() => (Some(n.to_owned()), d),
        Some((_, _)) => {
            return Err(TorchError::Invalid(format!(
                "`{s}`: the input name before `:` is empty"
            )))
        }
        None => (None, s),
    };
    let dims: Option<Vec<usize>> = dims
        .split('x')
        .map(|d| d.trim().parse::<usize>().ok().filter(|&n| n > 0))
        .collect();
    match dims {
        Some(d) if !d.is_empty() => Ok((name, d)),
        _ => Err(TorchError::Invalid(format!(
            "`{s}`: expected positive sizes joined by x, e.g. 1x3x224x224 or input:1x3x224x224"
        ))),
    }
}

/// The export's inputs from the `--shape`s given (else the source's default shape), with
/// `batch`, when given, as every input's first dimension.
pub fn inputs_for(
    source: &TorchSource,
    shapes: &[(Option<String>, Vec<usize>)],
    batch: Option<usize>,
) -> Result<Vec<ExportInput>, TorchError> {
    let mut given: Vec<(Option<String>, Vec<usize>)> = shapes.to_vec();
    if given.is_empty() {
        match source.default_input_shape() {
            Some(s) => given.push((None, s)),
            None => {
                return Err(TorchError::Invalid(format!(
                "{}: give the input shape, e.g. --shape 1x3x224x224 (one --shape per model input)",
                source.label()
            )))
            }
        }
    }
    let names = input_names(given.len());
    let mut out = Vec::with_capacity(given.len());
    for ((name, mut shape), default) in given.into_iter().zip(names) {
        if let Some(b) = batch {
            shape[0] = b;
        }
        let name = name.unwrap_or(default);
        if out.iter().any(|i: &ExportInput| i.name == name) {
            return Err(TorchError::Invalid(format!(
                "--shape {name}:...: input `{name}` is given twice"
            )));
        }
        out.push(ExportInput { name, shape });
    }
    Ok(out)
}

/// Exports `source` once into the cache folder and returns the file; later calls with the same
/// source (and, for a user's module, the same file contents), inputs, seed and Python reuse it.
/// Used by `edgebench study` for PyTorch sources in a config.
pub fn export_cached(
    python: &PythonInfo,
    source: &TorchSource,
    inputs: Vec<ExportInput>,
    seed: u64,
    dynamic_batch: bool,
) -> Result<PathBuf, TorchError> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    // `weights-v1`: exports from before edgebench chose the weights are not reused.
    h.update(format!("weights-v1|{}", source.label()).as_bytes());
    if let TorchSource::Module { file, .. } = source {
        h.update(std::fs::read(file).unwrap_or_default());
    }
    for i in &inputs {
        h.update(format!("|{}:{:?}", i.name, i.shape).as_bytes());
    }
    h.update(
        format!(
            "|{seed}|{dynamic_batch}|{DEFAULT_OPSET}|{}",
            python.path.display()
        )
        .as_bytes(),
    );
    let key: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = crate::embed::cache_root().join("exports");
    std::fs::create_dir_all(&dir).map_err(|e| {
        TorchError::Invalid(format!(
            "cannot create {}: {e}; set EDGEBENCH_CACHE_DIR to a writable folder",
            dir.display()
        ))
    })?;
    let output = dir.join(format!("{}-{key}.onnx", source.short_name()));
    if !output.is_file() {
        export(
            python,
            &ExportOptions {
                source: source.clone(),
                inputs,
                output: output.clone(),
                opset: DEFAULT_OPSET,
                seed,
                dynamic_batch,
            },
        )?;
    }
    Ok(output)
}

/// Writes `entries` into a model's metadata, each replacing an entry of the same key.
pub(crate) fn set_metadata<'a>(
    proto: &mut pb::ModelProto,
    entries: impl IntoIterator<Item = (&'a str, String)>,
) {
    let entries: Vec<(&str, String)> = entries.into_iter().collect();
    proto
        .metadata_props
        .retain(|kv| !entries.iter().any(|(k, _)| kv.key == *k));
    for (k, v) in entries {
        proto.metadata_props.push(pb::StringStringEntryProto {
            key: k.into(),
            value: v,
        });
    }
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
            assert!(
                matches!(parse_input_shape(bad), Err(TorchError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn default_and_batched_inputs() {
        let s = TorchSource::parse("tv:video.r3d_18", None).unwrap();
        let i = inputs_for(&s, &[], Some(2)).unwrap();
        assert_eq!(i[0].name, "input");
        assert_eq!(i[0].shape, vec![2, 3, 16, 112, 112]);
        let i = inputs_for(
            &s,
            &[(None, vec![1, 4]), (Some("b".into()), vec![1, 2])],
            None,
        )
        .unwrap();
        assert_eq!(i[0].name, "input_0");
        assert_eq!(i[1].name, "b");
        let twice = inputs_for(
            &s,
            &[(Some("a".into()), vec![1]), (Some("a".into()), vec![2])],
            None,
        );
        assert!(matches!(twice, Err(TorchError::Invalid(m)) if m.contains("given twice")));
    }
}
