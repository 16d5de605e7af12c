//! Tiny ONNX models for tests and examples of the video pipeline, built in code so the
//! repository needs no binary fixtures: global average pooling followed by a linear layer,
//! so every class score depends on the clip's content.

use edgebench_core::testmodel::{encode, float_tensor, int, model, node, value_info, Dim};
use tract_onnx::pb;

fn pooled_classifier(input: Vec<Dim>, features: usize, classes: usize, pool: bool) -> Vec<u8> {
    let weights = (0..classes * features)
        .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.3)
        .collect();
    let bias = (0..classes).map(|i| i as f32 * 0.01).collect();
    let mut nodes = vec![];
    let mut x = "input";
    if pool {
        nodes.push(node(
            "GlobalAveragePool",
            "pool",
            &["input"],
            &["p"],
            vec![],
        ));
        nodes.push(node("Flatten", "flatten", &["p"], &["f"], vec![]));
        x = "f";
    }
    nodes.push(node(
        "Gemm",
        "fc",
        &[x, "fc.weight", "fc.bias"],
        &["logits"],
        vec![int("transB", 1)],
    ));
    let graph = pb::GraphProto {
        name: "tiny_video".into(),
        node: nodes,
        initializer: vec![
            float_tensor("fc.weight", &[classes, features], weights),
            float_tensor("fc.bias", &[classes], bias),
        ],
        input: vec![value_info("input", &input)],
        output: vec![value_info("logits", &[Dim::F(1), Dim::F(classes)])],
        ..Default::default()
    };
    encode(&model(graph))
}

/// A clip classifier with input 1 x 3 x `t` x `h` x `w` (NCTHW) and `classes` outputs.
pub fn tiny_clip_model(t: usize, h: usize, w: usize, classes: usize) -> Vec<u8> {
    pooled_classifier(
        vec![Dim::F(1), Dim::F(3), Dim::F(t), Dim::F(h), Dim::F(w)],
        3,
        classes,
        true,
    )
}

/// An image classifier with input 1 x 3 x `h` x `w` (NCHW).
pub fn tiny_image_model(h: usize, w: usize, classes: usize) -> Vec<u8> {
    pooled_classifier(
        vec![Dim::F(1), Dim::F(3), Dim::F(h), Dim::F(w)],
        3,
        classes,
        true,
    )
}

/// A model whose input is a plain vector (1 x `n`): neither a clip nor an image.
pub fn tiny_vector_model(n: usize, classes: usize) -> Vec<u8> {
    pooled_classifier(vec![Dim::F(1), Dim::F(n)], n, classes, false)
}
