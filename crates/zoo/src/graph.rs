//! A small ONNX graph builder: the layers the zoo's architectures are made of.
//!
//! Every layer takes the name of the PyTorch module it mirrors (`layer1.0.conv1`) so that the
//! initializers carry `state_dict()` names and the nodes read like the PyTorch model. Shapes are
//! tracked statically (the batch is fixed), so classifier widths and reshape targets come out of
//! the graph rather than being written by hand.
//!
//! Each value also carries a rough estimate of its second moment (`E[x²]` over its elements).
//! It exists only to choose BatchNormalization running statistics that keep activations near
//! unit scale, the way a trained network's statistics do, without running the network.

use std::collections::HashSet;

use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, NodeProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};

use crate::weights::{Fill, WeightJob};

/// A tensor flowing through the graph under construction.
#[derive(Clone, Debug)]
pub(crate) struct Value {
    pub name: String,
    pub shape: Vec<usize>,
    /// Estimated second moment of the elements, see the module docs.
    pub m: f64,
    /// The part of `m` that comes from non-negative terms (a ReLU output carried by a residual
    /// connection), which a following ReLU passes instead of halving.
    pub nn: f64,
}

impl Value {
    fn with(&self, name: String, m: f64, nn: f64) -> Value {
        Value {
            name,
            shape: self.shape.clone(),
            m,
            nn,
        }
    }
    /// Moments after a rectifier: the zero-mean part halves, the non-negative part passes.
    fn rectified(&self) -> (f64, f64) {
        let m = self.nn + (self.m - self.nn) / 2.0;
        (m, m)
    }
}

impl Value {
    pub fn channels(&self) -> usize {
        self.shape[1]
    }
    pub fn spatial(&self) -> &[usize] {
        &self.shape[2..]
    }
}

/// Convolution settings, PyTorch's `nn.Conv{2,3}d` arguments. Spatial rank comes from `kernel`.
#[derive(Clone, Debug)]
pub(crate) struct Conv {
    out: usize,
    kernel: Vec<usize>,
    stride: Vec<usize>,
    pad: Vec<usize>,
    dilation: Vec<usize>,
    groups: usize,
    bias: bool,
}

impl Conv {
    /// A square 2D convolution, stride 1, no padding, no bias (set them with the builders).
    pub fn d2(out: usize, k: usize) -> Conv {
        Conv::new(out, &[k, k])
    }
    /// A cubic 3D convolution, stride 1, no padding, no bias.
    pub fn d3(out: usize, k: usize) -> Conv {
        Conv::new(out, &[k, k, k])
    }
    pub fn new(out: usize, kernel: &[usize]) -> Conv {
        let r = kernel.len();
        Conv {
            out,
            kernel: kernel.to_vec(),
            stride: vec![1; r],
            pad: vec![0; r],
            dilation: vec![1; r],
            groups: 1,
            bias: false,
        }
    }
    pub fn stride(mut self, s: usize) -> Conv {
        self.stride = vec![s; self.kernel.len()];
        self
    }
    pub fn strides(mut self, s: &[usize]) -> Conv {
        self.stride = s.to_vec();
        self
    }
    pub fn pad(mut self, p: usize) -> Conv {
        self.pad = vec![p; self.kernel.len()];
        self
    }
    pub fn pads(mut self, p: &[usize]) -> Conv {
        self.pad = p.to_vec();
        self
    }
    /// `padding = (k - 1) / 2 * dilation`, PyTorch's `Conv2dNormActivation` default.
    pub fn same(mut self) -> Conv {
        self.pad = self
            .kernel
            .iter()
            .zip(&self.dilation)
            .map(|(k, d)| (k - 1) / 2 * d)
            .collect();
        self
    }
    pub fn groups(mut self, g: usize) -> Conv {
        self.groups = g;
        self
    }
    pub fn bias(mut self, b: bool) -> Conv {
        self.bias = b;
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PoolKind {
    Max,
    Avg,
}

/// Pooling settings, PyTorch's `nn.MaxPool*d` / `nn.AvgPool*d` arguments.
#[derive(Clone, Debug)]
pub(crate) struct Pool {
    kind: PoolKind,
    kernel: Vec<usize>,
    stride: Vec<usize>,
    pad: Vec<usize>,
    ceil: bool,
}

impl Pool {
    /// Square max pooling; the stride defaults to the kernel, as in PyTorch.
    pub fn max(rank: usize, k: usize) -> Pool {
        Pool::new(PoolKind::Max, &vec![k; rank])
    }
    pub fn avg(rank: usize, k: usize) -> Pool {
        Pool::new(PoolKind::Avg, &vec![k; rank])
    }
    pub fn new(kind: PoolKind, kernel: &[usize]) -> Pool {
        Pool {
            kind,
            kernel: kernel.to_vec(),
            stride: kernel.to_vec(),
            pad: vec![0; kernel.len()],
            ceil: false,
        }
    }
    pub fn stride(mut self, s: usize) -> Pool {
        self.stride = vec![s; self.kernel.len()];
        self
    }
    pub fn pad(mut self, p: usize) -> Pool {
        self.pad = vec![p; self.kernel.len()];
        self
    }
    pub fn ceil(mut self) -> Pool {
        self.ceil = true;
        self
    }
}

/// PyTorch's output size rule for convolution and pooling, ceil mode included (a window that
/// would start in the right padding is dropped).
fn out_size(input: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
    let span = input + 2 * p - d * (k - 1) - 1;
    let mut out = if ceil { span.div_ceil(s) } else { span / s } + 1;
    if ceil && (out - 1) * s >= input + p {
        out -= 1;
    }
    out
}

pub(crate) struct Graph {
    nodes: Vec<NodeProto>,
    weights: Vec<WeightJob>,
    node_names: HashSet<String>,
    constants: usize,
    input: Option<ValueInfoProto>,
    pub counts: Counts,
}

/// Learnable parameters and multiply-accumulates, counted while building (the same convention
/// as `edgebench inspect`: convolution and matrix-product MACs; BatchNormalization running
/// statistics are not parameters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub params: u64,
    pub macs: u64,
}

fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn attr_ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.iter().map(|&x| x as i64).collect(),
        ..Default::default()
    }
}

fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f,
        ..Default::default()
    }
}

fn attr_tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(t),
        ..Default::default()
    }
}

/// ONNX pads: all begins, then all ends.
fn onnx_pads(p: &[usize]) -> Vec<usize> {
    p.iter().chain(p.iter()).copied().collect()
}

pub(crate) fn value_info(name: &str, shape: &[usize]) -> ValueInfoProto {
    let dim = shape
        .iter()
        .map(|&d| tensor_shape_proto::Dimension {
            value: Some(tensor_shape_proto::dimension::Value::DimValue(d as i64)),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Graph {
    pub fn new() -> Graph {
        Graph {
            nodes: Vec::new(),
            weights: Vec::new(),
            node_names: HashSet::new(),
            constants: 0,
            input: None,
            counts: Counts::default(),
        }
    }

    /// The graph input, named `input`, with a unit second moment (a standardized image or clip).
    pub fn input(&mut self, shape: Vec<usize>) -> Value {
        self.input = Some(value_info("input", &shape));
        Value {
            name: "input".into(),
            shape,
            m: 1.0,
            nn: 0.0,
        }
    }

    /// Closes the graph: the value `out` becomes the output `logits`. Returns the graph without
    /// initializers and the weights still to be generated.
    pub fn finish(mut self, out: &Value) -> (GraphProto, Vec<WeightJob>) {
        for node in &mut self.nodes {
            for o in &mut node.output {
                if *o == out.name {
                    "logits".clone_into(o);
                }
            }
        }
        let graph = GraphProto {
            node: self.nodes,
            name: "edgebench_zoo".into(),
            input: self.input.into_iter().collect(),
            output: vec![value_info("logits", &out.shape)],
            ..Default::default()
        };
        (graph, self.weights)
    }

    fn unique(&mut self, name: &str) -> String {
        if self.node_names.insert(name.to_string()) {
            return name.to_string();
        }
        let mut i = 1;
        loop {
            let candidate = format!("{name}_{i}");
            if self.node_names.insert(candidate.clone()) {
                return candidate;
            }
            i += 1;
        }
    }

    /// Adds a node with one output; the output value is named like the node.
    fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: Vec<String>,
        attribute: Vec<AttributeProto>,
    ) -> String {
        let name = self.unique(name);
        self.nodes.push(NodeProto {
            input: inputs,
            output: vec![name.clone()],
            name: name.clone(),
            op_type: op.into(),
            attribute,
            ..Default::default()
        });
        name
    }

    fn weight(&mut self, name: String, dims: Vec<usize>, fill: Fill) -> String {
        self.weights.push(WeightJob {
            name: name.clone(),
            dims,
            fill,
        });
        name
    }

    /// A constant as a `Constant` node, so that initializers are exactly the state_dict.
    fn constant(&mut self, t: TensorProto) -> String {
        self.constants += 1;
        let name = format!("const_{}", self.constants);
        let name = self.unique(&name);
        self.nodes.push(NodeProto {
            output: vec![name.clone()],
            name: name.clone(),
            op_type: "Constant".into(),
            attribute: vec![attr_tensor("value", t)],
            ..Default::default()
        });
        name
    }

    fn const_i64(&mut self, v: &[i64]) -> String {
        self.constant(TensorProto {
            dims: vec![v.len() as i64],
            data_type: DataType::Int64 as i32,
            int64_data: v.to_vec(),
            ..Default::default()
        })
    }

    fn const_scalar(&mut self, f: f32) -> String {
        self.constant(TensorProto {
            data_type: DataType::Float as i32,
            float_data: vec![f],
            ..Default::default()
        })
    }

    /// `nn.Conv{2,3}d` named `name` (weight `name.weight`, bias `name.bias`). Weights are
    /// He-uniform (`kaiming_uniform_` with the ReLU gain), the bias PyTorch's default uniform.
    pub fn conv(&mut self, name: &str, x: &Value, c: &Conv) -> Value {
        let cin = x.channels();
        let per_group = cin / c.groups;
        let fan_in = per_group * c.kernel.iter().product::<usize>();
        let mut wdims = vec![c.out, per_group];
        wdims.extend(&c.kernel);
        let bound = (6.0 / fan_in as f64).sqrt();
        let w = self.weight(format!("{name}.weight"), wdims, Fill::uniform(bound));
        let mut inputs = vec![x.name.clone(), w];
        let mut m = 2.0 * x.m;
        if c.bias {
            let bb = 1.0 / (fan_in as f64).sqrt();
            inputs.push(self.weight(format!("{name}.bias"), vec![c.out], Fill::uniform(bb)));
            m += bb * bb / 3.0;
        }
        let spatial: Vec<usize> = (0..c.kernel.len())
            .map(|i| {
                out_size(
                    x.spatial()[i],
                    c.kernel[i],
                    c.stride[i],
                    c.pad[i],
                    c.dilation[i],
                    false,
                )
            })
            .collect();
        let attrs = vec![
            attr_ints("kernel_shape", &c.kernel),
            attr_ints("strides", &c.stride),
            attr_ints("pads", &onnx_pads(&c.pad)),
            attr_ints("dilations", &c.dilation),
            attr_int("group", c.groups as i64),
        ];
        let out = self.node("Conv", name, inputs, attrs);
        let mut shape = vec![x.shape[0], c.out];
        shape.extend(spatial);
        let weights = (c.out * fan_in) as u64;
        self.counts.params += weights + if c.bias { c.out as u64 } else { 0 };
        self.counts.macs +=
            weights * shape[2..].iter().product::<usize>() as u64 * x.shape[0] as u64;
        Value {
            name: out,
            shape,
            m,
            nn: 0.0,
        }
    }

    /// `nn.BatchNorm{2,3}d` in eval mode. Running statistics are chosen from the estimated
    /// moments of the input so that the output is roughly standardized; the affine parameters
    /// are close to PyTorch's defaults (1 and 0) but not equal, so that a mis-wired parameter
    /// shows in the output checks.
    pub fn bn(&mut self, name: &str, x: &Value, eps: f32) -> Value {
        let c = vec![x.channels()];
        self.counts.params += 2 * x.channels() as u64;
        let sd = x.m.sqrt();
        let inputs = vec![
            x.name.clone(),
            self.weight(format!("{name}.weight"), c.clone(), Fill::range(0.8, 1.2)),
            self.weight(format!("{name}.bias"), c.clone(), Fill::range(-0.1, 0.1)),
            self.weight(
                format!("{name}.running_mean"),
                c.clone(),
                Fill::range(-0.1 * sd, 0.1 * sd),
            ),
            self.weight(
                format!("{name}.running_var"),
                c,
                Fill::range(0.8 * x.m, 1.2 * x.m),
            ),
        ];
        let out = self.node(
            "BatchNormalization",
            name,
            inputs,
            vec![attr_float("epsilon", eps)],
        );
        x.with(out, 1.0, 0.0)
    }

    fn unary(
        &mut self,
        op: &str,
        name: &str,
        x: &Value,
        (m, nn): (f64, f64),
        attrs: Vec<AttributeProto>,
    ) -> Value {
        let out = self.node(op, name, vec![x.name.clone()], attrs);
        x.with(out, m, nn)
    }

    pub fn relu(&mut self, name: &str, x: &Value) -> Value {
        self.unary("Relu", name, x, x.rectified(), vec![])
    }

    /// `nn.ReLU6` as `Clip(0, 6)`.
    pub fn relu6(&mut self, name: &str, x: &Value) -> Value {
        let lo = self.const_scalar(0.0);
        let hi = self.const_scalar(6.0);
        let out = self.node("Clip", name, vec![x.name.clone(), lo, hi], vec![]);
        let m = x.rectified().0.min(36.0);
        x.with(out, m, m)
    }

    /// `nn.Hardswish`: ONNX HardSwish (opset 14) is exactly `x * relu6(x + 3) / 6`.
    pub fn hardswish(&mut self, name: &str, x: &Value) -> Value {
        self.unary("HardSwish", name, x, x.rectified(), vec![])
    }

    /// `nn.Hardsigmoid`: `relu6(x + 3) / 6`, i.e. ONNX HardSigmoid with alpha 1/6 (not the
    /// ONNX default 0.2) and beta 0.5.
    pub fn hardsigmoid(&mut self, name: &str, x: &Value) -> Value {
        let attrs = vec![attr_float("alpha", 1.0 / 6.0), attr_float("beta", 0.5)];
        self.unary("HardSigmoid", name, x, (0.3, 0.3), attrs)
    }

    pub fn sigmoid(&mut self, name: &str, x: &Value) -> Value {
        self.unary("Sigmoid", name, x, (0.3, 0.3), vec![])
    }

    /// `nn.SiLU` as `x * sigmoid(x)` (ONNX has no SiLU operator).
    pub fn silu(&mut self, name: &str, x: &Value) -> Value {
        let s = self.sigmoid(&format!("{name}.sigmoid"), x);
        let out = self.node("Mul", name, vec![x.name.clone(), s.name], vec![]);
        let (m, nn) = x.rectified();
        x.with(out, m, nn)
    }

    /// Elementwise sum of two values of the same shape (a residual connection).
    pub fn add(&mut self, name: &str, a: &Value, b: &Value) -> Value {
        let out = self.node("Add", name, vec![a.name.clone(), b.name.clone()], vec![]);
        a.with(out, a.m + b.m, a.nn + b.nn)
    }

    /// Elementwise product, `b` broadcast over `a` (a squeeze-and-excitation scale).
    pub fn mul(&mut self, name: &str, a: &Value, b: &Value) -> Value {
        let out = self.node("Mul", name, vec![a.name.clone(), b.name.clone()], vec![]);
        a.with(out, a.m * b.m, a.nn * b.m)
    }

    pub fn pool(&mut self, name: &str, x: &Value, p: &Pool) -> Value {
        let spatial: Vec<usize> = (0..p.kernel.len())
            .map(|i| {
                out_size(
                    x.spatial()[i],
                    p.kernel[i],
                    p.stride[i],
                    p.pad[i],
                    1,
                    p.ceil,
                )
            })
            .collect();
        let mut attrs = vec![
            attr_ints("kernel_shape", &p.kernel),
            attr_ints("strides", &p.stride),
            attr_ints("pads", &onnx_pads(&p.pad)),
        ];
        if p.ceil {
            attrs.push(attr_int("ceil_mode", 1));
        }
        let op = match p.kind {
            PoolKind::Max => "MaxPool",
            PoolKind::Avg => {
                // PyTorch's AvgPool default count_include_pad=True.
                if p.pad.iter().any(|&v| v > 0) {
                    attrs.push(attr_int("count_include_pad", 1));
                }
                "AveragePool"
            }
        };
        let out = self.node(op, name, vec![x.name.clone()], attrs);
        let mut shape = x.shape[..2].to_vec();
        shape.extend(spatial);
        // The maximum of a window is larger and non-negative on average.
        let (m, nn) = match p.kind {
            PoolKind::Max => (2.0 * x.m, 2.0 * x.m),
            PoolKind::Avg => (x.m, x.nn),
        };
        Value {
            name: out,
            shape,
            m,
            nn,
        }
    }

    /// `AdaptiveAvgPool{2,3}d(1)` (or `x.mean([2, 3])`): output N x C x 1 x 1 (x 1).
    pub fn global_avg_pool(&mut self, name: &str, x: &Value) -> Value {
        let out = self.node("GlobalAveragePool", name, vec![x.name.clone()], vec![]);
        let mut shape = x.shape[..2].to_vec();
        shape.extend(vec![1; x.shape.len() - 2]);
        Value {
            name: out,
            shape,
            m: x.m,
            nn: x.nn,
        }
    }

    /// `torch.flatten(x, 1)`.
    pub fn flatten(&mut self, name: &str, x: &Value) -> Value {
        let out = self.node(
            "Flatten",
            name,
            vec![x.name.clone()],
            vec![attr_int("axis", 1)],
        );
        Value {
            name: out,
            shape: vec![x.shape[0], x.shape[1..].iter().product()],
            m: x.m,
            nn: x.nn,
        }
    }

    /// `nn.Linear` as `Gemm` with `transB=1`, so the weight keeps PyTorch's `[out, in]` layout.
    pub fn linear(&mut self, name: &str, x: &Value, out_features: usize) -> Value {
        let fan_in = x.shape[1];
        let bound = (6.0 / fan_in as f64).sqrt();
        let bb = 1.0 / (fan_in as f64).sqrt();
        let inputs = vec![
            x.name.clone(),
            self.weight(
                format!("{name}.weight"),
                vec![out_features, fan_in],
                Fill::uniform(bound),
            ),
            self.weight(
                format!("{name}.bias"),
                vec![out_features],
                Fill::uniform(bb),
            ),
        ];
        let out = self.node("Gemm", name, inputs, vec![attr_int("transB", 1)]);
        self.counts.params += ((fan_in + 1) * out_features) as u64;
        self.counts.macs += (fan_in * out_features * x.shape[0]) as u64;
        Value {
            name: out,
            shape: vec![x.shape[0], out_features],
            m: 2.0 * x.m + bb * bb / 3.0,
            nn: 0.0,
        }
    }

    /// `torch.cat(xs, 1)`.
    pub fn concat(&mut self, name: &str, xs: &[Value]) -> Value {
        let c: usize = xs.iter().map(Value::channels).sum();
        let m = xs.iter().map(|x| x.m * x.channels() as f64).sum::<f64>() / c as f64;
        let nn = xs.iter().map(|x| x.nn * x.channels() as f64).sum::<f64>() / c as f64;
        let out = self.node(
            "Concat",
            name,
            xs.iter().map(|x| x.name.clone()).collect(),
            vec![attr_int("axis", 1)],
        );
        let mut shape = xs[0].shape.clone();
        shape[1] = c;
        Value {
            name: out,
            shape,
            m,
            nn,
        }
    }

    /// `x.chunk(2, dim=1)`: two halves along the channels.
    pub fn split_half(&mut self, name: &str, x: &Value) -> (Value, Value) {
        let half = x.channels() / 2;
        let sizes = self.const_i64(&[half as i64, half as i64]);
        let name = self.unique(name);
        let outs = [format!("{name}.0"), format!("{name}.1")];
        self.nodes.push(NodeProto {
            input: vec![x.name.clone(), sizes],
            output: outs.to_vec(),
            name,
            op_type: "Split".into(),
            attribute: vec![attr_int("axis", 1)],
            ..Default::default()
        });
        let mut shape = x.shape.clone();
        shape[1] = half;
        let [a, b] = outs;
        (
            Value {
                name: a,
                shape: shape.clone(),
                m: x.m,
                nn: x.nn,
            },
            Value {
                name: b,
                shape,
                m: x.m,
                nn: x.nn,
            },
        )
    }

    pub fn reshape(&mut self, name: &str, x: &Value, shape: &[usize]) -> Value {
        let target: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        let s = self.const_i64(&target);
        let out = self.node("Reshape", name, vec![x.name.clone(), s], vec![]);
        Value {
            name: out,
            shape: shape.to_vec(),
            m: x.m,
            nn: x.nn,
        }
    }

    pub fn transpose(&mut self, name: &str, x: &Value, perm: &[usize]) -> Value {
        let out = self.node(
            "Transpose",
            name,
            vec![x.name.clone()],
            vec![attr_ints("perm", perm)],
        );
        Value {
            name: out,
            shape: perm.iter().map(|&p| x.shape[p]).collect(),
            m: x.m,
            nn: x.nn,
        }
    }

    /// torchvision's `channel_shuffle`: view as (n, groups, c / groups, h, w), swap axes 1 and 2,
    /// view back.
    pub fn channel_shuffle(&mut self, name: &str, x: &Value, groups: usize) -> Value {
        let (n, c) = (x.shape[0], x.channels());
        let mut split = vec![n, groups, c / groups];
        split.extend(x.spatial());
        let r = self.reshape(&format!("{name}.view"), x, &split);
        let mut perm: Vec<usize> = (0..split.len()).collect();
        perm.swap(1, 2);
        let t = self.transpose(&format!("{name}.transpose"), &r, &perm);
        self.reshape(&format!("{name}.flatten"), &t, &x.shape)
    }
}

#[cfg(test)]
mod tests {
    use super::out_size;

    #[test]
    fn output_sizes_follow_pytorch() {
        // resnet stem: 224 -> 112 -> 56
        assert_eq!(out_size(224, 7, 2, 3, 1, false), 112);
        assert_eq!(out_size(112, 3, 2, 1, 1, false), 56);
        // squeezenet1_0: conv 7/2 on 224 gives 109, ceil-mode pool 3/2 gives 54
        assert_eq!(out_size(224, 7, 2, 0, 1, false), 109);
        assert_eq!(out_size(109, 3, 2, 0, 1, true), 54);
        // googlenet: maxpool 3/2 ceil on 112 gives 56, maxpool4 2/2 ceil on 14 gives 7
        assert_eq!(out_size(112, 3, 2, 0, 1, true), 56);
        assert_eq!(out_size(14, 2, 2, 0, 1, true), 7);
        // alexnet: 55 -> 27 (floor), c3d_small pool5 on 7 -> 3
        assert_eq!(out_size(55, 3, 2, 0, 1, false), 27);
        assert_eq!(out_size(7, 2, 2, 0, 1, false), 3);
    }
}
