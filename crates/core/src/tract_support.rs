//! Bridges between edgebench's model description and tract: parse with concrete input
//! shapes, map tract's errors to edgebench's, and keep tract's panics on hostile input from
//! taking the process down.

use crate::error::{one_line, Error, Result};
use crate::model::Model;
use crate::tensor::{shape_string, ConcreteSpec, DType};
use std::panic::{catch_unwind, AssertUnwindSafe};
use tract_onnx::pb;
use tract_onnx::prelude::*;

/// Nodes whose operator tract's ONNX front-end does not know: `(op_type, node name)`.
pub fn unsupported_ops(proto: &pb::ModelProto) -> Vec<(String, String)> {
    let onnx = tract_onnx::onnx();
    let mut out = vec![];
    if let Some(g) = &proto.graph {
        for (i, n) in g.node.iter().enumerate() {
            if !onnx.op_register.0.contains_key(&n.op_type) {
                let name = if n.name.is_empty() {
                    format!("#{i}")
                } else {
                    n.name.clone()
                };
                out.push((n.op_type.clone(), name));
            }
        }
    }
    out
}

/// The tract element type of an edgebench one.
pub fn datum_type(d: DType) -> Option<DatumType> {
    Some(match d {
        DType::F32 => f32::datum_type(),
        DType::F64 => f64::datum_type(),
        DType::F16 => f16::datum_type(),
        DType::I64 => i64::datum_type(),
        DType::I32 => i32::datum_type(),
        DType::I16 => i16::datum_type(),
        DType::I8 => i8::datum_type(),
        DType::U8 => u8::datum_type(),
        DType::Bool => bool::datum_type(),
        _ => return None,
    })
}

/// Parses the model with tract and fixes every input to its concrete shape.
pub fn inference_model(
    model: &Model,
    inputs: &[ConcreteSpec],
    engine: &str,
) -> Result<InferenceModel> {
    if let Some((op, node)) = unsupported_ops(&model.proto).into_iter().next() {
        return Err(Error::UnsupportedOp {
            model: model.name.clone(),
            engine: engine.into(),
            op,
            node,
        });
    }
    let dir = model.model_dir();
    let parsed =
        guard(|| tract_onnx::onnx().parse(&model.proto, dir.as_deref())).map_err(|reason| {
            Error::Engine {
                engine: engine.into(),
                reason: format!("cannot parse {}: {reason}", model.name),
            }
        })?;
    if !parsed.unresolved_inputs.is_empty() {
        return Err(Error::NotOnnx {
            path: model.name.clone().into(),
            reason: format!(
                "nodes read values nothing produces: {}",
                parsed.unresolved_inputs.join(", ")
            ),
        });
    }
    let mut m = parsed.model;
    for (ix, spec) in inputs.iter().enumerate() {
        let dt = datum_type(spec.dtype).ok_or_else(|| Error::UnsupportedInputType {
            input: spec.name.clone(),
            dtype: spec.dtype.to_string(),
        })?;
        m.set_input_fact(ix, InferenceFact::dt_shape(dt, spec.shape.clone()))
            .map_err(|e| Error::Engine {
                engine: engine.into(),
                reason: one_line(&e),
            })?;
    }
    Ok(m)
}

/// The typed (type- and shape-checked) model at concrete shapes.
pub fn typed_model(model: &Model, inputs: &[ConcreteSpec], engine: &str) -> Result<TypedModel> {
    let m = inference_model(model, inputs, engine)?;
    guard(|| m.into_typed()).map_err(|reason| shape_rejected(model, inputs, reason))
}

/// The error for shapes tract's type inference refuses.
pub fn shape_rejected(
    model: &Model,
    inputs: &[ConcreteSpec],
    reason: impl std::fmt::Display,
) -> Error {
    let shapes = inputs
        .iter()
        .map(|i| format!("{}:{}", i.name, shape_string(&i.shape)))
        .collect::<Vec<_>>()
        .join(" ");
    Error::ShapeRejected {
        model: model.name.clone(),
        shapes,
        reason: reason.to_string(),
    }
}

/// Why a tract call failed: its error, or a panic on input it did not expect. Both print as
/// the one-line reason users see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TractFailure {
    /// tract returned an error (its chain on one line).
    #[error("{0}")]
    Error(String),
    /// tract panicked (the panic's message).
    #[error("tract panicked: {0}")]
    Panicked(String),
}

/// Runs a tract call, turning both its errors and its panics into a [`TractFailure`].
pub fn guard<T>(f: impl FnOnce() -> TractResult<T>) -> std::result::Result<T, TractFailure> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(TractFailure::Error(one_line(&e))),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(TractFailure::Panicked(msg))
        }
    }
}
