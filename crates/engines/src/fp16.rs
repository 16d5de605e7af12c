//! float32 -> float16 conversion of an ONNX model, for the engines whose fp16 variant runs a
//! float16 model: TensorRT 11, which builds strongly typed networks only (the precision comes
//! from the model, so `tensorrt:fp16` of a float32 model builds this converted copy), and ONNX
//! Runtime's `dtype=fp16`.
//!
//! It does what onnxconverter-common's `convert_float_to_float16(model, keep_io_types=True)`
//! does for the graphs it accepts: float initializers and constants become float16, the
//! graph's float inputs and outputs stay float32 with a Cast node behind each input and in
//! front of each output. Graphs with an operator that must stay float32
//! (onnxconverter-common's `DEFAULT_OP_BLOCK_LIST`), a Cast to float32, subgraphs or external
//! data are refused with the fix (give a float16 model) rather than converted half-way.

use edgebench_core::error::EngineError;
use tract_onnx::pb;

/// ONNX `TensorProto.DataType` values.
const FLOAT: i32 = 1;
const FLOAT16: i32 = 10;
const DOUBLE: i32 = 11;

/// onnxconverter-common's `DEFAULT_OP_BLOCK_LIST` (float16.py): operators that need float32.
const BLOCK_LIST: &[&str] = &[
    "ArrayFeatureExtractor",
    "Binarizer",
    "CastMap",
    "CategoryMapper",
    "DictVectorizer",
    "FeatureVectorizer",
    "Imputer",
    "LabelEncoder",
    "LinearClassifier",
    "LinearRegressor",
    "Normalizer",
    "OneHotEncoder",
    "RandomUniformLike",
    "SVMClassifier",
    "SVMRegressor",
    "Scaler",
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "ZipMap",
    "NonMaxSuppression",
    "TopK",
    "RoiAlign",
    "Resize",
    "Range",
    "CumSum",
    "Min",
    "Max",
    "Upsample",
];

const FIX: &str = "give a float16 model instead (onnxconverter-common's float16.convert_float_to_float16(model, keep_io_types=True))";

/// The float16 copy of `model`, with float32 inputs and outputs.
pub fn convert(model: &pb::ModelProto) -> Result<pb::ModelProto, EngineError> {
    let mut m = model.clone();
    let g = m
        .graph
        .as_mut()
        .ok_or_else(|| EngineError::ModelRefused("the model has no graph".into()))?;
    for n in &g.node {
        if BLOCK_LIST.contains(&n.op_type.as_str()) {
            return Err(EngineError::Unsupported(format!(
                "node {} ({}) must stay float32, which this conversion does not do; {FIX}",
                n.name, n.op_type
            )));
        }
        if n.attribute
            .iter()
            .any(|a| a.g.is_some() || !a.graphs.is_empty())
        {
            return Err(EngineError::Unsupported(format!(
                "node {} ({}) has a subgraph, which this conversion does not do; {FIX}",
                n.name, n.op_type
            )));
        }
        if n.op_type == "Cast"
            && n.attribute
                .iter()
                .any(|a| a.name == "to" && (a.i == i64::from(FLOAT) || a.i == i64::from(DOUBLE)))
        {
            return Err(EngineError::Unsupported(format!(
                "node {} casts to float32 or float64, which this conversion does not change; {FIX}",
                n.name
            )));
        }
    }
    for t in &mut g.initializer {
        to_half(t)?;
    }
    for n in &mut g.node {
        for a in &mut n.attribute {
            if let Some(t) = a.t.as_mut() {
                to_half(t)?;
            }
            if !a.floats.is_empty() && n.op_type == "Constant" {
                return Err(EngineError::Unsupported(format!(
                    "Constant {} holds value_floats, which this conversion does not do; {FIX}",
                    n.name
                )));
            }
        }
        if n.op_type == "Constant" && n.attribute.iter().any(|a| a.name == "value_float") {
            return Err(EngineError::Unsupported(format!(
                "Constant {} holds value_float, which this conversion does not do; {FIX}",
                n.name
            )));
        }
    }
    let initializers: std::collections::HashSet<String> =
        g.initializer.iter().map(|t| t.name.clone()).collect();
    let mut front = vec![];
    let mut back = vec![];
    for input in &g.input {
        if initializers.contains(&input.name) || elem_type(input) != Some(FLOAT) {
            continue;
        }
        let half = format!("{}__fp16", input.name);
        for n in &mut g.node {
            for i in &mut n.input {
                if *i == input.name {
                    *i = half.clone();
                }
            }
        }
        front.push(cast(&input.name, &half, FLOAT16));
    }
    for output in &g.output {
        if elem_type(output) != Some(FLOAT) {
            continue;
        }
        let half = format!("{}__fp16", output.name);
        for n in &mut g.node {
            for name in n.input.iter_mut().chain(n.output.iter_mut()) {
                if *name == output.name {
                    *name = half.clone();
                }
            }
        }
        back.push(cast(&half, &output.name, FLOAT));
    }
    let body = std::mem::take(&mut g.node);
    g.node = front.into_iter().chain(body).chain(back).collect();
    // Intermediate types are float16 now: let the parser infer them again.
    g.value_info.clear();
    Ok(m)
}

fn elem_type(v: &pb::ValueInfoProto) -> Option<i32> {
    let pb::type_proto::Value::TensorType(t) = v.r#type.as_ref()?.value.as_ref()?;
    Some(t.elem_type)
}

fn cast(from: &str, to: &str, ty: i32) -> pb::NodeProto {
    pb::NodeProto {
        name: format!("edgebench_cast_{to}"),
        op_type: "Cast".into(),
        input: vec![from.into()],
        output: vec![to.into()],
        attribute: vec![pb::AttributeProto {
            name: "to".into(),
            r#type: pb::attribute_proto::AttributeType::Int as i32,
            i: i64::from(ty),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A float tensor's values as float16, stored as raw little-endian bytes.
fn to_half(t: &mut pb::TensorProto) -> Result<(), EngineError> {
    if t.data_type != FLOAT {
        return Ok(());
    }
    if !t.external_data.is_empty() {
        return Err(EngineError::Unsupported(format!(
            "tensor {} is stored outside the model file, which this conversion does not read; {FIX}",
            t.name
        )));
    }
    let values: Vec<f32> = if !t.raw_data.is_empty() {
        t.raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        std::mem::take(&mut t.float_data)
    };
    t.float_data.clear();
    t.raw_data = values
        .iter()
        .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
        .collect();
    t.data_type = FLOAT16;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_core::testmodel::{encode, tiny_cnn, TinyCnn};
    use tract_onnx::prelude::*;

    fn run(bytes: &[u8], input: &Tensor) -> Vec<f32> {
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .unwrap()
            .into_optimized()
            .unwrap()
            .into_runnable()
            .unwrap();
        let out = model.run(tvec!(input.clone().into())).unwrap();
        out[0]
            .to_plain_array_view::<f32>()
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn the_converted_model_computes_the_same_within_fp16() {
        let o = TinyCnn::default();
        let mut m = tiny_cnn(&o);
        // tract 0.23.9 cannot type a float16 Gemm (its expansion makes a float32 output), so
        // the check stops at the features in front of it: Conv, BatchNormalization, Relu,
        // GlobalAveragePool, Flatten in float16. The whole model, Gemm included, is checked
        // against the reference through the trtexec stand-in (tests/trtexec_standin.rs).
        let g = m.graph.as_mut().unwrap();
        let gemm = g.node.pop().unwrap();
        assert_eq!(gemm.op_type, "Gemm");
        g.output[0].name = gemm.input[0].clone();
        if let Some(pb::type_proto::Value::TensorType(t)) =
            g.output[0].r#type.as_mut().and_then(|t| t.value.as_mut())
        {
            if let Some(s) = t.shape.as_mut() {
                s.dim[1].value = Some(pb::tensor_shape_proto::dimension::Value::DimValue(
                    o.channels as i64,
                ));
            }
        }
        let h = convert(&m).unwrap();
        let g = h.graph.as_ref().unwrap();
        assert!(g.initializer.iter().all(|t| t.data_type != FLOAT));
        assert_eq!(g.node.first().unwrap().op_type, "Cast");
        assert_eq!(g.node.last().unwrap().op_type, "Cast");
        // Inputs and outputs keep their names and float32.
        assert_eq!(g.input[0].name, m.graph.as_ref().unwrap().input[0].name);
        assert_eq!(elem_type(&g.output[0]), Some(FLOAT));
        let n = 3 * o.size * o.size;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let input = tract_ndarray::Array4::from_shape_vec((1, 3, o.size, o.size), x)
            .unwrap()
            .into_tensor();
        let want = run(&encode(&m), &input);
        let got = run(&encode(&h), &input);
        assert_eq!(want.len(), got.len());
        for (a, b) in want.iter().zip(&got) {
            assert!((a - b).abs() <= 1e-2 + 1e-2 * a.abs(), "{a} vs {b}");
        }
    }

    #[test]
    fn blocked_operators_are_refused_with_the_fix() {
        let mut m = tiny_cnn(&TinyCnn::default());
        m.graph.as_mut().unwrap().node[2].op_type = "Resize".into();
        let e = convert(&m).unwrap_err().to_string();
        assert!(e.contains("Resize") && e.contains("float16"), "{e}");
    }
}
