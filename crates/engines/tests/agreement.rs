//! The conformance suite every engine runs: on the same inputs, each optimized engine computes
//! what `tract:reference` computes, on a tiny CNN and on randomly generated small graphs
//! (proptest). Engines whose library is absent here are skipped with a printed line (a
//! failure where `EDGEBENCH_REQUIRE` lists them); the `absent.rs` suite covers their absence.

use edgebench_core::engine::{Availability, Engine, EngineSpec, PrepareOptions};
use edgebench_core::gate::{compare, Tolerance};
use edgebench_core::inputs::random_inputs;
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::tensor::HostTensor;
use edgebench_core::testmodel::{self, float_tensor, ints, node, value_info, Dim, TinyCnn};
use proptest::prelude::*;
use tract_onnx::pb;

/// The candidates: (spec, engine) for every engine available here.
fn candidates() -> Vec<(&'static str, Box<dyn Engine>)> {
    let mut v = vec![];
    for spec in ["tract:optimized", "ort:all", "ort:none", "openvino:f32"] {
        let s = EngineSpec::parse(spec).unwrap();
        let e = edgebench_engines::find(&s.engine).unwrap();
        match e.availability() {
            Availability::Available { .. } => v.push((spec, e)),
            other => edgebench_core::testing::skip_or_fail(
                e.name(),
                format_args!("{spec} is not available here: {other:?}"),
            ),
        }
    }
    v
}

fn outputs(
    engine: &dyn Engine,
    spec: &str,
    model: &Model,
    inputs: &[HostTensor],
) -> Vec<HostTensor> {
    let specs = model.resolve_inputs(&ShapeRequest::default()).unwrap();
    let opts = PrepareOptions {
        inputs: specs,
        threads: Some(1),
    };
    let mut s = engine
        .prepare(model, &EngineSpec::parse(spec).unwrap(), &opts)
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    s.set_inputs(inputs).unwrap();
    s.run().unwrap();
    s.synchronize().unwrap();
    let info = s.info();
    assert_eq!(info.precision, "f32", "{spec} ran {info:?}");
    s.outputs().unwrap()
}

fn tolerance() -> Tolerance {
    Tolerance {
        // Class-score rows of random graphs can tie; element-wise bounds decide here.
        min_top1: 0.0,
        ..Tolerance::for_precision("f32")
    }
}

/// Every available candidate agrees with tract:reference on `model`; returns how many ran.
fn agree(model: &Model, seed: u64) -> usize {
    let specs = model.resolve_inputs(&ShapeRequest::default()).unwrap();
    let inputs = random_inputs(&specs, seed).unwrap();
    let reference = outputs(
        &edgebench_engines::tract::Tract,
        "tract:reference",
        model,
        &inputs,
    );
    let cands = candidates();
    for (spec, engine) in &cands {
        let got = outputs(engine.as_ref(), spec, model, &inputs);
        let a = compare(std::slice::from_ref(&reference), &[got], tolerance());
        assert!(a.passed, "{spec} disagrees with tract:reference: {a:?}");
    }
    cands.len()
}

#[test]
fn tiny_cnn_agrees_on_every_engine() {
    let bytes = testmodel::tiny_cnn_bytes(&TinyCnn::default());
    let model = Model::from_bytes("tiny_cnn", bytes).unwrap();
    let ran = agree(&model, 7);
    assert!(ran >= 1, "tract:optimized always runs");
}

#[test]
fn a_model_file_with_a_dynamic_batch_runs_on_every_engine() {
    // Engines that read files (OpenVINO, ORT) get a path; the batch is fixed by --batch.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dyn.onnx");
    std::fs::write(
        &path,
        testmodel::tiny_cnn_bytes(&TinyCnn {
            dynamic_batch: true,
            ..Default::default()
        }),
    )
    .unwrap();
    let model = Model::from_path(&path).unwrap();
    let specs = model
        .resolve_inputs(&ShapeRequest {
            shapes: vec![],
            batch: Some(2),
        })
        .unwrap();
    let inputs = random_inputs(&specs, 3).unwrap();
    let opts = PrepareOptions {
        inputs: specs,
        threads: Some(1),
    };
    for (spec, engine) in candidates() {
        let mut s = engine
            .prepare(&model, &EngineSpec::parse(spec).unwrap(), &opts)
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        s.set_inputs(&inputs).unwrap();
        s.run().unwrap();
        let out = s.outputs().unwrap();
        assert_eq!(out[0].shape, vec![2, 10], "{spec}");
    }
}

/// A layer of a random graph.
#[derive(Debug, Clone)]
enum Layer {
    Conv { out: usize, k: usize, seed: u64 },
    Relu,
    Sigmoid,
    AddConst(u64),
    MulConst(u64),
    BatchNorm(u64),
    MaxPool,
    AvgPool,
}

fn layer() -> impl Strategy<Value = Layer> {
    prop_oneof![
        (1usize..6, prop_oneof![Just(1usize), Just(3)], any::<u64>())
            .prop_map(|(out, k, seed)| Layer::Conv { out, k, seed }),
        Just(Layer::Relu),
        Just(Layer::Sigmoid),
        any::<u64>().prop_map(Layer::AddConst),
        any::<u64>().prop_map(Layer::MulConst),
        any::<u64>().prop_map(Layer::BatchNorm),
        Just(Layer::MaxPool),
        Just(Layer::AvgPool),
    ]
}

fn values(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    // A small LCG: the graph is a function of the proptest case, no extra crate needed.
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) as f32 / (1u64 << 31) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// Builds `input [1, c, h, w] -> layers -> GlobalAveragePool -> Flatten -> Gemm`.
fn graph(c0: usize, size: usize, layers: &[Layer], classes: usize) -> pb::ModelProto {
    let (mut c, mut h, mut w) = (c0, size, size);
    let mut nodes = vec![];
    let mut init = vec![];
    let mut cur = "input".to_string();
    for (i, l) in layers.iter().enumerate() {
        let out = format!("t{i}");
        let name = format!("n{i}");
        match l {
            Layer::Conv { out: oc, k, seed } => {
                let wn = format!("w{i}");
                let bn = format!("b{i}");
                let scale = 1.0 / ((c * k * k) as f32).sqrt();
                init.push(float_tensor(
                    &wn,
                    &[*oc, c, *k, *k],
                    values(*seed, oc * c * k * k, scale),
                ));
                init.push(float_tensor(&bn, &[*oc], values(seed ^ 1, *oc, 0.1)));
                let p = (*k as i64) / 2;
                nodes.push(node(
                    "Conv",
                    &name,
                    &[&cur, &wn, &bn],
                    &[&out],
                    vec![
                        ints("kernel_shape", &[*k as i64, *k as i64]),
                        ints("pads", &[p, p, p, p]),
                    ],
                ));
                c = *oc;
            }
            Layer::Relu => nodes.push(node("Relu", &name, &[&cur], &[&out], vec![])),
            Layer::Sigmoid => nodes.push(node("Sigmoid", &name, &[&cur], &[&out], vec![])),
            Layer::AddConst(seed) | Layer::MulConst(seed) => {
                let cn = format!("c{i}");
                init.push(float_tensor(&cn, &[1, c, 1, 1], values(*seed, c, 1.0)));
                let op = if matches!(l, Layer::AddConst(_)) {
                    "Add"
                } else {
                    "Mul"
                };
                nodes.push(node(op, &name, &[&cur, &cn], &[&out], vec![]));
            }
            Layer::BatchNorm(seed) => {
                let names: Vec<String> = ["g", "be", "m", "v"]
                    .iter()
                    .map(|p| format!("{p}{i}"))
                    .collect();
                init.push(float_tensor(
                    &names[0],
                    &[c],
                    values(*seed, c, 0.5).iter().map(|x| 1.0 + x).collect(),
                ));
                init.push(float_tensor(&names[1], &[c], values(seed ^ 2, c, 0.2)));
                init.push(float_tensor(&names[2], &[c], values(seed ^ 3, c, 0.2)));
                init.push(float_tensor(
                    &names[3],
                    &[c],
                    values(seed ^ 4, c, 0.5).iter().map(|x| 1.0 + x).collect(),
                ));
                let refs: Vec<&str> = std::iter::once(cur.as_str())
                    .chain(names.iter().map(String::as_str))
                    .collect();
                nodes.push(node("BatchNormalization", &name, &refs, &[&out], vec![]));
            }
            Layer::MaxPool | Layer::AvgPool => {
                if h < 2 || w < 2 {
                    continue;
                }
                let op = if matches!(l, Layer::MaxPool) {
                    "MaxPool"
                } else {
                    "AveragePool"
                };
                nodes.push(node(
                    op,
                    &name,
                    &[&cur],
                    &[&out],
                    vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
                ));
                h /= 2;
                w /= 2;
            }
        }
        cur = out;
    }
    let fc_w = values(99, classes * c, 0.5);
    init.push(float_tensor("fc.w", &[classes, c], fc_w));
    init.push(float_tensor("fc.b", &[classes], values(98, classes, 0.1)));
    nodes.push(node("GlobalAveragePool", "gap", &[&cur], &["gap"], vec![]));
    nodes.push(node("Flatten", "flat", &["gap"], &["flat"], vec![]));
    nodes.push(node(
        "Gemm",
        "fc",
        &["flat", "fc.w", "fc.b"],
        &["logits"],
        vec![edgebench_core::testmodel::int("transB", 1)],
    ));
    let _ = (h, w);
    testmodel::model(pb::GraphProto {
        name: "random".into(),
        node: nodes,
        initializer: init,
        input: vec![value_info(
            "input",
            &[Dim::F(1), Dim::F(c0), Dim::F(size), Dim::F(size)],
        )],
        output: vec![value_info("logits", &[Dim::F(1), Dim::F(classes)])],
        ..Default::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn optimized_engines_agree_with_the_reference_on_random_graphs(
        c0 in 1usize..4,
        size in 3usize..12,
        layers in proptest::collection::vec(layer(), 1..7),
        classes in 2usize..6,
        seed in any::<u64>(),
    ) {
        let m = graph(c0, size, &layers, classes);
        let model = Model::from_bytes("random", testmodel::encode(&m)).unwrap();
        agree(&model, seed);
    }
}
