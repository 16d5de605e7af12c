//! Verdicts a user acts on: no speed-up without a passed comparison, a failed variant fails
//! the command, and `compare` judges changes across each run's rounds.

mod common;

use common::{edgebench, tiny_model as model, FAST};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A folder holding a `trtexec` that announces itself like TensorRT 10 and then fails, so that
/// a `tensorrt:` variant is available but fails to run on any machine.
fn failing_trtexec(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("trtexec");
    std::fs::write(
        &exe,
        "#!/bin/sh\necho '&&&& RUNNING TensorRT.trtexec [TensorRT v101600] # trtexec'\necho 'Engine set up failed' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn bench(
    model: &Path,
    engines: &[&str],
    extra: &[&str],
    path: &str,
) -> (Option<i32>, Value, String) {
    let mut cmd = edgebench();
    cmd.env("PATH", path)
        .arg("bench")
        .arg(model)
        .args(FAST)
        .args(["--rounds", "3", "--no-telemetry", "--json"])
        .args(extra);
    for e in engines {
        cmd.args(["--engine", e]);
    }
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&o.stdout)
        )
    });
    (o.status.code(), v, stderr)
}

#[test]
fn a_failed_reference_leaves_every_variant_unverified_and_fails_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let path = failing_trtexec(dir.path());
    let (code, v, stderr) = bench(&m, &["tensorrt:fp32", "tract:optimized"], &[], &path);
    assert_eq!(code, Some(1), "{stderr}");
    let r = &v["results"];
    assert_eq!(r[0]["status"], "failed");
    assert_eq!(r[1]["status"], "unverified", "{}", r[1]);
    assert!(r[1]["speedup"].is_null());
    assert!(r[1]["accuracy"].is_null());
    assert!(
        stderr.contains("reference variant tensorrt:fp32 did not run"),
        "{stderr}"
    );
    // It still measured what ran.
    assert!(r[1]["raw_ms"].as_array().unwrap().len() >= 3);
}

#[test]
fn a_later_reference_that_fails_gives_no_speed_ups() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let path = failing_trtexec(dir.path());
    let (code, v, stderr) = bench(
        &m,
        &["tract:reference", "tensorrt:fp32", "tract:optimized"],
        &["--reference", "tensorrt:fp32"],
        &path,
    );
    assert_eq!(code, Some(1), "{stderr}");
    for r in v["results"].as_array().unwrap() {
        assert!(r["speedup"].is_null(), "{r}");
        assert_ne!(r["status"], "ok", "{r}");
    }
}

#[test]
fn a_variant_that_fails_to_run_fails_the_command_and_keeps_what_ran() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let path = failing_trtexec(dir.path());
    let out = dir.path().join("r.json");
    let (code, v, stderr) = bench(
        &m,
        &["tract:reference", "tensorrt:fp16", "tract:optimized"],
        &["--export-json", out.to_str().unwrap()],
        &path,
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("tensorrt:fp16 failed to run"), "{stderr}");
    let r = &v["results"];
    assert_eq!(r[1]["status"], "failed");
    assert_eq!(r[2]["status"], "ok");
    assert_eq!(r[2]["accuracy"]["passed"], true);
    // Measured in three interleaved rounds, with the speed-up's interval across them.
    assert_eq!(r[2]["rounds"].as_array().unwrap().len(), 3);
    assert_eq!(r[2]["speedup"]["method"], "rounds", "{}", r[2]["speedup"]);
    assert_eq!(r[2]["speedup"]["round_ratios"].as_array().unwrap().len(), 3);
    let exported: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(exported["results"], v["results"]);
    assert_eq!(exported["settings"]["rounds"], 3);
}

/// A bench JSON document holding one variant measured in `rounds`.
fn bench_doc(rounds: &[Vec<f64>]) -> Value {
    let raw: Vec<f64> = rounds.concat();
    let mut sorted = raw.clone();
    sorted.sort_by(f64::total_cmp);
    let med = sorted[sorted.len() / 2];
    let summary = json!({"mean": med, "std": 0.1, "median": med, "p90": med, "p95": med,
        "p99": med, "min": sorted[0], "max": sorted[sorted.len() - 1], "cv": 0.01,
        "ci95_low": med, "ci95_high": med});
    json!({
        "schema_version": 1,
        "tool": {"name": "edgebench", "version": "0", "git_commit": "x"},
        "host": {"cpu": "c", "physical_cores": 2, "logical_cpus": 2, "memory_bytes": 1,
                 "os": "o", "kernel": "k", "arch": "x86_64"},
        "model": {"path": "m.onnx", "sha256": "0", "opset": 13, "load_ms": 1.0,
                  "declared_inputs": [], "inputs": [], "outputs": []},
        "settings": {"engines": ["tract:optimized"], "batch": 1, "threads": 2, "seed": 0,
                     "target_fps": 30.0, "measure": {"warmup_s": 1.0, "min_warmup_runs": 3,
                     "min_samples": 10, "max_samples": 100, "max_time_s": 1.0,
                     "target_rel_ci": 0.01}, "rounds": rounds.len(), "gate_input_sets": 1,
                     "gate_enforced": true, "reference": null},
        "results": [{
            "engine": "tract", "variant": "optimized", "spec": "tract:optimized",
            "status": "ok", "error": null, "session": null, "prepare_ms": 1.0,
            "first_run_ms": 1.0, "warmup_runs": 3, "latency_ms": summary,
            "per_item_ms": med, "throughput_per_s": 1000.0 / med, "samples": raw.len(),
            "stop_reason": "target_reached",
            "outliers": {"low_severe": 0, "low_mild": 0, "high_mild": 0, "high_severe": 0},
            "timer_overhead_ns": 20.0, "speedup": null, "realtime": null, "accuracy": null,
            "warnings": [], "raw_ms": raw, "rounds": rounds.iter().map(Vec::len).collect::<Vec<_>>()
        }]
    })
}

fn around(centre: f64, phase: usize) -> Vec<f64> {
    (0..30)
        .map(|i| centre * (1.0 + ((i * 7 + phase) % 11) as f64 / 500.0 - 0.01))
        .collect()
}

fn compare(a: &Value, b: &Value) -> (Option<i32>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    std::fs::write(&pa, a.to_string()).unwrap();
    std::fs::write(&pb, b.to_string()).unwrap();
    let o = edgebench()
        .args([
            "compare",
            pa.to_str().unwrap(),
            pb.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    (
        o.status.code(),
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr))),
    )
}

#[test]
fn compare_calls_run_to_run_drift_noise_and_flags_a_real_slowdown() {
    // Two runs of the same thing on a machine whose speed moves by a few percent between
    // rounds: within noise, exit 0.
    let a = bench_doc(&[around(10.0, 0), around(10.8, 1), around(10.2, 2)]);
    let b = bench_doc(&[around(10.6, 3), around(10.1, 4), around(11.0, 5)]);
    let (code, c) = compare(&a, &b);
    assert_eq!(code, Some(0), "{c}");
    assert_eq!(c["entries"][0]["verdict"], "within_noise");
    assert_eq!(c["entries"][0]["interval"], "rounds");
    assert_eq!(c["noise_floor_percent"], 5.0);
    // A 25% slowdown (one thread instead of two): regressed, exit 1.
    let slow = bench_doc(&[around(12.6, 3), around(12.4, 4), around(12.9, 5)]);
    let (code, c) = compare(&a, &slow);
    assert_eq!(code, Some(1), "{c}");
    assert_eq!(c["entries"][0]["verdict"], "regressed");
    assert_eq!(c["regressions"], 1);
}
