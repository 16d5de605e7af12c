//! The float16 conversion TensorRT 11 builds from (`tensorrt::fp16`) keeps what zoo models
//! compute: each converted model runs in ONNX Runtime (no graph optimization) and agrees with
//! the float32 original within the gate's fp16 tolerance, and keeps float32 inputs and
//! outputs. ONNX Runtime stands in for TensorRT here: none exists on these machines.

use edgebench_core::engine::{Availability, EngineSpec, PrepareOptions};
use edgebench_core::gate::{compare, Tolerance};
use edgebench_core::inputs::random_inputs;
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_engines::tensorrt::fp16;
use edgebench_zoo::ZooSpec;
use prost::Message;

fn run(
    model: &Model,
    inputs: &[edgebench_core::tensor::HostTensor],
) -> Vec<edgebench_core::tensor::HostTensor> {
    let ort = edgebench_engines::find("ort").unwrap();
    let spec = EngineSpec::parse("ort:none").unwrap();
    let opts = PrepareOptions {
        inputs: model.resolve_inputs(&ShapeRequest::default()).unwrap(),
        threads: Some(2),
    };
    let mut s = ort.prepare(model, &spec, &opts).unwrap();
    s.set_inputs(inputs).unwrap();
    s.run().unwrap();
    s.outputs().unwrap()
}

#[test]
fn converted_zoo_models_agree_within_fp16() {
    let ort = edgebench_engines::find("ort").unwrap();
    if !matches!(ort.availability(), Availability::Available { .. }) {
        return edgebench_core::testing::skip_or_fail(
            "ort",
            format_args!(
                "ONNX Runtime is not available here: {:?}",
                ort.availability()
            ),
        );
    }
    for name in [
        "resnet18",
        "mobilenet_v2",
        "squeezenet1_1",
        "mobilenet_v3_small",
        "efficientnet_b0",
    ] {
        let proto = edgebench_zoo::build(&ZooSpec::parse(name).unwrap()).unwrap();
        let original = Model::from_bytes(name, proto.encode_to_vec()).unwrap();
        let half = fp16::convert(&proto).unwrap_or_else(|e| panic!("{name}: {e}"));
        let converted = Model::from_bytes(name, half.encode_to_vec()).unwrap();
        assert_eq!(
            converted.inputs, original.inputs,
            "{name}: inputs stay float32"
        );
        assert_eq!(
            converted.outputs, original.outputs,
            "{name}: outputs stay float32"
        );
        let specs = original.resolve_inputs(&ShapeRequest::default()).unwrap();
        let inputs = random_inputs(&specs, 3).unwrap();
        let want = run(&original, &inputs);
        let got = run(&converted, &inputs);
        let a = compare(&[want], &[got], Tolerance::for_precision("f16"));
        assert!(a.passed, "{name}: {a:?}");
    }
}
