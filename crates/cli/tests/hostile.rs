//! A corpus of hostile ONNX files, generated here: each one is refused by `bench` (and
//! `inspect`, `video`, `pipeline` and `study` where it applies) with exit code 2, one line on
//! stderr that names the thing and the fix, no panic or abort, and no output file written.
//! The first entry of the issue that started it: an input declared `1x3x1000000x1000000`
//! aborted `bench` with "memory allocation of 12000000000000 bytes failed" (exit 134).

mod common;

use common::{edgebench, write_model as write, FAST};
use edgebench_core::testmodel::{
    cyclic, encode, move_to_external_data, set_input_dims, tiny_cnn, tiny_cnn_bytes, Dim, TinyCnn,
};
use std::path::{Path, PathBuf};

const HUGE: &[Dim] = &[Dim::F(1), Dim::F(3), Dim::F(1_000_000), Dim::F(1_000_000)];

/// Runs `args` (with `--export-json` to a temporary path for the commands that take it) and
/// expects exit 2, exactly one stderr line holding every needle, nothing on stdout and no
/// export written.
fn refused(args: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let mut cmd = edgebench();
    cmd.args(args);
    match args[0] {
        "bench" => {
            cmd.arg("--export-json")
                .arg(&out)
                .args(FAST)
                .arg("--no-telemetry");
        }
        "pipeline" => {
            cmd.arg("--export-json")
                .arg(&out)
                .args(FAST)
                .arg("--no-telemetry");
        }
        "video" => {
            cmd.arg("--export-json")
                .arg(&out)
                .args(["--no-telemetry", "-q"]);
        }
        _ => {}
    }
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?}: exit {:?} (134 is an abort, 101 a panic), stderr: {stderr}",
        o.status.code()
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("edgebench: error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: `{n}` not in: {stderr}");
    }
    assert!(!out.exists(), "{args:?}: an export was written on error");
    assert!(
        o.stdout.is_empty(),
        "{args:?}: stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn with_input(dims: &[Dim]) -> Vec<u8> {
    let mut m = tiny_cnn(&TinyCnn::default());
    set_input_dims(&mut m, "input", dims);
    encode(&m)
}

#[test]
fn broken_files_are_refused_by_bench_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let good = tiny_cnn_bytes(&TinyCnn::default());
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("empty.onnx", vec![], &["is empty", "re-export"]),
        (
            "truncated.onnx",
            good[..good.len() / 2].to_vec(),
            &["truncated or corrupt", "export it again"],
        ),
        (
            "text.onnx",
            b"this is a text file, not a protobuf at all\n".repeat(20),
            &["is not an ONNX model", "torch.onnx.export"],
        ),
        (
            "random.onnx",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
            &["random.onnx"],
        ),
    ];
    for (name, bytes, needles) in cases {
        let p = write(dir.path(), name, &bytes);
        refused(&["bench", s(&p)], needles);
        refused(&["inspect", s(&p)], needles);
    }
}

#[test]
fn a_cyclic_graph_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "cyclic.onnx", &encode(&cyclic()));
    let needles = &[
        "cyclic.onnx",
        "has a cycle",
        "`add` (Add)",
        "`relu` (Relu)",
        "export the model again",
    ];
    refused(&["bench", s(&p)], needles);
    refused(&["inspect", s(&p)], needles);
}

#[test]
fn an_unknown_operator_is_named_with_its_node() {
    let dir = tempfile::tempdir().unwrap();
    let o = TinyCnn {
        unknown_op: true,
        ..Default::default()
    };
    let p = write(dir.path(), "mystery.onnx", &tiny_cnn_bytes(&o));
    let needles = &["`NoSuchOp`", "`mystery`", "another engine"];
    refused(&["bench", s(&p)], needles);
    refused(&["inspect", s(&p)], needles);
}

/// The case of the issue: a valid model whose input is declared far larger than any memory.
#[test]
fn a_huge_declared_input_is_refused_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "huge.onnx", &with_input(HUGE));
    let needles = &[
        "input `input` at 1x3x1000000x1000000",
        "11,176 GiB",
        "--max-memory",
    ];
    refused(&["bench", s(&p)], needles);
    refused(&["bench", s(&p), "-e", "tract:optimized"], needles);
    refused(&["video", s(&p), "--input", "synthetic:64x48@30"], needles);
    // inspect allocates nothing for activations: it reports them.
    let o = edgebench()
        .args(["inspect", s(&p), "--json"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // conv1: 8 channels x 10^12 pixels x 4 bytes
    assert_eq!(v["largest_activation_bytes"], 32_000_000_000_000u64);
}

#[test]
fn a_huge_shape_given_with_the_flag_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = TinyCnn {
        dynamic_spatial: true,
        ..Default::default()
    };
    let p = write(dir.path(), "dynamic.onnx", &tiny_cnn_bytes(&o));
    let shape = "input:1x3x1000000x1000000";
    let needles = &["input `input` at 1x3x1000000x1000000", "--max-memory"];
    refused(&["bench", s(&p), "--shape", shape], needles);
    refused(
        &[
            "video",
            s(&p),
            "--shape",
            shape,
            "--input",
            "synthetic:64x48@30",
        ],
        needles,
    );
    // A batch that makes it too large, with a limit set by the flag.
    refused(
        &[
            "bench",
            s(&p),
            "--shape",
            "input:1x3x4096x4096",
            "--max-memory",
            "0.25",
        ],
        &[
            "input `input` at 1x3x4096x4096",
            "the limit --max-memory 256.0 MiB",
        ],
    );
    // The same model at a sane size runs under the default limit.
    let out = dir.path().join("ok.json");
    edgebench()
        .args([
            "bench",
            s(&p),
            "--shape",
            "input:1x3x32x32",
            "--export-json",
        ])
        .arg(&out)
        .args(FAST)
        .arg("--no-telemetry")
        .assert()
        .success();
    assert!(out.exists());
}

#[test]
fn a_zoo_model_with_a_huge_batch_is_refused() {
    refused(
        &["bench", "zoo:r3d_18?batch=4096", "--max-memory", "8"],
        &["input `input` at 4096x3x16x112x112", "--max-memory"],
    );
    refused(
        &[
            "bench",
            "zoo:squeezenet1_1",
            "--batch",
            "4096",
            "--max-memory",
            "1",
        ],
        &["input `input` at 4096x3x224x224", "--max-memory"],
    );
}

#[test]
fn shapes_whose_size_overflows_64_bits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = 1i64 << 32;
    let p = write(
        dir.path(),
        "overflow.onnx",
        &with_input(&[Dim::F(1), Dim::F(3), Dim::I(big), Dim::I(big)]),
    );
    let needles = &["input `input` at 1x3x4294967296x4294967296", "64 bits"];
    refused(&["bench", s(&p)], needles);
    refused(&["inspect", s(&p)], needles);
    refused(&["video", s(&p), "--input", "synthetic:64x48@30"], needles);
    let o = TinyCnn {
        dynamic_spatial: true,
        ..Default::default()
    };
    let d = write(dir.path(), "dynamic.onnx", &tiny_cnn_bytes(&o));
    let shape = "input:1x3x4294967296x4294967296";
    refused(&["bench", s(&d), "--shape", shape], needles);
    refused(&["inspect", s(&d), "--shape", shape], needles);
}

#[test]
fn zero_and_negative_dims_ask_for_a_size() {
    let dir = tempfile::tempdir().unwrap();
    for (name, n) in [("zero.onnx", 0i64), ("negative.onnx", -5)] {
        let p = write(
            dir.path(),
            name,
            &with_input(&[Dim::F(1), Dim::F(3), Dim::I(n), Dim::F(32)]),
        );
        let dim = format!("`{n}` (axis 2)");
        let needles = &[dim.as_str(), "--shape input:1x3xNx32"];
        refused(&["bench", s(&p)], needles);
        refused(&["inspect", s(&p)], needles);
    }
}

#[test]
fn initializers_that_claim_more_than_they_hold_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Inline: dims of 960 GB over 216 stored values.
    let mut m = tiny_cnn(&TinyCnn::default());
    let g = m.graph.as_mut().unwrap();
    g.initializer[0].dims = vec![8, 3, 100_000, 100_000];
    let p = write(dir.path(), "claims.onnx", &encode(&m));
    let needles = &[
        "initializer `conv1.weight`",
        "8x3x100000x100000",
        "holds 216 of its 240000000000 values",
        "export the model again",
    ];
    refused(&["bench", s(&p)], needles);
    refused(&["inspect", s(&p)], needles);

    // Dims whose product overflows.
    let mut m = tiny_cnn(&TinyCnn::default());
    m.graph.as_mut().unwrap().initializer[0].dims = vec![1 << 40, 1 << 40, 1 << 40];
    let p = write(dir.path(), "overflow_init.onnx", &encode(&m));
    refused(
        &["bench", s(&p)],
        &["initializer `conv1.weight`", "overflows 64 bits"],
    );

    // External data: the dims claim far more than the file next to the model holds.
    let sub = dir.path().join("ext");
    std::fs::create_dir(&sub).unwrap();
    let mut m = tiny_cnn(&TinyCnn::default());
    let raw = move_to_external_data(&mut m, "conv1.weight", "conv1.bin");
    std::fs::write(sub.join("conv1.bin"), raw).unwrap();
    m.graph.as_mut().unwrap().initializer[0].dims = vec![8, 3, 100_000, 100_000];
    let p = write(&sub, "ext_claims.onnx", &encode(&m));
    let needles = &[
        "initializer `conv1.weight`",
        "`conv1.bin` holds only 864 bytes",
    ];
    refused(&["bench", s(&p)], needles);
    refused(&["inspect", s(&p)], needles);
}

#[test]
fn external_data_outside_the_model_folder_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("model");
    std::fs::create_dir(&inner).unwrap();
    std::fs::write(dir.path().join("secret.bin"), vec![0u8; 864]).unwrap();
    for (name, location) in [
        ("climbs.onnx", "../secret.bin"),
        ("absolute.onnx", "/etc/passwd"),
    ] {
        let mut m = tiny_cnn(&TinyCnn::default());
        move_to_external_data(&mut m, "conv1.weight", location);
        let p = write(&inner, name, &encode(&m));
        let needles = &[
            "outside the model's folder",
            location,
            "keep external data files inside",
        ];
        refused(&["bench", s(&p)], needles);
        refused(&["inspect", s(&p)], needles);
    }
}

/// A real Python whose `import torch` finds a stub, so that `pipeline` gets past its torch
/// check without PyTorch installed; the memory check refuses before any torch code runs.
fn python_with_stub_torch(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let real = edgebench_torch::python::which("python3")
        .or_else(|| Some(PathBuf::from("/usr/bin/python3")).filter(|p| p.exists()))
        .expect("these tests need a python3");
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("torch")).unwrap();
    std::fs::write(
        site.join("torch/__init__.py"),
        "__version__ = '9.9.9+cpu'\n",
    )
    .unwrap();
    let p = dir.join("python3");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nPYTHONPATH='{}' exec '{}' \"$@\"\n",
            site.display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn pipeline_refuses_huge_shapes_before_torch_or_an_engine_runs() {
    let dir = tempfile::tempdir().unwrap();
    let py = python_with_stub_torch(dir.path());
    let py = s(&py);
    refused(
        &[
            "pipeline",
            "zoo:squeezenet1_1?batch=4096",
            "-e",
            "tract:optimized",
            "--max-memory",
            "1",
            "--python",
            py,
        ],
        &["input `input` at 4096x3x224x224", "--max-memory"],
    );
    // A torchvision model exported at a shape PyTorch could not allocate.
    refused(
        &[
            "pipeline",
            "tv:resnet18",
            "--shape",
            "1x3x1000000x1000000",
            "-e",
            "tract:optimized",
            "--python",
            py,
        ],
        &["input `input` at 1x3x1000000x1000000", "--max-memory"],
    );
}

#[test]
fn study_records_a_huge_model_as_failed_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let huge = write(dir.path(), "huge.onnx", &with_input(HUGE));
    let config = dir.path().join("study.toml");
    std::fs::write(
        &config,
        format!(
            r#"
name = "hostile"
baseline = "tract:reference"
variants = ["tract:optimized"]
[measure]
warmup_s = 0.05
min_warmup_runs = 1
min_samples = 3
max_time_s = 0.2
timeout_s = 120
gate_inputs = 1
[[model]]
source = "{}"
label = "huge"
[[model]]
source = "zoo:squeezenet1_1?classes=2"
"#,
            huge.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = edgebench()
        .args(["study", "--quiet", "--no-telemetry", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !matches!(o.status.code(), Some(101) | Some(134) | None),
        "exit {:?}: {stderr}",
        o.status.code()
    );
    let results = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let measurements: Vec<serde_json::Value> = results
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "measurement")
        .collect();
    // Both models were measured (however many rounds the study's defaults ask for).
    for label in ["huge", "squeezenet1_1"] {
        assert!(
            measurements.iter().any(|m| m["model"]["label"] == label),
            "no measurement of {label}: {results}"
        );
    }
    for m in &measurements {
        let label = m["model"]["label"].as_str().unwrap_or_default();
        let status = m["result"]["status"].as_str().unwrap_or_default();
        if label == "huge" {
            assert_eq!(status, "failed", "{m}");
            let error = m["result"]["error"].as_str().unwrap_or_default();
            assert!(
                error.contains("input `input` at 1x3x1000000x1000000")
                    && error.contains("--max-memory"),
                "{error}"
            );
        } else {
            // The study went on to the next model and measured it.
            assert_eq!(status, "ok", "{m}");
        }
    }
}

/// A PyTorch source in a study config is exported by the parent before any child runs: a
/// huge input shape there is refused by the same memory rule, before Python is started.
#[test]
fn study_refuses_a_huge_pytorch_export_before_python_runs() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("study.toml");
    std::fs::write(
        &config,
        r#"
name = "hostile-export"
baseline = "tract:reference"
variants = ["tract:optimized"]
[[model]]
source = "tv:resnet18"
shapes = ["input:1x3x1000000x1000000"]
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = edgebench()
        .args(["study", "--quiet", "--no-telemetry", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .env("EDGEBENCH_PYTHON", "/nonexistent/python3")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--max-memory"), "{stderr}");
    assert!(!out.join("results.jsonl").exists());
}
