//! Low-precision variants end to end: `bench -e ort:all -e ort:all,quant=int8` on a tiny model
//! records the int8 kernels ONNX Runtime ran (its profile), gates the quantized variant against
//! the float model's reference with the int8 rule, and carries the synthetic-calibration
//! warning; bad option values are refused with one line and exit 2; a study config with the
//! variants passes the plan's checks (a dry run).
//!
//! ONNX Runtime and its Python quantizer are found at run time; where either is missing the
//! tests that need them skip, or fail where `EDGEBENCH_REQUIRE` lists `ort`.

mod common;

use common::{edgebench, refused_with, tiny_model, FAST};
use edgebench_core::engine::Availability;
use serde_json::Value;

/// Whether ONNX Runtime and its quantizer can run here (else a skip under `ort`).
fn ort_and_quantizer() -> bool {
    let ort = edgebench_engines::find("ort").unwrap();
    if !matches!(ort.availability(), Availability::Available { .. }) {
        edgebench_core::testing::skip_or_fail("ort", "onnx runtime is not available here");
        return false;
    }
    let o = std::process::Command::new("python3")
        .args(["-c", "import onnxruntime.quantization"])
        .output();
    if !o.is_ok_and(|o| o.status.success()) {
        edgebench_core::testing::skip_or_fail(
            "ort",
            "python3 cannot import onnxruntime.quantization",
        );
        return false;
    }
    true
}

#[test]
fn bench_records_the_int8_kernels_that_ran() {
    if !ort_and_quantizer() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let out = dir.path().join("bench.json");
    let o = edgebench()
        .arg("bench")
        .arg(&model)
        .args([
            "-e",
            "ort:all",
            "-e",
            "ort:all,quant=int8",
            "--threads",
            "1",
        ])
        .arg("--export-json")
        .arg(&out)
        .args(FAST)
        .env("EDGEBENCH_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let [fp32, int8] = &doc["results"].as_array().unwrap()[..] else {
        panic!("two results expected: {doc}")
    };
    assert_eq!(fp32["status"], "ok", "{fp32} {err}");
    assert_eq!(int8["status"], "ok", "{int8} {err}");
    assert_eq!(int8["spec"], "ort:all,quant=int8");

    // What ran, from ONNX Runtime's profile: float kernels for the float model, int8 kernels
    // for the quantized one.
    let s = &fp32["session"];
    assert_eq!(s["precision"], "f32", "{s}");
    assert!(
        s["details"]["precision.compute_kernels"]
            .as_str()
            .unwrap()
            .starts_with("f32 "),
        "{s}"
    );
    let s = &int8["session"];
    assert_eq!(s["precision"], "int8", "{s}");
    assert_eq!(s["details"]["precision.asked"], "int8", "{s}");
    let compute = s["details"]["precision.compute_kernels"].as_str().unwrap();
    assert!(
        compute.starts_with("int8 ") && !compute.contains("f32"),
        "{compute}"
    );
    assert!(s["details"]["precision.proof"]
        .as_str()
        .unwrap()
        .contains("onnx runtime profile"));
    assert_eq!(s["details"]["quant.calibration"], "synthetic");

    // Gated against the float model's outputs by what ran: the int8 rule (no element-wise
    // bound), not the float one.
    let acc = &int8["accuracy"];
    assert!(acc["tolerance"]["topk_only"].as_bool().unwrap(), "{acc}");
    // The float model (the first variant) is the reference the quantized one is compared with.
    assert!(fp32["accuracy"].is_null(), "{fp32}");

    // The quantizer's calibration warning is the variant's, not the float model's.
    let kinds = |r: &Value| -> Vec<String> {
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        kinds(int8).contains(&"synthetic_calibration".to_string()),
        "{int8}"
    );
    assert!(
        !kinds(int8).contains(&"precision_not_run".to_string()),
        "{int8}"
    );
    assert!(!kinds(fp32).contains(&"synthetic_calibration".to_string()));
}

#[test]
fn bad_variant_options_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    for (spec, needles) in [
        ("ort:all,quant=int4", &["quant=int4", "quant=int8"][..]),
        ("ort:all,dtype=bf16", &["dtype=bf16", "fp16"][..]),
        ("ort:all,dtype=fp16,quant=int8", &["give one of them"][..]),
        ("openvino:f32,calib=imgs", &["calib=DIR", "quant=int8"][..]),
        (
            "ort:all,quant=int8,calib=/no/such/folder",
            &["calib=/no/such/folder", "no such folder"][..],
        ),
        (
            "tract:optimized,quant=int8",
            &["float32", "ort:all,quant=int8"][..],
        ),
    ] {
        let out = dir.path().join("refused.json");
        let o = refused_with(
            edgebench()
                .arg("bench")
                .arg(&model)
                .args(["-e", spec])
                .arg("--export-json")
                .arg(&out)
                .args(FAST),
            needles,
        );
        assert!(o.stdout.is_empty());
        assert!(!out.exists(), "{spec}: something was written");
    }
}

#[test]
fn a_study_config_takes_the_variants() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lowp.toml");
    // The study refuses a variant whose engine cannot run here: list those that can.
    let mut specs = vec!["tract:optimized"];
    for (engine, these) in [
        (
            "ort",
            &["ort:all", "ort:all,quant=int8", "ort:all,dtype=fp16"][..],
        ),
        ("openvino", &["openvino:f32,quant=int8", "openvino:f16"][..]),
    ] {
        match edgebench_engines::find(engine).unwrap().availability() {
            Availability::Available { .. } => specs.extend(these),
            other => edgebench_core::testing::skip_or_fail(
                engine,
                format_args!("{engine} is not available here ({other:?}): its variants are left out of the study"),
            ),
        }
    }
    let list = specs
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        &cfg,
        format!(
            "baseline = \"tract:reference\"\nvariants = [{list}]\n[[model]]\nsource = \"zoo:squeezenet1_1\"\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = edgebench()
        .arg("study")
        .arg("--config")
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .arg("--dry-run")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{text}{err}");
    for spec in &specs {
        assert!(text.contains(spec), "{spec} not in the plan: {text}{err}");
    }
    // A bad one is refused by the config's checks, before anything runs.
    std::fs::write(
        &cfg,
        "variants = [\"ort:all,quant=int2\"]\n[[model]]\nsource = \"zoo:squeezenet1_1\"\n",
    )
    .unwrap();
    refused_with(
        edgebench()
            .arg("study")
            .arg("--config")
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .arg("--dry-run"),
        &["quant=int2"],
    );
    assert!(!out.join("results.jsonl").exists());
}
