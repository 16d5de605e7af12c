//! TensorRT itself, driven the way users run it on a Jetson: through `trtexec`.
//!
//! `prepare` builds a serialized engine from the ONNX file (`--fp16` / `--int8` / `--best`)
//! with a timing cache, both kept in a cache folder; [`measure`] then has trtexec time the
//! engine with its own warm-up and sampling and turns its per-inference times
//! (`--exportTimes`) and outputs (`--exportOutput`) into edgebench's measurement and gate
//! inputs. trtexec times inside one process, so edgebench's per-call loop cannot time a
//! `tensorrt` session call by call: [`Session::run`] says so instead of timing process
//! start-up.

use edgebench_core::engine::{
    check_spec, Availability, Engine, EngineSpec, PrepareOptions, Session, SessionInfo, VariantInfo,
};
use edgebench_core::error::{Error, Result};
use edgebench_core::measure::{MeasureOptions, Measurement, StopReason};
use edgebench_core::model::Model;
use edgebench_core::tensor::{shape_string, ConcreteSpec, HostTensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const FIX: &str = "install TensorRT (on a Jetson: `sudo apt-get install nvidia-jetpack`; on a GPU server: NVIDIA's `tensorrt` package) so that trtexec is on PATH or at /usr/src/tensorrt/bin/trtexec, or give tensorrt:...,trtexec=PATH";

const VARIANTS: &[&str] = &["fp32", "fp16", "int8", "best"];
const KEYS: &[&str] = &["trtexec", "cache", "device", "duration", "warmup"];
const DEFAULT_LOCATIONS: &[&str] = &[
    "/usr/src/tensorrt/bin/trtexec",
    "/usr/local/tensorrt/bin/trtexec",
];

pub struct TensorRt;

/// Everything a `tensorrt:...` spec asks, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TrtConfig {
    pub precision: &'static str,
    pub trtexec: Option<PathBuf>,
    pub cache: Option<PathBuf>,
    pub device: u32,
    /// trtexec's `--duration` (seconds) and `--warmUp` (milliseconds).
    pub duration_s: f64,
    pub warmup_ms: u64,
}

impl TrtConfig {
    pub fn from_spec(spec: &EngineSpec) -> Result<TrtConfig> {
        check_spec(spec, VARIANTS, &[], KEYS)?;
        let shown = spec.to_string();
        let bad = |msg: String| Error::InvalidArgument(format!("--engine {shown}: {msg}"));
        let num = |k: &str, default: f64| -> Result<f64> {
            spec.options.get(k).map_or(Ok(default), |v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| bad(format!("{k}={v} must be a non-negative number")))
            })
        };
        Ok(TrtConfig {
            precision: VARIANTS
                .iter()
                .find(|v| Some(**v) == spec.variant())
                .copied()
                .unwrap_or("fp32"),
            trtexec: spec.options.get("trtexec").map(PathBuf::from),
            cache: spec.options.get("cache").map(PathBuf::from),
            device: num("device", 0.0)? as u32,
            duration_s: num("duration", 3.0)?,
            warmup_ms: num("warmup", 1000.0)? as u64,
        })
    }

    /// The precision the gate judges by.
    pub fn gate_precision(&self) -> &'static str {
        match self.precision {
            "fp16" | "best" => "f16",
            "int8" => "int8",
            _ => "f32",
        }
    }
}

/// `--shapes=a:1x3x224x224,b:...` for the concrete inputs.
pub fn shapes_arg(inputs: &[ConcreteSpec]) -> String {
    let s: Vec<String> = inputs
        .iter()
        .map(|i| format!("{}:{}", i.name, shape_string(&i.shape)))
        .collect();
    format!("--shapes={}", s.join(","))
}

/// Arguments that build and save an engine (no inference).
pub fn build_args(
    cfg: &TrtConfig,
    onnx: &Path,
    engine: &Path,
    timing_cache: &Path,
    inputs: &[ConcreteSpec],
) -> Vec<String> {
    let mut a = vec![
        format!("--onnx={}", onnx.display()),
        format!("--saveEngine={}", engine.display()),
        format!("--timingCacheFile={}", timing_cache.display()),
        format!("--device={}", cfg.device),
    ];
    match cfg.precision {
        "fp16" => a.push("--fp16".into()),
        "int8" => a.push("--int8".into()),
        "best" => a.push("--best".into()),
        _ => {}
    }
    if !inputs.is_empty() {
        a.push(shapes_arg(inputs));
    }
    a.push("--skipInference".into());
    a
}

/// Arguments that time a saved engine on given inputs and export times and outputs.
pub fn timing_args(
    cfg: &TrtConfig,
    engine: &Path,
    inputs: &[(String, PathBuf)],
    shapes: &[ConcreteSpec],
    times_json: &Path,
    output_json: &Path,
) -> Vec<String> {
    let mut a = vec![
        format!("--loadEngine={}", engine.display()),
        format!("--device={}", cfg.device),
        format!("--warmUp={}", cfg.warmup_ms),
        format!("--duration={}", cfg.duration_s),
        "--iterations=10".into(),
        format!("--exportTimes={}", times_json.display()),
        format!("--exportOutput={}", output_json.display()),
    ];
    if !shapes.is_empty() {
        a.push(shapes_arg(shapes));
    }
    if !inputs.is_empty() {
        let l: Vec<String> = inputs
            .iter()
            .map(|(n, p)| format!("{n}:{}", p.display()))
            .collect();
        a.push(format!("--loadInputs={}", l.join(",")));
    }
    a
}

/// One line of trtexec's performance summary: `min = 0.8 ms, max = ..., percentile(99%) = ...`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrtStats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub median: f64,
    /// `(percent, value)` in the order trtexec prints them.
    pub percentiles: Vec<(f64, f64)>,
}

/// trtexec's `=== Performance summary ===`, in milliseconds (walltimes in seconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrtSummary {
    pub tensorrt_version: Option<String>,
    pub throughput_qps: Option<f64>,
    pub latency_ms: Option<TrtStats>,
    pub enqueue_ms: Option<TrtStats>,
    pub h2d_ms: Option<TrtStats>,
    pub gpu_compute_ms: Option<TrtStats>,
    pub d2h_ms: Option<TrtStats>,
    pub total_host_walltime_s: Option<f64>,
    pub total_gpu_compute_s: Option<f64>,
    /// `&&&& PASSED` was printed.
    pub passed: bool,
}

/// `[TensorRT v100300]` -> `10.3.0`; `[TensorRT v8601]` -> `8.6.1`.
pub fn parse_version(text: &str) -> Option<String> {
    let start = text.find("[TensorRT v")? + "[TensorRT v".len();
    let digits: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let n: u64 = digits.parse().ok()?;
    Some(if digits.len() >= 6 {
        // TensorRT 10+: MMmmpp00 style, e.g. 100300 = 10.3.0.
        format!("{}.{}.{}", n / 10000, (n / 100) % 100, n % 100)
    } else {
        // TensorRT 8: Mmpp, e.g. 8601 = 8.6.1.
        format!("{}.{}.{}", n / 1000, (n / 100) % 10, n % 100)
    })
}

/// Parses trtexec's log; lines may carry `[date-time] [I] ` prefixes.
pub fn parse_summary(text: &str) -> std::result::Result<TrtSummary, String> {
    let mut s = TrtSummary {
        tensorrt_version: parse_version(text),
        passed: text.lines().any(|l| l.starts_with("&&&& PASSED")),
        ..Default::default()
    };
    let mut in_summary = false;
    for line in text.lines() {
        let body = strip_prefixes(line);
        if body.starts_with("=== Performance summary ===") {
            in_summary = true;
            continue;
        }
        if !in_summary {
            continue;
        }
        if body.starts_with("===") {
            break;
        }
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "Throughput" => s.throughput_qps = first_number(value),
            "Latency" => s.latency_ms = Some(parse_stats(value)?),
            "Enqueue Time" => s.enqueue_ms = Some(parse_stats(value)?),
            "H2D Latency" => s.h2d_ms = Some(parse_stats(value)?),
            "GPU Compute Time" => s.gpu_compute_ms = Some(parse_stats(value)?),
            "D2H Latency" => s.d2h_ms = Some(parse_stats(value)?),
            "Total Host Walltime" => s.total_host_walltime_s = first_number(value),
            "Total GPU Compute Time" => s.total_gpu_compute_s = first_number(value),
            _ => {}
        }
    }
    if !in_summary {
        return Err("trtexec printed no performance summary".into());
    }
    if s.latency_ms.is_none() && s.gpu_compute_ms.is_none() {
        return Err("trtexec's performance summary has no latency line".into());
    }
    Ok(s)
}

fn strip_prefixes(line: &str) -> &str {
    let mut l = line.trim();
    // `[11/26/2025-10:00:00] [I] ...`: drop bracketed prefixes.
    while l.starts_with('[') {
        match l.find(']') {
            Some(i) => l = l[i + 1..].trim_start(),
            None => break,
        }
    }
    l
}

fn first_number(s: &str) -> Option<f64> {
    s.split_whitespace().next()?.parse().ok()
}

fn parse_stats(s: &str) -> std::result::Result<TrtStats, String> {
    let mut st = TrtStats::default();
    let mut seen = 0;
    for part in s.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let v = first_number(v.trim()).ok_or_else(|| format!("bad number in `{part}`"))?;
        let k = k.trim();
        match k {
            "min" => st.min = v,
            "max" => st.max = v,
            "mean" => st.mean = v,
            "median" => st.median = v,
            _ => {
                if let Some(p) = k
                    .strip_prefix("percentile(")
                    .and_then(|r| r.strip_suffix("%)"))
                    .and_then(|p| p.parse::<f64>().ok())
                {
                    st.percentiles.push((p, v));
                }
                continue;
            }
        }
        seen += 1;
    }
    if seen < 4 {
        return Err(format!("expected min, max, mean and median in `{s}`"));
    }
    Ok(st)
}

/// Per-inference latencies from `--exportTimes` (`latencyMs`, else `computeMs`).
pub fn parse_times(json: &str) -> std::result::Result<Vec<f64>, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("--exportTimes file: {e}"))?;
    let arr = v
        .as_array()
        .ok_or("--exportTimes file is not a JSON array")?;
    arr.iter()
        .map(|o| {
            o.get("latencyMs")
                .or_else(|| o.get("computeMs"))
                .and_then(|x| x.as_f64())
                .ok_or_else(|| "--exportTimes entry without latencyMs".to_string())
        })
        .collect()
}

/// Outputs from `--exportOutput`: `[{"name", "dimensions": "1x1000", "values": [...]}]`.
pub fn parse_outputs(json: &str) -> std::result::Result<Vec<HostTensor>, String> {
    #[derive(Deserialize)]
    struct Out {
        name: String,
        dimensions: String,
        values: Vec<f64>,
    }
    let outs: Vec<Out> =
        serde_json::from_str(json).map_err(|e| format!("--exportOutput file: {e}"))?;
    outs.into_iter()
        .map(|o| {
            let shape = o
                .dimensions
                .split('x')
                .filter(|d| !d.is_empty())
                .map(|d| d.trim().parse::<usize>())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| format!("output `{}`: bad dimensions `{}`", o.name, o.dimensions))?;
            Ok(HostTensor {
                name: o.name,
                shape,
                data: TensorData::F32(o.values.into_iter().map(|x| x as f32).collect()),
            })
        })
        .collect()
}

/// A timed trtexec run: its summary, the raw per-inference times and the outputs.
#[derive(Debug, Clone)]
pub struct TrtRun {
    pub summary: TrtSummary,
    pub samples_ms: Vec<f64>,
    pub outputs: Vec<HostTensor>,
}

impl TrtRun {
    /// The run as edgebench's measurement (trtexec did the warm-up and the sampling).
    pub fn measurement(&self) -> Measurement {
        Measurement {
            first_run_ms: self.samples_ms.first().copied().unwrap_or(0.0),
            warmup_runs: 0,
            warmup_ms: 0.0,
            samples_ms: self.samples_ms.clone(),
            stop_reason: StopReason::TimeLimit,
            sampling_ms: self.summary.total_host_walltime_s.unwrap_or(0.0) * 1e3,
            timer_overhead_ns: 0.0,
            sampling_window: None,
        }
    }
}

/// The trtexec to run: the spec's `trtexec=PATH`, then PATH, then TensorRT's usual folders.
pub fn find_trtexec(explicit: Option<&Path>) -> std::result::Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_owned())
        } else {
            Err(format!("trtexec={}: no such file", p.display()))
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
            "no trtexec on PATH nor in /usr/src/tensorrt/bin (TensorRT is not installed)".into()
        })
}

fn version_of(trtexec: &Path) -> String {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        Command::new(trtexec)
            .arg("--help")
            .stdin(std::process::Stdio::null())
            .output()
            .ok()
            .and_then(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr);
                parse_version(&text)
            })
            .unwrap_or_else(|| "unknown".into())
    })
    .clone()
}

fn run_trtexec(trtexec: &Path, args: &[String]) -> std::result::Result<String, String> {
    let out = Command::new(trtexec)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", trtexec.display()))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let last_error = text
            .lines()
            .rev()
            .find(|l| l.contains("[E]"))
            .map(|l| strip_prefixes(l).to_owned())
            .unwrap_or_else(|| format!("exit status {}", out.status));
        return Err(format!("trtexec {}: {last_error}", args.join(" ")));
    }
    Ok(text)
}

/// Builds (or reuses from the cache folder) the engine for a model, then has trtexec time it
/// on `inputs` and export times and outputs.
pub fn measure(
    model: &Model,
    spec: &EngineSpec,
    opts: &PrepareOptions,
    inputs: &[HostTensor],
) -> Result<TrtRun> {
    let cfg = TrtConfig::from_spec(spec)?;
    let label = spec.to_string();
    let err = |reason: String| Error::Engine {
        engine: label.clone(),
        reason,
    };
    let trtexec =
        find_trtexec(cfg.trtexec.as_deref()).map_err(|reason| Error::EngineUnavailable {
            engine: label.clone(),
            reason,
            fix: FIX.into(),
        })?;
    let cache = cfg
        .cache
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("edgebench-tensorrt"));
    std::fs::create_dir_all(&cache).map_err(|e| err(format!("cache={}: {e}", cache.display())))?;
    // trtexec reads files: a model built in memory (the zoo) is written next to its engine.
    let onnx = match &model.path {
        Some(p) => p.clone(),
        None => {
            let p = cache.join(format!("{}.onnx", &model.sha256[..16]));
            if !p.is_file() {
                edgebench_core::write_file_atomic(&p, &model.bytes).map_err(err)?;
            }
            p
        }
    };
    let stem = format!(
        "{}-{}-dev{}",
        &model.sha256[..16],
        cfg.precision,
        cfg.device
    );
    let engine = cache.join(format!("{stem}.engine"));
    let timing_cache = cache.join("timing.cache");
    if !engine.is_file() {
        run_trtexec(
            &trtexec,
            &build_args(&cfg, &onnx, &engine, &timing_cache, &opts.inputs),
        )
        .map_err(err)?;
    }
    let work = tempfile::tempdir().map_err(|e| err(e.to_string()))?;
    let mut files = vec![];
    for t in inputs {
        let path = work.path().join(format!("input{}.bin", files.len()));
        std::fs::write(&path, raw_bytes(&t.data)).map_err(|e| err(e.to_string()))?;
        files.push((t.name.clone(), path));
    }
    let times = work.path().join("times.json");
    let outputs = work.path().join("outputs.json");
    let log = run_trtexec(
        &trtexec,
        &timing_args(&cfg, &engine, &files, &opts.inputs, &times, &outputs),
    )
    .map_err(err)?;
    let summary = parse_summary(&log).map_err(err)?;
    let read =
        |p: &Path| std::fs::read_to_string(p).map_err(|e| err(format!("{}: {e}", p.display())));
    Ok(TrtRun {
        summary,
        samples_ms: parse_times(&read(&times)?).map_err(err)?,
        outputs: parse_outputs(&read(&outputs)?).map_err(err)?,
    })
}

fn raw_bytes(d: &TensorData) -> Vec<u8> {
    match d {
        TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I8(v) => v.iter().map(|&x| x as u8).collect(),
        TensorData::U8(v) => v.clone(),
        TensorData::Bool(v) => v.iter().map(|&x| x as u8).collect(),
    }
}

impl Engine for TensorRt {
    fn name(&self) -> &'static str {
        "tensorrt"
    }

    fn availability(&self) -> Availability {
        match find_trtexec(None) {
            Ok(p) => Availability::Available {
                version: version_of(&p),
                devices: vec![format!("trtexec at {}", p.display())],
            },
            Err(reason) => Availability::Unavailable {
                reason,
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
                "tensorrt:fp32",
                "TensorRT engine built by trtexec, fp32 (TF32 where the GPU has it)",
            ),
            v("tensorrt:fp16", "trtexec --fp16"),
            v(
                "tensorrt:int8",
                "trtexec --int8 (no calibration data: judged by top-k agreement)",
            ),
            v(
                "tensorrt:best",
                "trtexec --best (any precision TensorRT picks)",
            ),
            v(
                "tensorrt:fp16,cache=DIR,device=0",
                "engine and timing cache folder, GPU index; trtexec=PATH, duration=S, warmup=MS",
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
        let cfg = TrtConfig::from_spec(spec)?;
        let trtexec =
            find_trtexec(cfg.trtexec.as_deref()).map_err(|reason| Error::EngineUnavailable {
                engine: spec.to_string(),
                reason,
                fix: FIX.into(),
            })?;
        let mut details = BTreeMap::new();
        details.insert("trtexec".into(), trtexec.display().to_string());
        Ok(Box::new(TrtSession {
            model: model.clone(),
            spec: spec.clone(),
            opts: opts.clone(),
            inputs: vec![],
            last: None,
            info: SessionInfo {
                engine_version: version_of(&trtexec),
                threads: None,
                device: format!("cuda:{}", cfg.device),
                precision: cfg.gate_precision().into(),
                details,
            },
        }))
    }
}

struct TrtSession {
    model: Model,
    spec: EngineSpec,
    opts: PrepareOptions,
    inputs: Vec<HostTensor>,
    /// Outputs of the last trtexec run on the current inputs.
    last: Option<Vec<HostTensor>>,
    info: SessionInfo,
}

impl TrtSession {
    /// Runs trtexec on the current inputs with `duration` seconds of timing after `warmup`
    /// milliseconds, unless the spec sets them.
    fn trtexec(&mut self, duration_s: f64, warmup_ms: u64) -> Result<TrtRun> {
        let mut spec = self.spec.clone();
        spec.options
            .entry("duration".into())
            .or_insert_with(|| duration_s.to_string());
        spec.options
            .entry("warmup".into())
            .or_insert_with(|| warmup_ms.to_string());
        let run = measure(&self.model, &spec, &self.opts, &self.inputs)?;
        self.last = Some(run.outputs.clone());
        Ok(run)
    }
}

impl Session for TrtSession {
    fn set_inputs(&mut self, inputs: &[HostTensor]) -> Result<()> {
        self.inputs = inputs.to_vec();
        self.last = None;
        Ok(())
    }

    /// One untimed pass through trtexec (a process start and a few inferences), used for the
    /// accuracy gate's extra input sets; timing goes through `measure_self`, since timing a
    /// process call by call would measure process start-up.
    fn run(&mut self) -> Result<()> {
        self.trtexec(0.0, 0).map(|_| ())
    }

    fn outputs(&mut self) -> Result<Vec<HostTensor>> {
        match &self.last {
            Some(o) => Ok(o.clone()),
            None => self.trtexec(0.0, 0).map(|r| r.outputs),
        }
    }

    fn info(&self) -> SessionInfo {
        self.info.clone()
    }

    /// trtexec warms up and samples inside its own process (`--warmUp`, `--duration`, taken
    /// from edgebench's settings unless the spec sets them) and exports every inference's
    /// time; those raw times go through edgebench's statistics like every other engine's.
    fn measure_self(&mut self, opts: &MeasureOptions) -> Option<Result<Measurement>> {
        let warmup_ms = (opts.warmup_s * 1e3).round().max(0.0) as u64;
        Some(
            self.trtexec(opts.max_time_s, warmup_ms)
                .map(|r| r.measurement()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_core::tensor::DType;

    fn cfg(s: &str) -> TrtConfig {
        TrtConfig::from_spec(&EngineSpec::parse(s).unwrap()).unwrap()
    }

    #[test]
    fn builds_trtexec_arguments() {
        let inputs = vec![ConcreteSpec {
            name: "input".into(),
            dtype: DType::F32,
            shape: vec![1, 3, 224, 224],
        }];
        let c = cfg("tensorrt:fp16,device=1");
        assert_eq!(c.gate_precision(), "f16");
        assert_eq!(
            build_args(
                &c,
                Path::new("m.onnx"),
                Path::new("c/m.engine"),
                Path::new("c/timing.cache"),
                &inputs
            ),
            vec![
                "--onnx=m.onnx",
                "--saveEngine=c/m.engine",
                "--timingCacheFile=c/timing.cache",
                "--device=1",
                "--fp16",
                "--shapes=input:1x3x224x224",
                "--skipInference",
            ]
        );
        let t = timing_args(
            &cfg("tensorrt:int8,duration=5,warmup=200"),
            Path::new("m.engine"),
            &[("input".into(), PathBuf::from("i.bin"))],
            &inputs,
            Path::new("t.json"),
            Path::new("o.json"),
        );
        assert!(t.contains(&"--duration=5".to_string()), "{t:?}");
        assert!(t.contains(&"--warmUp=200".to_string()), "{t:?}");
        assert!(t.contains(&"--loadInputs=input:i.bin".to_string()), "{t:?}");
        assert!(t.contains(&"--exportTimes=t.json".to_string()), "{t:?}");
        assert_eq!(cfg("tensorrt").precision, "fp32");
        assert!(TrtConfig::from_spec(&EngineSpec::parse("tensorrt:fp8").unwrap()).is_err());
        assert!(
            TrtConfig::from_spec(&EngineSpec::parse("tensorrt:fp16,duration=-1").unwrap()).is_err()
        );
    }

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("[TensorRT v100300] # trtexec").as_deref(),
            Some("10.3.0")
        );
        assert_eq!(parse_version("[TensorRT v8601]").as_deref(), Some("8.6.1"));
        assert_eq!(parse_version("nothing"), None);
    }

    #[test]
    fn a_missing_trtexec_is_named() {
        let e = find_trtexec(Some(Path::new("/nonexistent/trtexec"))).unwrap_err();
        assert!(e.contains("/nonexistent/trtexec"), "{e}");
    }

    #[test]
    fn summary_without_numbers_is_an_error() {
        assert!(parse_summary("&&&& FAILED TensorRT.trtexec").is_err());
        assert!(parse_summary("[I] === Performance summary ===\n[I] Throughput: 3 qps\n").is_err());
        assert!(parse_stats("min = 1 ms, max = x").is_err());
    }
}
