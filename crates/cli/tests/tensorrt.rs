//! `edgebench bench` with TensorRT through a trtexec stand-in that follows the real tool's
//! rules and formats (crates/engines/tests/standin/trtexec.py, written from NVIDIA/TensorRT's
//! samples/common for 8.2 to 11.x). No TensorRT exists on the machines this was written on;
//! the stand-in needs /usr/bin/python3 with onnx and numpy (CI installs python3-onnx).

mod common;

use common::{edgebench, write_model, FAST};
use edgebench_core::testmodel::{tiny_cnn_bytes, TinyCnn};
use serde_json::Value;
use std::path::{Path, PathBuf};

use edgebench_engines::tensorrt::standin::available as have_standin;

/// A `trtexec` that runs the stand-in as TensorRT `version` (`extra`: more shell lines).
fn trtexec(root: &Path, version: &str, extra: &str) -> PathBuf {
    edgebench_engines::tensorrt::standin::trtexec(root, version, "NVIDIA H200", extra)
}

/// Runs `bench --json` and returns the exit code and the document.
fn bench(model: &Path, engines: &[String], extra: &[&str]) -> (i32, Value, String) {
    let mut c = edgebench();
    c.arg("bench").arg(model).args(FAST).arg("--json");
    for e in engines {
        c.args(["-e", e]);
    }
    let o = c.args(extra).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let doc = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code().unwrap_or(-1), doc, stderr)
}

fn variant<'a>(doc: &'a Value, spec_start: &str) -> &'a Value {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["spec"].as_str().unwrap().starts_with(spec_start))
        .unwrap()
}

#[test]
fn static_and_dynamic_models_on_8_6_10_x_and_11_x() {
    if !have_standin() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fixed = write_model(
        dir.path(),
        "static.onnx",
        &tiny_cnn_bytes(&TinyCnn::default()),
    );
    let dynamic = write_model(
        dir.path(),
        "dynamic.onnx",
        &tiny_cnn_bytes(&TinyCnn {
            dynamic_batch: true,
            ..Default::default()
        }),
    );
    for version in ["8.6.1", "10.16.0", "11.1.0"] {
        let t = trtexec(dir.path(), version, "");
        // On TensorRT 11, fp16 builds a float16 copy of the model.
        let precision = "fp16";
        let spec = format!(
            "tensorrt:{precision},trtexec={},cache={}",
            t.display(),
            dir.path().join("cache").display()
        );
        for (model, extra, shapes) in [
            (&fixed, vec![], "none (static model)"),
            (&dynamic, vec!["--batch", "2"], "input:2x3x32x32"),
        ] {
            let (code, doc, stderr) =
                bench(model, &["tract:reference".into(), spec.clone()], &extra);
            assert_eq!(code, 0, "{version}: {stderr}");
            let v = variant(&doc, "tensorrt");
            assert_eq!(v["status"], "ok", "{version}: {v}");
            assert_eq!(v["accuracy"]["passed"], true, "{version}");
            let s = &v["session"];
            assert_eq!(s["engine_version"], version);
            assert_eq!(s["details"]["shapes_given"], shapes, "{version}");
            let want = if precision == "fp16" { "f16" } else { "f32" };
            assert_eq!(s["precision"], want, "{version}");
            assert!(s["details"]["trtexec_median_ms"]
                .as_str()
                .unwrap()
                .contains("gpu compute"));
            assert!(v["prepare_ms"].as_f64().unwrap() > 0.0);
        }
    }
}

#[test]
fn tensorrt_11_fp16_builds_a_float16_copy_and_best_is_refused_in_one_line() {
    if !have_standin() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    let t = trtexec(dir.path(), "11.1.0", "");
    let (code, doc, stderr) = bench(
        &model,
        &[
            "tract:reference".into(),
            format!("tensorrt:fp16,trtexec={}", t.display()),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let v = variant(&doc, "tensorrt");
    assert_eq!(v["accuracy"]["passed"], true, "{v}");
    assert_eq!(v["session"]["precision"], "f16");
    assert!(v["session"]["details"]["converted_to_fp16"].is_string());
    let (code, doc, stderr) = bench(
        &model,
        &[
            "tract:reference".into(),
            format!("tensorrt:best,trtexec={}", t.display()),
        ],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    let e = variant(&doc, "tensorrt")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(e.contains("strongly typed") && e.contains("--best"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn a_hanging_trtexec_is_killed_at_its_time_limit() {
    if !have_standin() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    let t = trtexec(dir.path(), "10.16.0", "export TRTEXEC_STANDIN_HANG=1");
    let (code, doc, stderr) = bench(
        &model,
        &[
            "tract:reference".into(),
            format!("tensorrt:fp32,trtexec={},timeout=2", t.display()),
        ],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    let e = variant(&doc, "tensorrt")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(e.contains("killed with its process group"), "{e}");
}

#[test]
fn a_missing_trtexec_path_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    let o = edgebench()
        .arg("bench")
        .arg(&model)
        .args(FAST)
        .args(["-e", "tensorrt:fp16,trtexec=/nonexistent/trtexec"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("trtexec=/nonexistent/trtexec: no such file"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(o.stdout.is_empty());
}

/// A study config that names its trtexec (`tensorrt:fp16,trtexec=PATH`) is planned, not
/// refused as "no trtexec on PATH": the study's plan asks the engine about the spec itself.
#[test]
fn a_study_plans_tensorrt_at_the_path_its_spec_names() {
    if !have_standin() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = write_model(
        dir.path(),
        "tiny.onnx",
        &tiny_cnn_bytes(&TinyCnn::default()),
    );
    let tool = trtexec(dir.path(), "10.16.0", "");
    let cfg = dir.path().join("study.toml");
    std::fs::write(
        &cfg,
        format!(
            "baseline = \"tract:reference\"\nvariants = [\"tensorrt:fp16,trtexec={}\"]\n[[model]]\nsource = \"{}\"\n",
            tool.display(),
            model.display()
        ),
    )
    .unwrap();
    let o = edgebench()
        .args(["study", "--dry-run", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("tensorrt:fp16"), "{stdout}");
}
