//! The weights PyTorch sources get (issue 12, point 2): torchvision models the zoo has get
//! the zoo's deterministic weights, other random initialisations are rescaled so that
//! activations are of order 1, and weights a factory set itself are left alone; the result
//! records which. Skipped (with a message) where no Python with torch is found.

mod common;

use common::*;
use edgebench_core::engine::{EngineSpec, PrepareOptions, Session};
use edgebench_core::gate::{compare, Tolerance};
use edgebench_core::inputs::random_inputs;
use edgebench_core::model::ShapeRequest;
use edgebench_core::tensor::{ConcreteSpec, DType};
use edgebench_torch::export::{export, ExportInput, ExportOptions};
use edgebench_torch::source::{meta, Weights};
use edgebench_torch::{python, Torch, TorchSource};
use std::path::Path;

fn open(
    py: &Path,
    source: &str,
    shape: &[usize],
) -> (edgebench_torch::engine::TorchSession, Vec<ConcreteSpec>) {
    let specs = vec![ConcreteSpec {
        name: "input".into(),
        dtype: DType::F32,
        shape: shape.to_vec(),
    }];
    let mut s = Torch::with_python(py)
        .open_source(
            &TorchSource::parse(source, None).unwrap(),
            0,
            &EngineSpec::parse("torch:eager").unwrap(),
            &PrepareOptions {
                inputs: specs.clone(),
                threads: Some(2),
            },
        )
        .unwrap_or_else(|e| panic!("{source}: {e}"));
    s.set_inputs(&random_inputs(&specs, 0).unwrap()).unwrap();
    (s, specs)
}

/// Logits of order 1: the median |logit| between 1e-2 and 1e3.
fn well_scaled(median: f64) -> bool {
    (1e-2..=1e3).contains(&median)
}

#[test]
fn every_torchvision_model_the_zoo_has_gets_its_weights_with_logits_of_order_one_and_no_subnormals()
{
    let Some(py) = torch_python("every_torchvision_model_the_zoo_has_gets_its_weights") else {
        return;
    };
    let entries: Vec<_> = edgebench_zoo::list()
        .into_iter()
        .filter(|e| e.torchvision.is_some())
        .collect();
    assert!(entries.len() >= 19, "{} twins", entries.len());
    let mut bad = vec![];
    for e in entries {
        let tv = e.torchvision.unwrap();
        let (mut s, _) = open(&py, &format!("tv:{tv}"), &e.input_shape);
        let details = s.info().details;
        assert_eq!(details["weights"], Weights::ZOO, "tv:{tv}: {details:?}");
        let a = s.activations().unwrap();
        eprintln!(
            "tv:{tv}: median |logit| {:.3e}, {} module outputs, smallest non-zero |x| {:?}",
            a.output_median_abs, a.modules, a.min_nonzero_abs
        );
        if !well_scaled(a.output_median_abs) {
            bad.push(format!(
                "tv:{tv}: median |logit| {:.3e}",
                a.output_median_abs
            ));
        }
        if !a.subnormal.is_empty() {
            bad.push(format!("tv:{tv}: subnormal outputs in {:?}", a.subnormal));
        }
        if !a.non_finite.is_empty() {
            bad.push(format!("tv:{tv}: NaN or infinity in {:?}", a.non_finite));
        }
        if a.modules < 10 {
            bad.push(format!("tv:{tv}: only {} module outputs seen", a.modules));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn a_random_factory_is_rescaled_and_weights_it_sets_itself_are_kept() {
    let Some(py) = torch_python("a_random_factory_is_rescaled_and_weights_it_sets_itself_are_kept")
    else {
        return;
    };
    let tiny = python_tests_dir().join("tiny_model.py");
    let shape = [1, 3, 16, 16];
    let (mut s, _) = open(&py, &format!("{}:vanishing", tiny.display()), &shape);
    let d = s.info().details;
    assert_eq!(d["weights"], Weights::RESCALED, "{d:?}");
    assert!(d["weights_detail"].contains("12 of 12"), "{d:?}");
    let a = s.activations().unwrap();
    assert!(well_scaled(a.output_median_abs), "{a:?}");
    assert!(a.subnormal.is_empty(), "{a:?}");

    // The same factory untouched (as edgebench exported it before it chose the weights)
    // really is the problem the rescaling solves.
    let src = TorchSource::parse(&format!("{}:vanishing", tiny.display()), None).unwrap();
    let specs = vec![ConcreteSpec {
        name: "input".into(),
        dtype: DType::F32,
        shape: shape.to_vec(),
    }];
    let info = python::discover_with(Some(&py)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, model) = export(
        &info,
        &ExportOptions {
            source: src,
            inputs: vec![ExportInput {
                name: "input".into(),
                shape: shape.to_vec(),
            }],
            output: dir.path().join("v.onnx"),
            opset: OPSET,
            seed: 0,
            dynamic_batch: false,
        },
    )
    .unwrap();
    let meta_of = |m: &edgebench_core::model::Model, k: &str| {
        m.proto
            .metadata_props
            .iter()
            .find(|kv| kv.key == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(
        meta_of(&model, meta::WEIGHTS).as_deref(),
        Some(Weights::RESCALED)
    );
    assert_eq!(
        meta_of(&model, meta::WEIGHTS_CALIBRATION).as_deref(),
        Some("[[1,3,16,16]]")
    );
    // The engine rebuilds the same rescaled weights from the metadata: PyTorch agrees with
    // the exported graph.
    let specs2 = model.resolve_inputs(&ShapeRequest::default()).unwrap();
    assert_eq!(specs2, specs);
    let inputs = random_inputs(&specs, 4).unwrap();
    let engine = Torch::with_python(&py);
    let mut t = edgebench_core::engine::Engine::prepare(
        &engine,
        &model,
        &EngineSpec::parse("torch:eager").unwrap(),
        &PrepareOptions {
            inputs: specs.clone(),
            threads: Some(1),
        },
    )
    .unwrap();
    assert_eq!(t.info().details["weights"], Weights::RESCALED);
    t.set_inputs(&inputs).unwrap();
    t.run().unwrap();
    let torch_out = t.outputs().unwrap();
    let tract_out = tract_outputs(&model, &specs, &inputs);
    let med = {
        let mut v: Vec<f64> = torch_out[0].data.to_f64().iter().map(|x| x.abs()).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    assert!(well_scaled(med), "exported logits {med:e}");
    let a = compare(&[tract_out], &[torch_out], Tolerance::for_precision("f32"));
    assert!(a.passed, "{a:?}");

    // Weights the factory set itself (not from the seed) are used as given.
    let (mut s, _) = open(&py, &format!("{}:given", tiny.display()), &shape);
    let d = s.info().details;
    assert_eq!(d["weights"], Weights::AS_GIVEN, "{d:?}");
    assert!(s.activations().unwrap().subnormal.is_empty());
}
