//! End-to-end runs of the optimizing engines (ONNX Runtime, OpenVINO, TensorRT's trtexec,
//! tract-cuda) through the binary. Where an engine's library is installed its runs are
//! checked for real; its absence is checked everywhere (a wrong --ort-lib / --openvino-lib,
//! a PATH without trtexec, a machine without CUDA): one line, exit 2.

mod common;

use common::{edgebench, refused_with, tiny_model as model, FAST};
use serde_json::Value;
use std::path::Path;

fn engines_json(extra: &[&str]) -> Vec<Value> {
    let o = edgebench()
        .args(extra)
        .args(["engines", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Whether `name` can run here.
fn available(name: &str) -> bool {
    let rows = engines_json(&[]);
    let row = rows.iter().find(|r| r["name"] == name).unwrap();
    row["availability"]["status"] == "available"
}

/// Whether a test of `name`'s runs can go on: when `name` is not available it skips, or
/// fails where `EDGEBENCH_REQUIRE` lists `name`.
fn runs_here(name: &str) -> bool {
    let rows = engines_json(&[]);
    let row = rows.iter().find(|r| r["name"] == name).unwrap();
    let ok = row["availability"]["status"] == "available";
    if !ok {
        edgebench_core::testing::skip_or_fail(
            name,
            format_args!("{name} is not available here: {}", row["availability"]),
        );
    }
    ok
}

fn bench_json(model: &Path, engines: &[&str], extra: &[&str]) -> Value {
    let mut cmd = edgebench();
    cmd.arg("bench")
        .arg(model)
        .args(FAST)
        .args(["--gate-inputs", "2"])
        .arg("--json")
        .args(extra);
    for e in engines {
        cmd.args(["--engine", e]);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{engines:?}: exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Exit 2 and exactly one stderr line holding every needle.
fn fails_with(args: &[&str], env: &[(&str, &str)], needles: &[&str]) {
    let mut cmd = edgebench();
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = refused_with(&mut cmd, needles);
    assert!(o.stdout.is_empty(), "{args:?}");
}

#[test]
fn engines_lists_every_engine_and_how_to_get_the_missing_ones() {
    let rows = engines_json(&[]);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "torch",
            "tract",
            "ort",
            "openvino",
            "tensorrt",
            "tract-cuda"
        ]
    );
    for r in &rows {
        assert!(!r["variants"].as_array().unwrap().is_empty(), "{r}");
        match r["availability"]["status"].as_str().unwrap() {
            "available" => {
                assert!(r["fix"].is_null(), "{r}");
                assert!(r["availability"]["version"].is_string(), "{r}");
            }
            _ => assert!(r["fix"].as_str().is_some_and(|f| !f.is_empty()), "{r}"),
        }
    }
    let text = edgebench().arg("engines").output().unwrap();
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    for n in names {
        assert!(
            text.lines().any(|l| l.starts_with(n)),
            "{n} missing from:\n{text}"
        );
    }
    // Every engine that cannot run says how to fix it, on the line after.
    let unavailable = text.lines().filter(|l| l.contains(": not ")).count();
    assert_eq!(
        unavailable,
        text.lines().filter(|l| l.starts_with("  fix: ")).count(),
        "{text}"
    );
}

#[test]
fn a_wrong_library_flag_is_reported_not_skipped() {
    let rows = engines_json(&[
        "--ort-lib",
        "/nonexistent/libonnxruntime.so",
        "--openvino-lib",
        "/nonexistent/libopenvino_c.so",
    ]);
    for (name, flag) in [("ort", "--ort-lib"), ("openvino", "--openvino-lib")] {
        let r = rows.iter().find(|r| r["name"] == name).unwrap();
        assert_eq!(r["availability"]["status"], "unavailable", "{r}");
        assert!(
            r["availability"]["reason"].as_str().unwrap().contains(flag),
            "{r}"
        );
        assert!(r["fix"].as_str().unwrap().contains("pip install"), "{r}");
    }
}

#[test]
fn absent_engines_fail_with_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let m = m.to_str().unwrap();
    fails_with(
        &[
            "bench",
            m,
            "--engine",
            "tract:optimized",
            "--engine",
            "ort:all",
            "--ort-lib",
            "/nonexistent/libonnxruntime.so",
        ],
        &[],
        &[
            "engine ort:all is not available",
            "--ort-lib /nonexistent/libonnxruntime.so",
            "pip install onnxruntime==",
        ],
    );
    fails_with(
        &[
            "bench",
            m,
            "--engine",
            "openvino:f32",
            "--openvino-lib",
            "/nonexistent",
        ],
        &[],
        &[
            "engine openvino:f32 is not available",
            "--openvino-lib /nonexistent",
            "pip install openvino==",
        ],
    );
    // Nothing found anywhere: no flag, no variable, no Python package, no system library.
    fails_with(
        &["bench", m, "--engine", "ort:all"],
        &[
            ("PATH", "/nonexistent"),
            ("ORT_DYLIB_PATH", ""),
            ("LD_LIBRARY_PATH", ""),
        ],
        &[
            "engine ort:all is not available",
            "libonnxruntime.so",
            "pip install onnxruntime==",
        ],
    );
    fails_with(
        &["bench", m, "--engine", "tensorrt:fp16"],
        &[("PATH", "/nonexistent")],
        &[
            "engine tensorrt:fp16 is not available",
            "trtexec",
            "install TensorRT",
        ],
    );
    if !available("tract-cuda") {
        fails_with(
            &["bench", m, "--engine", "tract-cuda"],
            &[],
            &[
                "engine tract-cuda is not available",
                "no usable CUDA",
                "NVIDIA",
            ],
        );
    }
    // Bad options are caught before anything runs.
    fails_with(
        &["bench", m, "--engine", "ort:all,ep=metal"],
        &[],
        &["ep", "cuda, tensorrt"],
    );
    fails_with(
        &["bench", m, "--engine", "openvino:int4"],
        &[],
        &["int4", "f32"],
    );
    fails_with(
        &["bench", m, "--engine", "tensorrt:fp8"],
        &[],
        &["fp8", "fp16"],
    );
}

#[test]
fn ort_levels_run_and_record_the_provider() {
    if !runs_here("ort") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let r = bench_json(
        &m,
        &["tract:reference", "ort:none", "ort:all,threads=1"],
        &[],
    );
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for v in &results[1..] {
        assert_eq!(v["status"], "ok", "{v}");
        assert_eq!(v["accuracy"]["passed"], true, "{v}");
        assert_eq!(
            v["session"]["details"]["execution_provider"],
            "CPUExecutionProvider"
        );
        assert_eq!(v["session"]["precision"], "f32");
    }
    assert_eq!(
        results[1]["session"]["details"]["optimization_level"],
        "none"
    );
    assert_eq!(results[2]["session"]["threads"], 1);
}

#[test]
fn a_missing_execution_provider_is_an_error_unless_fallback_is_asked() {
    if !runs_here("ort") {
        return;
    }
    let rows = engines_json(&[]);
    let ort = rows.iter().find(|r| r["name"] == "ort").unwrap();
    if ort["availability"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d == "CUDAExecutionProvider")
    {
        // Not a missing dependency: the absent-provider path cannot be shown with this one.
        eprintln!("skipping: this onnxruntime has the CUDA provider");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let m = m.to_str().unwrap();
    fails_with(
        &["bench", m, "--engine", "ort:all,ep=cuda"],
        &[],
        &[
            "ort:all,ep=cuda",
            "CUDAExecutionProvider",
            "onnxruntime-gpu",
            "fallback",
        ],
    );
    let r = bench_json(
        Path::new(m),
        &["tract:reference", "ort:all,ep=cuda,fallback"],
        &[],
    );
    let v = &r["results"][1];
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(
        v["session"]["details"]["execution_provider"],
        "CPUExecutionProvider"
    );
    assert!(v["session"]["details"]["fallback"]
        .as_str()
        .unwrap()
        .contains("CUDAExecutionProvider"));
}

#[test]
fn openvino_records_the_precision_that_ran() {
    if !runs_here("openvino") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let r = bench_json(
        &m,
        &[
            "tract:reference",
            "openvino:f32",
            "openvino:bf16",
            "openvino:native",
        ],
        &[],
    );
    let results = r["results"].as_array().unwrap();
    assert_eq!(results[1]["session"]["precision"], "f32");
    assert_eq!(results[1]["accuracy"]["passed"], true, "{}", results[1]);
    for v in &results[2..] {
        let p = v["session"]["precision"].as_str().unwrap();
        assert!(p == "bf16" || p == "f32", "{v}");
        assert_eq!(v["accuracy"]["passed"], true, "{v}");
    }
}

#[test]
fn trtexec_variants_need_trtexec() {
    // A trtexec given by path that is not there is named in the error.
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    fails_with(
        &[
            "bench",
            m.to_str().unwrap(),
            "--engine",
            "tensorrt:fp16,trtexec=/nonexistent/trtexec",
        ],
        &[("PATH", "/nonexistent")],
        &["tensorrt", "not available"],
    );
}

/// The `[features]` of a Cargo.toml: name and what it turns on.
fn features(manifest: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(manifest);
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .skip_while(|l| l.trim() != "[features]")
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn the_not_compiled_fix_names_a_feature_of_this_package() {
    use edgebench_core::engine::Availability;
    let engines = features("../engines/Cargo.toml");
    let cli = features("Cargo.toml");
    let optional: Vec<&str> = engines
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != "default")
        .collect();
    assert!(optional.contains(&"ort"), "{engines:?}");
    for f in optional {
        // `cargo build --release --features F` at the workspace root builds this package.
        let fix = Availability::NotCompiled { feature: f.into() }
            .fix()
            .unwrap();
        assert!(fix.contains(&format!("--features {f}`")), "{fix}");
        let (_, on) = cli
            .iter()
            .find(|(k, _)| k == f)
            .unwrap_or_else(|| panic!("crates/cli/Cargo.toml has no feature `{f}`: {cli:?}"));
        assert_eq!(on, &format!("[\"edgebench-engines/{f}\"]"));
    }
}
