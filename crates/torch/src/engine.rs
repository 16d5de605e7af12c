//! The `torch` engine: the model runs in PyTorch, in a worker process, timed there with the
//! same rules as every engine (`Session::measure_self`).
//!
//! `torch:eager[,channels_last][,cuda_graph][,compile[=MODE]][,tf32][,device=cpu|cuda[:N]][,dtype=fp32|fp16|bf16][,cudnn_benchmark=on|off][,inference_mode=on|off]`
//!
//! `compile=MODE` is `torch.compile(model, mode=MODE)` with MODE one of [`CompileMode`]'s
//! (`default`, `reduce-overhead`, `max-autotune`, `max-autotune-no-cudagraphs`); plain
//! `compile` is `default`. The worker compiles during prepare (the first call, timed on its
//! own) and records what torch built, not what was asked: `session.details.compile_mode`,
//! `compile_first_call_ms`, `compile_graphs` and `compile_graph_breaks` (from
//! `torch._dynamo.utils.counters`), and `compile_cuda_graphs`, whether the runs replay CUDA
//! graphs, from the graphs torch's CUDA graph trees hold (`compile_cuda_graphs_recorded`) and
//! inductor's `cudagraph_skips` counter.

use crate::error::TorchError;
use crate::python::{self, PythonInfo};
use crate::source::{self, Resolved, TorchSource};
use crate::worker::{Timeouts, Worker};
use edgebench_core::engine::{
    check_spec, Availability, Engine, EngineSpec, PrepareOptions, Session, SessionInfo, VariantInfo,
};
use edgebench_core::error::{EngineError, Error, Result};
use edgebench_core::measure::{MeasureOptions, Measurement};
use edgebench_core::model::Model;
use edgebench_core::tensor::{DType, HostTensor, TensorData};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

const VARIANTS: &[&str] = &["eager"];
const FLAGS: &[&str] = &["channels_last", "cuda_graph", "compile", "tf32"];
const KEYS: &[&str] = &[
    "device",
    "dtype",
    "compile",
    "cudnn_benchmark",
    "inference_mode",
];

/// A mode of `torch.compile`, as `torch.compile(model, mode=...)` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileMode {
    /// torch.compile's default: inductor's fused kernels, launched one by one.
    Default,
    /// Inductor's kernels replayed as CUDA graphs (CUDA graph trees).
    ReduceOverhead,
    /// Autotuned kernels (matrix products and convolutions timed against templates) and CUDA
    /// graphs.
    MaxAutotune,
    /// Autotuned kernels without CUDA graphs.
    MaxAutotuneNoCudagraphs,
}

impl CompileMode {
    pub const ALL: [CompileMode; 4] = [
        CompileMode::Default,
        CompileMode::ReduceOverhead,
        CompileMode::MaxAutotune,
        CompileMode::MaxAutotuneNoCudagraphs,
    ];

    /// The name `torch.compile` takes, and `compile=` accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            CompileMode::Default => "default",
            CompileMode::ReduceOverhead => "reduce-overhead",
            CompileMode::MaxAutotune => "max-autotune",
            CompileMode::MaxAutotuneNoCudagraphs => "max-autotune-no-cudagraphs",
        }
    }

    pub fn parse(s: &str) -> Option<CompileMode> {
        CompileMode::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl std::fmt::Display for CompileMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The PyTorch engine. `python: None` uses [`python::discover`] (`--python`,
/// `EDGEBENCH_PYTHON`, `python3` on PATH).
#[derive(Debug, Clone, Default)]
pub struct Torch {
    pub python: Option<PathBuf>,
}

impl Torch {
    /// An engine that runs the worker with this Python.
    pub fn with_python(path: impl Into<PathBuf>) -> Torch {
        Torch {
            python: Some(path.into()),
        }
    }

    /// The Python to use, probed.
    pub fn python(&self) -> std::result::Result<PythonInfo, TorchError> {
        match &self.python {
            Some(p) => python::discover_with(Some(p)),
            None => python::discover(),
        }
    }
}

/// The settings of a torch spec, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchSettings {
    /// `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// `fp32`, `fp16` or `bf16`.
    pub dtype: String,
    pub channels_last: bool,
    pub cuda_graph: bool,
    /// `torch.compile` and its mode (`compile` alone is [`CompileMode::Default`]).
    pub compile: Option<CompileMode>,
    /// Let cuDNN and cuBLAS use TF32 for fp32 work (PyTorch's cuDNN default; off here so
    /// that fp32 means IEEE fp32).
    pub tf32: bool,
    /// `torch.backends.cudnn.benchmark`: let cuDNN time its algorithms for the fixed shapes
    /// and keep the fastest, as a careful user does for fixed shapes. GPU only; on by
    /// default there (`cudnn_benchmark=off` to switch it off).
    pub cudnn_benchmark: bool,
    /// Run under `torch.inference_mode()` (default) or, with `inference_mode=off`, under
    /// `torch.no_grad()`.
    pub inference_mode: bool,
}

impl TorchSettings {
    /// The `--torch` variants of `pipeline`, each checked by its own syntax (no Python is
    /// needed for that): specs of the torch engine only.
    pub fn parse_variants(given: &[String]) -> Result<Vec<EngineSpec>> {
        given
            .iter()
            .map(|s| {
                let spec = EngineSpec::parse(s)?;
                if spec.engine != "torch" {
                    return Err(Error::InvalidArgument(format!("--torch {s}: not a torch variant (torch:eager[,...]); give other engines with --engine")));
                }
                TorchSettings::from_spec(&spec)?;
                Ok(spec)
            })
            .collect()
    }

    pub fn from_spec(spec: &EngineSpec) -> Result<TorchSettings> {
        check_spec(spec, VARIANTS, FLAGS, KEYS)?;
        let shown = spec.to_string();
        let device = spec
            .options
            .get("device")
            .cloned()
            .unwrap_or_else(|| "cpu".into());
        let device_ok = device == "cpu"
            || device == "cuda"
            || device
                .strip_prefix("cuda:")
                .is_some_and(|n| n.parse::<u32>().is_ok());
        if !device_ok {
            return Err(Error::InvalidArgument(format!(
                "--engine {shown}: device={device} is not cpu, cuda or cuda:N"
            )));
        }
        let dtype = spec
            .options
            .get("dtype")
            .cloned()
            .unwrap_or_else(|| "fp32".into());
        if !["fp32", "fp16", "bf16"].contains(&dtype.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "--engine {shown}: dtype={dtype} is not fp32, fp16 or bf16"
            )));
        }
        let flag = |f: &str| spec.flags.iter().any(|x| x == f);
        let on_off = |key: &str| -> Result<Option<bool>> {
            match spec.options.get(key).map(String::as_str) {
                None => Ok(None),
                Some("on") => Ok(Some(true)),
                Some("off") => Ok(Some(false)),
                Some(v) => Err(Error::InvalidArgument(format!(
                    "--engine {shown}: {key}={v} is not on or off"
                ))),
            }
        };
        let compile = match (flag("compile"), spec.options.get("compile")) {
            (true, Some(_)) => {
                return Err(Error::InvalidArgument(format!(
                    "--engine {shown}: give compile or compile=MODE, not both"
                )))
            }
            (true, None) => Some(CompileMode::Default),
            (false, Some(m)) => Some(CompileMode::parse(m).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "--engine {shown}: compile={m} is not one of {}",
                    CompileMode::ALL.map(CompileMode::as_str).join(", ")
                ))
            })?),
            (false, None) => None,
        };
        let cudnn_benchmark = on_off("cudnn_benchmark")?;
        if cudnn_benchmark.is_some() && !device.starts_with("cuda") {
            return Err(Error::InvalidArgument(format!(
                "--engine {shown}: cudnn_benchmark applies to a GPU: add device=cuda or drop it"
            )));
        }
        let s = TorchSettings {
            cudnn_benchmark: cudnn_benchmark.unwrap_or(device.starts_with("cuda")),
            inference_mode: on_off("inference_mode")?.unwrap_or(true),
            device,
            dtype,
            channels_last: flag("channels_last"),
            cuda_graph: flag("cuda_graph"),
            compile,
            tf32: flag("tf32"),
        };
        if s.tf32 && (!s.device.starts_with("cuda") || s.dtype != "fp32") {
            return Err(Error::InvalidArgument(format!(
                "--engine {shown}: tf32 applies to dtype=fp32 on a GPU: add device=cuda or drop tf32"
            )));
        }
        if s.cuda_graph && !s.device.starts_with("cuda") {
            return Err(Error::InvalidArgument(format!(
                "--engine {shown}: cuda_graph needs a GPU: add device=cuda"
            )));
        }
        if s.cuda_graph && s.compile.is_some() {
            return Err(Error::InvalidArgument(format!(
                "--engine {shown}: cuda_graph and compile together are not supported: measure them as two variants (compile=reduce-overhead makes torch.compile capture CUDA graphs itself)"
            )));
        }
        if s.compile == Some(CompileMode::ReduceOverhead) && !s.device.starts_with("cuda") {
            return Err(Error::InvalidArgument(format!(
                "--engine {shown}: compile=reduce-overhead only adds CUDA graphs, which need a GPU: add device=cuda or use compile=default"
            )));
        }
        Ok(s)
    }
}

impl Engine for Torch {
    fn name(&self) -> &'static str {
        "torch"
    }

    fn availability(&self) -> Availability {
        match self.python() {
            Ok(info) => match &info.hello.torch {
                Some(v) => Availability::Available {
                    version: format!(
                        "{v} (Python {}, {})",
                        info.hello.python,
                        info.path.display()
                    ),
                    devices: info.hello.devices.clone(),
                },
                None => Availability::Unavailable {
                    reason: format!(
                        "{} ({}) cannot import torch: {}",
                        info.path.display(),
                        info.origin.describe(),
                        info.hello.torch_error.clone().unwrap_or_default()
                    ),
                    fix: crate::error::FIX_TORCH.into(),
                },
            },
            Err(TorchError::PythonNotFound { what, fix }) => Availability::Unavailable {
                reason: format!("no Python found: {what}"),
                fix,
            },
            Err(e) => Availability::Unavailable {
                reason: e.to_string(),
                fix: "pass --python PATH to a Python 3 with torch".into(),
            },
        }
    }

    fn variants(&self) -> Vec<VariantInfo> {
        let v = |spec: &str, description: &str| VariantInfo {
            spec: spec.into(),
            description: description.into(),
        };
        vec![
            v(
                "torch:eager",
                "PyTorch eager mode on the CPU, fp32: the baseline before optimization",
            ),
            v("torch:eager,channels_last", "eager, NHWC memory format"),
            v("torch:eager,device=cuda", "eager on the GPU, fp32"),
            v(
                "torch:eager,device=cuda,dtype=fp16",
                "eager on the GPU, half precision (also dtype=bf16)",
            ),
            v(
                "torch:eager,device=cuda,cuda_graph",
                "one captured CUDA graph replayed per run (add dtype=fp16)",
            ),
            v(
                "torch:eager,compile",
                "torch.compile in its default mode (torch 2 or newer; compiled during prepare)",
            ),
            v(
                "torch:eager,device=cuda,dtype=fp16,compile=reduce-overhead",
                "torch.compile with CUDA graphs (also compile=max-autotune, max-autotune-no-cudagraphs)",
            ),
        ]
    }

    fn validate(&self, spec: &EngineSpec) -> Result<()> {
        let s = TorchSettings::from_spec(spec)?;
        if s.device.starts_with("cuda") || s.compile.is_some() {
            // Needs to know what this torch can do: probe it (cached).
            let info = self.python()?;
            let version = info.require_torch()?;
            if s.device.starts_with("cuda") && !info.hello.cuda {
                return Err(Error::InvalidArgument(format!(
                    "--engine {spec}: torch {version} at {} has no CUDA (a CPU-only build, or no GPU or driver here): install a CUDA build of PyTorch (pip install torch) or use device=cpu",
                    info.path.display()
                )));
            }
            if let Some(n) = s
                .device
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<usize>().ok())
            {
                let gpus = info
                    .hello
                    .devices
                    .iter()
                    .filter(|d| d.starts_with("cuda"))
                    .count();
                if n >= gpus {
                    return Err(Error::InvalidArgument(format!(
                        "--engine {spec}: device=cuda:{n}, but torch sees {gpus} GPU(s): use cuda:0 to cuda:{}",
                        gpus.saturating_sub(1)
                    )));
                }
            }
            if s.cuda_graph && info.hello.cuda_graph == Some(false) {
                return Err(Error::InvalidArgument(format!(
                    "--engine {spec}: cuda_graph needs torch 1.10 or newer (torch.cuda.graph) and {} has torch {version}: drop cuda_graph or use a newer torch",
                    info.path.display()
                )));
            }
            if s.compile.is_some() && !info.hello.compile {
                return Err(Error::InvalidArgument(format!(
                    "--engine {spec}: torch.compile needs torch 2.0 or newer and {} has torch {version}: pip install 'torch>=2', or drop compile",
                    info.path.display()
                )));
            }
        }
        Ok(())
    }

    fn prepare(
        &self,
        model: &Model,
        spec: &EngineSpec,
        opts: &PrepareOptions,
    ) -> Result<Box<dyn Session>> {
        let settings = TorchSettings::from_spec(spec)?;
        let info = self.python()?;
        info.require_torch()?;
        let resolved = source::resolve(model)?;
        if matches!(resolved.source, TorchSource::Torchvision { .. }) {
            info.require_torchvision()?;
        }
        let output_names: Vec<&str> = model.outputs.iter().map(|o| o.name.as_str()).collect();
        let session = TorchSession::start(
            &info,
            &model.proto,
            &output_names,
            &resolved,
            &settings,
            opts,
            spec,
        )?;
        Ok(Box::new(session))
    }
}

impl Torch {
    /// Loads a PyTorch source directly (no ONNX model), with the weights an export of it
    /// would get ([`source::weights_for`], calibrated on `opts.inputs`).
    pub fn open_source(
        &self,
        source: &TorchSource,
        seed: u64,
        spec: &EngineSpec,
        opts: &PrepareOptions,
    ) -> Result<TorchSession> {
        let settings = TorchSettings::from_spec(spec)?;
        let info = self.python()?;
        info.require_torch()?;
        if matches!(source, TorchSource::Torchvision { .. }) {
            info.require_torchvision()?;
        }
        let shapes: Vec<Vec<usize>> = opts.inputs.iter().map(|i| i.shape.clone()).collect();
        let (source, weights) = source::weights_for(source, seed, &shapes);
        let resolved = Resolved {
            source,
            seed,
            weights,
        };
        Ok(TorchSession::start(
            &info,
            &Default::default(),
            &[],
            &resolved,
            &settings,
            opts,
            spec,
        )?)
    }
}

/// What one forward pass produced, module by module (the worker's `activations` command).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Activations {
    /// The median absolute value of the model's (first) output.
    pub output_median_abs: f64,
    /// How many module outputs were looked at.
    pub modules: usize,
    /// The smallest non-zero absolute value over every module output.
    pub min_nonzero_abs: Option<f64>,
    /// Modules whose output held subnormal values, with how many.
    pub subnormal: Vec<SubnormalModule>,
    /// Modules whose output held NaN or infinity.
    pub non_finite: Vec<String>,
}

/// A module whose output held subnormal floats.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct SubnormalModule {
    pub module: String,
    pub count: u64,
}

/// A model loaded in a worker process.
pub struct TorchSession {
    worker: Worker,
    dir: tempfile::TempDir,
    label: String,
    info: SessionInfo,
    timeouts: Timeouts,
}

impl TorchSession {
    #[allow(clippy::too_many_arguments)]
    fn start(
        python: &PythonInfo,
        proto: &tract_onnx::pb::ModelProto,
        output_names: &[&str],
        resolved: &Resolved,
        settings: &TorchSettings,
        opts: &PrepareOptions,
        spec: &EngineSpec,
    ) -> std::result::Result<TorchSession, TorchError> {
        let timeouts = Timeouts::from_env();
        let dir = tempfile::Builder::new()
            .prefix("edgebench-torch-")
            .tempdir()
            .map_err(|e| TorchError::Write {
                path: std::env::temp_dir(),
                reason: e.to_string(),
            })?;
        let weights = resolved.weights.request(proto, dir.path())?;
        let mut worker = Worker::start(&python.path, false, timeouts)?;
        let inputs: Vec<Value> = opts
            .inputs
            .iter()
            .map(|i| json!({"name": i.name, "shape": i.shape, "dtype": dtype_code(i.dtype)}))
            .collect();
        let reply = worker.request(
            "load",
            json!({
                "source": resolved.source,
                "seed": resolved.seed,
                "weights": weights,
                "device": settings.device,
                "dtype": settings.dtype,
                "channels_last": settings.channels_last,
                "cuda_graph": settings.cuda_graph,
                "compile": settings.compile.map(CompileMode::as_str),
                "tf32": settings.tf32,
                "cudnn_benchmark": settings.cudnn_benchmark,
                "inference_mode": settings.inference_mode,
                "threads": opts.threads,
                "inputs": inputs,
                "output_names": output_names,
            }),
            timeouts.load,
        )?;
        // The weight file is read during load; free the disk space now.
        let _ = std::fs::remove_file(dir.path().join("weights.bin"));
        let mut details: BTreeMap<String, String> = reply
            .get("details")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let v = v
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string());
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        details.insert("python_path".into(), python.path.display().to_string());
        details.insert("worker_pid".into(), worker.pid().to_string());
        let str_field = |k: &str| reply.get(k).and_then(Value::as_str).map(str::to_owned);
        let info = SessionInfo {
            engine_version: str_field("torch").unwrap_or_else(|| "unknown".into()),
            threads: reply
                .get("threads")
                .and_then(Value::as_u64)
                .map(|t| t as usize),
            device: str_field("device").unwrap_or_else(|| settings.device.clone()),
            precision: str_field("precision").unwrap_or_else(|| "f32".into()),
            details,
        };
        Ok(TorchSession {
            worker,
            dir,
            label: spec.to_string(),
            info,
            timeouts,
        })
    }

    fn call(&mut self, cmd: &str, params: Value, timeout: Duration) -> Result<Value> {
        self.worker
            .request(cmd, params, timeout)
            .map_err(|e| Error::Engine {
                engine: self.label.clone(),
                reason: e.to_string(),
            })
    }

    /// One forward pass on the current inputs with a hook on every module: the scale of the
    /// output and which modules produced subnormal or non-finite values.
    pub fn activations(&mut self) -> Result<Activations> {
        let timeout = self.timeouts.call;
        let reply = self.call("activations", Value::Null, timeout)?;
        serde_json::from_value(reply).map_err(|e| Error::Engine {
            engine: self.label.clone(),
            reason: format!("the torch worker sent unusable activation statistics: {e}"),
        })
    }

    /// The worker's process id (tests kill it).
    pub fn worker_pid(&self) -> u32 {
        self.worker.pid()
    }
}

impl Session for TorchSession {
    fn set_inputs(&mut self, inputs: &[HostTensor]) -> Result<()> {
        let mut tensors = Vec::with_capacity(inputs.len());
        for (i, t) in inputs.iter().enumerate() {
            let path = self.dir.path().join(format!("in_{i}.bin"));
            let (code, bytes) = to_le_bytes(&t.data);
            std::fs::write(&path, bytes).map_err(|e| Error::Write {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            tensors.push(json!({"name": t.name, "shape": t.shape, "dtype": code, "path": path}));
        }
        let timeout = self.timeouts.call;
        self.call("set_inputs", json!({ "tensors": tensors }), timeout)?;
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        let timeout = self.timeouts.call;
        self.call("run", Value::Null, timeout)?;
        Ok(())
    }

    fn outputs(&mut self) -> Result<Vec<HostTensor>> {
        let timeout = self.timeouts.call;
        let dir = self.dir.path().to_owned();
        let reply = self.call("outputs", json!({ "dir": dir }), timeout)?;
        let bad = |reason: String| Error::Engine {
            engine: self.label.clone(),
            reason: format!("the torch worker sent unusable outputs: {reason}"),
        };
        let list = reply
            .get("tensors")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no `tensors` list".into()))?;
        let mut out = Vec::with_capacity(list.len());
        for t in list {
            let name = t.get("name").and_then(Value::as_str).unwrap_or("output");
            let shape: Vec<usize> = t
                .get("shape")
                .and_then(Value::as_array)
                .ok_or_else(|| bad(format!("`{name}` has no shape")))?
                .iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect::<Option<_>>()
                .ok_or_else(|| bad(format!("`{name}` has a bad shape")))?;
            let code = t.get("dtype").and_then(Value::as_str).unwrap_or("");
            let path = t
                .get("path")
                .and_then(Value::as_str)
                .map(PathBuf::from)
                .ok_or_else(|| bad(format!("`{name}` has no path")))?;
            if !path.starts_with(&dir) {
                return Err(bad(format!(
                    "`{name}` was written outside the session folder"
                )));
            }
            let bytes =
                std::fs::read(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
            let _ = std::fs::remove_file(&path);
            let numel: usize = shape.iter().product();
            let data = from_le_bytes(code, &bytes, numel).map_err(|e| bad(e.to_string()))?;
            out.push(HostTensor {
                name: name.to_owned(),
                shape,
                data,
            });
        }
        Ok(out)
    }

    fn info(&self) -> SessionInfo {
        self.info.clone()
    }

    fn measure_self(&mut self, opts: &MeasureOptions) -> Option<Result<Measurement>> {
        let budget =
            Duration::from_secs_f64((opts.warmup_s.max(0.0) + opts.max_time_s.max(0.0)).min(1e7));
        let timeout = self.timeouts.measure_slack + budget;
        let reply = match self.call("measure", json!({ "options": opts }), timeout) {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        let m = serde_json::from_value::<Measurement>(reply).map_err(|e| Error::Engine {
            engine: self.label.clone(),
            reason: format!("the torch worker sent an unusable measurement: {e}"),
        });
        Some(m.and_then(|m| {
            if m.samples_ms.iter().any(|x| !x.is_finite() || *x < 0.0) {
                return Err(Error::Engine {
                    engine: self.label.clone(),
                    reason: "the torch worker sent negative or non-finite samples".into(),
                });
            }
            Ok(m)
        }))
    }
}

fn dtype_code(d: DType) -> &'static str {
    match d {
        DType::F32 => "f32",
        DType::F64 => "f64",
        DType::I64 => "i64",
        DType::I32 => "i32",
        DType::I8 => "i8",
        DType::U8 => "u8",
        DType::Bool => "bool",
        // Inputs of other types are refused by `random_inputs` before they get here.
        _ => "f32",
    }
}

/// A tensor as the worker (and the quantization script) reads it: its element type's code and
/// its raw little-endian bytes.
pub(crate) fn to_le_bytes(d: &TensorData) -> (&'static str, Vec<u8>) {
    fn flat<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        v.iter().flat_map(|&x| f(x)).collect()
    }
    match d {
        TensorData::F32(v) => ("f32", flat(v, f32::to_le_bytes)),
        TensorData::F64(v) => ("f64", flat(v, f64::to_le_bytes)),
        TensorData::I64(v) => ("i64", flat(v, i64::to_le_bytes)),
        TensorData::I32(v) => ("i32", flat(v, i32::to_le_bytes)),
        TensorData::I8(v) => ("i8", flat(v, i8::to_le_bytes)),
        TensorData::U8(v) => ("u8", v.clone()),
        TensorData::Bool(v) => ("bool", v.iter().map(|&b| u8::from(b)).collect()),
    }
}

/// A tensor the worker wrote as raw little-endian bytes.
fn from_le_bytes(
    code: &str,
    b: &[u8],
    numel: usize,
) -> std::result::Result<TensorData, EngineError> {
    let size = match code {
        "f32" | "i32" => 4,
        "f64" | "i64" => 8,
        "i8" | "u8" | "bool" => 1,
        other => {
            return Err(EngineError::Unparseable(format!(
                "unknown element type `{other}`"
            )))
        }
    };
    if b.len() != numel * size {
        return Err(EngineError::Unparseable(format!(
            "{} bytes for {numel} elements of {code}",
            b.len()
        )));
    }
    fn chunks<T, const N: usize>(b: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        b.chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect()
    }
    Ok(match code {
        "f32" => TensorData::F32(chunks(b, f32::from_le_bytes)),
        "f64" => TensorData::F64(chunks(b, f64::from_le_bytes)),
        "i64" => TensorData::I64(chunks(b, i64::from_le_bytes)),
        "i32" => TensorData::I32(chunks(b, i32::from_le_bytes)),
        "i8" => TensorData::I8(chunks(b, i8::from_le_bytes)),
        "u8" => TensorData::U8(b.to_vec()),
        _ => TensorData::Bool(b.iter().map(|&x| x != 0).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_variants_are_torch_specs_checked_without_python() {
        let specs =
            TorchSettings::parse_variants(&["torch:eager".into(), "torch:eager,dtype=fp16".into()])
                .unwrap();
        assert_eq!(specs.len(), 2);
        match TorchSettings::parse_variants(&["torch:eager".into(), "ort:cpu".into()]) {
            Err(Error::InvalidArgument(m)) => {
                assert!(m.starts_with("--torch ort:cpu: not a torch variant"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert!(TorchSettings::parse_variants(&["torch:eager,no_such_key=1".into()]).is_err());
    }

    fn settings(s: &str) -> Result<TorchSettings> {
        TorchSettings::from_spec(&EngineSpec::parse(s).unwrap())
    }

    #[test]
    fn specs_are_checked_without_python() {
        let s = settings("torch:eager,device=cuda:1,dtype=fp16,cuda_graph").unwrap();
        assert_eq!(s.device, "cuda:1");
        assert_eq!(s.dtype, "fp16");
        assert!(s.cuda_graph && s.compile.is_none() && !s.channels_last);
        assert!(s.cudnn_benchmark && s.inference_mode);
        let s = settings("torch").unwrap();
        assert_eq!((s.device.as_str(), s.dtype.as_str()), ("cpu", "fp32"));
        assert!(!s.cudnn_benchmark && s.inference_mode);
        let s = settings("torch:eager,device=cuda,cudnn_benchmark=off,inference_mode=off").unwrap();
        assert!(!s.cudnn_benchmark && !s.inference_mode);
        for (bad, word) in [
            ("torch:lazy", "lazy"),
            ("torch:eager,device=tpu", "tpu"),
            ("torch:eager,device=cuda:x", "cuda:x"),
            ("torch:eager,dtype=int8", "int8"),
            ("torch:eager,cuda_graph", "device=cuda"),
            ("torch:eager,device=cuda,cuda_graph,compile", "two variants"),
            (
                "torch:eager,device=cuda,cuda_graph,compile=max-autotune",
                "two variants",
            ),
            ("torch:eager,compile=fast", "compile=fast is not one of default, reduce-overhead, max-autotune, max-autotune-no-cudagraphs"),
            ("torch:eager,compile,compile=default", "not both"),
            ("torch:eager,compile=reduce-overhead", "add device=cuda"),
            ("torch:eager,threads=2", "threads"),
            ("torch:eager,tf32", "device=cuda"),
            ("torch:eager,device=cuda,dtype=fp16,tf32", "dtype=fp32"),
            ("torch:eager,cudnn_benchmark=on", "device=cuda"),
            ("torch:eager,device=cuda,cudnn_benchmark=yes", "on or off"),
            ("torch:eager,inference_mode=0", "on or off"),
        ] {
            let e = settings(bad).unwrap_err().to_string();
            assert!(e.contains(word), "{bad}: {e}");
        }
    }

    #[test]
    fn compile_takes_a_mode_and_plain_compile_is_the_default_mode() {
        assert_eq!(settings("torch:eager").unwrap().compile, None);
        assert_eq!(
            settings("torch:eager,compile").unwrap().compile,
            Some(CompileMode::Default)
        );
        for mode in CompileMode::ALL {
            let s = settings(&format!(
                "torch:eager,device=cuda,dtype=fp16,compile={mode}"
            ))
            .unwrap();
            assert_eq!(s.compile, Some(mode));
            assert_eq!(CompileMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(
            CompileMode::ALL.map(CompileMode::as_str),
            [
                "default",
                "reduce-overhead",
                "max-autotune",
                "max-autotune-no-cudagraphs"
            ]
        );
        // On the CPU, modes other than reduce-overhead do more than CUDA graphs: allowed.
        for mode in ["default", "max-autotune", "max-autotune-no-cudagraphs"] {
            let s = settings(&format!("torch:eager,compile={mode}")).unwrap();
            assert_eq!(s.compile.map(CompileMode::as_str), Some(mode));
        }
        // The spec names the mode, and pipeline's --torch checks it without Python.
        assert!(TorchSettings::parse_variants(&[
            "torch:eager,device=cuda,compile=max-autotune".into()
        ])
        .is_ok());
        assert!(
            TorchSettings::parse_variants(&["torch:eager,device=cuda,compile=turbo".into()])
                .is_err()
        );
    }

    #[test]
    fn tensors_round_trip_as_little_endian_bytes() {
        for d in [
            TensorData::F32(vec![1.5, -2.25, 3e-8]),
            TensorData::F64(vec![1.0, -0.5]),
            TensorData::I64(vec![-1, 1 << 40]),
            TensorData::I32(vec![7, -7]),
            TensorData::I8(vec![-3, 3]),
            TensorData::U8(vec![0, 255]),
            TensorData::Bool(vec![true, false, true]),
        ] {
            let (code, bytes) = to_le_bytes(&d);
            assert_eq!(from_le_bytes(code, &bytes, d.len()).unwrap(), d);
        }
        assert_eq!(
            to_le_bytes(&TensorData::F32(vec![1.0])).1,
            vec![0, 0, 0x80, 0x3f]
        );
        assert!(from_le_bytes("f32", &[0, 0, 0], 1).is_err());
        assert!(from_le_bytes("f16", &[0, 0], 1).is_err());
    }
}
