//! The zoo models torchvision lacks (the study's c3d_small, ae3d and densenet3d_121, and
//! resnet50v2) run in PyTorch as edgebench's own definitions (python/edgebench_worker/
//! models.py) with the zoo's weights, and compute what the zoo's ONNX graph computes in
//! tract, within the f32 gate's tolerance. Needs torch only, not torchvision. Skipped (with
//! a message) where no Python with torch is found.

mod common;

use common::*;
use edgebench_core::engine::{Engine, EngineSpec, PrepareOptions};
use edgebench_core::gate::{compare, Tolerance};
use edgebench_core::inputs::random_inputs;
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_torch::source::Weights;
use edgebench_torch::Torch;

#[test]
fn zoo_models_without_a_torchvision_twin_run_as_edgebench_s_pytorch_definitions() {
    let Some(py) = torch_python(
        "zoo_models_without_a_torchvision_twin_run_as_edgebench_s_pytorch_definitions",
    ) else {
        return;
    };
    let own: Vec<_> = edgebench_zoo::list()
        .into_iter()
        .filter(|e| e.torchvision.is_none())
        .collect();
    assert_eq!(own.len(), 4);
    let engine = Torch::with_python(&py);
    let spec = EngineSpec::parse("torch:eager").unwrap();
    for (i, e) in own.iter().enumerate() {
        // Another head than the default, so that `classes` is seen to reach PyTorch; the
        // video models' input is fixed by the zoo (16x112x112).
        let classes = e.default_classes + 3;
        let name = format!("{}?classes={classes}", e.name);
        let zoo = edgebench_zoo::ZooSpec::parse(&name).unwrap();
        let model = Model::from_bytes(
            &format!("zoo:{name}"),
            edgebench_zoo::build_bytes(&zoo).unwrap(),
        )
        .unwrap();
        let specs = model.resolve_inputs(&ShapeRequest::default()).unwrap();
        let mut s = engine
            .prepare(
                &model,
                &spec,
                &PrepareOptions {
                    inputs: specs.clone(),
                    threads: Some(2),
                },
            )
            .unwrap_or_else(|err| panic!("zoo:{name}: {err}"));
        let d = s.info().details;
        assert_eq!(
            d["source"],
            format!("edgebench_worker.models.{}", e.edgebench_twin.unwrap()),
            "{d:?}"
        );
        assert_eq!(d["weights"], Weights::ZOO, "{d:?}");
        let inputs = random_inputs(&specs, 11 + i as u64).unwrap();
        s.set_inputs(&inputs).unwrap();
        s.run().unwrap();
        let torch_out = s.outputs().unwrap();
        assert_eq!(torch_out[0].shape, vec![1, classes], "zoo:{name}");
        let tract_out = tract_outputs(&model, &specs, &inputs);
        let a = compare(&[tract_out], &[torch_out], Tolerance::for_precision("f32"));
        eprintln!(
            "zoo:{name}: max |torch - tract| {:.2e}, max relative {:.2e}, cosine {:.8}",
            a.max_abs_err, a.max_rel_err, a.min_cosine
        );
        assert!(a.passed, "zoo:{name}: {a:?}");
    }
}
