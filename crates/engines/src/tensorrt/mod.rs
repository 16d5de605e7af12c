//! TensorRT itself, driven the way users run it on a Jetson or a GPU server: through
//! `trtexec`, as its source (NVIDIA/TensorRT `samples/common`, 8.2 to 11.x) reads arguments
//! and writes results.
//!
//! - `prepare` looks at the trtexec once (its version from the `&&&& RUNNING ... [TensorRT
//!   vNNNN]` line, the GPU from `Selected Device:`), then builds a serialized engine into a
//!   cache folder, keyed by the model, its input shapes, the precision, the TensorRT version
//!   and the GPU's name. The build is the preparation (`prepare_ms`). Shapes go to trtexec
//!   only for inputs the model leaves open: trtexec refuses them for a static model.
//! - `measure_self` has trtexec time the engine with `--exportTimes` and applies edgebench's
//!   own warm-up and stopping rules (`MeasureOptions::warmed_up`, `measure::StopRule`) to the
//!   queries it timed, in batches sized by [`sampling`], calling it again
//!   while the confidence target is unmet and the limits allow. The first query is the first
//!   run. trtexec's own split of each query (enqueue, H2D, GPU compute, D2H) is kept in the
//!   session's details.
//! - The precision recorded is the one the engine's layers run in (`--exportLayerInfo` of an
//!   engine built with `--profilingVerbosity=detailed`), not the one asked for.
//! - Every trtexec call runs in its own process group under a time limit
//!   (`edgebench_core::process`).
//!
//! TensorRT 11 builds strongly typed networks only (no `--fp16`, `--int8`, `--best`): there
//! `fp16` builds a float16 copy of a float32 model ([`fp16`]; a float16 model as it is) and
//! `int8` needs a model with Q/DQ nodes; `best` and what cannot be converted are refused with
//! a one-line reason.

pub mod args;
pub use crate::fp16;
pub mod report;
pub mod sampling;
pub mod standin;
pub mod version;

pub use args::Precision;
pub use report::{
    failure_reason, parse_layer_info, parse_outputs, parse_summary, parse_times, selected_device,
    LayerPrecisions, QueryTime, TrtStats, TrtSummary,
};
pub use version::{parse_version, TrtVersion};

use edgebench_core::engine::{
    check_spec, Availability, Engine, EngineSpec, PrepareOptions, Session, SessionInfo, VariantInfo,
};
use edgebench_core::error::{EngineError, Error, Result};
use edgebench_core::measure::{MeasureOptions, Measurement, StopReason, StopRule};
use edgebench_core::model::Model;
use edgebench_core::process::{self, Limits};
use edgebench_core::tensor::{shape_string, ConcreteSpec, Dim, HostTensor, TensorData};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

pub const FIX: &str = "install TensorRT (on a Jetson: `sudo apt-get install nvidia-jetpack`; on a GPU server: NVIDIA's `tensorrt` package) so that trtexec is on PATH or at /usr/src/tensorrt/bin/trtexec, or give tensorrt:...,trtexec=PATH";

const KEYS: &[&str] = &["trtexec", "cache", "device", "timeout"];
const DEFAULT_LOCATIONS: &[&str] = &[
    "/usr/src/tensorrt/bin/trtexec",
    "/usr/local/tensorrt/bin/trtexec",
];

/// Time limits of trtexec calls unless the spec sets `timeout=S` for all of them.
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);
const BUILD_TIMEOUT: Duration = Duration::from_secs(3600);
/// A timing call may take its warm-up and duration plus this (engine loading, start-up).
const TIMING_SLACK: Duration = Duration::from_secs(300);
/// trtexec calls one measurement may make before it stops at its time limit.
const MAX_TIMING_CALLS: usize = 12;

pub struct TensorRt;

/// Everything a `tensorrt:...` spec asks, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TrtConfig {
    pub precision: Precision,
    pub trtexec: Option<PathBuf>,
    pub cache: Option<PathBuf>,
    pub device: u32,
    /// One limit for every trtexec call (`timeout=S`); `None`: per-call defaults.
    pub timeout: Option<Duration>,
}

impl TrtConfig {
    pub fn from_spec(spec: &EngineSpec) -> Result<TrtConfig> {
        check_spec(spec, Precision::NAMES, &[], KEYS)?;
        let shown = spec.to_string();
        let bad = |msg: String| Error::InvalidArgument(format!("--engine {shown}: {msg}"));
        let device = match spec.options.get("device") {
            None => 0,
            Some(v) => v
                .parse::<u32>()
                .map_err(|_| bad(format!("device={v} must be a GPU index (0, 1, ...)")))?,
        };
        let timeout = match spec.options.get("timeout") {
            None => None,
            Some(v) => Some(
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x > 0.0 && *x < 1e7)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| bad(format!("timeout={v} must be a number of seconds > 0")))?,
            ),
        };
        Ok(TrtConfig {
            precision: spec
                .variant()
                .and_then(Precision::parse)
                .unwrap_or(Precision::Fp32),
            trtexec: spec.options.get("trtexec").map(PathBuf::from),
            cache: spec.options.get("cache").map(PathBuf::from),
            device,
            timeout,
        })
    }

    fn limit(&self, default: Duration) -> Duration {
        self.timeout.unwrap_or(default)
    }
}

/// The trtexec to run: the spec's `trtexec=PATH`, then PATH, then TensorRT's usual folders.
pub fn find_trtexec(explicit: Option<&Path>) -> std::result::Result<PathBuf, EngineError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_owned())
        } else {
            Err(EngineError::NotFound(format!(
                "trtexec={}: no such file",
                p.display()
            )))
        };
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .map(|d| d.join("trtexec"))
        .chain(DEFAULT_LOCATIONS.iter().map(PathBuf::from))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            EngineError::NotFound(
                "no trtexec on PATH nor in /usr/src/tensorrt/bin (TensorRT is not installed)"
                    .into(),
            )
        })
}

/// A trtexec file as it is now: another path, or the same path replaced, is another tool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ToolId {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

fn tool_id(p: &Path) -> ToolId {
    let meta = std::fs::metadata(p).ok();
    ToolId {
        path: std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned()),
        len: meta.as_ref().map_or(0, |m| m.len()),
        modified: meta.and_then(|m| m.modified().ok()),
    }
}

/// Runs trtexec with `args` within `limit`; its whole log (stdout then stderr).
fn call(
    trtexec: &Path,
    args: &[String],
    limit: Duration,
) -> std::result::Result<String, EngineError> {
    let out = process::run(
        Command::new(trtexec).args(args),
        Limits::with_timeout(limit),
    )
    .map_err(|e| cannot_run(trtexec, e))?;
    let text = out.text();
    if out.timed_out() {
        return Err(EngineError::ToolTimedOut {
            command: "trtexec".into(),
            limit_s: limit.as_secs_f64(),
            after: " with its process group (raise tensorrt:...,timeout=S if it needs longer)"
                .into(),
        });
    }
    if !out.success() {
        return Err(EngineError::ToolFailed {
            tool: "trtexec".into(),
            reason: failure_reason(&text),
        });
    }
    Ok(text)
}

/// The version a trtexec prints in its first line, asked with `--help` (which prints it and
/// exits before touching a GPU). Remembered per tool file, never across paths.
pub fn version_of(trtexec: &Path, limit: Duration) -> std::result::Result<TrtVersion, EngineError> {
    static SEEN: OnceLock<Mutex<HashMap<ToolId, TrtVersion>>> = OnceLock::new();
    let id = tool_id(trtexec);
    let seen = SEEN.get_or_init(Default::default);
    if let Some(v) = seen.lock().ok().and_then(|m| m.get(&id).copied()) {
        return Ok(v);
    }
    let out = process::run(
        Command::new(trtexec).arg("--help"),
        Limits::with_timeout(limit),
    )
    .map_err(|e| cannot_run(trtexec, e))?;
    if out.timed_out() {
        return Err(EngineError::ToolTimedOut {
            command: format!("{} --help", trtexec.display()),
            limit_s: limit.as_secs_f64(),
            after: String::new(),
        });
    }
    let v = parse_version(&out.text()).ok_or_else(|| {
        EngineError::Unparseable(format!(
            "{} --help printed no `&&&& RUNNING TensorRT.trtexec [TensorRT vNNNN]` line: is it trtexec?",
            trtexec.display()
        ))
    })?;
    if let Ok(mut m) = seen.lock() {
        m.insert(id, v);
    }
    Ok(v)
}

/// The GPU trtexec selects for `--device=N`, by name. trtexec prints its device block
/// (`setCudaDevice`) before it loads or builds anything, so a call that loads an engine file
/// that does not exist prints the name and stops there. Remembered per tool file and device.
fn gpu_of(
    trtexec: &Path,
    device: u32,
    limit: Duration,
) -> std::result::Result<Option<String>, EngineError> {
    type Seen = Mutex<HashMap<(ToolId, u32), Option<String>>>;
    static SEEN: OnceLock<Seen> = OnceLock::new();
    let key = (tool_id(trtexec), device);
    let seen = SEEN.get_or_init(Default::default);
    if let Some(g) = seen.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(g);
    }
    let dir = tempfile::tempdir().map_err(|e| EngineError::Io(e.to_string()))?;
    let missing = dir.path().join("no-engine.engine");
    let out = process::run(
        Command::new(trtexec).args([
            format!("--loadEngine={}", missing.display()),
            format!("--device={device}"),
        ]),
        Limits::with_timeout(limit),
    )
    .map_err(|e| cannot_run(trtexec, e))?;
    if out.timed_out() {
        return Err(EngineError::ToolTimedOut {
            command: format!("trtexec --device={device}"),
            limit_s: limit.as_secs_f64(),
            after: " with its process group".into(),
        });
    }
    let gpu = selected_device(&out.text());
    if let Ok(mut m) = seen.lock() {
        m.insert(key, gpu.clone());
    }
    Ok(gpu)
}

/// A tool that could not be started.
fn cannot_run(tool: &Path, e: impl std::fmt::Display) -> EngineError {
    EngineError::ToolStart {
        tool: tool.to_owned(),
        reason: e.to_string(),
    }
}

/// The inputs whose declared shape has a symbolic or unknown dimension.
pub fn dynamic_inputs<'a>(model: &Model, inputs: &'a [ConcreteSpec]) -> Vec<&'a ConcreteSpec> {
    inputs
        .iter()
        .filter(|c| {
            model
                .inputs
                .iter()
                .find(|s| s.name == c.name)
                .is_some_and(|s| s.shape.iter().any(|d| matches!(d, Dim::Symbolic(_))))
        })
        .collect()
}

/// ONNX `TensorProto.DataType` FLOAT16.
const ONNX_FLOAT16: i32 = 10;

/// Whether the model carries float16 weights (an fp16 export), so a strongly typed build runs
/// in fp16 without any flag.
fn is_fp16_model(model: &Model) -> bool {
    model.proto.graph.as_ref().is_some_and(|g| {
        g.initializer.iter().any(|t| t.data_type == ONNX_FLOAT16)
            || g.node.iter().any(|n| {
                n.op_type == "Constant"
                    && n.attribute
                        .iter()
                        .any(|a| a.t.as_ref().is_some_and(|t| t.data_type == ONNX_FLOAT16))
            })
    })
}

/// Whether the model has QuantizeLinear/DequantizeLinear nodes (explicit int8).
fn has_qdq(model: &Model) -> bool {
    model.proto.graph.as_ref().is_some_and(|g| {
        g.node
            .iter()
            .any(|n| n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear")
    })
}

/// What a strongly typed TensorRT (11 and later) cannot do with the precision asked for.
pub fn strongly_typed_refusal(precision: Precision, _model: &Model) -> Option<String> {
    match precision {
        Precision::Fp32 => None,
        // A float32 model is converted to float16 first (`fp16`).
        Precision::Fp16 => None,
        // A float32 model is quantized to Q/DQ first (`crate::lowp`, signed activations).
        Precision::Int8 => None,
        Precision::Best => Some(
            "TensorRT 11 builds strongly typed networks only (no --best): the model's own types decide; use tensorrt:fp32 with an fp16 or Q/DQ model".into(),
        ),
    }
}

/// The cache file stem of an engine: everything that changes what TensorRT builds.
pub fn engine_key(
    model_sha256: &str,
    inputs: &[ConcreteSpec],
    precision: Precision,
    version: TrtVersion,
    gpu: &str,
) -> String {
    use std::fmt::Write;
    let mut k = format!(
        "model={model_sha256};precision={};tensorrt={version};gpu={gpu};inputs=",
        precision.name()
    );
    for i in inputs {
        let _ = write!(k, "{}:{}:{},", i.name, i.dtype, shape_string(&i.shape));
    }
    format!(
        "{}-{}-trt{version}-{}",
        &model_sha256[..16.min(model_sha256.len())],
        precision.name(),
        &sha256_hex(k.as_bytes())[..16]
    )
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

impl Engine for TensorRt {
    fn name(&self) -> &'static str {
        "tensorrt"
    }

    fn availability(&self) -> Availability {
        availability_at(None)
    }

    fn availability_for(&self, spec: &EngineSpec) -> Availability {
        match TrtConfig::from_spec(spec) {
            Ok(cfg) => availability_at(cfg.trtexec.as_deref()),
            Err(_) => self.availability(),
        }
    }

    fn variants(&self) -> Vec<VariantInfo> {
        let v = |spec: &str, d: &str| VariantInfo {
            spec: spec.into(),
            description: d.into(),
        };
        vec![
            v(
                "tensorrt:fp32",
                "TensorRT engine built by trtexec, fp32 (TF32 where the GPU has it); on TensorRT 11 the model's own types",
            ),
            v("tensorrt:fp16", "trtexec --fp16 (TensorRT 11: a float16 model)"),
            v(
                "tensorrt:int8",
                "trtexec --int8, no calibration data: judged by top-k agreement (TensorRT 11: a Q/DQ model)",
            ),
            v(
                "tensorrt:best",
                "trtexec --best, any precision TensorRT picks; the mix that ran is recorded (not on TensorRT 11)",
            ),
            v(
                "tensorrt:fp16,cache=DIR,device=0",
                "engine cache folder, GPU index; trtexec=PATH, timeout=S for every trtexec call",
            ),
        ]
    }

    fn validate(&self, spec: &EngineSpec) -> Result<()> {
        TrtConfig::from_spec(spec).map(|_| ())
    }

    fn prepare(
        &self,
        model: &Model,
        spec: &EngineSpec,
        opts: &PrepareOptions,
    ) -> Result<Box<dyn Session>> {
        TrtSession::prepare(model, spec, opts).map(|s| Box::new(s) as Box<dyn Session>)
    }
}

fn availability_at(explicit: Option<&Path>) -> Availability {
    match find_trtexec(explicit) {
        Ok(p) => match version_of(&p, PROBE_TIMEOUT) {
            Ok(v) => Availability::Available {
                version: v.to_string(),
                devices: vec![format!("trtexec at {}", p.display())],
            },
            Err(e) => Availability::Unavailable {
                reason: e.to_string(),
                fix: FIX.into(),
            },
        },
        Err(e) => Availability::Unavailable {
            reason: e.to_string(),
            fix: FIX.into(),
        },
    }
}

/// A built engine and everything needed to time it.
struct TrtSession {
    label: String,
    cfg: TrtConfig,
    trtexec: PathBuf,
    version: TrtVersion,
    engine: PathBuf,
    dynamic: Vec<ConcreteSpec>,
    /// Input files for `--loadInputs`, and the folder of every call's exports.
    work: tempfile::TempDir,
    input_files: Vec<(String, PathBuf)>,
    /// Outputs of the last trtexec call on the current inputs.
    last: Option<Vec<HostTensor>>,
    /// Every sampled query so far, across rounds, in the order of the samples.
    queries: Vec<QueryTime>,
    info: SessionInfo,
}

impl TrtSession {
    fn prepare(model: &Model, spec: &EngineSpec, opts: &PrepareOptions) -> Result<TrtSession> {
        let cfg = TrtConfig::from_spec(spec)?;
        let label = spec.to_string();
        let err = |e: EngineError| e.in_engine(label.clone());
        let unavailable = |e: EngineError| e.unavailable(label.clone(), FIX);
        let trtexec = find_trtexec(cfg.trtexec.as_deref()).map_err(unavailable)?;
        let version = version_of(&trtexec, cfg.limit(PROBE_TIMEOUT)).map_err(unavailable)?;
        if version.strongly_typed_only() {
            if let Some(why) = strongly_typed_refusal(cfg.precision, model) {
                return Err(err(EngineError::Unsupported(why)));
            }
        }
        // TensorRT 11's int8 is a Q/DQ model's: a float32 model is quantized first (signed
        // activations, synthetic calibration; in prepare_ms), from the quantizer's cache.
        let quantized =
            if version.strongly_typed_only() && cfg.precision == Precision::Int8 && !has_qdq(model)
            {
                Some(crate::lowp::quantize(
                    model,
                    &opts.inputs,
                    &crate::lowp::QuantRequest { calib: None },
                    edgebench_torch::quantize::Activations::S8,
                )?)
            } else {
                None
            };
        let quant_details = quantized
            .as_ref()
            .map(|q| q.details.clone())
            .unwrap_or_default();
        let quantized = quantized.map(|q| q.model);
        let model = quantized.as_ref().unwrap_or(model);
        let gpu = gpu_of(&trtexec, cfg.device, cfg.limit(PROBE_TIMEOUT)).map_err(err)?;
        let gpu_name = gpu.clone().unwrap_or_else(|| "unknown GPU".into());
        let dynamic: Vec<ConcreteSpec> = dynamic_inputs(model, &opts.inputs)
            .into_iter()
            .cloned()
            .collect();
        for i in &opts.inputs {
            args::check_name(&i.name).map_err(err)?;
        }

        let cache = cfg
            .cache
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("edgebench-tensorrt"));
        std::fs::create_dir_all(&cache)
            .map_err(|e| err(EngineError::Io(format!("cache={}: {e}", cache.display()))))?;
        // trtexec reads files: a model built in memory (the zoo) is written to the cache.
        let onnx = match &model.path {
            Some(p) => p.clone(),
            None => {
                let p = cache.join(format!("{}.onnx", &model.sha256[..16]));
                if !p.is_file() {
                    edgebench_core::write_atomic(&p, &model.bytes)
                        .map_err(|e| err(EngineError::Io(e.to_string())))?;
                }
                p
            }
        };
        // TensorRT 11 takes the precision from the model: fp16 of a float32 model builds a
        // float16 copy of it.
        let mut converted = None;
        let onnx = if version.strongly_typed_only()
            && cfg.precision == Precision::Fp16
            && !is_fp16_model(model)
        {
            let p = cache.join(format!("{}-fp16.onnx", &model.sha256[..16]));
            if !p.is_file() {
                let half = fp16::convert(&model.proto).map_err(|e| {
                    err(e.context(
                        "TensorRT 11 builds strongly typed networks only (no --fp16), and converting the model to float16 failed",
                    ))
                })?;
                use prost::Message;
                edgebench_core::write_atomic(&p, &half.encode_to_vec())
                    .map_err(|e| err(EngineError::Io(e.to_string())))?;
            }
            converted = Some(p.clone());
            p
        } else {
            onnx
        };
        let stem = engine_key(
            &model.sha256,
            &opts.inputs,
            cfg.precision,
            version,
            &gpu_name,
        );
        let engine = cache.join(format!("{stem}.engine"));
        let layers = cache.join(format!("{stem}.layers.json"));
        let timing_cache = cache.join(format!(
            "timing-trt{version}-{}.cache",
            &sha256_hex(gpu_name.as_bytes())[..12]
        ));
        let cached = engine.is_file();
        if !cached {
            // Built under a temporary name and renamed once complete, so that a build that is
            // killed never leaves an engine the next run would load.
            let partial = cache.join(format!("{stem}.engine.partial-{}", std::process::id()));
            let partial_layers =
                cache.join(format!("{stem}.layers.partial-{}", std::process::id()));
            let build = args::Build {
                onnx: &onnx,
                engine: &partial,
                timing_cache: &timing_cache,
                layer_info: &partial_layers,
                device: cfg.device,
                precision: cfg.precision,
                dynamic: dynamic.iter().collect(),
            };
            let a = args::build_args(version, &build).map_err(err)?;
            let built = call(&trtexec, &a, cfg.limit(BUILD_TIMEOUT));
            if let Err(e) = built {
                let _ = std::fs::remove_file(&partial);
                let _ = std::fs::remove_file(&partial_layers);
                return Err(err(e.context("building the engine")));
            }
            if !partial.is_file() {
                return Err(err(EngineError::Unparseable(format!(
                    "trtexec reported success but wrote no engine at {}",
                    partial.display()
                ))));
            }
            if partial_layers.is_file() {
                let _ = std::fs::rename(&partial_layers, &layers);
            }
            std::fs::rename(&partial, &engine)
                .map_err(|e| err(EngineError::Io(format!("{}: {e}", engine.display()))))?;
        }

        let mut details = BTreeMap::new();
        details.insert("trtexec".into(), trtexec.display().to_string());
        details.insert("gpu".into(), gpu_name);
        details.insert("engine".into(), engine.display().to_string());
        details.insert(
            "engine_cache".into(),
            if cached { "hit" } else { "built" }.into(),
        );
        details.insert("requested_precision".into(), cfg.precision.name().into());
        details.extend(quant_details);
        if let Some(p) = converted {
            details.insert("converted_to_fp16".into(), p.display().to_string());
        }
        details.insert(
            "shapes_given".into(),
            if dynamic.is_empty() {
                "none (static model)".into()
            } else {
                args::shape_list(&dynamic.iter().collect::<Vec<_>>()).map_err(err)?
            },
        );
        let work = tempfile::tempdir()
            .map_err(|e| err(EngineError::Io(format!("temporary folder: {e}"))))?;
        let mut s = TrtSession {
            label: label.clone(),
            cfg: cfg.clone(),
            trtexec,
            version,
            engine,
            dynamic,
            work,
            input_files: vec![],
            last: None,
            queries: vec![],
            info: SessionInfo {
                engine_version: version.to_string(),
                threads: None,
                device: format!("cuda:{}", cfg.device),
                precision: cfg.precision.gate_precision().into(),
                details,
            },
        };
        if let Ok(text) = std::fs::read_to_string(&layers) {
            s.record_layers(&text);
        }
        Ok(s)
    }

    fn err(&self, e: EngineError) -> Error {
        e.in_engine(self.label.clone())
    }

    /// Records the precisions the engine's layers run in.
    fn record_layers(&mut self, layer_info: &str) {
        match parse_layer_info(layer_info) {
            Ok(Some(p)) => {
                if let Some(lowest) = p.lowest() {
                    self.info.precision = lowest.into();
                }
                self.info
                    .details
                    .insert("layer_precisions".into(), p.describe());
                // The same counts as every engine's evidence (`core::precision`).
                self.info
                    .details
                    .insert(edgebench_core::precision::KERNELS.into(), p.describe());
                self.info.details.insert(
                    edgebench_core::precision::PROOF.into(),
                    "trtexec --exportLayerInfo of the built engine".into(),
                );
            }
            Ok(None) => {
                self.info.details.insert(
                    "layer_precisions".into(),
                    "unknown (engine built without detailed profiling verbosity)".into(),
                );
            }
            Err(e) => {
                self.info
                    .details
                    .insert("layer_precisions".into(), e.to_string());
            }
        }
    }

    /// One trtexec timing call on the current inputs.
    fn timing_call(&mut self, batch: args::Batch) -> Result<TimingRun> {
        let times = self.work.path().join("times.json");
        let outputs = self.work.path().join("outputs.json");
        let layers = self.work.path().join("layers.json");
        for f in [&times, &outputs, &layers] {
            let _ = std::fs::remove_file(f);
        }
        let t = args::Timing {
            engine: &self.engine,
            device: self.cfg.device,
            inputs: &self.input_files,
            dynamic: self.dynamic.iter().collect(),
            times: &times,
            outputs: &outputs,
            layer_info: &layers,
        };
        let a = args::timing_args(self.version, &t, batch).map_err(|e| self.err(e))?;
        let expected = Duration::from_secs_f64(
            (batch.warmup_ms / 1e3 + batch.duration_s).clamp(0.0, 1e6) * 3.0,
        );
        let limit = self.cfg.limit(TIMING_SLACK + expected);
        let log = call(&self.trtexec, &a, limit).map_err(|e| self.err(e))?;
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| {
                EngineError::Unparseable(format!(
                    "trtexec wrote no {} ({e})",
                    p.file_name().unwrap_or_default().to_string_lossy()
                ))
            })
        };
        let queries = read(&times)
            .and_then(|j| parse_times(&j))
            .map_err(|e| self.err(e))?;
        let outs = read(&outputs)
            .and_then(|j| parse_outputs(&j))
            .map_err(|e| self.err(e))?;
        if !self.info.details.contains_key("layer_precisions")
            || self.info.details["layer_precisions"].starts_with("unknown")
        {
            if let Ok(text) = std::fs::read_to_string(&layers) {
                self.record_layers(&text);
            }
        }
        self.last = Some(outs.clone());
        Ok(TimingRun {
            warmups: report::warmup_queries(&log),
            queries,
        })
    }
}

/// What one timing call gave.
struct TimingRun {
    queries: Vec<QueryTime>,
    /// Queries trtexec ran as its own warm-up (not exported).
    warmups: Option<usize>,
}

/// The bytes trtexec's `--loadInputs` expects for an input: the binding's type, little-endian.
/// TensorRT before 10 has no INT64 bindings (the ONNX parser casts such inputs to INT32).
fn input_bytes(d: &TensorData, v: TrtVersion) -> std::result::Result<Vec<u8>, EngineError> {
    Ok(match d {
        TensorData::F32(x) => x.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::F64(x) => x.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I64(x) if !v.int64_bindings() => {
            let mut out = Vec::with_capacity(x.len() * 4);
            for &e in x {
                let e = i32::try_from(e).map_err(|_| {
                    EngineError::Unsupported(format!("value {e} does not fit the INT32 binding TensorRT {v} uses for an INT64 input"))
                })?;
                out.extend_from_slice(&e.to_le_bytes());
            }
            out
        }
        TensorData::I64(x) => x.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I32(x) => x.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I8(x) => x.iter().map(|&e| e as u8).collect(),
        TensorData::U8(x) => x.clone(),
        TensorData::Bool(x) => x.iter().map(|&e| e as u8).collect(),
    })
}

impl Session for TrtSession {
    fn set_inputs(&mut self, inputs: &[HostTensor]) -> Result<()> {
        let mut files = vec![];
        for (i, t) in inputs.iter().enumerate() {
            args::check_name(&t.name).map_err(|e| self.err(e))?;
            let path = self.work.path().join(format!("input{i}.bin"));
            let bytes = input_bytes(&t.data, self.version)
                .map_err(|e| self.err(e.context(format!("input `{}`", t.name))))?;
            std::fs::write(&path, bytes)
                .map_err(|e| self.err(EngineError::Io(format!("{}: {e}", path.display()))))?;
            files.push((t.name.clone(), path));
        }
        self.input_files = files;
        self.last = None;
        Ok(())
    }

    /// One untimed trtexec call with a single query (no warm-up), for the accuracy gate's
    /// extra input sets; timing goes through `measure_self`, since timing a process call by
    /// call would measure process start-up.
    fn run(&mut self) -> Result<()> {
        self.timing_call(args::Batch {
            warmup_ms: 0.0,
            iterations: 1,
            duration_s: 0.0,
        })
        .map(|_| ())
    }

    fn outputs(&mut self) -> Result<Vec<HostTensor>> {
        if self.last.is_none() {
            self.run()?;
        }
        self.last.clone().ok_or_else(|| {
            self.err(EngineError::Unparseable(
                "trtexec exported no outputs".into(),
            ))
        })
    }

    fn info(&self) -> SessionInfo {
        self.info.clone()
    }

    /// edgebench's warm-up and sampling rules applied to the queries trtexec times: the
    /// first call runs with no trtexec warm-up, so its first query is the first run and the
    /// next ones warm up by edgebench's rule (`warmup_s`, `min_warmup_runs`); the queries
    /// after are samples, and further calls time more queries while the target interval is
    /// unmet and the limits allow.
    fn measure_self(&mut self, opts: &MeasureOptions) -> Option<Result<Measurement>> {
        Some(self.measure(opts))
    }
}

impl TrtSession {
    fn measure(&mut self, opts: &MeasureOptions) -> Result<Measurement> {
        let warmup_ms = (opts.warmup_s.max(0.0) * 1e3).min(1e9);
        let min_warmup = opts.min_warmup_runs.max(1);
        let max_time = opts.time_limit_s();
        // The first call samples a tenth of the time limit (at most 2 s, at least the minimum
        // time); later calls are sized from what it measured.
        let first_chunk = opts
            .min_time_s
            .max(0.0)
            .max((0.1 * max_time).min(2.0))
            .min(max_time);
        let mut sampler = StopRule::new(opts);
        let mut kept: Vec<QueryTime> = vec![];
        let first = self.timing_call(args::Batch {
            warmup_ms: 0.0,
            iterations: min_warmup + opts.min_samples.max(1),
            duration_s: warmup_ms / 1e3 + first_chunk,
        })?;
        let q = &first.queries;
        let Some(q0) = q.first() else {
            return Err(self.err(EngineError::Unparseable("trtexec timed no queries".into())));
        };
        let first_run_ms = q0.latency;
        let start = q0.start_h2d.min(q0.start_enq);
        // Warm-up as core::measure counts it: the first run, then runs until both the time
        // and the count are reached.
        let mut s = 1;
        while s < q.len() && !opts.warmed_up(s, (q[s - 1].end_d2h - start) / 1e3) {
            s += 1;
        }
        let mut warmup_runs = s;
        let warmup_done_ms = q[s - 1].end_d2h - start;
        let mut stop = None;
        if s < q.len() {
            let t0 = q[s].start_h2d.min(q[s].start_enq);
            for x in &q[s..] {
                kept.push(*x);
                stop = sampler
                    .push(x.latency, (x.end_d2h - t0).max(0.0) / 1e3)
                    .stop;
                if stop.is_some() {
                    break;
                }
            }
        }
        let mut calls = 1;
        // Later calls start a new process: trtexec warms the new context up on its own.
        let later_warmup = if s < q.len() {
            warmup_ms.min(500.0)
        } else {
            (warmup_ms - warmup_done_ms).max(0.0)
        };
        while stop.is_none() {
            if calls >= MAX_TIMING_CALLS {
                stop = Some(StopReason::TimeLimit);
                break;
            }
            let n = sampling::next_batch(&sampler, opts);
            let run = self.timing_call(args::Batch {
                warmup_ms: later_warmup,
                iterations: n,
                duration_s: 0.0,
            })?;
            calls += 1;
            warmup_runs += run.warmups.unwrap_or(0);
            let Some(r0) = run.queries.first() else {
                return Err(self.err(EngineError::Unparseable("trtexec timed no queries".into())));
            };
            let t0 = r0.start_h2d.min(r0.start_enq);
            let base = sampler.elapsed_s();
            for x in &run.queries {
                kept.push(*x);
                stop = sampler
                    .push(x.latency, base + (x.end_d2h - t0).max(0.0) / 1e3)
                    .stop;
                if stop.is_some() {
                    break;
                }
            }
        }
        let sampling_ms = sampler.elapsed_s() * 1e3;
        self.queries.extend_from_slice(&kept);
        self.record_breakdown();
        Ok(Measurement {
            first_run_ms,
            warmup_runs,
            warmup_ms: warmup_done_ms,
            samples_ms: sampler.into_samples(),
            stop_reason: stop.unwrap_or(StopReason::TimeLimit),
            sampling_ms,
            // trtexec times on the GPU with CUDA events: no host clock reads per sample.
            timer_overhead_ns: 0.0,
            sampling_window: None,
        })
    }

    /// trtexec's split of every sampled query, in the session's details: the medians in
    /// words, and the per-query values as JSON arrays in the order of the samples.
    fn record_breakdown(&mut self) {
        let q = &self.queries;
        if q.is_empty() {
            return;
        }
        let median = |f: &dyn Fn(&QueryTime) -> f64| {
            let mut v: Vec<f64> = q.iter().map(f).collect();
            v.sort_unstable_by(f64::total_cmp);
            edgebench_core::stats::percentile(&v, 50.0)
        };
        self.info.details.insert(
            "trtexec_median_ms".into(),
            format!(
                "enqueue {:.4}, h2d {:.4}, gpu compute {:.4}, d2h {:.4}, latency {:.4} ({} queries)",
                median(&|x| x.enqueue()),
                median(&|x| x.h2d),
                median(&|x| x.compute),
                median(&|x| x.d2h),
                median(&|x| x.latency),
                q.len()
            ),
        );
        let per_query = serde_json::json!({
            "enqueue": q.iter().map(QueryTime::enqueue).collect::<Vec<_>>(),
            "h2d": q.iter().map(|x| x.h2d).collect::<Vec<_>>(),
            "compute": q.iter().map(|x| x.compute).collect::<Vec<_>>(),
            "d2h": q.iter().map(|x| x.d2h).collect::<Vec<_>>(),
        });
        self.info
            .details
            .insert("trtexec_per_query_ms".into(), per_query.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_core::tensor::DType;

    fn cfg(s: &str) -> Result<TrtConfig> {
        TrtConfig::from_spec(&EngineSpec::parse(s).unwrap())
    }

    #[test]
    fn specs() {
        let c = cfg("tensorrt:fp16,device=1,trtexec=/opt/t/trtexec,timeout=5").unwrap();
        assert_eq!(c.precision, Precision::Fp16);
        assert_eq!(c.device, 1);
        assert_eq!(c.trtexec.as_deref(), Some(Path::new("/opt/t/trtexec")));
        assert_eq!(c.timeout, Some(Duration::from_secs(5)));
        assert_eq!(cfg("tensorrt").unwrap().precision, Precision::Fp32);
        assert!(cfg("tensorrt:fp8").is_err());
        assert!(cfg("tensorrt:fp16,device=-1").is_err());
        assert!(cfg("tensorrt:fp16,timeout=0").is_err());
        assert!(cfg("tensorrt:fp16,duration=3").is_err());
    }

    #[test]
    fn the_cache_key_changes_with_what_changes_the_engine() {
        let i = |n: usize| {
            vec![ConcreteSpec {
                name: "x".into(),
                dtype: DType::F32,
                shape: vec![n, 3, 8, 8],
            }]
        };
        let sha = "ab".repeat(32);
        let v = TrtVersion::new(10, 16, 0);
        let base = engine_key(&sha, &i(1), Precision::Fp16, v, "Orin");
        assert_eq!(base, engine_key(&sha, &i(1), Precision::Fp16, v, "Orin"));
        for other in [
            engine_key(&sha, &i(2), Precision::Fp16, v, "Orin"),
            engine_key(&sha, &i(1), Precision::Best, v, "Orin"),
            engine_key(
                &sha,
                &i(1),
                Precision::Fp16,
                TrtVersion::new(10, 3, 0),
                "Orin",
            ),
            engine_key(&sha, &i(1), Precision::Fp16, v, "NVIDIA H100 80GB HBM3"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn a_missing_trtexec_is_named() {
        let e = find_trtexec(Some(Path::new("/nonexistent/trtexec"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/trtexec"), "{e}");
        let a = TensorRt.availability_for(
            &EngineSpec::parse("tensorrt:fp16,trtexec=/nonexistent/trtexec").unwrap(),
        );
        assert!(
            matches!(&a, Availability::Unavailable { reason, .. } if reason.contains("/nonexistent/trtexec")),
            "{a:?}"
        );
    }

    #[test]
    fn int64_inputs_narrow_before_tensorrt_10() {
        let d = TensorData::I64(vec![1, -2]);
        assert_eq!(input_bytes(&d, TrtVersion::new(8, 6, 1)).unwrap().len(), 8);
        assert_eq!(
            input_bytes(&d, TrtVersion::new(10, 0, 0)).unwrap().len(),
            16
        );
        let big = TensorData::I64(vec![1 << 40]);
        assert!(input_bytes(&big, TrtVersion::new(8, 6, 1)).is_err());
    }
}
