//! What precision ran, read from what an engine reports about its own kernels: ONNX Runtime's
//! profile (one JSON event per kernel run, with its operator, provider and input types) and
//! OpenVINO's performance counters (one entry per node, with the primitive that executed it,
//! whose name ends in its precision: `brgconv_avx512_I8`, `jit_avx512_f32`). Both become a
//! `core::precision::PrecisionEvidence`; the engines call these parsers after measurement
//! (`Session::read_back`). Pure functions, so that they are tested on saved real output.

use edgebench_core::error::EngineError;
use edgebench_core::precision::{normalize, PrecisionEvidence};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Whether an operator is a compute kernel (a convolution, matrix product or attention):
/// the kernels whose precision decides the speed. Quantize/dequantize, casts, pooling and
/// reorders are counted among all kernels only.
pub fn is_compute(op: &str) -> bool {
    [
        "Conv",
        "MatMul",
        "Gemm",
        "Attention",
        "FullyConnected",
        "Convolution",
    ]
    .iter()
    .any(|k| op.contains(k))
}

#[derive(Deserialize)]
struct OrtEvent {
    #[serde(default)]
    cat: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    args: OrtArgs,
}

#[derive(Deserialize, Default)]
struct OrtArgs {
    #[serde(default)]
    op_name: String,
    #[serde(default)]
    provider: String,
    /// `[{"uint8": [1, 3, 224, 224]}, {"float": []}, ...]`
    #[serde(default)]
    input_type_shape: Vec<BTreeMap<String, serde_json::Value>>,
}

/// The kernels of an ONNX Runtime profile (the JSON `Session::end_profiling` writes), counted
/// by precision: a kernel's precision is its first input's element type (`uint8`/`int8`:
/// int8, `float16`: f16, `float`: f32); kernels whose inputs have no such type (shape
/// arithmetic on int64) are left out. `source` names where the profile came from.
pub fn ort_profile(json: &str, source: &str) -> Result<PrecisionEvidence, EngineError> {
    let events: Vec<OrtEvent> = serde_json::from_str(json).map_err(|e| {
        EngineError::Unparseable(format!("the onnx runtime profile is not its JSON: {e}"))
    })?;
    let mut evidence = PrecisionEvidence::default();
    let mut providers = BTreeMap::<String, usize>::new();
    let mut n = 0;
    for e in events
        .iter()
        .filter(|e| e.cat == "Node" && e.name.ends_with("_kernel_time"))
    {
        let Some(p) = e
            .args
            .input_type_shape
            .iter()
            .flat_map(|m| m.keys())
            .find_map(|t| normalize(t))
        else {
            continue;
        };
        n += 1;
        *evidence.kernels.entry(p.to_owned()).or_default() += 1;
        if is_compute(&e.args.op_name) {
            *evidence.compute.entry(p.to_owned()).or_default() += 1;
        }
        *providers.entry(e.args.provider.clone()).or_default() += 1;
    }
    if n == 0 {
        return Err(EngineError::Unparseable(
            "the onnx runtime profile has no kernel events".into(),
        ));
    }
    let providers: Vec<String> = providers.iter().map(|(p, n)| format!("{p} {n}")).collect();
    evidence.source = format!("{source}: {n} kernel events ({})", providers.join(", "));
    Ok(evidence)
}

/// One entry of OpenVINO's performance counters (`ov_profiling_info_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvCounter {
    pub node_type: String,
    /// The primitive that ran: `brgconv_avx512_I8`, `jit_avx512_f32`, `gemm_mlas_f32`.
    pub exec_type: String,
    /// Whether the node executed (fused and constant nodes did not).
    pub executed: bool,
}

/// The executed nodes of OpenVINO's performance counters, counted by the precision at the end
/// of their primitive's name (`_I8`, `_i8`, `_u8`: int8; `_bf16`; `_f16`; `_f32`, `_FP32`).
pub fn openvino_counters(
    counters: &[OvCounter],
    source: &str,
) -> Result<PrecisionEvidence, EngineError> {
    let mut evidence = PrecisionEvidence::default();
    let mut n = 0;
    for c in counters.iter().filter(|c| c.executed) {
        let Some(p) = c.exec_type.rsplit('_').next().and_then(normalize) else {
            continue;
        };
        n += 1;
        *evidence.kernels.entry(p.to_owned()).or_default() += 1;
        if is_compute(&c.node_type) {
            *evidence.compute.entry(p.to_owned()).or_default() += 1;
        }
    }
    if n == 0 {
        return Err(EngineError::Unparseable(
            "openvino's performance counters list no executed node with a precision".into(),
        ));
    }
    evidence.source = format!("{source}: {n} executed nodes");
    Ok(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openvino_exec_types() {
        let c = |t: &str, e: &str, x: bool| OvCounter {
            node_type: t.into(),
            exec_type: e.into(),
            executed: x,
        };
        // As OpenVINO 2026.4 reported them for a quantized conv-pool-gemm model.
        let counters = [
            c("Parameter", "unknown_f32", false),
            c("Subgraph", "jit_avx512_f32", true),
            c("Reorder", "jit_uni_I8", true),
            c("Convolution", "brgconv_avx512_I8", true),
            c("FakeQuantize", "undef", false),
            c("ReduceMean", "jit_avx512_i8", true),
            c("FullyConnected", "brgemm_avx512_i8", true),
            c("Result", "unknown_f32", false),
        ];
        let e = openvino_counters(&counters, "counters").unwrap();
        assert_eq!(e.compute.get("int8"), Some(&2));
        assert_eq!(e.kernels.get("int8"), Some(&4));
        assert_eq!(e.kernels.get("f32"), Some(&1));
        assert_eq!(e.ran(), Some("int8"));
        assert!(openvino_counters(&counters[..1], "x").is_err());
    }

    #[test]
    fn ort_profile_rejects_garbage() {
        assert!(ort_profile("not json", "x").is_err());
        assert!(ort_profile("[]", "x").is_err());
    }
}
