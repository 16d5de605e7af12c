//! Tiny ONNX models built in code, for tests, examples and the overhead benchmark, so the
//! repository needs no binary fixtures. Not a model zoo: see the `edgebench-zoo` crate.

use prost::Message;
use rand::{Rng, SeedableRng};
use tract_onnx::pb;

/// Options of [`tiny_cnn`].
#[derive(Debug, Clone)]
pub struct TinyCnn {
    pub channels: usize,
    pub size: usize,
    pub classes: usize,
    /// Declare the batch dimension as the symbol `N` instead of 1.
    pub dynamic_batch: bool,
    /// Declare height and width as symbols `H` and `W`.
    pub dynamic_spatial: bool,
    /// Append a node with an operator no engine knows (`edgebench.NoSuchOp`).
    pub unknown_op: bool,
    /// Flatten the feature map into the classifier without global pooling, so the model only
    /// accepts its own spatial size (like AlexNet and VGG).
    pub no_global_pool: bool,
    pub seed: u64,
}

impl Default for TinyCnn {
    fn default() -> Self {
        TinyCnn {
            channels: 8,
            size: 32,
            classes: 10,
            dynamic_batch: false,
            dynamic_spatial: false,
            unknown_op: false,
            no_global_pool: false,
            seed: 1,
        }
    }
}

/// Conv 3x3 -> BatchNormalization -> Relu -> Conv 3x3 stride 2 -> Relu ->
/// GlobalAveragePool -> Flatten -> Gemm: the layers every CNN of the study is made of.
pub fn tiny_cnn(o: &TinyCnn) -> pb::ModelProto {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(o.seed);
    let mut w = |name: &str, dims: &[usize], scale: f32| -> pb::TensorProto {
        let n: usize = dims.iter().product();
        let data = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
        float_tensor(name, dims, data)
    };
    let c = o.channels;
    let features = if o.no_global_pool {
        c * o.size.div_ceil(2).pow(2)
    } else {
        c
    };
    let init = vec![
        w("conv1.weight", &[c, 3, 3, 3], 0.3),
        w("conv1.bias", &[c], 0.1),
        float_tensor("bn1.weight", &[c], vec![1.0; c]),
        w("bn1.bias", &[c], 0.1),
        w("bn1.running_mean", &[c], 0.1),
        float_tensor("bn1.running_var", &[c], vec![1.0; c]),
        w("conv2.weight", &[c, c, 3, 3], 0.2),
        w("fc.weight", &[o.classes, features], 0.3),
        w("fc.bias", &[o.classes], 0.1),
    ];
    let mut nodes = vec![
        node(
            "Conv",
            "conv1",
            &["input", "conv1.weight", "conv1.bias"],
            &["c1"],
            vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])],
        ),
        node(
            "BatchNormalization",
            "bn1",
            &[
                "c1",
                "bn1.weight",
                "bn1.bias",
                "bn1.running_mean",
                "bn1.running_var",
            ],
            &["b1"],
            vec![],
        ),
        node("Relu", "relu1", &["b1"], &["r1"], vec![]),
        node(
            "Conv",
            "conv2",
            &["r1", "conv2.weight"],
            &["c2"],
            vec![
                ints("kernel_shape", &[3, 3]),
                ints("pads", &[1, 1, 1, 1]),
                ints("strides", &[2, 2]),
            ],
        ),
        node("Relu", "relu2", &["c2"], &["r2"], vec![]),
        node("GlobalAveragePool", "pool", &["r2"], &["p"], vec![]),
        node(
            "Flatten",
            "flatten",
            &[if o.no_global_pool { "r2" } else { "p" }],
            &["f"],
            vec![],
        ),
        node(
            "Gemm",
            "fc",
            &["f", "fc.weight", "fc.bias"],
            &["logits"],
            vec![int("transB", 1)],
        ),
    ];
    let mut output = "logits";
    if o.unknown_op {
        nodes.push(node(
            "NoSuchOp",
            "mystery",
            &["logits"],
            &["mystery_out"],
            vec![],
        ));
        output = "mystery_out";
    }
    let batch = if o.dynamic_batch {
        Dim::S("N")
    } else {
        Dim::F(1)
    };
    let (h, w) = if o.dynamic_spatial {
        (Dim::S("H"), Dim::S("W"))
    } else {
        (Dim::F(o.size), Dim::F(o.size))
    };
    let graph = pb::GraphProto {
        name: "tiny_cnn".into(),
        node: nodes,
        initializer: init,
        input: vec![value_info("input", &[batch.clone(), Dim::F(3), h, w])],
        output: vec![value_info(output, &[batch, Dim::F(o.classes)])],
        ..Default::default()
    };
    model(graph)
}

/// [`tiny_cnn`] as ONNX bytes.
pub fn tiny_cnn_bytes(o: &TinyCnn) -> Vec<u8> {
    tiny_cnn(o).encode_to_vec()
}

/// Wraps a graph in a ModelProto at opset 17.
pub fn model(graph: pb::GraphProto) -> pb::ModelProto {
    pb::ModelProto {
        ir_version: 8,
        producer_name: "edgebench-testmodel".into(),
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(graph),
        ..Default::default()
    }
}

/// A dimension for [`value_info`].
#[derive(Debug, Clone)]
pub enum Dim {
    F(usize),
    S(&'static str),
    /// Any i64 as written in the file, zero and negative included (hostile-input tests).
    I(i64),
}

pub fn value_info(name: &str, dims: &[Dim]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::F(n) => Value::DimValue(*n as i64),
                Dim::S(s) => Value::DimParam((*s).into()),
                Dim::I(n) => Value::DimValue(*n),
            }),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn float_tensor(name: &str, dims: &[usize], data: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: 1,
        float_data: data,
        ..Default::default()
    }
}

pub fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attribute: Vec<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

pub fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        ints: v.to_vec(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ..Default::default()
    }
}

pub fn int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        i: v,
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        ..Default::default()
    }
}

/// Encodes a model to ONNX bytes.
pub fn encode(m: &pb::ModelProto) -> Vec<u8> {
    m.encode_to_vec()
}

/// Moves initializer `tensor` of `m` to external data at `location` (relative to the model
/// file). Returns the raw bytes that belong in that file.
pub fn move_to_external_data(m: &mut pb::ModelProto, tensor: &str, location: &str) -> Vec<u8> {
    let mut raw = vec![];
    if let Some(t) = m
        .graph
        .as_mut()
        .and_then(|g| g.initializer.iter_mut().find(|t| t.name == tensor))
    {
        raw = t.float_data.iter().flat_map(|x| x.to_le_bytes()).collect();
        t.float_data.clear();
        t.data_location = Some(pb::tensor_proto::DataLocation::External as i32);
        t.external_data = vec![
            pb::StringStringEntryProto {
                key: "location".into(),
                value: location.into(),
            },
            pb::StringStringEntryProto {
                key: "length".into(),
                value: raw.len().to_string(),
            },
        ];
    }
    raw
}

/// Replaces the declared shape of input `input` of `m` (hostile-input tests: huge, zero,
/// negative or overflowing dimensions).
pub fn set_input_dims(m: &mut pb::ModelProto, input: &str, dims: &[Dim]) {
    if let Some(g) = m.graph.as_mut() {
        for i in g.input.iter_mut().filter(|i| i.name == input) {
            *i = value_info(input, dims);
        }
    }
}

/// A graph whose two nodes read each other's output (`a = input + b`, `b = relu(a)`): no
/// order can run it.
pub fn cyclic() -> pb::ModelProto {
    let graph = pb::GraphProto {
        name: "cyclic".into(),
        node: vec![
            node("Add", "add", &["input", "b"], &["a"], vec![]),
            node("Relu", "relu", &["a"], &["b"], vec![]),
        ],
        input: vec![value_info("input", &[Dim::F(1), Dim::F(4)])],
        output: vec![value_info("b", &[Dim::F(1), Dim::F(4)])],
        ..Default::default()
    };
    model(graph)
}

/// The compute roof's model (`core::roofline`): one MatMul of two `n` x `n` float inputs,
/// `2 n³` FLOPs over `3 n²` floats moved, so that from n = 512 on every engine's time goes to
/// arithmetic. Both operands are inputs, not initializers: no engine can fold them away, and
/// the file stays a few hundred bytes.
pub fn matmul_roof(n: usize) -> pb::ModelProto {
    let graph = pb::GraphProto {
        name: "roof_matmul".into(),
        node: vec![node("MatMul", "matmul", &["a", "b"], &["c"], vec![])],
        input: vec![
            value_info("a", &[Dim::F(n), Dim::F(n)]),
            value_info("b", &[Dim::F(n), Dim::F(n)]),
        ],
        output: vec![value_info("c", &[Dim::F(n), Dim::F(n)])],
        ..Default::default()
    };
    model(graph)
}

/// The bandwidth roof's model (`core::roofline`): one Add of two float inputs of `elements`
/// values each, one FLOP per 12 bytes moved (two read, one written). A single operator, so that
/// no engine's fusion of an elementwise chain changes the bytes it moves.
pub fn elementwise_roof(elements: usize) -> pb::ModelProto {
    let graph = pb::GraphProto {
        name: "roof_elementwise".into(),
        node: vec![node("Add", "add", &["x", "y"], &["z"], vec![])],
        input: vec![
            value_info("x", &[Dim::F(elements)]),
            value_info("y", &[Dim::F(elements)]),
        ],
        output: vec![value_info("z", &[Dim::F(elements)])],
        ..Default::default()
    };
    model(graph)
}
