//! Every engine whose library is missing says so: not available, with the reason and the one
//! command that fixes it, and preparing it is an `EngineUnavailable` error, never a panic.
//! This file is its own test process, so pointing the library paths at nothing here does not
//! affect the other suites.

use edgebench_core::engine::{Availability, EngineSpec, PrepareOptions};
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::testmodel::{tiny_cnn_bytes, TinyCnn};
use edgebench_core::Error;

/// Every test here starts with this: the paths are set once per process, before any engine
/// looks for its library.
fn point_libraries_at_nothing() {
    edgebench_engines::set_library_paths(edgebench_engines::LibraryPaths {
        ort: Some("/nonexistent/libonnxruntime.so".into()),
        openvino: Some("/nonexistent/libopenvino_c.so".into()),
    });
}

#[test]
fn missing_libraries_are_reported_with_a_fix() {
    point_libraries_at_nothing();
    let model = Model::from_bytes("tiny", tiny_cnn_bytes(&TinyCnn::default())).unwrap();
    let opts = PrepareOptions {
        inputs: model.resolve_inputs(&ShapeRequest::default()).unwrap(),
        threads: Some(1),
    };
    for (spec, flag, fix) in [
        (
            "ort:all",
            "--ort-lib /nonexistent",
            "pip install onnxruntime==",
        ),
        (
            "openvino:f32",
            "--openvino-lib /nonexistent",
            "pip install openvino==",
        ),
    ] {
        let spec = EngineSpec::parse(spec).unwrap();
        let engine = edgebench_engines::find(&spec.engine).unwrap();
        match engine.availability() {
            Availability::Unavailable { reason, fix: f } => {
                assert!(reason.contains(flag), "{spec}: {reason}");
                assert!(f.contains(fix), "{spec}: {f}");
                assert!(!reason.contains('\n') && !f.contains('\n'));
            }
            other => panic!("{spec}: {other:?}"),
        }
        match engine.prepare(&model, &spec, &opts) {
            Err(Error::EngineUnavailable { engine, .. }) => assert_eq!(engine, spec.to_string()),
            Err(e) => panic!("{spec}: {e}"),
            Ok(_) => panic!("{spec} prepared without its library"),
        }
    }

    // trtexec: an explicit path that is not there is named; without TensorRT on PATH the
    // engine is unavailable with the install hint.
    let trt = edgebench_engines::find("tensorrt").unwrap();
    let spec = EngineSpec::parse("tensorrt:fp16,trtexec=/nonexistent/trtexec").unwrap();
    match trt.prepare(&model, &spec, &opts) {
        Err(Error::EngineUnavailable { reason, fix, .. }) => {
            assert!(reason.contains("/nonexistent/trtexec"), "{reason}");
            assert!(fix.contains("TensorRT"), "{fix}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("prepared without trtexec"),
    }
    match trt.availability() {
        Availability::Unavailable { reason, fix } => {
            assert!(reason.contains("trtexec"), "{reason}");
            assert!(fix.contains("TensorRT"), "{fix}");
        }
        Availability::Available { .. } => {
            eprintln!("trtexec is installed here: absent path checked via trtexec=PATH only")
        }
        Availability::NotCompiled { .. } => panic!("tensorrt is always compiled"),
    }

    // tract-cuda without a GPU: not available with a reason, and no panic on the way.
    let cuda = edgebench_engines::find("tract-cuda").unwrap();
    match cuda.availability() {
        Availability::Unavailable { reason, fix } => {
            assert!(reason.starts_with("no usable CUDA"), "{reason}");
            assert!(fix.contains("NVIDIA"), "{fix}");
            let spec = EngineSpec::parse("tract-cuda").unwrap();
            assert!(matches!(
                cuda.prepare(&model, &spec, &opts),
                Err(Error::EngineUnavailable { .. })
            ));
        }
        Availability::Available { .. } => {
            eprintln!("a CUDA GPU is usable here: tract-cuda absent path not exercised")
        }
        Availability::NotCompiled { feature } => assert_eq!(feature, "tract-cuda"),
    }
}

#[test]
fn every_engine_is_listed_with_variants() {
    point_libraries_at_nothing();
    let names: Vec<&str> = edgebench_engines::all().iter().map(|e| e.name()).collect();
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
    for e in edgebench_engines::all() {
        if !matches!(e.availability(), Availability::NotCompiled { .. }) {
            assert!(!e.variants().is_empty(), "{}", e.name());
            for v in e.variants() {
                let spec = EngineSpec::parse(&v.spec).unwrap();
                assert_eq!(spec.engine, e.name());
                // torch's validate also asks its Python what it can do (CUDA, compile): that
                // is covered by crates/torch's own tests.
                if e.name() != "torch" {
                    e.validate(&spec)
                        .unwrap_or_else(|err| panic!("{}: {err}", v.spec));
                }
            }
        }
    }
}
