//! ONNX Runtime through the `ort` crate, loaded at run time (`load-dynamic`): `ort:none`,
//! `ort:basic`, `ort:extended` and `ort:all` are ONNX Runtime's graph optimization levels;
//! `ep=cpu|cuda|tensorrt|openvino` picks the execution provider.
//!
//! A requested execution provider that cannot run is an error, not a silent fall-back to
//! the CPU, unless the spec says `fallback`; the session info records the provider that ran.
//!
//! `quant=int8[,calib=DIR]` runs the model quantized to QDQ int8 and `dtype=fp16` runs its
//! float16 conversion (`crate::lowp`, in `prepare`). After measurement one extra run of a
//! profiling session (`Session::read_back`) counts the kernels that ran by precision
//! (`crate::proof::ort_profile`), which is the precision recorded.

use crate::libfind::{self, Found, LibProbe, LibSearch};
use edgebench_core::engine::{
    check_spec, Availability, Engine, EngineSpec, PrepareOptions, Session, SessionInfo, VariantInfo,
};
use edgebench_core::error::{one_line, EngineError, Error, Result};
use edgebench_core::model::Model;
use edgebench_core::tensor::{HostTensor, TensorData};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The onnxruntime wheel edgebench is tested with (`.ci/requirements.txt`).
pub const TESTED_VERSION: &str = "1.24.4";
/// The one command that makes `ort` available.
pub const FIX: &str = "install it with `python3 -m pip install onnxruntime==1.24.4` (or give --ort-lib PATH / ORT_DYLIB_PATH)";

const LEVELS: &[&str] = &["none", "basic", "extended", "all"];
const FLAGS: &[&str] = &["fallback", "fp16", "int8"];
const KEYS: &[&str] = &[
    "ep", "threads", "device", "cache", "quant", "calib", "dtype",
];

/// The session options edgebench sets on every ONNX Runtime session besides the level, the
/// thread count and the provider, each to the value ONNX Runtime's Python API runs with when
/// left alone (`onnxruntime.SessionOptions()`), so that `ort:LEVEL --threads N` measures what
/// a Python user's `InferenceSession` with that level and `intra_op_num_threads = N` runs.
/// They are set rather than left to the library's defaults so that the session's record
/// (`SessionInfo::details`, `session.KEY`) says what ran. `session.*` keys are ONNX Runtime's
/// session config entries; spinning keeps idle pool threads polling for work for a while
/// instead of sleeping at once (ONNX Runtime's default, and faster for models of many small
/// operators, where a sleeping thread would be woken for each one).
pub const SESSION_OPTIONS: &[(&str, &str)] = &[
    ("execution_mode", "sequential"),
    ("enable_mem_pattern", "1"),
    ("session.intra_op.allow_spinning", "1"),
    ("session.inter_op.allow_spinning", "1"),
];

/// How a session's inputs and outputs are handed to ONNX Runtime (recorded as `io_binding`).
const IO_BINDING: &str = "inputs bound once per input set, outputs preallocated (bound to the CPU where a shape is dynamic); the timed call is RunWithBinding alone";

pub struct Ort;

/// The execution providers edgebench knows how to configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ep {
    Cpu,
    Cuda,
    TensorRt,
    OpenVino,
}

impl Ep {
    pub fn parse(s: &str) -> Option<Ep> {
        Some(match s {
            "cpu" => Ep::Cpu,
            "cuda" => Ep::Cuda,
            "tensorrt" | "trt" => Ep::TensorRt,
            "openvino" => Ep::OpenVino,
            _ => return None,
        })
    }

    /// ONNX Runtime's name for it.
    pub fn provider(self) -> &'static str {
        match self {
            Ep::Cpu => "CPUExecutionProvider",
            Ep::Cuda => "CUDAExecutionProvider",
            Ep::TensorRt => "TensorrtExecutionProvider",
            Ep::OpenVino => "OpenVINOExecutionProvider",
        }
    }

    /// The wheel that has it.
    fn package(self) -> &'static str {
        match self {
            Ep::Cpu => "onnxruntime",
            Ep::Cuda | Ep::TensorRt => "onnxruntime-gpu",
            Ep::OpenVino => "onnxruntime-openvino",
        }
    }
}

/// Everything a spec asks of ONNX Runtime, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OrtConfig {
    pub level: &'static str,
    pub ep: Ep,
    /// Intra-op threads (None: ONNX Runtime's default, one per physical core).
    pub threads: Option<usize>,
    pub device_id: u32,
    pub fp16: bool,
    pub int8: bool,
    /// TensorRT engine and timing cache, or OpenVINO's model cache.
    pub cache: Option<PathBuf>,
    pub fallback: bool,
    /// `quant=int8[,calib=DIR]`: run the model quantized to QDQ int8.
    pub quant: Option<crate::lowp::QuantRequest>,
    /// `dtype=fp16`: run the model converted to float16.
    pub half: bool,
}

impl OrtConfig {
    pub fn from_spec(spec: &EngineSpec, threads: Option<usize>) -> Result<OrtConfig> {
        check_spec(spec, LEVELS, FLAGS, KEYS)?;
        let shown = spec.to_string();
        let bad = |msg: String| Error::InvalidArgument(format!("--engine {shown}: {msg}"));
        let level =
            match spec.variant() {
                None => "all",
                Some(v) => LEVELS.iter().find(|l| **l == v).copied().ok_or_else(|| {
                    bad(format!("`{v}` must come after the level, e.g. ort:all,{v}"))
                })?,
            };
        let ep = match spec.options.get("ep") {
            None => Ep::Cpu,
            Some(e) => Ep::parse(e).ok_or_else(|| {
                bad(format!(
                    "unknown execution provider `{e}`; valid: cpu, cuda, tensorrt, openvino"
                ))
            })?,
        };
        let threads = match spec.options.get("threads") {
            None => threads,
            Some(t) => Some(
                t.parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad(format!("threads={t} must be a positive integer")))?,
            ),
        };
        let device_id = match spec.options.get("device") {
            None => 0,
            Some(d) => d
                .parse::<u32>()
                .map_err(|_| bad(format!("device={d} must be a GPU index such as 0")))?,
        };
        let has = |f: &str| spec.flags.iter().skip(1).any(|x| x == f);
        let (fp16, int8) = (has("fp16"), has("int8"));
        if (fp16 || int8) && ep != Ep::TensorRt {
            return Err(bad(
                "fp16 and int8 apply to the TensorRT provider: add ep=tensorrt".into(),
            ));
        }
        let cache = spec.options.get("cache").map(PathBuf::from);
        if cache.is_some() && !matches!(ep, Ep::TensorRt | Ep::OpenVino) {
            return Err(bad(
                "cache=DIR applies to ep=tensorrt (engine and timing cache) or ep=openvino".into(),
            ));
        }
        let quant = crate::lowp::quant_request(spec)?;
        let half = match spec.options.get("dtype").map(String::as_str) {
            None | Some("fp32") => false,
            Some("fp16") => true,
            Some(d) => {
                return Err(bad(format!(
                    "dtype={d}: valid are fp32 (the default) and fp16 (the model converted to float16); int8 is quant=int8"
                )))
            }
        };
        if half && quant.is_some() {
            return Err(bad(
                "dtype=fp16 and quant=int8 are two variants: give one of them".into(),
            ));
        }
        Ok(OrtConfig {
            level,
            ep,
            threads,
            device_id,
            fp16,
            int8,
            cache,
            fallback: has("fallback"),
            quant,
            half,
        })
    }

    /// The provider options edgebench passes to ONNX Runtime, in order.
    pub fn provider_options(&self) -> Vec<(&'static str, String)> {
        let b = |x: bool| if x { "1" } else { "0" }.to_string();
        let mut o = vec![];
        match self.ep {
            Ep::Cpu => {}
            Ep::Cuda => o.push(("device_id", self.device_id.to_string())),
            Ep::TensorRt => {
                o.push(("device_id", self.device_id.to_string()));
                o.push(("trt_fp16_enable", b(self.fp16)));
                o.push(("trt_int8_enable", b(self.int8)));
                if let Some(dir) = &self.cache {
                    let dir = dir.display().to_string();
                    o.push(("trt_engine_cache_enable", "1".into()));
                    o.push(("trt_engine_cache_path", dir.clone()));
                    o.push(("trt_timing_cache_enable", "1".into()));
                    o.push(("trt_timing_cache_path", dir));
                }
            }
            Ep::OpenVino => {
                o.push(("device_type", "CPU".into()));
                if let Some(n) = self.threads {
                    o.push(("num_of_threads", n.to_string()));
                }
                if let Some(dir) = &self.cache {
                    o.push(("cache_dir", dir.display().to_string()));
                }
            }
        }
        o
    }

    /// The precision the provider computes in.
    pub fn precision(&self) -> &'static str {
        if self.int8 {
            "int8"
        } else if self.fp16 {
            "f16"
        } else {
            "f32"
        }
    }
}

/// The loaded ONNX Runtime, once per process.
struct Runtime {
    env: ort::environment::Environment,
    version: String,
    found: Found,
    providers: Vec<&'static str>,
}

static RUNTIME: OnceLock<std::result::Result<Runtime, EngineError>> = OnceLock::new();

fn search() -> LibSearch {
    LibSearch {
        engine: "ort",
        flag: "--ort-lib",
        flag_value: crate::library_paths().ort,
        env_var: "ORT_DYLIB_PATH",
        python_module: "onnxruntime",
        python_subdir: "capi",
        file: "libonnxruntime.so",
        extra_dirs: &[],
    }
}

fn runtime() -> std::result::Result<&'static Runtime, &'static EngineError> {
    RUNTIME.get_or_init(load).as_ref()
}

fn load() -> std::result::Result<Runtime, EngineError> {
    let found =
        libfind::find(&search(), &LibProbe::real()).map_err(|e| EngineError::NotFound(e.reason))?;
    let version = library_version(&found.path)?;
    let minor: u32 = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if !version.starts_with("1.") || minor < ort::MINOR_VERSION {
        return Err(EngineError::NotFound(format!(
            "{} is ONNX Runtime {version}, older than the 1.{} this build needs",
            found.path.display(),
            ort::MINOR_VERSION
        )));
    }
    let path = found.path.clone();
    let env = crate::catch(|| {
        ort::init_from(&path)
            .map_err(|e| e.to_string())?
            .with_name("edgebench")
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())
    })
    .map_err(|e| e.to_string())
    .and_then(|r| r)
    .map_err(|reason| EngineError::Load {
        path: found.path.clone(),
        reason,
    })?;
    let mut providers = vec![];
    for (ep, ok) in [
        (Ep::Cpu, available::<ort::ep::CPU>()),
        (Ep::Cuda, available::<ort::ep::CUDA>()),
        (Ep::TensorRt, available::<ort::ep::TensorRT>()),
        (Ep::OpenVino, available::<ort::ep::OpenVINO>()),
    ] {
        if ok {
            providers.push(ep.provider());
        }
    }
    Ok(Runtime {
        env,
        version,
        found,
        providers,
    })
}

fn available<E: ort::ep::ExecutionProvider>() -> bool {
    crate::catch(|| E::is_available().unwrap_or(false)).unwrap_or(false)
}

/// Asks the library its version (`OrtGetApiBase()->GetVersionString()`) without handing it
/// to `ort`, so that a wrong file or an old version gets a clear message instead of a panic.
fn library_version(path: &std::path::Path) -> std::result::Result<String, EngineError> {
    // SAFETY: loading a shared library runs its initializers; this is the library the user
    // (or the search order) chose to run, and `ort` would load it next anyway.
    unsafe {
        let lib = libloading::Library::new(path).map_err(|e| EngineError::Load {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let get_base: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
            lib.get(b"OrtGetApiBase\0").map_err(|_| {
                EngineError::NotFound(format!(
                    "{} is not an ONNX Runtime library (no OrtGetApiBase)",
                    path.display()
                ))
            })?;
        let base = get_base();
        if base.is_null() {
            return Err(EngineError::NotFound(format!(
                "{} returned no API base",
                path.display()
            )));
        }
        let v = ((*base).GetVersionString)();
        if v.is_null() {
            return Err(EngineError::NotFound(format!(
                "{} returned no version",
                path.display()
            )));
        }
        let version = std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned();
        // Keep it loaded: `ort` loads the same file next, and unloading ONNX Runtime is unsafe.
        std::mem::forget(lib);
        Ok(version)
    }
}

/// Where the library came from, for `edgebench engines`.
pub fn library() -> Option<String> {
    runtime()
        .ok()
        .map(|r| format!("{} ({})", r.found.path.display(), r.found.source))
}

impl Engine for Ort {
    fn name(&self) -> &'static str {
        "ort"
    }

    fn availability(&self) -> Availability {
        match runtime() {
            Ok(r) => Availability::Available {
                version: r.version.clone(),
                devices: r.providers.iter().map(|p| p.to_string()).collect(),
            },
            Err(reason) => Availability::Unavailable {
                reason: reason.to_string(),
                fix: FIX.into(),
            },
        }
    }

    fn variants(&self) -> Vec<VariantInfo> {
        let v = |spec: &str, d: &str| VariantInfo {
            spec: spec.into(),
            description: d.into(),
        };
        vec![
            v(
                "ort:none",
                "graph optimizations disabled (before optimization)",
            ),
            v(
                "ort:basic",
                "level 1: constant folding, redundant node removal",
            ),
            v(
                "ort:extended",
                "level 2: operator fusions (Conv+BN, GELU, attention...)",
            ),
            v(
                "ort:all",
                "all optimizations incl. layout (NCHWc) transforms; the default",
            ),
            v(
                "ort:all,ep=cuda",
                "CUDA execution provider (onnxruntime-gpu); device=N",
            ),
            v(
                "ort:all,ep=tensorrt,fp16",
                "TensorRT execution provider; fp16 / int8, cache=DIR for engine and timing cache",
            ),
            v(
                "ort:all,ep=openvino",
                "OpenVINO execution provider (onnxruntime-openvino)",
            ),
            v(
                "ort:all,threads=4,fallback",
                "threads=N intra-op threads; fallback: run on CPU if the provider cannot",
            ),
        ]
    }

    fn validate(&self, spec: &EngineSpec) -> Result<()> {
        OrtConfig::from_spec(spec, None).map(|_| ())
    }

    fn prepare(
        &self,
        model: &Model,
        spec: &EngineSpec,
        opts: &PrepareOptions,
    ) -> Result<Box<dyn Session>> {
        let cfg = OrtConfig::from_spec(spec, opts.threads)?;
        let label = spec.to_string();
        let rt = runtime().map_err(|e| e.clone().unavailable(label.clone(), FIX))?;
        let err = |reason: String| Error::Engine {
            engine: label.clone(),
            reason,
        };
        let mut details = BTreeMap::new();
        details.insert("optimization_level".to_string(), cfg.level.to_string());
        details.insert("library".to_string(), rt.found.path.display().to_string());

        // Decide the provider before building anything, so the error names the fix.
        let mut ran = cfg.ep;
        if cfg.ep != Ep::Cpu && !rt.providers.contains(&cfg.ep.provider()) {
            if cfg.fallback {
                details.insert(
                    "fallback".into(),
                    format!(
                        "{} is not in this ONNX Runtime; ran on CPUExecutionProvider",
                        cfg.ep.provider()
                    ),
                );
                ran = Ep::Cpu;
            } else {
                return Err(Error::EngineUnavailable {
                    engine: label.clone(),
                    reason: format!(
                        "the ONNX Runtime at {} ({}) has no {} (it has {})",
                        rt.found.path.display(),
                        rt.version,
                        cfg.ep.provider(),
                        rt.providers.join(", ")
                    ),
                    fix: format!(
                        "install `{}` and point --ort-lib at its libonnxruntime.so, or add `fallback` to run on the CPU",
                        cfg.ep.package()
                    ),
                });
            }
        }

        // The variant's model: quantized or converted here, so that it counts in prepare_ms.
        let transformed = match (&cfg.quant, cfg.half) {
            (Some(q), _) => {
                // TensorRT's explicit quantization needs signed activations.
                let act = if ran == Ep::TensorRt {
                    edgebench_torch::quantize::Activations::S8
                } else {
                    edgebench_torch::quantize::Activations::U8
                };
                Some(crate::lowp::quantize(model, &opts.inputs, q, act)?)
            }
            (None, true) => Some(crate::lowp::to_fp16(model, &label)?),
            (None, false) => None,
        };
        if let Some(t) = &transformed {
            details.extend(t.details.clone());
        }
        let model = transformed
            .map(|t| t.model)
            .unwrap_or_else(|| model.clone());
        let model = &model;

        let level = match cfg.level {
            "none" => ort::session::builder::GraphOptimizationLevel::Disable,
            "basic" => ort::session::builder::GraphOptimizationLevel::Level1,
            "extended" => ort::session::builder::GraphOptimizationLevel::Level2,
            _ => ort::session::builder::GraphOptimizationLevel::All,
        };
        let threads = cfg.threads;
        let run_cfg = OrtConfig {
            ep: ran,
            ..cfg.clone()
        };
        let session = crate::catch(|| -> std::result::Result<_, EngineError> {
            let mut b = session_builder(rt, level, threads, &run_cfg)?;
            match &model.path {
                Some(p) => b
                    .commit_from_file(p)
                    .map_err(|e| EngineError::ModelRefused(e.to_string())),
                None => b
                    .commit_from_memory(&model.bytes)
                    .map_err(|e| EngineError::ModelRefused(e.to_string())),
            }
        })
        .and_then(|r| r)
        .map_err(|e| err(format!("cannot prepare {}: {}", model.name, one_line(&e))))?;

        details.insert("execution_provider".into(), ran.provider().into());
        for (k, v) in run_cfg.provider_options() {
            details.insert(format!("ep.{k}"), v);
        }
        details.insert(
            "intra_op_threads".into(),
            threads
                .map(|n| n.to_string())
                .unwrap_or_else(|| "onnx runtime default (one per physical core)".into()),
        );
        for (key, value) in SESSION_OPTIONS {
            let key = key.trim_start_matches("session.");
            details.insert(format!("session.{key}"), (*value).into());
        }
        if ran == Ep::Cpu {
            details.insert("ep_selection_policy".into(), "prefer_cpu".into());
        }
        details.insert(
            "thread_affinity".into(),
            if threads.is_some() {
                "none (ONNX Runtime pins no thread when the thread count is given)"
            } else {
                "ONNX Runtime's default (one thread per physical core, pinned)"
            }
            .into(),
        );
        details.insert("io_binding".into(), IO_BINDING.into());
        let output_names = session
            .outputs()
            .iter()
            .map(|o| o.name().to_owned())
            .collect();
        let device = match ran {
            Ep::Cuda | Ep::TensorRt => format!("cuda:{}", cfg.device_id),
            _ => "cpu".into(),
        };
        Ok(Box::new(OrtSession {
            label,
            session,
            inputs: vec![],
            binding: None,
            ran: false,
            output_names,
            profile: Some(ProfileRecipe {
                model: model.clone(),
                level,
                threads,
                cfg: run_cfg,
            }),
            info: SessionInfo {
                engine_version: rt.version.clone(),
                threads,
                device,
                precision: if ran == Ep::TensorRt {
                    cfg.precision().into()
                } else {
                    "f32".into()
                },
                details,
            },
        }))
    }
}

/// The builder of every session edgebench measures: the level, [`SESSION_OPTIONS`], ONNX
/// Runtime's own CPU provider for `ep=cpu`, the thread count and the provider of `cfg`.
fn session_builder(
    rt: &Runtime,
    level: ort::session::builder::GraphOptimizationLevel,
    threads: Option<usize>,
    cfg: &OrtConfig,
) -> std::result::Result<ort::session::builder::SessionBuilder, EngineError> {
    let s = |e: ort::Error<ort::session::builder::SessionBuilder>| EngineError::Run(e.to_string());
    let mut b = ort::session::Session::builder(&rt.env)
        .map_err(|e| EngineError::Run(e.to_string()))?
        .with_log_level(ort::logging::LogLevel::Error)
        .map_err(s)?
        .with_optimization_level(level)
        .map_err(s)?;
    for (key, value) in SESSION_OPTIONS {
        b = match *key {
            "execution_mode" => b.with_parallel_execution(false),
            "enable_mem_pattern" => b.with_memory_pattern(true),
            _ => b.with_config_entry(key, value),
        }
        .map_err(s)?;
    }
    if cfg.ep == Ep::Cpu {
        // The `ort` crate asks for automatic EP selection (policy MAX_EFFICIENCY, which
        // prefers an NPU or a GPU where the library offers one); `ep=cpu` means ONNX Runtime's
        // own CPU provider, as the Python API's `providers=["CPUExecutionProvider"]`.
        b = b
            .with_auto_device(ort::session::builder::AutoDevicePolicy::PreferCPU)
            .map_err(s)?;
    }
    if let Some(n) = threads {
        b = b.with_intra_threads(n).map_err(s)?;
    }
    if let Some(dispatch) = dispatch(cfg) {
        let dispatch = if cfg.fallback {
            dispatch
        } else {
            dispatch.error_on_failure()
        };
        b = b.with_execution_providers([dispatch]).map_err(s)?;
    }
    Ok(b)
}

fn dispatch(cfg: &OrtConfig) -> Option<ort::ep::ExecutionProviderDispatch> {
    use ort::ep::ArbitrarilyConfigurableExecutionProvider as _;
    let opts = cfg.provider_options();
    Some(match cfg.ep {
        Ep::Cpu => return None,
        Ep::Cuda => opts
            .into_iter()
            .fold(ort::ep::CUDA::default(), |e, (k, v)| {
                e.with_arbitrary_config(k, v)
            })
            .build(),
        Ep::TensorRt => opts
            .into_iter()
            .fold(ort::ep::TensorRT::default(), |e, (k, v)| {
                e.with_arbitrary_config(k, v)
            })
            .build(),
        Ep::OpenVino => opts
            .into_iter()
            .fold(ort::ep::OpenVINO::default(), |e, (k, v)| {
                e.with_arbitrary_config(k, v)
            })
            .build(),
    })
}

struct OrtSession {
    label: String,
    session: ort::session::Session,
    inputs: Vec<(String, ort::value::DynValue)>,
    /// `inputs` and every output, bound once per input set, so that `run` is one call into
    /// ONNX Runtime with no allocation, name lookup or copy on edgebench's side.
    binding: Option<ort::session::IoBinding>,
    /// Whether `run` ran since the inputs were bound: before, the bound outputs hold nothing.
    ran: bool,
    output_names: Vec<String>,
    /// How to build the profiling session of `read_back`; taken when it runs.
    profile: Option<ProfileRecipe>,
    info: SessionInfo,
}

/// The measured session's model and settings, for a second session with profiling on.
struct ProfileRecipe {
    model: Model,
    level: ort::session::builder::GraphOptimizationLevel,
    threads: Option<usize>,
    cfg: OrtConfig,
}

/// One run of `recipe`'s model on `inputs` in a session with profiling on; the profile's
/// kernels counted by precision. The profile file goes to a scratch folder that is removed.
fn profiled_run(
    rt: &Runtime,
    recipe: &ProfileRecipe,
    inputs: &[(String, ort::value::DynValue)],
) -> std::result::Result<edgebench_core::precision::PrecisionEvidence, EngineError> {
    let scratch = tempfile::Builder::new()
        .prefix("edgebench-ort-profile-")
        .tempdir()
        .map_err(|e| EngineError::Io(format!("a scratch folder for the profile: {e}")))?;
    let json = crate::catch(|| -> std::result::Result<String, EngineError> {
        let s =
            |e: ort::Error<ort::session::builder::SessionBuilder>| EngineError::Run(e.to_string());
        let mut b = ort::session::Session::builder(&rt.env)
            .map_err(|e| EngineError::Run(e.to_string()))?
            .with_log_level(ort::logging::LogLevel::Error)
            .map_err(s)?
            .with_optimization_level(recipe.level)
            .map_err(s)?
            .with_profiling(scratch.path().join("profile"))
            .map_err(s)?;
        if let Some(n) = recipe.threads {
            b = b.with_intra_threads(n).map_err(s)?;
        }
        if let Some(dispatch) = dispatch(&recipe.cfg) {
            b = b
                .with_execution_providers([dispatch.error_on_failure()])
                .map_err(s)?;
        }
        let mut session = match &recipe.model.path {
            Some(p) => b.commit_from_file(p),
            None => b.commit_from_memory(&recipe.model.bytes),
        }
        .map_err(|e| EngineError::ModelRefused(e.to_string()))?;
        let refs: Vec<(&str, &ort::value::DynValue)> =
            inputs.iter().map(|(n, v)| (n.as_str(), v)).collect();
        drop(
            session
                .run(refs)
                .map_err(|e| EngineError::Run(e.to_string()))?,
        );
        let path = session
            .end_profiling()
            .map_err(|e| EngineError::Run(e.to_string()))?;
        std::fs::read_to_string(&path)
            .map_err(|e| EngineError::Io(format!("the profile {path}: {e}")))
    })
    .and_then(|r| r)?;
    crate::proof::ort_profile(&json, "onnx runtime profile of one run after measurement")
}

impl OrtSession {
    fn err(&self, reason: String) -> Error {
        Error::Engine {
            engine: self.label.clone(),
            reason,
        }
    }

    /// Binds `self.inputs` and every output: an output whose shape the model fixes gets a
    /// tensor allocated here, which every run writes into; one with a dynamic dimension is
    /// bound to the CPU, where ONNX Runtime allocates it on the first run and reuses it after.
    fn bind(&self) -> ort::Result<ort::session::IoBinding> {
        use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
        let mut binding = self.session.create_binding()?;
        for (name, value) in &self.inputs {
            binding.bind_input(name.as_str(), value)?;
        }
        let allocator = Allocator::default();
        let cpu = MemoryInfo::new(
            AllocationDevice::CPU,
            0,
            AllocatorType::Device,
            MemoryType::CPUOutput,
        )?;
        for outlet in self.session.outputs() {
            match outlet.dtype() {
                ort::value::ValueType::Tensor { ty, shape, .. }
                    if shape.iter().all(|&d| d >= 0) =>
                {
                    let tensor = ort::value::DynTensor::new(&allocator, *ty, shape.clone())?;
                    binding.bind_output(outlet.name(), tensor)?;
                }
                _ => binding.bind_output_to_device(outlet.name(), &cpu)?,
            }
        }
        Ok(binding)
    }
}

impl Session for OrtSession {
    fn set_inputs(&mut self, inputs: &[HostTensor]) -> Result<()> {
        // A new binding for each input set: the old one's outputs go with it, so `outputs`
        // never hands back a result of other inputs.
        self.binding = None;
        self.ran = false;
        self.inputs = inputs
            .iter()
            .map(|t| to_value(t).map(|v| (t.name.clone(), v)))
            .collect::<ort::Result<_>>()
            .map_err(|e| self.err(one_line(&e)))?;
        self.binding = Some(self.bind().map_err(|e| self.err(one_line(&e)))?);
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        use ort::AsPointer as _;
        let Some(binding) = &self.binding else {
            return Err(self.err("run before set_inputs".into()));
        };
        // SAFETY: the session and the binding are alive (owned by `self`) and the binding was
        // created on this session; `RunWithBinding` is what `ort`'s `Session::run_binding`
        // calls, without the wrappers of the outputs it then builds on every run (outputs
        // are read once, after the timed region, by `outputs`). `result_from_status` takes
        // the status over and releases it.
        let status = unsafe {
            (ort::api().RunWithBinding)(
                self.session.ptr().cast_mut(),
                std::ptr::null(),
                binding.ptr(),
            )
        };
        match unsafe { ort::Error::result_from_status(status) } {
            Ok(()) => {
                self.ran = true;
                Ok(())
            }
            Err(e) => Err(self.err(one_line(&e))),
        }
    }

    fn outputs(&mut self) -> Result<Vec<HostTensor>> {
        let Some(binding) = self.binding.as_ref().filter(|_| self.ran) else {
            return Ok(vec![]);
        };
        bound_outputs(binding)
            .map_err(|e| self.err(one_line(&e)))?
            .iter()
            .zip(&self.output_names)
            .map(|(v, n)| from_value(n, v))
            .collect::<std::result::Result<_, EngineError>>()
            .map_err(|e| self.err(e.to_string()))
    }

    fn info(&self) -> SessionInfo {
        self.info.clone()
    }

    fn read_back(&mut self) {
        let Some(recipe) = self.profile.take() else {
            return;
        };
        let done = runtime()
            .map_err(|e| e.clone())
            .and_then(|rt| profiled_run(rt, &recipe, &self.inputs));
        match done {
            Ok(evidence) => evidence.record(&mut self.info),
            Err(e) => {
                self.info.details.insert(
                    edgebench_core::precision::PROOF.into(),
                    format!("the profiled run failed: {}", one_line(&e)),
                );
            }
        }
    }
}

/// The values ONNX Runtime holds for a binding's outputs after its last run, in the order
/// they were bound (the session's output order): the outputs of that run, whichever buffer
/// ONNX Runtime wrote them to.
fn bound_outputs(binding: &ort::session::IoBinding) -> ort::Result<Vec<ort::value::DynValue>> {
    use ort::AsPointer as _;
    let allocator = ort::memory::Allocator::default();
    let mut array: *mut *mut ort::sys::OrtValue = std::ptr::null_mut();
    let mut count = 0usize;
    // SAFETY: the binding is alive; ONNX Runtime allocates `array` with `allocator` and hands
    // over one new value per output, each taken over (and released on drop) by
    // `Value::from_ptr`; the array itself is freed with the same allocator.
    unsafe {
        ort::Error::result_from_status((ort::api().GetBoundOutputValues)(
            binding.ptr(),
            allocator.ptr().cast_mut(),
            &mut array,
            &mut count,
        ))?;
        if array.is_null() {
            return Ok(vec![]);
        }
        let values = (0..count)
            .filter_map(|i| std::ptr::NonNull::new(*array.add(i)))
            .map(|p| ort::value::Value::from_ptr(p, Some(&allocator)))
            .collect();
        allocator.free(array);
        Ok(values)
    }
}

fn to_value(t: &HostTensor) -> ort::Result<ort::value::DynValue> {
    use ort::value::Tensor;
    let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
    Ok(match &t.data {
        TensorData::F32(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        TensorData::F64(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        TensorData::I64(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        TensorData::I32(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        TensorData::I8(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        TensorData::U8(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        TensorData::Bool(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
    })
}

fn from_value(
    name: &str,
    v: &ort::value::DynValue,
) -> std::result::Result<HostTensor, EngineError> {
    use ort::value::TensorElementType as T;
    let ty = v
        .dtype()
        .tensor_type()
        .ok_or_else(|| EngineError::Run(format!("output `{name}` is not a tensor")))?;
    fn get<E: ort::value::PrimitiveTensorElementType + Copy>(
        v: &ort::value::DynValue,
    ) -> std::result::Result<(Vec<usize>, Vec<E>), EngineError> {
        let (shape, data) = v
            .try_extract_tensor::<E>()
            .map_err(|e| EngineError::Run(e.to_string()))?;
        Ok((shape.iter().map(|&d| d as usize).collect(), data.to_vec()))
    }
    let (shape, data) = match ty {
        T::Float32 => get::<f32>(v).map(|(s, d)| (s, TensorData::F32(d)))?,
        T::Float64 => get::<f64>(v).map(|(s, d)| (s, TensorData::F64(d)))?,
        T::Int64 => get::<i64>(v).map(|(s, d)| (s, TensorData::I64(d)))?,
        T::Int32 => get::<i32>(v).map(|(s, d)| (s, TensorData::I32(d)))?,
        T::Int8 => get::<i8>(v).map(|(s, d)| (s, TensorData::I8(d)))?,
        T::Uint8 => get::<u8>(v).map(|(s, d)| (s, TensorData::U8(d)))?,
        T::Bool => get::<bool>(v).map(|(s, d)| (s, TensorData::Bool(d)))?,
        other => {
            return Err(EngineError::Unsupported(format!(
                "output `{name}` has element type {other:?}, which edgebench cannot compare yet"
            )))
        }
    };
    Ok(HostTensor {
        name: name.to_owned(),
        shape,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(s: &str) -> Result<OrtConfig> {
        OrtConfig::from_spec(&EngineSpec::parse(s).unwrap(), None)
    }

    #[test]
    fn levels_and_defaults() {
        let c = cfg("ort").unwrap();
        assert_eq!((c.level, c.ep, c.threads), ("all", Ep::Cpu, None));
        assert_eq!(cfg("ort:none").unwrap().level, "none");
        assert_eq!(
            OrtConfig::from_spec(&EngineSpec::parse("ort:basic").unwrap(), Some(2))
                .unwrap()
                .threads,
            Some(2)
        );
        assert_eq!(cfg("ort:all,threads=4").unwrap().threads, Some(4));
        assert!(cfg("ort:fast").unwrap_err().to_string().contains("fast"));
        assert!(cfg("ort:all,threads=0").is_err());
        assert!(cfg("ort:all,ep=metal")
            .unwrap_err()
            .to_string()
            .contains("cuda, tensorrt"));
        assert!(cfg("ort:fp16").is_err());
        assert!(cfg("ort:all,fp16")
            .unwrap_err()
            .to_string()
            .contains("ep=tensorrt"));
        assert!(cfg("ort:all,cache=/tmp/x").is_err());
    }

    #[test]
    fn tensorrt_provider_options() {
        let c = cfg("ort:all,ep=tensorrt,fp16,cache=/tmp/trt,device=1").unwrap();
        assert_eq!(c.precision(), "f16");
        assert_eq!(
            c.provider_options(),
            vec![
                ("device_id", "1".to_string()),
                ("trt_fp16_enable", "1".into()),
                ("trt_int8_enable", "0".into()),
                ("trt_engine_cache_enable", "1".into()),
                ("trt_engine_cache_path", "/tmp/trt".into()),
                ("trt_timing_cache_enable", "1".into()),
                ("trt_timing_cache_path", "/tmp/trt".into()),
            ]
        );
        assert_eq!(cfg("ort:all,ep=tensorrt,int8").unwrap().precision(), "int8");
        assert_eq!(
            cfg("ort:all,ep=cuda").unwrap().provider_options(),
            vec![("device_id", "0".to_string())]
        );
        assert_eq!(
            cfg("ort:all,ep=openvino,threads=2")
                .unwrap()
                .provider_options(),
            vec![
                ("device_type", "CPU".to_string()),
                ("num_of_threads", "2".into())
            ]
        );
        assert!(cfg("ort:all,fallback").unwrap().fallback);
        assert!(cfg("ort:all,ep=cpu").unwrap().provider_options().is_empty());
    }
}

/// The bound run path against `ort`'s plain `Session::run` on a session built alike.
#[cfg(test)]
mod binding_tests {
    use super::*;
    use edgebench_core::inputs::random_inputs;
    use edgebench_core::model::ShapeRequest;
    use edgebench_core::testing::skip_or_fail;
    use edgebench_core::testmodel::{tiny_cnn_bytes, TinyCnn};

    /// What ONNX Runtime computes for `inputs` through a plain `Session::run` (the path
    /// edgebench took before binding), on a session built with the same options.
    fn plain_outputs(rt: &Runtime, model: &Model, inputs: &[HostTensor]) -> Vec<HostTensor> {
        let cfg = OrtConfig::from_spec(&EngineSpec::parse("ort:all").unwrap(), Some(2)).unwrap();
        let mut session = session_builder(
            rt,
            ort::session::builder::GraphOptimizationLevel::All,
            Some(2),
            &cfg,
        )
        .unwrap()
        .commit_from_memory(&model.bytes)
        .unwrap();
        let names: Vec<String> = session
            .outputs()
            .iter()
            .map(|o| o.name().to_owned())
            .collect();
        let values: Vec<(String, ort::value::DynValue)> = inputs
            .iter()
            .map(|t| (t.name.clone(), to_value(t).unwrap()))
            .collect();
        let refs: Vec<(&str, &ort::value::DynValue)> =
            values.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let mut out = session.run(refs).unwrap();
        names
            .iter()
            .map(|n| from_value(n, &out.remove(n).unwrap()).unwrap())
            .collect()
    }

    /// Bit for bit: the same session options must compute the same bits.
    fn bits(outputs: &[HostTensor]) -> Vec<(String, Vec<usize>, Vec<u32>)> {
        outputs
            .iter()
            .map(|t| match &t.data {
                TensorData::F32(v) => (
                    t.name.clone(),
                    t.shape.clone(),
                    v.iter().map(|x| x.to_bits()).collect(),
                ),
                other => panic!("{}: expected f32, got {other:?}", t.name),
            })
            .collect()
    }

    fn check(model_options: TinyCnn, batch: Option<usize>) {
        let rt = match runtime() {
            Ok(rt) => rt,
            Err(e) => return skip_or_fail("ort", format_args!("ONNX Runtime is not here: {e}")),
        };
        let model = Model::from_bytes("tiny_cnn", tiny_cnn_bytes(&model_options)).unwrap();
        let specs = model
            .resolve_inputs(&ShapeRequest {
                shapes: vec![],
                batch,
            })
            .unwrap();
        let (a, b) = (
            random_inputs(&specs, 1).unwrap(),
            random_inputs(&specs, 2).unwrap(),
        );
        let mut s = Ort
            .prepare(
                &model,
                &EngineSpec::parse("ort:all").unwrap(),
                &PrepareOptions {
                    inputs: specs,
                    threads: Some(2),
                },
            )
            .unwrap();
        let (want_a, want_b) = (plain_outputs(rt, &model, &a), plain_outputs(rt, &model, &b));
        assert_ne!(bits(&want_a), bits(&want_b), "two input sets, one output");

        s.set_inputs(&a).unwrap();
        assert!(s.outputs().unwrap().is_empty(), "outputs before a run");
        for _ in 0..3 {
            s.run().unwrap();
        }
        assert_eq!(bits(&s.outputs().unwrap()), bits(&want_a));
        // New inputs: the outputs read after the runs are the last run's, not the first set's.
        s.set_inputs(&b).unwrap();
        assert!(
            s.outputs().unwrap().is_empty(),
            "outputs of the old inputs after set_inputs"
        );
        s.run().unwrap();
        assert_eq!(bits(&s.outputs().unwrap()), bits(&want_b));
        s.set_inputs(&a).unwrap();
        s.run().unwrap();
        assert_eq!(bits(&s.outputs().unwrap()), bits(&want_a));

        let info = s.info();
        let d = &info.details;
        for (key, value) in [
            ("session.execution_mode", "sequential"),
            ("session.enable_mem_pattern", "1"),
            ("session.intra_op.allow_spinning", "1"),
            ("session.inter_op.allow_spinning", "1"),
            ("ep_selection_policy", "prefer_cpu"),
            ("intra_op_threads", "2"),
            ("optimization_level", "all"),
            ("execution_provider", "CPUExecutionProvider"),
        ] {
            assert_eq!(
                d.get(key).map(String::as_str),
                Some(value),
                "{key} in {d:?}"
            );
        }
        assert!(d["io_binding"].contains("RunWithBinding"), "{d:?}");
        assert!(d["thread_affinity"].starts_with("none"), "{d:?}");
        assert_eq!(info.threads, Some(2));
    }

    #[test]
    fn bound_outputs_of_fixed_shapes_equal_plain_runs_bit_for_bit() {
        check(TinyCnn::default(), None);
    }

    #[test]
    fn bound_outputs_of_dynamic_shapes_equal_plain_runs_bit_for_bit() {
        check(
            TinyCnn {
                dynamic_batch: true,
                ..TinyCnn::default()
            },
            Some(3),
        );
    }

    #[test]
    fn run_before_inputs_is_an_error_not_a_panic() {
        if let Err(e) = runtime() {
            return skip_or_fail("ort", format_args!("ONNX Runtime is not here: {e}"));
        }
        let model = Model::from_bytes("tiny_cnn", tiny_cnn_bytes(&TinyCnn::default())).unwrap();
        let specs = model.resolve_inputs(&ShapeRequest::default()).unwrap();
        let mut s = Ort
            .prepare(
                &model,
                &EngineSpec::parse("ort:all").unwrap(),
                &PrepareOptions {
                    inputs: specs,
                    threads: Some(1),
                },
            )
            .unwrap();
        let e = s.run().unwrap_err().to_string();
        assert!(e.contains("set_inputs"), "{e}");
    }
}
