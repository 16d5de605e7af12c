//! `edgebench export` and `edgebench pipeline`, and the torch engine's failure paths through
//! the binary. The no-Python, no-torch, no-CUDA and broken-worker paths always run (fake
//! Pythons, a fake torch package); the rest is skipped with a message where no Python with
//! torch is found.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn edgebench() -> Command {
    let mut c = Command::cargo_bin("edgebench").expect("binary built");
    // Each test says which Python it wants; none inherits the developer's setting.
    c.env_remove("EDGEBENCH_PYTHON")
        .env_remove("EDGEBENCH_WORKER_FAULT")
        .env_remove("EDGEBENCH_WORKER_TIMEOUT");
    c
}

/// Fast measurement settings: these tests check behaviour, never timings.
const FAST: &[&str] = &[
    "--warmup",
    "0",
    "--min-warmup-runs",
    "1",
    "--max-time",
    "0.2",
    "--min-samples",
    "3",
    "--gate-inputs",
    "2",
    "-q",
];

fn torch_python(test: &str) -> Option<PathBuf> {
    match edgebench_torch::python::discover_with(None) {
        Ok(info) if info.hello.torch.is_some() => Some(info.path),
        Ok(info) => {
            edgebench_core::testing::skip_or_fail(
                "torch",
                format_args!("{test}: {} has no torch", info.path.display()),
            );
            None
        }
        Err(e) => {
            edgebench_core::testing::skip_or_fail("torch", format_args!("{test}: {e}"));
            None
        }
    }
}

fn tiny(factory: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/tests/tiny_model.py");
    format!("{}:{factory}", p.display())
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A real Python whose `import torch` runs `torch_init` instead.
fn python_with_fake_torch(dir: &Path, torch_init: &str) -> PathBuf {
    let real = edgebench_torch::python::which("python3")
        .or_else(|| Some(PathBuf::from("/usr/bin/python3")).filter(|p| p.exists()))
        .expect("these tests need a python3");
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("torch")).unwrap();
    std::fs::create_dir_all(site.join("torchvision")).unwrap();
    std::fs::write(site.join("torch/__init__.py"), torch_init).unwrap();
    std::fs::write(
        site.join("torchvision/__init__.py"),
        "raise ImportError('none')\n",
    )
    .unwrap();
    script(
        dir,
        "python3",
        &format!(
            "PYTHONPATH='{}' exec '{}' \"$@\"",
            site.display(),
            real.display()
        ),
    )
}

/// Expects exit 2 and exactly one stderr line that contains every needle.
fn fails_with(cmd: &mut Command, needles: &[&str]) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "`{n}` not in: {stderr}");
    }
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn missing_python_from_the_flag_or_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.onnx");
    fails_with(
        edgebench()
            .args(["export", "tv:resnet18", "-o"])
            .arg(&out)
            .args(["--python", "/nonexistent/python3"]),
        &["--python /nonexistent/python3 does not exist"],
    );
    fails_with(
        edgebench()
            .args(["pipeline", "tv:resnet18"])
            .env("EDGEBENCH_PYTHON", "/nonexistent/python3"),
        &["EDGEBENCH_PYTHON /nonexistent/python3 does not exist"],
    );
    assert!(!out.exists());
}

#[test]
fn python_without_torch_names_the_packages() {
    let dir = tempfile::tempdir().unwrap();
    let py = python_with_fake_torch(
        dir.path(),
        "raise ImportError(\"No module named 'torch'\")\n",
    );
    let out = dir.path().join("m.onnx");
    for args in [
        vec!["export", "tv:resnet18", "-o", out.to_str().unwrap()],
        vec!["pipeline", "tv:resnet18"],
    ] {
        fails_with(
            edgebench().args(&args).arg("--python").arg(&py),
            &[
                "cannot import torch",
                "apt-get install python3-torch python3-torchvision",
                "pip install torch",
            ],
        );
    }
    assert!(!out.exists());
}

#[test]
fn device_cuda_without_cuda_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let py = python_with_fake_torch(
        dir.path(),
        "__version__ = '9.9.9+cpu'\nclass cuda:\n    @staticmethod\n    def is_available():\n        return False\n",
    );
    fails_with(
        edgebench()
            .args([
                "pipeline",
                "tv:resnet18",
                "--torch",
                "torch:eager,device=cuda,dtype=fp16",
            ])
            .arg("--python")
            .arg(&py),
        &["has no CUDA", "pip install torch", "device=cpu"],
    );
}

#[test]
fn broken_workers_at_start_up_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = script(
        dir.path(),
        "garbage",
        "echo 'Illegal instruction'; sleep 30",
    );
    fails_with(
        edgebench()
            .args(["pipeline", "tv:resnet18", "--python"])
            .arg(&garbage),
        &["not protocol JSON", "Illegal instruction"],
    );
    // Stopped at its 1 s limit, as the reason says. A limit that never fired would leave the
    // command waiting for the hour the worker sleeps: assert_cmd kills it at 300 s, and the
    // exit code (a signal, not 2) fails the test.
    let hang = script(dir.path(), "hang", "exec sleep 3600");
    fails_with(
        edgebench()
            .args(["pipeline", "tv:resnet18", "--python"])
            .arg(&hang)
            .env("EDGEBENCH_WORKER_TIMEOUT", "1")
            .timeout(std::time::Duration::from_secs(300)),
        &["did not answer `hello` within 1 s"],
    );
    let crash = script(
        dir.path(),
        "crash",
        "echo 'Fatal Python error: init' >&2; exit 1",
    );
    fails_with(
        edgebench()
            .args(["pipeline", "tv:resnet18", "--python"])
            .arg(&crash),
        &["died (exit code 1)", "Fatal Python error: init"],
    );
}

#[test]
fn bad_sources_and_specs_fail_before_python_runs() {
    // A Python that would hang: none of these may start it.
    let dir = tempfile::tempdir().unwrap();
    let hang = script(dir.path(), "hang", "sleep 60");
    for (args, needle) in [
        (vec!["export", "resnet18", "-o", "x.onnx"], "give tv:NAME"),
        (
            vec!["export", "tv:res net", "-o", "x.onnx"],
            "not a torchvision model name",
        ),
        (
            vec!["export", "/no/such/file.py:make", "-o", "x.onnx"],
            "does not exist",
        ),
        (
            vec!["export", "tv:resnet18", "-o", "x.onnx", "--shape", "1x0"],
            "positive sizes",
        ),
        (
            vec!["pipeline", "tv:resnet18", "--torch", "tract:optimized"],
            "not a torch variant",
        ),
        (
            vec![
                "pipeline",
                "tv:resnet18",
                "--torch",
                "torch:eager,cuda_graph",
            ],
            "cuda_graph needs a GPU",
        ),
        (
            vec!["pipeline", "tv:resnet18", "--max-time", "0"],
            "--max-time",
        ),
    ] {
        let out = edgebench()
            .current_dir(dir.path())
            .args(&args)
            .arg("--python")
            .arg(&hang)
            .env("EDGEBENCH_WORKER_TIMEOUT", "30")
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn export_writes_a_checked_model_and_reports_it() {
    let Some(py) = torch_python("export_writes_a_checked_model_and_reports_it") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tiny.onnx");
    let o = edgebench()
        .args([
            "export",
            &tiny("make"),
            "--shape",
            "1x3x16x16",
            "--batch",
            "2",
            "--json",
            "-o",
        ])
        .arg(&out)
        .arg("--python")
        .arg(&py)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["inputs"][0]["shape"], serde_json::json!([2, 3, 16, 16]));
    assert_eq!(r["outputs"][0]["shape"], serde_json::json!([2, 5]));
    assert_eq!(r["opset"], 17);
    assert!(r["onnx_checker"].as_str().unwrap().len() > 4);
    assert_eq!(r["unsupported"], serde_json::json!([]));
    assert!(out.is_file());
    // The human form names the file, torch and the operator check.
    let o = edgebench()
        .args(["export", &tiny("make"), "--shape", "input:1x3x16x16", "-o"])
        .arg(&out)
        .arg("--python")
        .arg(&py)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("exported ") && text.contains("torch ") && text.contains("opset 17"),
        "{text}"
    );
    assert!(text.contains("tract runs every operator"), "{text}");
    // Without a shape, a user's module cannot be exported.
    fails_with(
        edgebench()
            .args(["export", &tiny("make"), "-o"])
            .arg(&out)
            .arg("--python")
            .arg(&py),
        &["give the input shape"],
    );
}

#[test]
fn pipeline_runs_pytorch_then_the_engines_with_the_gate() {
    let Some(py) = torch_python("pipeline_runs_pytorch_then_the_engines_with_the_gate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let onnx = dir.path().join("kept.onnx");
    let o = edgebench()
        .args(["pipeline", &tiny("make"), "--shape", "1x3x16x16"])
        .args([
            "--torch",
            "torch:eager",
            "--torch",
            "torch:eager,channels_last",
        ])
        .args(["-e", "tract:optimized", "-e", "tract:reference"])
        .args(FAST)
        .arg("--onnx")
        .arg(&onnx)
        .arg("--export-json")
        .arg(&json)
        .arg("--python")
        .arg(&py)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(onnx.is_file());
    for row in [
        "torch:eager ",
        "torch:eager,channels_last",
        "tract:optimized",
        "tract:reference",
        "baseline",
    ] {
        assert!(stdout.contains(row), "`{row}` missing: {stdout}");
    }
    assert!(
        stdout.contains("tract:optimized: accuracy gate passed"),
        "{stdout}"
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["spec"], "torch:eager");
    assert_eq!(results[0]["session"]["device"], "cpu");
    assert_eq!(r["settings"]["reference"], "torch:eager");
    for res in &results[1..] {
        assert_eq!(res["status"], "ok", "{res}");
        assert_eq!(res["accuracy"]["passed"], true, "{res}");
        assert_eq!(res["speedup"]["baseline"], "torch:eager", "{res}");
    }
}

#[test]
fn pipeline_on_a_zoo_model_uses_its_torchvision_twin() {
    let Some(py) = torch_python("pipeline_on_a_zoo_model_uses_its_torchvision_twin") else {
        return;
    };
    let o = edgebench()
        .args([
            "pipeline",
            "zoo:mobilenet_v3_small",
            "--num-classes",
            "10",
            "-e",
            "tract:optimized",
            "--json",
        ])
        .args(FAST)
        .arg("--python")
        .arg(&py)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["model"]["path"], "zoo:mobilenet_v3_small");
    assert_eq!(
        r["results"][0]["session"]["details"]["source"],
        "tv:mobilenet_v3_small"
    );
    assert_eq!(r["results"][1]["accuracy"]["passed"], true);
}

/// Runs the tiny pipeline with a fault injected into every torch worker and returns stdout.
fn pipeline_with_fault(py: &Path, fault: &str) -> String {
    let o = edgebench()
        .args([
            "pipeline",
            &tiny("make"),
            "--shape",
            "1x3x16x16",
            "-e",
            "tract:optimized",
        ])
        .args([
            "--torch",
            "torch:eager",
            "--torch",
            "torch:eager,channels_last",
        ])
        .args(FAST)
        .arg("--python")
        .arg(py)
        .env("EDGEBENCH_WORKER_FAULT", fault)
        // Only the hang needs a short limit; it also bounds start-up and the export, which
        // take seconds on a busy machine.
        .env(
            "EDGEBENCH_WORKER_TIMEOUT",
            if fault.ends_with(":hang") {
                "15"
            } else {
                "600"
            },
        )
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    // The other engines go on and the table keeps them; a variant that failed to run fails
    // the command (exit 1), and with the PyTorch reference gone the others are unverified.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("tract:optimized") && stdout.contains("UNVERIFIED"),
        "{stdout}"
    );
    assert!(stdout.contains("tract:optimized"), "{stdout}");
    assert_eq!(stdout.matches("FAILED").count(), 2, "{stdout}");
    stdout
}

#[test]
fn a_killed_hung_or_babbling_worker_fails_its_variant_and_the_rest_goes_on() {
    let Some(py) =
        torch_python("a_killed_hung_or_babbling_worker_fails_its_variant_and_the_rest_goes_on")
    else {
        return;
    };
    let out = pipeline_with_fault(&py, "measure:kill");
    assert!(
        out.contains("torch:eager: failed:") && out.contains("killed by signal 9"),
        "{out}"
    );
    let out = pipeline_with_fault(&py, "measure:hang");
    assert!(out.contains("did not answer `measure` within"), "{out}");
    assert!(out.contains("injected fault hang at measure"), "{out}");
    let out = pipeline_with_fault(&py, "load:garbage");
    assert!(out.contains("not protocol JSON"), "{out}");
    let out = pipeline_with_fault(&py, "run:crash");
    assert!(out.contains("died (exit code 3) during `run`"), "{out}");
}

#[test]
fn a_crash_during_export_fails_the_command_with_the_stderr_tail() {
    let Some(py) = torch_python("a_crash_during_export_fails_the_command_with_the_stderr_tail")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.onnx");
    fails_with(
        edgebench()
            .args(["export", &tiny("make"), "--shape", "1x3x8x8", "-o"])
            .arg(&out)
            .arg("--python")
            .arg(&py)
            .env("EDGEBENCH_WORKER_FAULT", "export:crash"),
        &[
            "died (exit code 3) during `export`",
            "injected fault crash at export",
        ],
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "scratch file left"
    );
}

#[test]
fn a_study_of_pytorch_models_has_pytorch_as_their_baseline() {
    let Some(py) = torch_python("a_study_of_pytorch_models_has_pytorch_as_their_baseline") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let onnx = dir.path().join("tiny.onnx");
    let o = edgebench()
        .args(["export", &tiny("make"), "--shape", "input:1x3x16x16", "-o"])
        .arg(&onnx)
        .arg("--python")
        .arg(&py)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let config = format!(
        "name = \"exported\"\nvariants = [\"tract:optimized\"]\n\n[measure]\nwarmup_s = 0\nmax_time_s = 0.3\n\n[[model]]\nsource = \"tiny.onnx\"\n\n[[model]]\nlabel = \"direct\"\nsource = \"{}\"\nshapes = [\"input:1x3x16x16\"]\n",
        tiny("make")
    );
    std::fs::write(dir.path().join("s.toml"), config).unwrap();
    let out = dir.path().join("out");
    let o = edgebench()
        .arg("study")
        .arg("--config")
        .arg(dir.path().join("s.toml"))
        .arg("--out")
        .arg(&out)
        .arg("--python")
        .arg(&py)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    // The export recorded its PyTorch source, so PyTorch eager is the model's baseline, and
    // the optimized engine is gated against it.
    // The same holds for a PyTorch source named in the config, which the study exports itself.
    let rows = summary["rows"].as_array().unwrap();
    for model in ["tiny", "direct"] {
        let of = |spec: &str| {
            rows.iter()
                .find(|r| r["model"] == model && r["spec"] == spec)
                .unwrap_or_else(|| panic!("{model} {spec}: {summary}"))
        };
        let base = of("torch:eager");
        assert_eq!(base["is_baseline"], true, "{summary}");
        assert_eq!(base["status"], "ok");
        let opt = of("tract:optimized");
        assert_eq!(opt["status"], "ok", "{opt}");
        assert!(opt["speedup"]["ratio"].as_f64().unwrap() > 0.0, "{opt}");
    }
}
