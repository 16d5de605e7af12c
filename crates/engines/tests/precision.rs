//! Proof that a low-precision variant ran in its precision, read from the engine: a tiny CNN
//! (`core::testmodel`) quantized by the real quantizer (`quant=int8`) or converted to float16
//! (`dtype=fp16`), prepared, run, read back (`Session::read_back`), and what the engine
//! reported recorded in `SessionInfo`; the ONNX Runtime profile parser on a saved real profile.
//!
//! ONNX Runtime, OpenVINO and the quantizer (ONNX Runtime's Python tool) are found at run
//! time; where one is missing its tests skip, or fail where `EDGEBENCH_REQUIRE` lists it.

use edgebench_core::engine::{Availability, Engine, EngineSpec, PrepareOptions, SessionInfo};
use edgebench_core::inputs::random_inputs;
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::precision::{self, PrecisionEvidence};
use edgebench_core::schema::Warning;
use edgebench_core::testmodel::{tiny_cnn_bytes, TinyCnn};
use std::sync::OnceLock;

fn model() -> Model {
    Model::from_bytes(
        "tiny_cnn",
        tiny_cnn_bytes(&TinyCnn {
            channels: 16,
            ..TinyCnn::default()
        }),
    )
    .unwrap()
}

/// The engine `name` when it can run here; else a skip (a failure under EDGEBENCH_REQUIRE).
fn engine(name: &str) -> Option<Box<dyn Engine>> {
    let e = edgebench_engines::find(name).unwrap();
    match e.availability() {
        Availability::Available { .. } => Some(e),
        other => {
            edgebench_core::testing::skip_or_fail(name, format_args!("{name}: {other:?}"));
            None
        }
    }
}

/// Whether ONNX Runtime's quantizer imports in the python3 on PATH (else a skip under `ort`).
/// The quantizer's cache goes to a folder of this test run.
fn quantizer() -> bool {
    static CACHE: OnceLock<std::path::PathBuf> = OnceLock::new();
    CACHE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        std::env::set_var("EDGEBENCH_CACHE_DIR", &dir);
        dir
    });
    let o = std::process::Command::new("python3")
        .args(["-c", "import onnxruntime.quantization"])
        .output();
    match o {
        Ok(o) if o.status.success() => true,
        other => {
            edgebench_core::testing::skip_or_fail(
                "ort",
                format_args!("python3 cannot import onnxruntime.quantization ({other:?})"),
            );
            false
        }
    }
}

/// Prepares `spec`, runs it once, reads back what ran.
fn ran(engine: &dyn Engine, spec: &str) -> SessionInfo {
    let m = model();
    let inputs = m.resolve_inputs(&ShapeRequest::default()).unwrap();
    let spec = EngineSpec::parse(spec).unwrap();
    engine.validate(&spec).unwrap();
    let mut s = engine
        .prepare(
            &m,
            &spec,
            &PrepareOptions {
                inputs: inputs.clone(),
                threads: Some(1),
            },
        )
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    s.set_inputs(&random_inputs(&inputs, 7).unwrap()).unwrap();
    s.run().unwrap();
    s.read_back();
    assert!(!s.outputs().unwrap().is_empty());
    s.info()
}

/// The evidence recorded, which must agree with the precision recorded.
fn evidence(info: &SessionInfo) -> PrecisionEvidence {
    let e = PrecisionEvidence::from_info(info)
        .unwrap_or_else(|| panic!("no precision evidence recorded: {:?}", info.details));
    assert_eq!(e.ran(), Some(info.precision.as_str()), "{info:?}");
    e
}

#[test]
fn ort_profile_of_a_quantized_model_counts_int8_kernels() {
    let json = include_str!("fixtures/ort-1.24.4-qdq-conv.profile.json");
    let e = edgebench_engines::proof::ort_profile(json, "fixture").unwrap();
    // QLinearConv and QGemm: both compute kernels ran on uint8 activations.
    assert_eq!(e.compute.get("int8"), Some(&2), "{e:?}");
    assert_eq!(e.compute.get("f32"), None, "{e:?}");
    // QuantizeLinear reads float32; the rest (Transpose, pooling, Flatten, DequantizeLinear)
    // read uint8.
    assert_eq!(e.kernels.get("f32"), Some(&1), "{e:?}");
    assert_eq!(e.kernels.get("int8"), Some(&7), "{e:?}");
    assert_eq!(e.ran(), Some("int8"));
    assert!(
        e.source
            .contains("8 kernel events (CPUExecutionProvider 8)"),
        "{}",
        e.source
    );
}

#[test]
fn ort_int8_ran_and_is_recorded() {
    let Some(ort) = engine("ort") else { return };
    if !quantizer() {
        return;
    }
    let info = ran(ort.as_ref(), "ort:all,quant=int8");
    assert_eq!(info.precision, "int8", "{info:?}");
    assert_eq!(info.details[precision::ASKED], "int8");
    let e = evidence(&info);
    assert!(e.compute.get("int8").copied().unwrap_or(0) >= 3, "{e:?}");
    assert!(e.source.contains("onnx runtime profile"), "{}", e.source);
    assert!(info.details["quant.model"].contains("QuantizeLinear"));
    // Synthetic calibration, and nothing else, is worth a warning.
    assert_eq!(
        precision::warnings(&info),
        vec![Warning::SyntheticCalibration]
    );
    // The float model on the same engine: float32 kernels, no warning.
    let f32 = ran(ort.as_ref(), "ort:all");
    assert_eq!(f32.precision, "f32", "{f32:?}");
    assert!(precision::warnings(&f32).is_empty());
}

#[test]
fn ort_fp16_what_ran_is_recorded() {
    let Some(ort) = engine("ort") else { return };
    let info = ran(ort.as_ref(), "ort:all,dtype=fp16");
    assert_eq!(info.details[precision::ASKED], "f16");
    let e = evidence(&info);
    // What ran is what the profile says: float16 kernels, or float32 ones behind casts where
    // ONNX Runtime's CPU provider has no float16 kernel, which must then be a warning.
    let w = precision::warnings(&info);
    if info.precision == "f16" && e.share("f16") >= precision::MIN_SHARE {
        assert!(w.is_empty(), "{w:?}");
    } else {
        assert!(
            matches!(&w[..], [Warning::PrecisionNotRun { asked, .. }] if asked == "f16"),
            "{info:?} {w:?}"
        );
    }
    // ONNX Runtime 1.24.4's CPU provider on x86 has no float16 convolution: its optimizer
    // casts the float16 model back to float32 and every kernel of the profile reads float32,
    // which is what is recorded here.
    assert!(e.compute.values().sum::<usize>() >= 3, "{e:?}");
}

#[test]
fn openvino_int8_ran_and_is_recorded() {
    let Some(ov) = engine("openvino") else { return };
    if !quantizer() {
        return;
    }
    let info = ran(ov.as_ref(), "openvino:f32,quant=int8");
    assert_eq!(info.precision, "int8", "{info:?}");
    assert_eq!(info.details[precision::ASKED], "int8");
    let e = evidence(&info);
    assert!(e.compute.get("int8").copied().unwrap_or(0) >= 3, "{e:?}");
    assert!(e.source.contains("performance counters"), "{}", e.source);
    assert_eq!(
        precision::warnings(&info),
        vec![Warning::SyntheticCalibration]
    );
}

#[test]
fn openvino_f16_is_recorded_as_what_ran() {
    let Some(ov) = engine("openvino") else { return };
    let info = ran(ov.as_ref(), "openvino:f16");
    assert_eq!(info.details[precision::ASKED], "f16");
    let e = evidence(&info);
    // A CPU without float16 arithmetic runs bf16 (AVX512-BF16) or f32 for it: recorded, and
    // a warning; one with it runs f16.
    let w = precision::warnings(&info);
    if info.precision == "f16" {
        assert!(w.is_empty(), "{w:?}");
    } else {
        assert!(
            matches!(&w[..], [Warning::PrecisionNotRun { asked, ran, .. }] if asked == "f16" && *ran == info.precision),
            "{info:?} {w:?}"
        );
    }
    assert!(e.compute.values().sum::<usize>() >= 3, "{e:?}");
    let f32 = ran(ov.as_ref(), "openvino:f32");
    assert_eq!(f32.precision, "f32", "{f32:?}");
    assert!(precision::warnings(&f32).is_empty(), "{f32:?}");
}

#[test]
fn bad_option_values_are_refused_before_anything_runs() {
    for (spec, needle) in [
        ("ort:all,quant=int4", "quant=int8"),
        ("ort:all,dtype=int8", "quant=int8"),
        ("ort:all,dtype=fp16,quant=int8", "give one of them"),
        ("ort:all,calib=/tmp", "add quant=int8"),
        ("ort:all,quant=int8,calib=/no/such/folder", "no such folder"),
        ("openvino:f32,quant=u8", "quant=int8"),
        ("tract:optimized,quant=int8", "no int8 variant"),
    ] {
        let s = EngineSpec::parse(spec).unwrap();
        let Ok(e) = edgebench_engines::find(&s.engine) else {
            continue;
        };
        let err = e.validate(&s).unwrap_err().to_string();
        assert!(err.contains(needle), "{spec}: {err}");
        assert!(!err.contains('\n'), "{spec}: {err}");
    }
}
