//! The torch engine and the export, end to end with the real worker. Skipped (with a
//! message) where no Python with torch is found.

mod common;

use common::*;
use edgebench_core::engine::{Engine, EngineSpec, PrepareOptions};
use edgebench_core::gate::{compare, Tolerance};
use edgebench_core::inputs::random_inputs;
use edgebench_core::measure::{relative_half_width, MeasureOptions, StopReason};
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_torch::export::{export, ExportInput, ExportOptions};
use edgebench_torch::source::meta;
use edgebench_torch::worker::{Timeouts, Worker};
use edgebench_torch::{python, Torch, TorchSource};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

fn quick() -> MeasureOptions {
    MeasureOptions {
        warmup_s: 0.05,
        min_warmup_runs: 2,
        min_samples: 5,
        max_samples: 30,
        max_time_s: 0.5,
        target_rel_ci: 0.01,
        min_time_s: 0.0,
    }
}

fn export_tiny(py: &Path, dir: &Path, factory: &str) -> Result<Model, edgebench_torch::TorchError> {
    let info = python::discover_with(Some(py)).unwrap();
    let src = format!(
        "{}:{factory}",
        python_tests_dir().join("tiny_model.py").display()
    );
    let (report, model) = export(
        &info,
        &ExportOptions {
            source: TorchSource::parse(&src, None).unwrap(),
            inputs: vec![ExportInput {
                name: "input".into(),
                shape: vec![2, 3, 16, 16],
            }],
            output: dir.join("tiny.onnx"),
            opset: OPSET,
            seed: 3,
            dynamic_batch: false,
        },
    )?;
    assert_eq!(report.opset, OPSET);
    assert_eq!(report.outputs[0].shape, vec![2, 5]);
    assert!(report.unsupported.is_empty(), "{:?}", report.unsupported);
    assert!(report.parameters > 0);
    Ok(model)
}

/// Prepares `spec` on `model`, measures it briefly and returns its outputs on `inputs`.
fn run_torch(
    py: &Path,
    model: &Model,
    spec: &str,
    seed: u64,
) -> Vec<edgebench_core::tensor::HostTensor> {
    let specs = model.resolve_inputs(&ShapeRequest::default()).unwrap();
    let engine = Torch::with_python(py);
    let spec = EngineSpec::parse(spec).unwrap();
    engine.validate(&spec).unwrap();
    let mut s = engine
        .prepare(
            model,
            &spec,
            &PrepareOptions {
                inputs: specs.clone(),
                threads: Some(1),
            },
        )
        .unwrap();
    let info = s.info();
    assert_eq!(info.device, "cpu");
    assert_eq!(info.precision, "f32");
    assert_eq!(info.threads, Some(1));
    assert!(info.details.contains_key("python_path"));
    s.set_inputs(&random_inputs(&specs, seed).unwrap()).unwrap();
    let m = s
        .measure_self(&quick())
        .expect("torch measures itself")
        .unwrap();
    // At most max_samples; at least min_samples unless the time limit came first (a slow
    // torch: torch 1.8's CPU kernels on a busy 2-core machine).
    assert!(!m.samples_ms.is_empty() && m.samples_ms.len() <= 30);
    if m.stop_reason != StopReason::TimeLimit {
        assert!(m.samples_ms.len() >= 5, "{:?}", m.stop_reason);
    }
    assert!(m.samples_ms.iter().all(|&x| x > 0.0));
    assert!(m.warmup_runs >= 2);
    assert!(matches!(
        m.stop_reason,
        StopReason::TargetReached | StopReason::TimeLimit | StopReason::SampleLimit
    ));
    s.outputs().unwrap()
}

#[test]
fn export_records_its_provenance_and_the_eager_engine_matches_tract() {
    let Some(py) = torch_python("export_records_its_provenance_and_the_eager_engine_matches_tract")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model = export_tiny(&py, dir.path(), "make").unwrap();
    let meta: std::collections::BTreeMap<_, _> = model
        .proto
        .metadata_props
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    assert!(
        meta[meta::SOURCE].contains("\"factory\":\"make\""),
        "{meta:?}"
    );
    assert_eq!(meta[meta::SEED], "3");
    assert_eq!(meta[meta::OPSET], OPSET.to_string());
    assert!(!meta[meta::TORCH_VERSION].is_empty());
    // No scratch file is left beside the output.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("tiny.onnx")]);

    // The engine rebuilds the module from the recorded source and seed: same function as
    // the exported graph, on the same inputs.
    let specs = model.resolve_inputs(&ShapeRequest::default()).unwrap();
    let inputs = random_inputs(&specs, 11).unwrap();
    let torch_out = run_torch(&py, &model, "torch:eager", 11);
    let tract_out = tract_outputs(&model, &specs, &inputs);
    let a = compare(
        &[tract_out],
        std::slice::from_ref(&torch_out),
        Tolerance::for_precision("f32"),
    );
    assert!(a.passed, "{a:?}");
    assert_eq!(torch_out[0].name, "output");
    assert_eq!(torch_out[0].shape, vec![2, 5]);

    // channels_last computes the same function.
    let cl = run_torch(&py, &model, "torch:eager,channels_last", 11);
    let a = compare(&[torch_out], &[cl], Tolerance::for_precision("f32"));
    assert!(a.passed, "{a:?}");
}

#[test]
fn prints_from_the_model_do_not_corrupt_the_protocol() {
    let Some(py) = torch_python("prints_from_the_model_do_not_corrupt_the_protocol") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model = export_tiny(&py, dir.path(), "noisy").unwrap();
    let out = run_torch(&py, &model, "torch:eager", 1);
    assert_eq!(out[0].shape, vec![2, 5]);
}

#[test]
fn export_errors_name_the_problem() {
    let Some(py) = torch_python("export_errors_name_the_problem") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let e = export_tiny(&py, dir.path(), "not_a_module")
        .unwrap_err()
        .to_string();
    assert!(e.contains("returned int, not a torch.nn.Module"), "{e}");
    let e = export_tiny(&py, dir.path(), "missing")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("has no function `missing`") && e.contains("make"),
        "{e}"
    );
    let info = python::discover_with(Some(&py)).unwrap();
    let e = export(
        &info,
        &ExportOptions {
            source: TorchSource::parse("tv:resnet9000", None).unwrap(),
            inputs: vec![ExportInput {
                name: "input".into(),
                shape: vec![1, 3, 32, 32],
            }],
            output: dir.path().join("x.onnx"),
            opset: OPSET,
            seed: 0,
            dynamic_batch: false,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("has no model `resnet9000`"), "{e}");
    // The newest opset edgebench accepts: written by a torch whose exporter has it, refused
    // with the newest it has by an older one (torch 1.13 writes up to 17, torch 1.8 up to 13).
    let newest = *edgebench_torch::export::OPSETS.end();
    let tiny = format!(
        "{}:make",
        python_tests_dir().join("tiny_model.py").display()
    );
    match export(
        &info,
        &ExportOptions {
            source: TorchSource::parse(&tiny, None).unwrap(),
            inputs: vec![ExportInput {
                name: "input".into(),
                shape: vec![1, 3, 16, 16],
            }],
            output: dir.path().join("newest.onnx"),
            opset: newest,
            seed: 0,
            dynamic_batch: false,
        },
    ) {
        Ok((report, _)) => {
            assert_eq!(report.opset, newest);
            std::fs::remove_file(dir.path().join("newest.onnx")).unwrap();
        }
        Err(e) => {
            let e = e.to_string();
            assert!(
                e.contains("exports ONNX opsets up to") && e.contains("pass --opset"),
                "{e}"
            );
        }
    }
    // Nothing half-written is left behind.
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn a_zoo_model_runs_as_its_torchvision_twin_with_the_zoo_weights() {
    let Some(py) = torch_python("a_zoo_model_runs_as_its_torchvision_twin_with_the_zoo_weights")
    else {
        return;
    };
    let spec = edgebench_zoo::ZooSpec::parse("mobilenet_v3_small?classes=10").unwrap();
    let model = Model::from_bytes(
        "zoo:mobilenet_v3_small?classes=10",
        edgebench_zoo::build_bytes(&spec).unwrap(),
    )
    .unwrap();
    let specs = model.resolve_inputs(&ShapeRequest::default()).unwrap();
    let inputs = random_inputs(&specs, 5).unwrap();
    let torch_out = run_torch(&py, &model, "torch:eager", 5);
    assert_eq!(torch_out[0].shape, vec![1, 10]);
    let tract_out = tract_outputs(&model, &specs, &inputs);
    let a = compare(&[tract_out], &[torch_out], Tolerance::for_precision("f32"));
    assert!(a.passed, "{a:?}");
}

#[test]
fn plain_onnx_files_are_refused_with_the_way_out() {
    let Some(py) = torch_python("plain_onnx_files_are_refused_with_the_way_out") else {
        return;
    };
    // A model with no PyTorch source anywhere.
    let bytes = edgebench_core::testmodel::tiny_cnn_bytes(&Default::default());
    let model = Model::from_bytes("tiny.onnx", bytes).unwrap();
    let specs = model.resolve_inputs(&ShapeRequest::default()).unwrap();
    let e = Torch::with_python(&py)
        .prepare(
            &model,
            &EngineSpec::parse("torch:eager").unwrap(),
            &PrepareOptions {
                inputs: specs,
                threads: None,
            },
        )
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("edgebench export") && e.contains("pipeline"),
        "{e}"
    );
}

#[test]
fn the_worker_stopping_rule_statistic_equals_rusts() {
    let Some(py) = torch_python("the_worker_stopping_rule_statistic_equals_rusts") else {
        return;
    };
    let mut w = Worker::start(&py, false, Timeouts::default()).unwrap();
    let mut x = 12345u64;
    for n in [6usize, 7, 10, 31, 100, 257] {
        let mut samples: Vec<f64> = (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                5.0 + (x >> 40) as f64 / (1u64 << 24) as f64
            })
            .collect();
        let reply = w
            .request("ci", json!({ "samples": samples }), Duration::from_secs(30))
            .unwrap();
        samples.sort_unstable_by(f64::total_cmp);
        let rust = relative_half_width(&samples);
        let python = reply["rel_half_width"].as_f64().unwrap();
        assert!(
            (rust - python).abs() < 1e-12,
            "n={n}: rust {rust}, python {python}"
        );
    }
}

/// `compile=MODE` on the torch found here. Where it has no `torch.compile` (Debian's 1.13),
/// both the spec check and the worker itself (a request that skipped the check) refuse in one
/// line naming the fix, and the worker names the modes for an unknown one; where it has one,
/// the default mode compiles during prepare, computes what eager computes, and the session
/// records the mode, the first call on its own and, on the CPU, that no CUDA graph ran.
#[test]
fn compile_modes_are_recorded_from_torch_or_refused_in_one_line() {
    let Some(py) = torch_python("compile_modes_are_recorded_from_torch_or_refused_in_one_line")
    else {
        return;
    };
    let info = python::discover_with(Some(&py)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = export_tiny(&py, dir.path(), "make").unwrap();
    let engine = Torch::with_python(&py);
    let tiny = python_tests_dir().join("tiny_model.py");
    let load = |w: &mut Worker, compile: &str| {
        w.request(
            "load",
            json!({
                "source": {"kind": "module", "file": tiny, "factory": "make"},
                "seed": 3,
                "weights": null,
                "inputs": [{"name": "input", "shape": [2, 3, 16, 16], "dtype": "f32"}],
                "compile": compile,
            }),
            Duration::from_secs(600),
        )
    };
    if !info.hello.compile {
        for mode in ["compile", "compile=default", "compile=max-autotune"] {
            let e = engine
                .validate(&EngineSpec::parse(&format!("torch:eager,{mode}")).unwrap())
                .unwrap_err()
                .to_string();
            assert!(e.contains("torch.compile needs torch 2.0"), "{e}");
            assert!(e.contains("pip install 'torch>=2'"), "{e}");
        }
        let mut w = Worker::start(&py, false, Timeouts::default()).unwrap();
        let e = load(&mut w, "reduce-overhead").unwrap_err().to_string();
        assert!(
            e.contains("torch.compile needs torch 2.0 or newer and this is torch"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        let e = load(&mut w, "turbo").unwrap_err().to_string();
        assert!(
            e.contains("compile=turbo is not one of default, reduce-overhead, max-autotune, max-autotune-no-cudagraphs"),
            "{e}"
        );
        return;
    }
    let specs = model.resolve_inputs(&ShapeRequest::default()).unwrap();
    let spec = EngineSpec::parse("torch:eager,compile").unwrap();
    engine.validate(&spec).unwrap();
    let mut s = engine
        .prepare(
            &model,
            &spec,
            &PrepareOptions {
                inputs: specs.clone(),
                threads: Some(1),
            },
        )
        .unwrap();
    let d = s.info().details;
    assert_eq!(d["compile_mode"], "default", "{d:?}");
    assert!(
        d["compile_first_call_ms"].parse::<f64>().unwrap() > 0.0,
        "{d:?}"
    );
    assert_eq!(
        d["compile_cuda_graphs"], "no: CUDA graphs need device=cuda",
        "{d:?}"
    );
    s.set_inputs(&random_inputs(&specs, 11).unwrap()).unwrap();
    s.run().unwrap();
    let compiled = s.outputs().unwrap();
    let eager = run_torch(&py, &model, "torch:eager", 11);
    let a = compare(&[eager], &[compiled], Tolerance::for_precision("f32"));
    assert!(a.passed, "{a:?}");
}
