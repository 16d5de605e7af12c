//! A bare timing loop over ONNX Runtime from Rust: the third side of `bench/ort_parity`, which
//! splits a gap between edgebench and ONNX Runtime's Python loop into what edgebench's harness
//! adds (this loop against `edgebench bench`) and what the two builds of ONNX Runtime in the
//! wheel differ by (this loop against the Python loop: the Python extension has ONNX Runtime
//! linked in, while edgebench and this loop load the wheel's `libonnxruntime.so`).
//!
//! ```text
//! cargo build --release -p edgebench-engines --example ort_loop
//! target/release/examples/ort_loop MODEL.onnx --lib LIBONNXRUNTIME --path engine|plain \
//!     [--threads 2] [--level all] [--warmup 1] [--min-warmup-runs 3] [--runs 300]
//! ```
//!
//! `--path engine` times edgebench's own ONNX Runtime session (`Engine::prepare`, `set_inputs`,
//! then `run` in this loop instead of edgebench's measurement loop); `--path plain` times the
//! `ort` crate's `Session::run` on a session built as the Python loop builds its own (the
//! thread count and the level; nothing else set). Inputs are edgebench's (seed 0). The same
//! warm-up as edgebench (a first run, then at least `--warmup` seconds and `--min-warmup-runs`
//! runs), then exactly `--runs` timed runs; prints one JSON line as `loop.py` does.

use edgebench_core::engine::{Engine, EngineSpec, PrepareOptions};
use edgebench_core::inputs::random_inputs;
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::tensor::TensorData;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    model: PathBuf,
    lib: PathBuf,
    path: String,
    threads: usize,
    level: String,
    warmup_s: f64,
    min_warmup_runs: usize,
    runs: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        model: PathBuf::new(),
        lib: PathBuf::new(),
        path: String::new(),
        threads: 2,
        level: "all".into(),
        warmup_s: 1.0,
        min_warmup_runs: 3,
        runs: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or(format!("{flag} needs a value"));
        let number = |flag: &str, v: String| {
            v.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or(format!("{flag} {v}: a positive integer"))
        };
        match arg.as_str() {
            "--lib" => a.lib = value("--lib")?.into(),
            "--path" => a.path = value("--path")?,
            "--threads" => a.threads = number("--threads", value("--threads")?)?,
            "--level" => a.level = value("--level")?,
            "--warmup" => {
                let v = value("--warmup")?;
                a.warmup_s = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .ok_or(format!("--warmup {v}: seconds, e.g. 1"))?;
            }
            "--min-warmup-runs" => {
                a.min_warmup_runs = number("--min-warmup-runs", value("--min-warmup-runs")?)?
            }
            "--runs" => a.runs = number("--runs", value("--runs")?)?,
            s if s.starts_with("--") => return Err(format!("unknown flag {s}")),
            s => a.model = s.into(),
        }
    }
    if a.model.as_os_str().is_empty() || a.lib.as_os_str().is_empty() {
        return Err("give MODEL.onnx and --lib LIBONNXRUNTIME".into());
    }
    if !matches!(a.path.as_str(), "engine" | "plain") {
        return Err(format!("--path {:?}: engine or plain", a.path));
    }
    if !matches!(a.level.as_str(), "none" | "basic" | "extended" | "all") {
        return Err(format!("--level {}: none, basic, extended or all", a.level));
    }
    Ok(a)
}

/// The same warm-up as edgebench's measurement loop, then `runs` timed calls of `run`.
fn time(
    a: &Args,
    run: &mut dyn FnMut() -> Result<(), String>,
) -> Result<(f64, usize, Vec<f64>), String> {
    let warm_start = Instant::now();
    let t0 = Instant::now();
    run()?;
    let first_ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut warmup_runs = 1;
    while warmup_runs < a.min_warmup_runs || warm_start.elapsed().as_secs_f64() < a.warmup_s {
        run()?;
        warmup_runs += 1;
    }
    let mut samples = vec![0.0; a.runs];
    for s in samples.iter_mut() {
        let t0 = Instant::now();
        run()?;
        *s = t0.elapsed().as_secs_f64() * 1e3;
    }
    Ok((first_ms, warmup_runs, samples))
}

fn main() -> ExitCode {
    match parse().and_then(|a| measure(&a)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ort_loop: {e}");
            ExitCode::from(2)
        }
    }
}

fn measure(a: &Args) -> Result<String, String> {
    let model = Model::from_path(&a.model).map_err(|e| e.to_string())?;
    let specs = model
        .resolve_inputs(&ShapeRequest::default())
        .map_err(|e| e.to_string())?;
    let inputs = random_inputs(&specs, 0).map_err(|e| e.to_string())?;
    let (first_ms, warmup_runs, samples, what) = if a.path == "engine" {
        edgebench_engines::set_library_paths(edgebench_engines::LibraryPaths {
            ort: Some(a.lib.clone()),
            openvino: None,
        });
        let spec = EngineSpec::parse(&format!("ort:{}", a.level)).map_err(|e| e.to_string())?;
        let mut session = edgebench_engines::ort::Ort
            .prepare(
                &model,
                &spec,
                &PrepareOptions {
                    inputs: specs,
                    threads: Some(a.threads),
                },
            )
            .map_err(|e| e.to_string())?;
        session.set_inputs(&inputs).map_err(|e| e.to_string())?;
        let (f, w, s) = time(a, &mut || session.run().map_err(|e| e.to_string()))?;
        let info = serde_json::to_value(session.info()).map_err(|e| e.to_string())?;
        (f, w, s, info)
    } else {
        use ort::session::builder::GraphOptimizationLevel as L;
        let _env = ort::init_from(&a.lib)
            .map_err(|e| e.to_string())?
            .with_name("ort_loop")
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())?;
        let level = match a.level.as_str() {
            "none" => L::Disable,
            "basic" => L::Level1,
            "extended" => L::Level2,
            _ => L::All,
        };
        let mut session = ort::session::Session::builder(&_env)
            .and_then(|b| Ok(b.with_optimization_level(level)?))
            .and_then(|b| Ok(b.with_intra_threads(a.threads)?))
            .and_then(|mut b| b.commit_from_file(&a.model))
            .map_err(|e| e.to_string())?;
        let values: Vec<(String, ort::value::DynValue)> = inputs
            .iter()
            .map(|t| match &t.data {
                TensorData::F32(v) => {
                    let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
                    ort::value::Tensor::from_array((shape, v.clone()))
                        .map(|x| (t.name.clone(), x.into_dyn()))
                        .map_err(|e| e.to_string())
                }
                _ => Err(format!("input `{}`: only f32 inputs here", t.name)),
            })
            .collect::<Result<_, _>>()?;
        let (f, w, s) = time(a, &mut || {
            let refs: Vec<(&str, &ort::value::DynValue)> =
                values.iter().map(|(n, v)| (n.as_str(), v)).collect();
            session.run(refs).map(drop).map_err(|e| e.to_string())
        })?;
        (
            f,
            w,
            s,
            serde_json::json!({ "threads": a.threads, "level": a.level }),
        )
    };
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Ok(serde_json::json!({
        "median_ms": median,
        "samples": n,
        "samples_ms": samples,
        "first_run_ms": first_ms,
        "warmup_runs": warmup_runs,
        "path": a.path,
        "library": a.lib,
        "session": what,
    })
    .to_string())
}
