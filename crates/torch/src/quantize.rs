//! `edgebench quantize`: post-training static quantization of an ONNX model to a QDQ ONNX
//! model with ONNX Runtime's own tool (`onnxruntime.quantization`: `quant_pre_process`, then
//! `quantize_static` with `QuantFormat.QDQ`), run in a Python process.
//!
//! edgebench makes the calibration batches (synthetic ones from `core::inputs`, or tensors the
//! caller made from images), writes them as raw little-endian files with a JSON request, and
//! runs the embedded script `python/edgebench_quant/quantize.py` in its own process group under
//! a time limit (`core::process::run`). The script answers with one JSON line on stdout; a
//! script that crashes, hangs or writes anything else is reported with its stderr tail.
//!
//! The result is cached by the model's SHA-256, the settings and the calibration data (see
//! [`cache_key`]), so a second identical call copies the cached file. What was quantized is
//! read from the output model itself ([`QdqCounts::of`]), not from what was asked.

use crate::engine::to_le_bytes;
use crate::worker::{script_status, script_stderr_tail, shorten};
use edgebench_core::model::Model;
use edgebench_core::process::{self, Limits};
use edgebench_core::tensor::{ConcreteSpec, HostTensor};
use prost::Message;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tract_onnx::pb;

/// The quantizer script, embedded so that the binary stays self-contained.
pub const SCRIPT: &str = include_str!("../../../python/edgebench_quant/quantize.py");
/// The onnxruntime version CI pins (`.ci/requirements.txt`), for the fix in messages.
pub const ORT_PIN: &str = "onnxruntime==1.24.4";
/// The onnx version CI pins: `onnxruntime.quantization` imports `onnx`.
pub const ONNX_PIN: &str = "onnx==1.20.1";
/// Synthetic calibration samples when `--samples` is not given.
pub const DEFAULT_SYNTHETIC_SAMPLES: usize = 16;
/// The first seed of synthetic calibration inputs (sample `i` uses `SEED + i`).
pub const SYNTHETIC_SEED: u64 = 1000;
/// The ONNX metadata key of the output: what was quantized and how, as JSON.
pub const META_KEY: &str = "edgebench.quantization";
/// Bumped when the cached files' meaning changes.
const CACHE_VERSION: &str = "quantize-v1";

/// How the quantizer turns calibration activations into ranges (`CalibrationMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    MinMax,
    Entropy,
    Percentile,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::MinMax, Method::Entropy, Method::Percentile];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::MinMax => "minmax",
            Method::Entropy => "entropy",
            Method::Percentile => "percentile",
        }
    }

    pub fn parse(s: &str) -> Result<Method, QuantizeError> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                QuantizeError::Invalid(format!(
                    "--method {s}: choose minmax, entropy or percentile"
                ))
            })
    }
}

/// The integer type of quantized activations; weights are always signed int8 (symmetric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activations {
    /// Unsigned, asymmetric (`QuantType.QUInt8`): ONNX Runtime's fast path on x86 CPUs
    /// (U8S8 kernels). On a 2-core AVX512-VNNI VM resnet18 ran 2x to 3.4x faster than with
    /// `s8` (docs/quantization.md).
    U8,
    /// Signed (`QuantType.QInt8`, S8S8): what TensorRT's explicit quantization needs.
    S8,
}

impl Activations {
    pub fn as_str(self) -> &'static str {
        match self {
            Activations::U8 => "u8",
            Activations::S8 => "s8",
        }
    }

    pub fn parse(s: &str) -> Result<Activations, QuantizeError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "u8" | "uint8" => Ok(Activations::U8),
            "s8" | "int8" => Ok(Activations::S8),
            _ => Err(QuantizeError::Invalid(format!(
                "--activations {s}: choose u8 (fastest on CPUs) or s8 (TensorRT)"
            ))),
        }
    }
}

/// Where the calibration batches came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CalibrationSource {
    /// Random inputs (`core::inputs::random_inputs`, seeds [`SYNTHETIC_SEED`] + i).
    Synthetic,
    /// Images of a folder, preprocessed as the model expects.
    Folder { path: PathBuf },
}

/// The calibration batches: one set of model inputs per sample.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub source: CalibrationSource,
    pub samples: Vec<Vec<HostTensor>>,
}

impl Calibration {
    /// `n` sets of random inputs for `inputs`, the same bytes on every run.
    pub fn synthetic(inputs: &[ConcreteSpec], n: usize) -> Result<Calibration, QuantizeError> {
        if n == 0 {
            return Err(QuantizeError::Invalid(
                "--samples 0: give at least 1 calibration sample".into(),
            ));
        }
        let samples = (0..n as u64)
            .map(|i| edgebench_core::inputs::random_inputs(inputs, SYNTHETIC_SEED + i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| QuantizeError::Invalid(e.to_string()))?;
        Ok(Calibration {
            source: CalibrationSource::Synthetic,
            samples,
        })
    }
}

/// What to quantize and where to put it.
#[derive(Debug, Clone)]
pub struct QuantizeOptions {
    pub output: PathBuf,
    pub method: Method,
    pub per_channel: bool,
    pub activations: Activations,
    pub calibration: Calibration,
    /// The Python that runs ONNX Runtime's quantizer; `None`: `python3` on PATH, as the ORT
    /// library is found.
    pub python: Option<PathBuf>,
    /// Kill the quantizer after this long.
    pub timeout: Duration,
}

/// The quantize/dequantize nodes of a model and the operators that read dequantized tensors
/// (the operators that run on quantized data), read from the model itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QdqCounts {
    pub quantize_linear: usize,
    pub dequantize_linear: usize,
    /// Operator type -> nodes of that type with at least one input from a DequantizeLinear.
    pub quantized_ops: BTreeMap<String, usize>,
    /// Nodes of the graph, Q/DQ included.
    pub nodes: usize,
}

impl QdqCounts {
    /// Counts the main graph of `proto`.
    pub fn of(proto: &pb::ModelProto) -> QdqCounts {
        let Some(g) = proto.graph.as_ref() else {
            return QdqCounts::default();
        };
        let mut c = QdqCounts {
            nodes: g.node.len(),
            ..Default::default()
        };
        let mut dequantized: HashSet<&str> = HashSet::new();
        for n in &g.node {
            match n.op_type.as_str() {
                "QuantizeLinear" => c.quantize_linear += 1,
                "DequantizeLinear" => {
                    c.dequantize_linear += 1;
                    dequantized.extend(n.output.iter().map(String::as_str));
                }
                _ => {}
            }
        }
        for n in &g.node {
            if matches!(n.op_type.as_str(), "QuantizeLinear" | "DequantizeLinear") {
                continue;
            }
            if n.input.iter().any(|i| dequantized.contains(i.as_str())) {
                *c.quantized_ops.entry(n.op_type.clone()).or_default() += 1;
            }
        }
        c
    }
}

/// Versions the quantizer reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantizerVersions {
    pub python: String,
    pub onnxruntime: String,
    pub onnx: String,
    pub numpy: String,
}

/// What `quantize` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizeReport {
    /// The model as the user named it.
    pub model: String,
    pub model_sha256: String,
    pub output: PathBuf,
    pub output_sha256: String,
    /// Always `qdq`: QuantizeLinear/DequantizeLinear pairs around float operators.
    pub format: String,
    /// `int8`: 8-bit activations and weights.
    pub precision: String,
    pub activations: Activations,
    /// Always `s8`: signed, symmetric.
    pub weights: String,
    pub method: Method,
    pub per_channel: bool,
    pub calibration: CalibrationSource,
    pub samples: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Read from the output model.
    pub counts: QdqCounts,
    /// The output came from the cache (a previous identical call).
    pub cached: bool,
    /// The cache key (SHA-256 of model, settings and calibration data).
    pub cache_key: String,
    /// The Python that ran the quantizer.
    pub python_path: PathBuf,
    pub versions: QuantizerVersions,
    /// Seconds ONNX Runtime spent in `quant_pre_process` and `quantize_static` when the model
    /// was made (also for a cached result).
    pub preprocess_s: f64,
    pub quantize_s: f64,
    /// Wall time of this call, cache lookup included.
    pub elapsed_s: f64,
}

/// Why quantization failed. Messages are one lowercase line with the fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QuantizeError {
    #[error("no python3 on PATH: the quantizer is ONNX Runtime's Python tool; install Python 3 with `python3 -m pip install {ORT_PIN} {ONNX_PIN}`")]
    NoPython,
    #[error("cannot start {}: {reason}; check that python3 on PATH runs", python.display())]
    Spawn { python: PathBuf, reason: String },
    #[error("{} has no usable onnxruntime Python package ({reason}): install it with `python3 -m pip install {ORT_PIN}`", python.display())]
    NoOnnxruntime { python: PathBuf, reason: String },
    #[error("{} has onnxruntime but its quantizer cannot import `onnx` ({reason}): install it with `python3 -m pip install {ONNX_PIN}`", python.display())]
    NoOnnx { python: PathBuf, reason: String },
    #[error("onnx runtime's quantizer refused {model} in {stage}: {message}")]
    Refused {
        model: String,
        stage: String,
        message: String,
    },
    #[error("the quantizer process died ({status}){}", tail(.stderr))]
    Crashed { status: String, stderr: String },
    #[error("the quantizer did not finish within {seconds} s and was stopped (raise the limit with EDGEBENCH_WORKER_TIMEOUT=SECONDS){}", tail(.stderr))]
    TimedOut { seconds: u64, stderr: String },
    #[error("the quantizer answered something that is not its JSON result: `{line}`{}", tail(.stderr))]
    Garbage { line: String, stderr: String },
    #[error("the quantizer wrote {}, which is not a model edgebench can load: {reason}", path.display())]
    BadOutput { path: PathBuf, reason: String },
    /// A calibration folder that cannot be used (empty, unreadable, an image that does not
    /// decode, a model that takes no image).
    #[error("--calibration {}: {reason}", folder.display())]
    Calibration { folder: PathBuf, reason: String },
    /// Bad input the user can fix (a flag, the model's inputs).
    #[error("{0}")]
    Invalid(String),
    #[error("cannot write {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

fn tail(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; quantizer stderr: {stderr}")
    }
}

impl From<QuantizeError> for edgebench_core::Error {
    /// Writing the output is an I/O failure; everything else is bad input (exit 2).
    fn from(e: QuantizeError) -> Self {
        match e {
            QuantizeError::Write { path, reason } => edgebench_core::Error::Write { path, reason },
            other => edgebench_core::Error::InvalidArgument(other.to_string()),
        }
    }
}

/// The cache key: the model's SHA-256, the settings, the calibration's source and bytes, the
/// Python, and the script's own text (a changed script never reuses old results).
pub fn cache_key(model: &Model, opts: &QuantizeOptions, python: &Path) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    field(CACHE_VERSION.as_bytes());
    field(SCRIPT.as_bytes());
    field(model.sha256.as_bytes());
    field(opts.method.as_str().as_bytes());
    field(&[u8::from(opts.per_channel)]);
    field(opts.activations.as_str().as_bytes());
    field(python.as_os_str().as_encoded_bytes());
    let source = serde_json::to_string(&opts.calibration.source).unwrap_or_default();
    field(source.as_bytes());
    for sample in &opts.calibration.samples {
        for t in sample {
            field(t.name.as_bytes());
            let shape: Vec<u8> = t.shape.iter().flat_map(|d| d.to_le_bytes()).collect();
            field(&shape);
            let (code, bytes) = to_le_bytes(&t.data);
            field(code.as_bytes());
            field(&bytes);
        }
    }
    hex(&h.finalize())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The folder of cached quantized models.
pub fn cache_dir() -> PathBuf {
    crate::embed::cache_root().join("quantized")
}

/// What the cache keeps beside a model: the quantizer's report of how it was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheEntry {
    versions: QuantizerVersions,
    python: PathBuf,
    preprocess_s: f64,
    quantize_s: f64,
}

/// Quantizes `model` (its concrete inputs `inputs`) to `opts.output`. The output is written
/// only once complete; on any error no output file is created.
pub fn quantize(
    model: &Model,
    inputs: &[ConcreteSpec],
    opts: &QuantizeOptions,
) -> Result<QuantizeReport, QuantizeError> {
    let start = Instant::now();
    check_output(&opts.output)?;
    let (mut report, bytes) = quantize_in_memory(model, inputs, opts)?;
    edgebench_core::write::write_atomic(&opts.output, &bytes).map_err(|e| match e {
        edgebench_core::Error::Write { path, reason } => QuantizeError::Write { path, reason },
        other => QuantizeError::Write {
            path: opts.output.clone(),
            reason: other.to_string(),
        },
    })?;
    report.elapsed_s = start.elapsed().as_secs_f64();
    Ok(report)
}

/// [`quantize`] without the output file: the quantized model's bytes (from the cache when it
/// has them, else made and cached) and the report, for an engine that quantizes a variant's
/// model in its prepare (`quant=int8`). `opts.output` only names the model in the report.
pub fn quantize_in_memory(
    model: &Model,
    inputs: &[ConcreteSpec],
    opts: &QuantizeOptions,
) -> Result<(QuantizeReport, Vec<u8>), QuantizeError> {
    let start = Instant::now();
    if opts.calibration.samples.is_empty() {
        return Err(QuantizeError::Invalid(
            "no calibration samples: give --samples 1 or more".into(),
        ));
    }
    for sample in &opts.calibration.samples {
        let names: Vec<&str> = sample.iter().map(|t| t.name.as_str()).collect();
        let want: Vec<&str> = inputs.iter().map(|s| s.name.as_str()).collect();
        if names != want {
            return Err(QuantizeError::Invalid(format!(
                "calibration sample has inputs {names:?}, the model takes {want:?}"
            )));
        }
    }
    let python = match &opts.python {
        Some(p) => p.clone(),
        None => crate::python::which("python3").ok_or(QuantizeError::NoPython)?,
    };
    let key = cache_key(model, opts, &python);
    let dir = cache_dir();
    let cached_model = dir.join(format!("{key}.onnx"));
    let cached_entry = dir.join(format!("{key}.json"));

    let hit = std::fs::read(&cached_entry)
        .ok()
        .and_then(|b| serde_json::from_slice::<CacheEntry>(&b).ok())
        .and_then(|e| std::fs::read(&cached_model).ok().map(|m| (e, m)));
    let (entry, bytes, cached) = match hit {
        Some((e, m)) if Model::from_bytes("cached", m.clone()).is_ok() => (e, m, true),
        _ => {
            let (entry, bytes) = run_quantizer(model, inputs, opts, &python, &key)?;
            // The cache is a convenience: a cache that cannot be written costs only time.
            let _ = std::fs::create_dir_all(&dir).and_then(|_| {
                edgebench_core::write::write_atomic(&cached_model, &bytes)
                    .map_err(std::io::Error::other)?;
                let json = serde_json::to_vec_pretty(&entry).map_err(std::io::Error::other)?;
                edgebench_core::write::write_atomic(&cached_entry, &json)
                    .map_err(std::io::Error::other)
            });
            (entry, bytes, false)
        }
    };

    let proto = pb::ModelProto::decode(&bytes[..]).map_err(|e| QuantizeError::BadOutput {
        path: opts.output.clone(),
        reason: e.to_string(),
    })?;
    let counts = QdqCounts::of(&proto);
    let report = QuantizeReport {
        model: model.name.clone(),
        model_sha256: model.sha256.clone(),
        output: opts.output.clone(),
        output_sha256: hex(&Sha256::digest(&bytes)),
        format: "qdq".into(),
        precision: "int8".into(),
        activations: opts.activations,
        weights: "s8".into(),
        method: opts.method,
        per_channel: opts.per_channel,
        calibration: opts.calibration.source.clone(),
        samples: opts.calibration.samples.len(),
        bytes_before: model.bytes.len() as u64,
        bytes_after: bytes.len() as u64,
        counts,
        cached,
        cache_key: key,
        python_path: entry.python,
        versions: entry.versions,
        preprocess_s: entry.preprocess_s,
        quantize_s: entry.quantize_s,
        elapsed_s: start.elapsed().as_secs_f64(),
    };
    Ok((report, bytes))
}

/// The output must be a file name in a folder that exists.
fn check_output(out: &Path) -> Result<(), QuantizeError> {
    if out.is_dir() {
        return Err(QuantizeError::Write {
            path: out.to_owned(),
            reason: "it is a directory; give a file name such as model.int8.onnx".into(),
        });
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(QuantizeError::Write {
            path: out.to_owned(),
            reason: format!("folder {} does not exist; create it first", dir.display()),
        });
    }
    Ok(())
}

/// The script's one-line answer.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    package: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    python: String,
    #[serde(default)]
    onnxruntime: String,
    #[serde(default)]
    onnx: String,
    #[serde(default)]
    numpy: String,
    #[serde(default)]
    preprocess_s: f64,
    #[serde(default)]
    quantize_s: f64,
}

/// Runs the script in a scratch folder and returns what it made, with edgebench's metadata.
fn run_quantizer(
    model: &Model,
    inputs: &[ConcreteSpec],
    opts: &QuantizeOptions,
    python: &Path,
    key: &str,
) -> Result<(CacheEntry, Vec<u8>), QuantizeError> {
    let scratch = tempfile::Builder::new()
        .prefix("edgebench-quantize-")
        .tempdir()
        .map_err(|e| QuantizeError::Write {
            path: std::env::temp_dir(),
            reason: format!("{e}; set TMPDIR to a writable folder"),
        })?;
    let d = scratch.path();
    let werr = |path: &Path, e: &dyn std::fmt::Display| QuantizeError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let write = |path: &Path, bytes: &[u8]| std::fs::write(path, bytes).map_err(|e| werr(path, &e));
    let script = d.join("edgebench_quant.py");
    write(&script, SCRIPT.as_bytes())?;
    let input = d.join("model.onnx");
    write(&input, &model.bytes)?;
    let mut samples = vec![];
    for (i, sample) in opts.calibration.samples.iter().enumerate() {
        let mut files = vec![];
        for (j, t) in sample.iter().enumerate() {
            let p = d.join(format!("calib-{i:05}-{j}.bin"));
            write(&p, &to_le_bytes(&t.data).1)?;
            files.push(p);
        }
        samples.push(files);
    }
    let specs: Vec<serde_json::Value> = inputs
        .iter()
        .zip(&opts.calibration.samples[0])
        .map(|(s, t)| {
            serde_json::json!({
                "name": s.name,
                "shape": t.shape,
                "dtype": to_le_bytes(&t.data).0,
            })
        })
        .collect();
    let output = d.join("quantized.onnx");
    let request = serde_json::json!({
        "model": input,
        "optimized": d.join("optimized.onnx"),
        "preprocessed": d.join("preprocessed.onnx"),
        "output": output,
        "inputs": specs,
        "samples": samples,
        "method": opts.method.as_str(),
        "per_channel": opts.per_channel,
        "activations": opts.activations.as_str(),
    });
    let request_path = d.join("request.json");
    write(&request_path, request.to_string().as_bytes())?;

    let mut cmd = Command::new(python);
    cmd.arg("-u")
        .arg(&script)
        .arg(&request_path)
        .current_dir(d)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let out = process::run(&mut cmd, Limits::with_timeout(opts.timeout)).map_err(|e| {
        QuantizeError::Spawn {
            python: python.to_owned(),
            reason: e.to_string(),
        }
    })?;
    let stderr = script_stderr_tail(8, 400, &String::from_utf8_lossy(&out.stderr));
    if out.timed_out() {
        return Err(QuantizeError::TimedOut {
            seconds: opts.timeout.as_secs_f64().ceil() as u64,
            stderr,
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let answer: Answer = match serde_json::from_str(line) {
        Ok(a) => a,
        Err(_) if line.is_empty() || !out.success() => {
            return Err(QuantizeError::Crashed {
                status: out
                    .status
                    .map(script_status)
                    .unwrap_or_else(|| "no status".into()),
                stderr,
            })
        }
        Err(_) => {
            return Err(QuantizeError::Garbage {
                line: shorten(line, 200),
                stderr,
            })
        }
    };
    if !answer.ok {
        return Err(match (answer.kind.as_str(), answer.package.as_str()) {
            ("missing", "onnxruntime") => QuantizeError::NoOnnxruntime {
                python: python.to_owned(),
                reason: answer.error,
            },
            ("missing", _) => QuantizeError::NoOnnx {
                python: python.to_owned(),
                reason: answer.error,
            },
            ("refused", _) => QuantizeError::Refused {
                model: model.name.clone(),
                stage: answer.stage,
                // The scratch copy is gone by the time the user reads this: name the model.
                message: answer
                    .error
                    .replace(&input.display().to_string(), &model.name),
            },
            _ => QuantizeError::Crashed {
                status: format!("internal error: {}", answer.error),
                stderr,
            },
        });
    }
    let bytes = std::fs::read(&output).map_err(|e| QuantizeError::BadOutput {
        path: output.clone(),
        reason: e.to_string(),
    })?;
    let mut proto = pb::ModelProto::decode(&bytes[..]).map_err(|e| QuantizeError::BadOutput {
        path: output.clone(),
        reason: e.to_string(),
    })?;
    let provenance = serde_json::json!({
        "tool": "onnxruntime.quantization.quantize_static",
        "format": "qdq",
        "precision": "int8",
        "activations": opts.activations.as_str(),
        "weights": "s8",
        "method": opts.method.as_str(),
        "per_channel": opts.per_channel,
        "calibration": opts.calibration.source,
        "samples": opts.calibration.samples.len(),
        "source_sha256": model.sha256,
        "onnxruntime": answer.onnxruntime,
        "cache_key": key,
    });
    proto.metadata_props.retain(|kv| kv.key != META_KEY);
    proto.metadata_props.push(pb::StringStringEntryProto {
        key: META_KEY.into(),
        value: provenance.to_string(),
    });
    let bytes = proto.encode_to_vec();
    Model::from_bytes("quantized", bytes.clone()).map_err(|e| QuantizeError::BadOutput {
        path: opts.output.clone(),
        reason: e.to_string(),
    })?;
    Ok((
        CacheEntry {
            versions: QuantizerVersions {
                python: answer.python,
                onnxruntime: answer.onnxruntime,
                onnx: answer.onnx,
                numpy: answer.numpy,
            },
            python: python.to_owned(),
            preprocess_s: answer.preprocess_s,
            quantize_s: answer.quantize_s,
        },
        bytes,
    ))
}

impl QuantizeReport {
    /// The report as `edgebench quantize` prints it: what was made, from what, and what the
    /// output holds.
    pub fn text(&self) -> String {
        let r = self;
        use edgebench_core::fmt::bytes;
        let calibration = match &r.calibration {
            CalibrationSource::Synthetic => format!("{} synthetic samples", r.samples),
            CalibrationSource::Folder { path } => {
                format!("{} samples from {}", r.samples, path.display())
            }
        };
        let mut s = format!(
            "quantized {} to {} ({} {}: activations {}, weights {}; {}{}, {calibration})\n",
            r.model,
            r.output.display(),
            r.format.to_uppercase(),
            r.precision,
            r.activations.as_str(),
            r.weights,
            r.method.as_str(),
            if r.per_channel { ", per-channel" } else { "" },
        );
        if r.cached {
            s += &format!(
                "  from the cache ({}, key {}): made earlier in {:.1} s, copied in {:.2} s\n",
                cache_dir().display(),
                &r.cache_key[..12],
                r.preprocess_s + r.quantize_s,
                r.elapsed_s
            );
        } else {
            s += &format!(
                "  quant_pre_process {:.1} s, quantize_static {:.1} s ({:.1} s in all)\n",
                r.preprocess_s, r.quantize_s, r.elapsed_s
            );
        }
        let c = &r.counts;
        s += &format!(
            "  in the output: {} QuantizeLinear, {} DequantizeLinear of {} nodes\n",
            c.quantize_linear, c.dequantize_linear, c.nodes
        );
        if c.quantized_ops.is_empty() {
            s += "  no operator reads quantized tensors: nothing was quantized\n";
        } else {
            let ops: Vec<String> = c
                .quantized_ops
                .iter()
                .map(|(op, n)| format!("{op} x{n}"))
                .collect();
            s += &format!("  quantized operators: {}\n", ops.join(", "));
        }
        s += &format!(
            "  size: {} -> {} ({:.2}x)\n",
            bytes(r.bytes_before),
            bytes(r.bytes_after),
            r.bytes_after as f64 / r.bytes_before.max(1) as f64
        );
        s += &format!(
            "  onnxruntime {}, onnx {}, numpy {} (Python {} at {})\n",
            r.versions.onnxruntime,
            r.versions.onnx,
            r.versions.numpy,
            r.versions.python,
            r.python_path.display()
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_core::tensor::DType;
    use edgebench_core::testmodel::{float_tensor, model, node, value_info, Dim};

    fn qdq_model() -> pb::ModelProto {
        let f = |n: usize| Dim::F(n);
        model(pb::GraphProto {
            node: vec![
                node("QuantizeLinear", "q", &["x", "s", "z"], &["xq"], vec![]),
                node("DequantizeLinear", "dq", &["xq", "s", "z"], &["xd"], vec![]),
                node(
                    "DequantizeLinear",
                    "dqw",
                    &["wq", "s", "z"],
                    &["wd"],
                    vec![],
                ),
                node("Conv", "conv", &["xd", "wd"], &["y"], vec![]),
                node("Relu", "relu", &["y"], &["r"], vec![]),
                node("Add", "add", &["xd", "r"], &["out"], vec![]),
            ],
            initializer: vec![float_tensor("s", &[], vec![0.1])],
            input: vec![value_info("x", &[f(1), f(1), f(4), f(4)])],
            output: vec![value_info("out", &[f(1), f(1), f(4), f(4)])],
            ..Default::default()
        })
    }

    #[test]
    fn counts_qdq_nodes_and_the_operators_that_read_dequantized_tensors() {
        let c = QdqCounts::of(&qdq_model());
        assert_eq!((c.quantize_linear, c.dequantize_linear, c.nodes), (1, 2, 6));
        let ops: Vec<(&str, usize)> = c
            .quantized_ops
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        // Relu reads the Conv's float output: not quantized.
        assert_eq!(ops, [("Add", 1), ("Conv", 1)]);
        assert_eq!(
            QdqCounts::of(&pb::ModelProto::default()),
            QdqCounts::default()
        );
    }

    fn spec() -> Vec<ConcreteSpec> {
        vec![ConcreteSpec {
            name: "x".into(),
            dtype: DType::F32,
            shape: vec![1, 3, 2, 2],
        }]
    }

    fn tiny() -> Model {
        let bytes = edgebench_core::testmodel::tiny_cnn_bytes(&Default::default());
        Model::from_bytes("tiny", bytes).unwrap()
    }

    fn opts(calibration: Calibration) -> QuantizeOptions {
        QuantizeOptions {
            output: PathBuf::from("out.onnx"),
            method: Method::MinMax,
            per_channel: false,
            activations: Activations::U8,
            calibration,
            python: None,
            timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn synthetic_calibration_is_repeatable_and_needs_a_sample() {
        let a = Calibration::synthetic(&spec(), 3).unwrap();
        let b = Calibration::synthetic(&spec(), 3).unwrap();
        assert_eq!(a.samples.len(), 3);
        assert_eq!(a.samples, b.samples);
        assert_ne!(a.samples[0], a.samples[1], "each sample has its own seed");
        let e = Calibration::synthetic(&spec(), 0).unwrap_err().to_string();
        assert!(e.contains("--samples 0"), "{e}");
    }

    #[test]
    fn the_cache_key_follows_every_setting_and_the_calibration_bytes() {
        let m = tiny();
        let py = Path::new("/usr/bin/python3");
        let base = opts(Calibration::synthetic(&spec(), 2).unwrap());
        let k = cache_key(&m, &base, py);
        assert_eq!(k, cache_key(&m, &base.clone(), py));
        assert_eq!(k.len(), 64);
        let mut o = base.clone();
        o.method = Method::Entropy;
        assert_ne!(cache_key(&m, &o, py), k);
        let mut o = base.clone();
        o.per_channel = true;
        assert_ne!(cache_key(&m, &o, py), k);
        let mut o = base.clone();
        o.activations = Activations::S8;
        assert_ne!(cache_key(&m, &o, py), k);
        assert_ne!(cache_key(&m, &base, Path::new("/opt/python3")), k);
        let mut o = base.clone();
        if let edgebench_core::tensor::TensorData::F32(v) = &mut o.calibration.samples[1][0].data {
            v[0] += 1.0;
        }
        assert_ne!(cache_key(&m, &o, py), k);
        let mut o = base.clone();
        o.calibration.source = CalibrationSource::Folder {
            path: "imgs".into(),
        };
        assert_ne!(cache_key(&m, &o, py), k);
        // The output path is not part of the key: the same model may be written anywhere.
        let mut o = base.clone();
        o.output = "elsewhere.onnx".into();
        assert_eq!(cache_key(&m, &o, py), k);
    }

    #[test]
    fn methods_parse_and_a_wrong_one_names_the_choices() {
        for m in Method::ALL {
            assert_eq!(Method::parse(m.as_str()).unwrap(), m);
        }
        assert_eq!(Method::parse("MinMax").unwrap(), Method::MinMax);
        let e = Method::parse("kl").unwrap_err().to_string();
        assert!(e.contains("--method kl") && e.contains("percentile"), "{e}");
        assert_eq!(Activations::parse("uint8").unwrap(), Activations::U8);
        assert_eq!(Activations::parse("S8").unwrap(), Activations::S8);
        let e = Activations::parse("u4").unwrap_err().to_string();
        assert!(e.contains("--activations u4") && e.contains("s8"), "{e}");
    }

    #[test]
    fn a_missing_output_folder_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(Calibration::synthetic(&spec(), 1).unwrap());
        o.output = dir.path().join("no/such/folder/out.onnx");
        let e = quantize(&tiny(), &spec(), &o).unwrap_err();
        assert!(matches!(e, QuantizeError::Write { .. }), "{e}");
        assert!(e.to_string().contains("does not exist"), "{e}");
        o.output = dir.path().to_owned();
        let e = quantize(&tiny(), &spec(), &o).unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
    }

    #[test]
    fn the_stderr_tail_keeps_the_last_lines_on_one_line() {
        let s = (1..=20)
            .map(|i| format!("line {i}\n\n"))
            .collect::<String>();
        assert_eq!(
            script_stderr_tail(8, 400, &s),
            "line 13 | line 14 | line 15 | line 16 | line 17 | line 18 | line 19 | line 20"
        );
        assert_eq!(script_stderr_tail(8, 400, ""), "");
    }
}
