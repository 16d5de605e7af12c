//! The TensorRT engine end to end against a stand-in for trtexec (`tests/standin/trtexec.py`)
//! that follows the real tool's rules and formats for 8.2, 8.6, 10.16 and 11.1: strict
//! `--flag=value` arguments, the options each version knows, the static-shape rule, input
//! file sizes, `--exportTimes`/`--exportOutput`/`--exportLayerInfo`. No TensorRT exists here:
//! this is what the engine is verified against. The stand-in needs /usr/bin/python3 with
//! `onnx` and `numpy` (CI installs python3-onnx).

use edgebench_core::bench::{finish, run_variants, BenchOptions};
use edgebench_core::engine::{Availability, Engine, EngineSpec, PrepareOptions};
use edgebench_core::gate::ToleranceOverride;
use edgebench_core::inputs::random_inputs;
use edgebench_core::measure::{MeasureOptions, StopReason};
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::schema::Status;
use edgebench_core::testmodel::{tiny_cnn_bytes, TinyCnn};
use edgebench_engines::tensorrt::TensorRt;
use std::path::Path;
use std::process::Command;

use edgebench_engines::tensorrt::standin::{available as have_standin, trtexec as tool};

/// Every command line the tool was called with.
fn calls(tool: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(tool.with_file_name("calls.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn model(dynamic: bool) -> Model {
    Model::from_bytes(
        "tiny",
        tiny_cnn_bytes(&TinyCnn {
            dynamic_batch: dynamic,
            size: 16,
            ..Default::default()
        }),
    )
    .unwrap()
}

fn quick() -> MeasureOptions {
    MeasureOptions {
        warmup_s: 0.05,
        min_warmup_runs: 2,
        min_samples: 5,
        max_samples: 10_000,
        max_time_s: 0.5,
        target_rel_ci: 0.01,
        min_time_s: 0.0,
    }
}

fn options(m: &Model, batch: Option<usize>) -> BenchOptions {
    BenchOptions {
        inputs: m
            .resolve_inputs(&ShapeRequest {
                shapes: vec![],
                batch,
            })
            .unwrap(),
        batch: batch.unwrap_or(1),
        threads: Some(1),
        seed: 7,
        measure: quick(),
        rounds: 1,
        target_fps: 30.0,
        gate_input_sets: 2,
        telemetry: None,
        scenario: None,
    }
}

/// tract:reference and the given TensorRT specs through edgebench's whole run and gate.
fn bench(
    m: &Model,
    specs: &[String],
    batch: Option<usize>,
) -> Vec<edgebench_core::schema::VariantResult> {
    let tract = edgebench_engines::find("tract").unwrap();
    let trt = TensorRt;
    let mut parsed = vec![EngineSpec::parse("tract:reference").unwrap()];
    parsed.extend(specs.iter().map(|s| EngineSpec::parse(s).unwrap()));
    let variants: Vec<(&dyn Engine, &EngineSpec)> = parsed
        .iter()
        .map(|s| {
            let e: &dyn Engine = if s.engine == "tract" {
                tract.as_ref()
            } else {
                &trt
            };
            (e, s)
        })
        .collect();
    let opts = options(m, batch);
    let mut runs = run_variants(&variants, m, &opts, &mut |_| {}, None);
    finish(&mut runs, 0, &ToleranceOverride::default(), 3, 7);
    runs.into_iter().map(|r| r.result).collect()
}

fn is_bool_flag(a: &str) -> bool {
    [
        "--fp16",
        "--int8",
        "--best",
        "--skipInference",
        "--buildOnly",
    ]
    .contains(&a)
}

#[test]
fn static_and_dynamic_models_build_and_time_on_every_version() {
    if !have_standin() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    for version in ["8.2.5", "8.6.1", "10.16.0", "11.1.0"] {
        let t = tool(root.path(), version, "NVIDIA H200", "");
        for dynamic in [false, true] {
            let m = model(dynamic);
            let cache = root.path().join("cache");
            let spec = format!(
                "tensorrt:fp32,trtexec={},cache={}",
                t.display(),
                cache.display()
            );
            let batch = dynamic.then_some(2);
            let r = bench(&m, std::slice::from_ref(&spec), batch);
            let trt = &r[1];
            assert_eq!(
                trt.status,
                Status::Ok,
                "{version} dynamic={dynamic}: {:?}",
                trt.error
            );
            let accuracy = trt.accuracy.as_ref().expect("gate ran");
            assert!(accuracy.passed, "{version}: {accuracy:?}");
            let s = trt.session.as_ref().unwrap();
            assert_eq!(s.engine_version, version);
            assert_eq!(s.details["gpu"], "NVIDIA H200");
            assert!(trt.samples >= 5, "{version}: {} samples", trt.samples);
            assert!(trt.prepare_ms.is_some_and(|p| p > 0.0));
            let per_query: serde_json::Value =
                serde_json::from_str(&s.details["trtexec_per_query_ms"]).unwrap();
            for k in ["enqueue", "h2d", "compute", "d2h"] {
                assert_eq!(per_query[k].as_array().unwrap().len(), trt.samples, "{k}");
            }
            let log = calls(&t);
            let build = log
                .iter()
                .rev()
                .find(|c| c.iter().any(|a| a.starts_with("--onnx=")))
                .expect("a build call");
            let timing = log
                .iter()
                .rev()
                .find(|c| c.iter().any(|a| a.starts_with("--exportTimes=")))
                .expect("a timing call");
            for a in build.iter().chain(timing) {
                assert!(
                    a.starts_with("--") && (a.contains('=') || is_bool_flag(a)),
                    "{version}: `{a}` is not --flag=value"
                );
            }
            let shaped = |c: &Vec<String>| {
                c.iter()
                    .filter(|a| a.contains("Shapes=") || a.starts_with("--shapes="))
                    .cloned()
                    .collect::<Vec<_>>()
            };
            if dynamic {
                assert_eq!(s.details["shapes_given"], "input:2x3x16x16");
                assert!(shaped(build).contains(&"--optShapes=input:2x3x16x16".to_string()));
                assert_eq!(shaped(timing), vec!["--shapes=input:2x3x16x16"]);
            } else {
                assert_eq!(s.details["shapes_given"], "none (static model)");
                assert!(shaped(build).is_empty(), "{version}: {build:?}");
                assert!(shaped(timing).is_empty(), "{version}: {timing:?}");
            }
        }
    }
}

#[test]
fn precisions_record_what_the_layers_ran() {
    if !have_standin() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let m = model(false);
    for version in ["8.6.1", "10.16.0"] {
        let t = tool(root.path(), version, "Orin", "");
        let spec = |p: &str| {
            format!(
                "tensorrt:{p},trtexec={},cache={}",
                t.display(),
                root.path().join("c").display()
            )
        };
        let r = bench(&m, &[spec("fp16"), spec("best"), spec("int8")], None);
        let (fp16, best, int8) = (&r[1], &r[2], &r[3]);
        for v in [fp16, best, int8] {
            assert_eq!(v.status, Status::Ok, "{version} {}: {:?}", v.spec, v.error);
        }
        let s = |v: &edgebench_core::schema::VariantResult| v.session.clone().unwrap();
        assert!(calls(&t).iter().any(|c| c.contains(&"--fp16".to_string())));
        assert_eq!(s(fp16).precision, "f16");
        assert_eq!(s(fp16).details["layer_precisions"], "f16 7, f32 1");
        // `best` records the mix, and the gate judges it by its lowest precision.
        assert_eq!(s(best).precision, "int8");
        assert!(
            s(best).details["layer_precisions"].contains("int8 2"),
            "{:?}",
            s(best).details
        );
        assert!(s(best).details["layer_precisions"].contains("f16"));
        assert_eq!(s(int8).precision, "int8");
    }
}

#[test]
fn tensorrt_11_converts_fp16_and_refuses_the_other_flags() {
    if !have_standin() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let t = tool(root.path(), "11.1.0", "NVIDIA H200", "");
    let m = model(false);
    let spec = |p: &str| {
        format!(
            "tensorrt:{p},trtexec={},cache={}",
            t.display(),
            root.path().join("c").display()
        )
    };
    let r = bench(&m, &[spec("fp16"), spec("int8"), spec("best")], None);
    // fp16 builds a float16 copy of the float32 model; it computes what the reference does.
    let fp16 = &r[1];
    assert_eq!(fp16.status, Status::Ok, "{:?}", fp16.error);
    assert!(fp16.accuracy.as_ref().unwrap().passed);
    let s = fp16.session.as_ref().unwrap();
    assert_eq!(s.precision, "f16");
    let converted = Path::new(&s.details["converted_to_fp16"]);
    let built_from = calls(&t)
        .into_iter()
        .flatten()
        .find(|a| a.starts_with("--onnx="))
        .unwrap();
    assert_eq!(built_from, format!("--onnx={}", converted.display()));
    let half = Model::from_path(converted).unwrap();
    assert_eq!(half.inputs, m.inputs, "inputs stay float32");
    assert_eq!(half.outputs, m.outputs, "outputs stay float32");
    // int8 quantizes the float32 model first (TensorRT 11 takes int8 only from Q/DQ nodes)
    // and builds the Q/DQ copy; the precision recorded is the one the layers report.
    let int8 = &r[2];
    assert_eq!(int8.status, Status::Ok, "{:?}", int8.error);
    assert_eq!(int8.session.as_ref().unwrap().precision, "int8");
    let qdq = calls(&t)
        .into_iter()
        .flatten()
        .filter_map(|a| a.strip_prefix("--onnx=").map(str::to_owned))
        .find(|p| {
            Model::from_path(Path::new(p)).is_ok_and(|q| {
                q.proto
                    .graph
                    .as_ref()
                    .is_some_and(|g| g.node.iter().any(|n| n.op_type == "QuantizeLinear"))
            })
        });
    assert!(qdq.is_some(), "no build was given a Q/DQ model");
    // best has no meaning for a strongly typed network.
    let e = r[3].error.as_deref().unwrap();
    assert_eq!(r[3].status, Status::Failed);
    assert!(e.contains("strongly typed") && e.contains("--best"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    // No call carried a precision flag TensorRT 11 does not know.
    for c in calls(&t) {
        assert!(
            !c.iter()
                .any(|a| ["--fp16", "--int8", "--best"].contains(&a.as_str())),
            "{c:?}"
        );
    }
}

#[test]
fn the_standin_keeps_the_real_rules() {
    // What the engine is tested against must refuse what trtexec refuses.
    if !have_standin() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let onnx = root.path().join("static.onnx");
    std::fs::write(&onnx, tiny_cnn_bytes(&TinyCnn::default())).unwrap();
    let run = |version: &str, args: &[String]| {
        let t = tool(root.path(), version, "NVIDIA H200", "");
        let o = Command::new(&t).args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    let onnx_arg = format!("--onnx={}", onnx.display());
    let (code, log) = run(
        "10.16.0",
        &[
            onnx_arg.clone(),
            "--shapes=input:1x3x32x32".into(),
            "--skipInference".into(),
        ],
    );
    assert_eq!(code, Some(1));
    assert!(
        log.contains("Static model does not take explicit shapes"),
        "{log}"
    );
    assert!(
        log.contains("&&&& FAILED TensorRT.trtexec [TensorRT v101600] [b72]"),
        "{log}"
    );
    let (code, log) = run("10.16.0", &["--onnx".into(), onnx.display().to_string()]);
    assert_eq!(code, Some(1));
    assert!(log.contains("Unknown option: "), "{log}");
    let (code, log) = run(
        "11.1.0",
        &[onnx_arg.clone(), "--fp16".into(), "--skipInference".into()],
    );
    assert_eq!(code, Some(1));
    assert!(log.contains("Unknown option: --fp16"), "{log}");
    let (code, log) = run("8.6.1", &[onnx_arg, "--skipInference".into()]);
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.starts_with("&&&& RUNNING TensorRT.trtexec [TensorRT v8601] #"),
        "{log}"
    );
}

#[test]
fn an_explicit_trtexec_is_available_and_versions_stay_per_path() {
    if !have_standin() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let a = tool(root.path(), "8.6.1", "Orin", "");
    let b = tool(root.path(), "10.16.0", "Orin", "");
    let version = |t: &Path| match TensorRt.availability_for(
        &EngineSpec::parse(&format!("tensorrt:fp16,trtexec={}", t.display())).unwrap(),
    ) {
        Availability::Available { version, .. } => version,
        other => panic!("{other:?}"),
    };
    assert_eq!(version(&a), "8.6.1");
    assert_eq!(version(&b), "10.16.0");
    assert_eq!(version(&a), "8.6.1");
}

#[test]
fn the_engine_cache_is_keyed_by_gpu_and_shapes() {
    if !have_standin() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("cache");
    let m = model(true);
    let prepare = |t: &Path, batch: usize| {
        let spec = EngineSpec::parse(&format!(
            "tensorrt:fp16,trtexec={},cache={}",
            t.display(),
            cache.display()
        ))
        .unwrap();
        let inputs = m
            .resolve_inputs(&ShapeRequest {
                shapes: vec![],
                batch: Some(batch),
            })
            .unwrap();
        let s = TensorRt
            .prepare(
                &m,
                &spec,
                &PrepareOptions {
                    inputs,
                    threads: None,
                },
            )
            .unwrap();
        s.info().details["engine_cache"].clone()
    };
    let h200 = tool(root.path(), "10.16.0", "NVIDIA H200", "");
    let orin = tool(root.path(), "10.16.0", "Orin", "");
    assert_eq!(prepare(&h200, 1), "built");
    assert_eq!(prepare(&h200, 1), "hit");
    assert_eq!(prepare(&orin, 1), "built");
    assert_eq!(prepare(&h200, 4), "built");
    assert_eq!(prepare(&orin, 1), "hit");
}

#[test]
fn measurement_follows_edgebench_sampling_rules() {
    if !have_standin() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let t = tool(
        root.path(),
        "10.16.0",
        "NVIDIA H200",
        "export TRTEXEC_STANDIN_LATENCY_MS=2",
    );
    let m = model(false);
    let inputs = m.resolve_inputs(&ShapeRequest::default()).unwrap();
    let spec = EngineSpec::parse(&format!(
        "tensorrt:fp32,trtexec={},cache={}",
        t.display(),
        root.path().join("c").display()
    ))
    .unwrap();
    let mut s = TensorRt
        .prepare(
            &m,
            &spec,
            &PrepareOptions {
                inputs: inputs.clone(),
                threads: None,
            },
        )
        .unwrap();
    s.set_inputs(&random_inputs(&inputs, 1).unwrap()).unwrap();
    // A target that is never met: sampling stops at the sample limit, exactly. The first
    // call samples a tenth of the 1 s limit (about 50 queries), later calls the rest.
    let opts = MeasureOptions {
        target_rel_ci: 0.0,
        min_samples: 10,
        max_samples: 137,
        max_time_s: 1.0,
        ..quick()
    };
    let before = calls(&t).len();
    let m1 = s.measure_self(&opts).unwrap().unwrap();
    assert_eq!(m1.samples_ms.len(), 137);
    assert_eq!(m1.stop_reason, StopReason::SampleLimit);
    assert!(
        calls(&t).len() - before > 1,
        "more trtexec calls were needed"
    );
    // The first query is the first run; 50 ms of warm-up at 2 ms a query is over 20 queries.
    assert!(
        m1.first_run_ms > 1.0 && m1.first_run_ms < 3.0,
        "{}",
        m1.first_run_ms
    );
    assert!(m1.warmup_runs >= 20, "{}", m1.warmup_runs);
    // A steady 2 ms model meets a 1% target as soon as the minimum samples allow.
    let m2 = s.measure_self(&quick()).unwrap().unwrap();
    assert_eq!(m2.stop_reason, StopReason::TargetReached);
    // A minimum time keeps sampling: 0.3 s at about 2 ms a query.
    let m3 = s
        .measure_self(&MeasureOptions {
            min_time_s: 0.3,
            ..quick()
        })
        .unwrap()
        .unwrap();
    assert!(m3.samples_ms.len() >= 120, "{}", m3.samples_ms.len());
    let details = s.info().details;
    assert!(
        details["trtexec_median_ms"].contains("gpu compute"),
        "{details:?}"
    );
}

#[test]
fn a_hanging_trtexec_is_killed_with_its_group() {
    if !have_standin() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let pids = root.path().join("pids");
    let t = tool(
        root.path(),
        "10.16.0",
        "NVIDIA H200",
        &format!(
            "export TRTEXEC_STANDIN_HANG=1\nexport TRTEXEC_STANDIN_PIDS='{}'",
            pids.display()
        ),
    );
    let m = model(false);
    let r = bench(
        &m,
        &[format!(
            "tensorrt:fp32,trtexec={},cache={},timeout=2",
            t.display(),
            root.path().join("c").display()
        )],
        None,
    );
    assert_eq!(r[1].status, Status::Failed);
    let e = r[1].error.as_deref().unwrap();
    assert!(e.contains("killed with its process group"), "{e}");
    let ids: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "the stand-in and the child it forked");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let alive = |p: i32| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| !r.trim_start().starts_with(['Z', 'X']))
            })
            .unwrap_or(false)
    };
    while ids.iter().any(|&p| alive(p)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for p in ids {
        assert!(!alive(p), "{p} outlived the time limit");
    }
}
