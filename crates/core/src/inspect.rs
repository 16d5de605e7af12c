//! What is inside a model, without running it: inputs and outputs, operator histogram,
//! parameters, MACs (convolutions and matrix products, the convention of published model
//! tables such as torchvision's GFLOPS column), the arithmetic of all other operators as a
//! separate figure, weight size and the largest activation.

use crate::error::{Error, Result};
use crate::model::Model;
use crate::tensor::{ConcreteSpec, DType, TensorSpec};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::Cost;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub model: String,
    pub sha256: String,
    pub opset: i64,
    pub ir_version: i64,
    pub producer: String,
    pub declared_inputs: Vec<TensorSpec>,
    /// The shapes the counts were computed at.
    pub inputs: Vec<ConcreteSpec>,
    pub outputs: Vec<TensorSpec>,
    /// ONNX operator type -> number of nodes.
    pub op_histogram: BTreeMap<String, usize>,
    pub nodes: usize,
    /// Learnable parameters (see `count_parameters` in the source for the convention).
    pub params: u64,
    /// Every value stored in the file: initializers and Constant nodes.
    pub stored_values: u64,
    pub weights_bytes: u64,
    /// Multiply-accumulates of Conv, ConvTranspose, Gemm, MatMul (tract: Conv, Deconv, EinSum).
    pub macs: u64,
    /// 2 x `macs`.
    pub flops: u64,
    /// tract's cost of every other operator (activations, pooling, normalization, elementwise).
    pub other_ops: u64,
    pub largest_activation_bytes: u64,
    pub largest_activation: String,
    /// Per tract node with a non-zero cost.
    pub per_node: Vec<NodeCost>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeCost {
    pub name: String,
    pub op: String,
    pub macs: u64,
    pub other_ops: u64,
}

/// tract operators that are convolutions or matrix products.
const MAC_OPS: &[&str] = &[
    "Conv",
    "Deconv",
    "EinSum",
    "MatMul",
    "Gemm",
    "OptMatMul",
    "PrefixMatMul",
];

/// Inspects a model at the given concrete input shapes.
pub fn inspect(model: &Model, inputs: &[ConcreteSpec]) -> Result<Inspection> {
    let graph = model.proto.graph.as_ref().ok_or_else(|| Error::NotOnnx {
        path: model.name.clone().into(),
        reason: "no graph".into(),
    })?;
    let mut op_histogram = BTreeMap::new();
    for n in &graph.node {
        *op_histogram.entry(n.op_type.clone()).or_insert(0) += 1;
    }
    let stored = stored_tensors(graph);
    let typed = crate::tract_support::typed_model(model, inputs, "tract (used by inspect)")?;
    let (macs, other_ops, per_node, largest) = costs(model, inputs, &typed)?;
    Ok(Inspection {
        model: model.name.clone(),
        sha256: model.sha256.clone(),
        opset: model.opset(),
        ir_version: model.proto.ir_version,
        producer: format!(
            "{} {}",
            model.proto.producer_name, model.proto.producer_version
        )
        .trim()
        .to_owned(),
        declared_inputs: model.inputs.clone(),
        inputs: inputs.to_vec(),
        outputs: model.outputs.clone(),
        op_histogram,
        nodes: graph.node.len(),
        params: count_parameters(graph, &stored),
        stored_values: stored
            .values()
            .fold(0u64, |acc, t| acc.saturating_add(t.elements)),
        weights_bytes: stored
            .values()
            .fold(0u64, |acc, t| acc.saturating_add(t.bytes)),
        macs,
        flops: macs.saturating_mul(2),
        other_ops,
        largest_activation_bytes: largest.1,
        largest_activation: largest.0,
        per_node,
    })
}

/// The bytes one inference moves, the denominator of the roofline's arithmetic intensity
/// (`core::roofline`): every stored weight read once, and every activation written once by the
/// node that makes it and read once by the nodes that use it (the model's inputs are only read,
/// its outputs only written). A lower bound on an engine's real traffic where tensors spill
/// out of cache, an upper bound where it fuses operators and keeps intermediates in registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BytesMoved {
    /// Initializers and Constant nodes (as [`Inspection::weights_bytes`]).
    pub weights: u64,
    /// Activations at the given input shapes, each counted once per write and once per read.
    pub activations: u64,
}

impl BytesMoved {
    pub fn total(&self) -> u64 {
        self.weights.saturating_add(self.activations)
    }
}

/// The bytes one inference of `model` moves at the concrete input shapes `inputs` (see
/// [`BytesMoved`]), from tract's inferred shapes.
pub fn bytes_moved(model: &Model, inputs: &[ConcreteSpec]) -> Result<BytesMoved> {
    let graph = model.proto.graph.as_ref().ok_or_else(|| Error::NotOnnx {
        path: model.name.clone().into(),
        reason: "no graph".into(),
    })?;
    let weights = stored_tensors(graph)
        .values()
        .fold(0u64, |acc, t| acc.saturating_add(t.bytes));
    let typed = crate::tract_support::typed_model(model, inputs, "tract (used by inspect)")?;
    let mut activations = 0u64;
    for node in typed.nodes() {
        let op = node.op.name();
        if op == "Const" {
            continue;
        }
        for out in &node.outputs {
            let bytes = crate::memory::fact_bytes(&out.fact);
            let written = u64::from(op != "Source");
            let read = u64::from(!out.successors.is_empty());
            activations = activations.saturating_add(bytes.saturating_mul(written + read));
        }
    }
    Ok(BytesMoved {
        weights,
        activations,
    })
}

type CostTotals = (u64, u64, Vec<NodeCost>, (String, u64));

fn costs(model: &Model, inputs: &[ConcreteSpec], typed: &TypedModel) -> Result<CostTotals> {
    let rejected = |e: &dyn std::fmt::Display| {
        crate::tract_support::shape_rejected(model, inputs, crate::error::one_line(e))
    };
    let (mut macs, mut other) = (0u64, 0u64);
    let mut per_node = vec![];
    let mut largest = (String::new(), 0u64);
    for node in typed.nodes() {
        let op = node.op.name().to_string();
        if op == "Const" || op == "Source" {
            continue;
        }
        for (ix, out) in node.outputs.iter().enumerate() {
            let bytes = crate::memory::fact_bytes(&out.fact);
            if bytes > largest.1 {
                let label = typed
                    .outlet_label(OutletId::new(node.id, ix))
                    .unwrap_or(&node.name);
                largest = (label.to_owned(), bytes);
            }
        }
        let facts = typed.node_input_facts(node.id).map_err(|e| rejected(&e))?;
        let cost = node.op.cost(&facts).map_err(|e| rejected(&e))?;
        let is_mac = MAC_OPS.contains(&op.as_str());
        let (mut n_mac, mut n_other) = (0u64, 0u64);
        for (kind, amount) in cost {
            let amount = amount.to_i64().map_err(|e| rejected(&e))?.max(0) as u64;
            match kind {
                Cost::FMA(_) if is_mac => n_mac = n_mac.saturating_add(amount),
                Cost::FMA(_) | Cost::Div(_) => n_other = n_other.saturating_add(amount),
                _ => {}
            }
        }
        macs = macs.saturating_add(n_mac);
        other = other.saturating_add(n_other);
        if n_mac.saturating_add(n_other) > 0 {
            per_node.push(NodeCost {
                name: node.name.clone(),
                op,
                macs: n_mac,
                other_ops: n_other,
            });
        }
    }
    Ok((macs, other, per_node, largest))
}

#[derive(Debug, Clone, Copy)]
struct Stored {
    elements: u64,
    bytes: u64,
    float: bool,
}

/// Initializers and Constant-node outputs by name (Identity of a stored tensor is followed).
fn stored_tensors(graph: &pb::GraphProto) -> HashMap<String, Stored> {
    let describe = |t: &pb::TensorProto| {
        // Saturating: a crafted file may claim dims whose product overflows.
        let elements = t
            .dims
            .iter()
            .fold(1u64, |acc, &d| acc.saturating_mul(d.max(0) as u64));
        let dt = DType::from_onnx(t.data_type);
        Stored {
            elements,
            bytes: elements.saturating_mul(dt.size() as u64),
            float: dt.is_float(),
        }
    };
    let mut out: HashMap<String, Stored> = graph
        .initializer
        .iter()
        .map(|t| (t.name.clone(), describe(t)))
        .collect();
    for n in &graph.node {
        if n.op_type == "Constant" {
            if let (Some(t), Some(o)) = (
                n.attribute.iter().find_map(|a| a.t.as_ref()),
                n.output.first(),
            ) {
                out.insert(o.clone(), describe(t));
            }
        }
    }
    out
}

/// Learnable parameters, the convention of published tables (PyTorch's
/// `sum(p.numel() for p in model.parameters())`): float tensors stored in the file that are
/// Conv / ConvTranspose weights and biases, Gemm and MatMul operands, the scale and bias of
/// normalizations (not BatchNormalization's running mean and variance, which are buffers),
/// PRelu slopes, and non-scalar operands of elementwise Add / Mul / Sub / Div (biases and
/// layer scales; scalar constants are hyper-parameters). Each tensor counts once.
fn count_parameters(graph: &pb::GraphProto, stored: &HashMap<String, Stored>) -> u64 {
    // Follow Identity nodes back to the stored tensor they alias.
    let mut alias: HashMap<&str, &str> = HashMap::new();
    for n in &graph.node {
        if n.op_type == "Identity" {
            if let (Some(i), Some(o)) = (n.input.first(), n.output.first()) {
                if stored.contains_key(i) {
                    alias.insert(o, i);
                }
            }
        }
    }
    let mut learnable: HashSet<&str> = HashSet::new();
    for n in &graph.node {
        let slots: &[usize] = match n.op_type.as_str() {
            "Conv" | "ConvTranspose" => &[1, 2],
            "Gemm" => &[0, 1, 2],
            "MatMul" => &[0, 1],
            "BatchNormalization"
            | "InstanceNormalization"
            | "LayerNormalization"
            | "GroupNormalization" => &[1, 2],
            "PRelu" => &[1],
            "Add" | "Mul" | "Sub" | "Div" => &[0, 1],
            _ => &[],
        };
        let elementwise = matches!(n.op_type.as_str(), "Add" | "Mul" | "Sub" | "Div");
        for &slot in slots {
            let Some(name) = n.input.get(slot) else {
                continue;
            };
            let name = alias.get(name.as_str()).copied().unwrap_or(name.as_str());
            if let Some(t) = stored.get(name) {
                if t.float && (!elementwise || t.elements > 1) {
                    learnable.insert(name);
                }
            }
        }
    }
    learnable
        .iter()
        .filter_map(|n| stored.get(*n))
        .fold(0u64, |acc, t| acc.saturating_add(t.elements))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ShapeRequest;
    use crate::testmodel::{tiny_cnn_bytes, TinyCnn};

    #[test]
    fn tiny_cnn_counts_by_hand() {
        let o = TinyCnn::default(); // 8 channels, 32x32, 10 classes
        let m = Model::from_bytes("tiny", tiny_cnn_bytes(&o)).unwrap();
        let inputs = m.resolve_inputs(&ShapeRequest::default()).unwrap();
        let i = inspect(&m, &inputs).unwrap();
        // conv1 8*3*3*3 + 8, bn1 scale+bias 16, conv2 8*8*3*3, fc 10*8 + 10
        assert_eq!(i.params, 216 + 8 + 16 + 576 + 80 + 10);
        // running mean and var are stored but not learnable
        assert_eq!(i.stored_values, i.params + 16);
        assert_eq!(i.weights_bytes, i.stored_values * 4);
        // conv1 32*32 outputs * 8 * 27, conv2 16*16 * 8 * 72, fc 80
        assert_eq!(i.macs, 1024 * 8 * 27 + 256 * 8 * 72 + 80);
        assert_eq!(i.flops, 2 * i.macs);
        assert!(i.other_ops > 0, "batch norm and pooling cost something");
        assert_eq!(i.largest_activation_bytes, 8 * 32 * 32 * 4);
        assert_eq!(i.op_histogram.get("Conv"), Some(&2));
        assert_eq!(i.nodes, 8);
    }

    #[test]
    fn bytes_moved_counts_each_read_and_write() {
        let m = Model::from_bytes(
            "add",
            crate::testmodel::encode(&crate::testmodel::elementwise_roof(1000)),
        )
        .unwrap();
        let inputs = m.resolve_inputs(&ShapeRequest::default()).unwrap();
        // two inputs read, one output written, no weights
        let b = bytes_moved(&m, &inputs).unwrap();
        assert_eq!((b.weights, b.activations), (0, 3 * 1000 * 4));
        // tiny CNN: weights as inspect counts them, activations at least its input read once
        let m = Model::from_bytes("tiny", tiny_cnn_bytes(&TinyCnn::default())).unwrap();
        let inputs = m.resolve_inputs(&ShapeRequest::default()).unwrap();
        let b = bytes_moved(&m, &inputs).unwrap();
        let i = inspect(&m, &inputs).unwrap();
        assert_eq!(b.weights, i.weights_bytes);
        // conv1's output (8x32x32 floats) is written once and read once
        assert!(b.activations >= 3 * 32 * 32 * 4 + 2 * 8 * 32 * 32 * 4);
        assert_eq!(b.total(), b.weights + b.activations);
    }
}
