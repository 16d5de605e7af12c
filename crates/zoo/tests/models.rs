//! Every zoo model against its published figures and against `edgebench inspect`.

use edgebench_zoo::{build, build_bytes, list, Task, ZooSpec};
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::*;

/// Learnable parameters the way `edgebench inspect` counts them: float initializers consumed
/// as Conv W/B, Gemm B/C, BatchNormalization scale/bias, each counted once.
fn params_of(model: &ModelProto) -> u64 {
    let graph = model.graph.as_ref().expect("graph");
    let mut used = std::collections::HashSet::new();
    for n in &graph.node {
        let slots: &[usize] = match n.op_type.as_str() {
            "Conv" => &[1, 2],
            "Gemm" => &[1, 2],
            "BatchNormalization" => &[1, 2],
            _ => &[],
        };
        for &s in slots {
            if let Some(i) = n.input.get(s) {
                used.insert(i.clone());
            }
        }
    }
    graph
        .initializer
        .iter()
        .filter(|t| used.contains(&t.name))
        .map(|t| t.dims.iter().product::<i64>() as u64)
        .sum()
}

/// What `edgebench inspect` reports for the model.
fn inspect(bytes: Vec<u8>) -> edgebench_core::inspect::Inspection {
    let model = edgebench_core::model::Model::from_bytes("zoo", bytes).unwrap();
    let inputs = model
        .resolve_inputs(&edgebench_core::model::ShapeRequest::default())
        .unwrap();
    edgebench_core::inspect::inspect(&model, &inputs).unwrap()
}

#[test]
fn params_and_macs_match_torchvision_and_inspect() {
    let mut report = Vec::new();
    for entry in list() {
        let classes = entry
            .reference
            .map(|r| r.classes)
            .unwrap_or(entry.default_classes);
        let mut spec = ZooSpec::new(entry.name);
        spec.classes = Some(classes);
        let proto = build(&spec).unwrap();
        let bytes = prost::Message::encode_to_vec(&proto);
        let params = params_of(&proto);
        let inspection = inspect(bytes);
        assert_eq!(
            inspection.params, params,
            "{}: inspect vs initializers",
            entry.name
        );
        let macs = inspection.macs;
        let gflops = (macs as f64 / 1e9 * 100.0).round() / 100.0;
        report.push(format!(
            "{:<20} classes {:>4} params {:>11} macs {:>14} ({gflops:.2} G)",
            entry.name, classes, params, macs
        ));
        if classes == entry.default_classes {
            assert_eq!(params, entry.params, "{}: listed params", entry.name);
            assert_eq!(macs, entry.macs, "{}: listed macs", entry.name);
        }
        if let Some(r) = entry.reference {
            assert_eq!(params, r.params, "{}: params vs torchvision", entry.name);
            assert!(
                (gflops - r.gflops).abs() < 1e-9,
                "{}: {gflops:.2} GFLOPS, torchvision publishes {:.2}",
                entry.name,
                r.gflops
            );
        }
    }
    println!("{}", report.join("\n"));
}

fn run(bytes: &[u8], input: Tensor) -> Vec<f32> {
    let model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let out = model.run(tvec!(input.into())).unwrap();
    out[0]
        .to_plain_array_view::<f32>()
        .unwrap()
        .iter()
        .copied()
        .collect()
}

fn random_input(shape: &[usize], seed: u64) -> Tensor {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    // Box-Muller: a standard normal input, like a normalized image.
    let data: Vec<f32> = (0..n)
        .map(|_| {
            let u: f32 = rng.random_range(1e-7..1.0);
            let v: f32 = rng.random_range(0.0..1.0);
            (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        })
        .collect();
    tract_ndarray::ArrayD::from_shape_vec(shape.to_vec(), data)
        .unwrap()
        .into()
}

/// Runs the models of one task on a batch of two different inputs in tract (optimized).
fn run_models_of(task: Task) {
    for entry in list().into_iter().filter(|e| e.task == task) {
        let spec = ZooSpec::parse(&format!("{}?classes=5&batch=2&seed=3", entry.name)).unwrap();
        let bytes = build_bytes(&spec).unwrap();
        let mut shape = entry.input_shape.clone();
        shape[0] = 2;
        let out = run(&bytes, random_input(&shape, 1));
        assert_eq!(out.len(), 10, "{}", entry.name);
        let (a, b) = out.split_at(5);
        let max = out.iter().fold(0f32, |m, v| m.max(v.abs()));
        eprintln!("{:<20} max |logit| {max:.3e} {a:?} {b:?}", entry.name);
        assert!(out.iter().all(|v| v.is_finite()), "{}: {out:?}", entry.name);
        // squeezenet's logits come out of a ReLU and may be exactly 0; none may be denormal
        assert!(
            !out.iter().any(|v| v.is_subnormal()),
            "{}: denormal",
            entry.name
        );
        let nonzero = out.iter().filter(|v| **v != 0.0).count();
        assert!(nonzero >= 5, "{}: {nonzero} non-zero logits", entry.name);
        assert!(
            max < 1e4 && max > 1e-3,
            "{}: logits out of range: {out:?}",
            entry.name
        );
        // the two samples of the batch must give different logits
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(
            diff > 1e-3 * max,
            "{}: outputs do not depend on the input",
            entry.name
        );
    }
}

#[test]
fn weights_are_deterministic_and_seeded() {
    let a = build_bytes(&ZooSpec::parse("mobilenet_v3_small?classes=2").unwrap()).unwrap();
    let b = build_bytes(&ZooSpec::parse("mobilenet_v3_small?classes=2").unwrap()).unwrap();
    let c = build_bytes(&ZooSpec::parse("mobilenet_v3_small?classes=2&seed=1").unwrap()).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), c.len());
}

#[test]
fn graph_interface_and_names() {
    let proto = build(&ZooSpec::parse("resnet18?classes=2&batch=4").unwrap()).unwrap();
    assert!(proto
        .opset_import
        .iter()
        .any(|o| o.domain.is_empty() && o.version >= 14));
    let g = proto.graph.unwrap();
    assert_eq!(g.input.len(), 1);
    assert_eq!(g.input[0].name, "input");
    assert_eq!(g.output[0].name, "logits");
    let names: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    for key in [
        "conv1.weight",
        "bn1.running_var",
        "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.bias",
        "fc.weight",
        "fc.bias",
    ] {
        assert!(names.contains(&key), "{key} missing");
    }
    let fc = g
        .initializer
        .iter()
        .find(|t| t.name == "fc.weight")
        .unwrap();
    assert_eq!(fc.dims, vec![2, 512]);
    let mut node_names: Vec<&str> = g.node.iter().map(|n| n.name.as_str()).collect();
    node_names.sort();
    let before = node_names.len();
    node_names.dedup();
    assert_eq!(before, node_names.len(), "node names are unique");
    assert!(
        g.node
            .iter()
            .filter(|n| n.op_type == "BatchNormalization")
            .count()
            == 20
    );
}

// Two tests so that the slow video models run beside the image models.
#[test]
fn image_models_run_in_tract_with_sane_outputs() {
    run_models_of(Task::Classification);
}

#[test]
fn video_models_run_in_tract_with_sane_outputs() {
    run_models_of(Task::ActionRecognition);
}
