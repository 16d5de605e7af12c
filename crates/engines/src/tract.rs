//! tract, the pure-Rust engine: `tract:reference` runs the decluttered graph with tract's
//! plain interpreter; `tract:optimized` runs tract's hardware-specific optimized plan
//! (kernel selection for this CPU, fused operators, packed weights).
//!
//! The precision recorded is read from the plan that runs: every node's input types, counted
//! by precision (`core::precision`), not the request. `quant=int8` is refused: tract 0.23.9
//! runs a QDQ model's convolutions in float32 (see [`QUANT_REFUSED`]).

use edgebench_core::engine::{
    check_spec, Availability, Engine, EngineSpec, PrepareOptions, Session, SessionInfo, VariantInfo,
};
use edgebench_core::error::{one_line, Error, Result};
use edgebench_core::model::Model;
use edgebench_core::tensor::{HostTensor, TensorData};
use edgebench_core::tract_support::{guard, inference_model, shape_rejected, TractFailure};
use tract_onnx::prelude::*;

/// The tract version this build links (pinned in the workspace Cargo.toml).
pub const TRACT_VERSION: &str = "0.23.9";

pub struct Tract;

/// Why `tract:...,quant=int8` is refused. Tried on the zoo's squeezenet1_1 quantized by
/// `edgebench quantize` (QDQ, per-channel): tract's optimized plan held no int8 node among its
/// 43 convolutions and matrix products (dequantize, then float32 kernels), ran slower than the
/// float model (35.2 against 26.6 ms median, 2 threads, this repository's 2-core VM) and failed
/// the float32 gate.
pub const QUANT_REFUSED: &str = "tract 0.23.9 runs a QDQ model's convolutions in float32 (dequantize, then float kernels), so it has no int8 variant; use ort:all,quant=int8 or openvino:f32,quant=int8, or bench the file of `edgebench quantize` as a model of its own";

const VARIANTS: &[&str] = &["reference", "optimized"];

impl Engine for Tract {
    fn name(&self) -> &'static str {
        "tract"
    }

    fn availability(&self) -> Availability {
        Availability::Available {
            version: TRACT_VERSION.into(),
            devices: vec!["cpu".into()],
        }
    }

    fn variants(&self) -> Vec<VariantInfo> {
        vec![
            VariantInfo {
                spec: "tract:reference".into(),
                description: "decluttered graph, tract's plain interpreter (before optimization)"
                    .into(),
            },
            VariantInfo {
                spec: "tract:optimized".into(),
                description:
                    "tract's optimized plan for this CPU (after optimization; the default)".into(),
            },
        ]
    }

    fn validate(&self, spec: &EngineSpec) -> Result<()> {
        check_spec(spec, VARIANTS, &[], crate::lowp::QUANT_KEYS)?;
        if spec.options.contains_key("quant") || spec.options.contains_key("calib") {
            return Err(Error::InvalidArgument(format!(
                "--engine {spec}: {QUANT_REFUSED}"
            )));
        }
        Ok(())
    }

    fn prepare(
        &self,
        model: &Model,
        spec: &EngineSpec,
        opts: &PrepareOptions,
    ) -> Result<Box<dyn Session>> {
        self.validate(spec)?;
        let optimized = spec.variant().unwrap_or("optimized") == "optimized";
        let label = if optimized {
            "tract:optimized"
        } else {
            "tract:reference"
        };
        let threads = opts.threads.unwrap_or(1).max(1);
        let executor = if threads > 1 {
            tract_linalg::multithread::Executor::multithread(threads)
        } else {
            tract_linalg::multithread::Executor::SingleThread
        };
        tract_linalg::multithread::set_default_executor(executor);

        let m = inference_model(model, &opts.inputs, label)?;
        let typed = guard(|| m.into_typed()).map_err(|r| shape_rejected(model, &opts.inputs, r))?;
        let engine_err = |reason: TractFailure| Error::Engine {
            engine: label.into(),
            reason: reason.to_string(),
        };
        let plan = guard(|| {
            let typed = if optimized {
                typed.into_optimized()?
            } else {
                typed.into_decluttered()?
            };
            typed.into_runnable()
        })
        .map_err(engine_err)?;
        let evidence = plan_precision(plan.model(), optimized);
        let state = guard(|| TypedSimpleState::new(&plan)).map_err(engine_err)?;
        Ok(Box::new(TractSession {
            label,
            state,
            inputs: tvec![],
            outputs: tvec![],
            threads,
            evidence,
        }))
    }
}

struct TractSession {
    label: &'static str,
    state: TypedSimpleState,
    inputs: TVec<TValue>,
    outputs: TVec<TValue>,
    threads: usize,
    /// The plan's nodes by precision.
    evidence: Option<edgebench_core::precision::PrecisionEvidence>,
}

/// edgebench's precision of a tract datum type; `None` for shapes, indices and booleans.
fn precision_of(dt: DatumType) -> Option<&'static str> {
    Some(match dt.unquantized() {
        DatumType::F32 => "f32",
        DatumType::F16 => "f16",
        DatumType::F64 => "f64",
        DatumType::I8 | DatumType::U8 => "int8",
        _ => return None,
    })
}

/// The nodes of the plan that runs, counted by the precision of their first input with one
/// (the plan's own types: what tract's kernels compute in).
fn plan_precision(
    model: &TypedModel,
    optimized: bool,
) -> Option<edgebench_core::precision::PrecisionEvidence> {
    let mut e = edgebench_core::precision::PrecisionEvidence::default();
    let mut n = 0;
    for node in model.nodes() {
        let Some(p) = node
            .inputs
            .iter()
            .filter_map(|i| model.outlet_fact(*i).ok())
            .find_map(|f| precision_of(f.datum_type))
        else {
            continue;
        };
        n += 1;
        *e.kernels.entry(p.to_owned()).or_default() += 1;
        let op = node.op.name();
        if crate::proof::is_compute(&op) || op.contains("EinSum") {
            *e.compute.entry(p.to_owned()).or_default() += 1;
        }
    }
    e.source = format!(
        "tract's {} plan: {n} nodes by their input type",
        if optimized {
            "optimized"
        } else {
            "decluttered"
        }
    );
    (n > 0).then_some(e)
}

impl Session for TractSession {
    fn set_inputs(&mut self, inputs: &[HostTensor]) -> Result<()> {
        self.inputs = inputs
            .iter()
            .map(|t| to_tract(t).map(|t| t.into_tvalue()))
            .collect::<TractResult<_>>()
            .map_err(|e| Error::Engine {
                engine: self.label.into(),
                reason: one_line(&e),
            })?;
        Ok(())
    }

    #[inline]
    fn run(&mut self) -> Result<()> {
        match self.state.run(self.inputs.clone()) {
            Ok(out) => {
                self.outputs = out;
                Ok(())
            }
            Err(e) => Err(Error::Engine {
                engine: self.label.into(),
                reason: one_line(&e),
            }),
        }
    }

    fn outputs(&mut self) -> Result<Vec<HostTensor>> {
        let names: Vec<String> = self
            .state
            .model()
            .output_outlets()
            .map(|outlets| {
                outlets
                    .iter()
                    .map(|o| {
                        self.state
                            .model()
                            .outlet_label(*o)
                            .map(str::to_owned)
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.outputs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                from_tract(
                    names
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("output{i}")),
                    t,
                )
            })
            .collect::<TractResult<_>>()
            .map_err(|e| Error::Engine {
                engine: self.label.into(),
                reason: one_line(&e),
            })
    }

    fn info(&self) -> SessionInfo {
        let mut details = std::collections::BTreeMap::new();
        details.insert(
            "plan".into(),
            if self.label.ends_with("optimized") {
                "into_optimized"
            } else {
                "into_decluttered"
            }
            .into(),
        );
        let mut info = SessionInfo {
            engine_version: TRACT_VERSION.into(),
            threads: Some(self.threads),
            device: "cpu".into(),
            precision: "f32".into(),
            details,
        };
        if let Some(e) = &self.evidence {
            e.record(&mut info);
        }
        info
    }
}

pub(crate) fn to_tract(t: &HostTensor) -> TractResult<Tensor> {
    Ok(match &t.data {
        TensorData::F32(v) => Tensor::from_shape(&t.shape, v)?,
        TensorData::F64(v) => Tensor::from_shape(&t.shape, v)?,
        TensorData::I64(v) => Tensor::from_shape(&t.shape, v)?,
        TensorData::I32(v) => Tensor::from_shape(&t.shape, v)?,
        TensorData::I8(v) => Tensor::from_shape(&t.shape, v)?,
        TensorData::U8(v) => Tensor::from_shape(&t.shape, v)?,
        TensorData::Bool(v) => Tensor::from_shape(&t.shape, v)?,
    })
}

pub(crate) fn from_tract(name: String, t: &Tensor) -> TractResult<HostTensor> {
    let shape = t.shape().to_vec();
    let data = match t.datum_type() {
        DatumType::F64 => TensorData::F64(values(t)?),
        DatumType::I64 => TensorData::I64(values(t)?),
        DatumType::I32 => TensorData::I32(values(t)?),
        DatumType::Bool => TensorData::Bool(values(t)?),
        _ => TensorData::F32(values(&*t.cast_to::<f32>()?)?),
    };
    Ok(HostTensor { name, shape, data })
}

fn values<D: Datum + Copy>(t: &Tensor) -> TractResult<Vec<D>> {
    Ok(t.to_plain_array_view::<D>()?.iter().copied().collect())
}
