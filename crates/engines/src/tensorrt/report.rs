//! What trtexec writes, read back: its log (`sampleReporting.cpp` `printEpilog`, the device
//! block of `sampleDevice.cpp`, the `&&&&` lines of `logging.h`), `--exportTimes`
//! (`exportJSONTrace`), `--exportOutput` (`exportJSONOutput`) and `--exportLayerInfo` (the
//! engine inspector's JSON).

use edgebench_core::error::EngineError;
use edgebench_core::tensor::{HostTensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One line of trtexec's performance summary: `min = 0.8 ms, max = ..., percentile(99%) = ...`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrtStats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub median: f64,
    /// `(percent, value)` in the order trtexec prints them.
    pub percentiles: Vec<(f64, f64)>,
}

/// trtexec's `=== Performance summary ===`, in milliseconds (walltimes in seconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrtSummary {
    pub tensorrt_version: Option<String>,
    pub throughput_qps: Option<f64>,
    pub latency_ms: Option<TrtStats>,
    pub enqueue_ms: Option<TrtStats>,
    pub h2d_ms: Option<TrtStats>,
    pub gpu_compute_ms: Option<TrtStats>,
    pub d2h_ms: Option<TrtStats>,
    pub total_host_walltime_s: Option<f64>,
    pub total_gpu_compute_s: Option<f64>,
    /// `&&&& PASSED` was printed.
    pub passed: bool,
}

/// Parses trtexec's log; lines may carry `[date-time] [I] ` prefixes.
pub fn parse_summary(text: &str) -> Result<TrtSummary, EngineError> {
    let mut s = TrtSummary {
        tensorrt_version: super::version::parse_version(text).map(|v| v.to_string()),
        passed: text.lines().any(|l| l.starts_with("&&&& PASSED")),
        ..Default::default()
    };
    let mut in_summary = false;
    for line in text.lines() {
        let body = strip_prefixes(line);
        if body.starts_with("=== Performance summary ===") {
            in_summary = true;
            continue;
        }
        if !in_summary {
            continue;
        }
        if body.starts_with("===") {
            break;
        }
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "Throughput" => s.throughput_qps = first_number(value),
            "Latency" => s.latency_ms = Some(parse_stats(value)?),
            "Enqueue Time" => s.enqueue_ms = Some(parse_stats(value)?),
            "H2D Latency" => s.h2d_ms = Some(parse_stats(value)?),
            "GPU Compute Time" => s.gpu_compute_ms = Some(parse_stats(value)?),
            "D2H Latency" => s.d2h_ms = Some(parse_stats(value)?),
            "Total Host Walltime" => s.total_host_walltime_s = first_number(value),
            "Total GPU Compute Time" => s.total_gpu_compute_s = first_number(value),
            _ => {}
        }
    }
    if !in_summary {
        return Err(EngineError::Unparseable(
            "trtexec printed no performance summary".into(),
        ));
    }
    if s.latency_ms.is_none() && s.gpu_compute_ms.is_none() {
        return Err(EngineError::Unparseable(
            "trtexec's performance summary has no latency line".into(),
        ));
    }
    Ok(s)
}

/// A log line without its `[11/26/2025-10:00:00] [I] ` prefixes.
pub fn strip_prefixes(line: &str) -> &str {
    let mut l = line.trim();
    while l.starts_with('[') {
        match l.find(']') {
            Some(i) => l = l[i + 1..].trim_start(),
            None => break,
        }
    }
    l
}

fn first_number(s: &str) -> Option<f64> {
    s.split_whitespace().next()?.parse().ok()
}

/// `min = 1 ms, max = 2 ms, mean = ..., median = ..., percentile(99%) = ... ms`.
pub fn parse_stats(s: &str) -> Result<TrtStats, EngineError> {
    let mut st = TrtStats::default();
    let mut seen = 0;
    for part in s.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let v = first_number(v.trim())
            .ok_or_else(|| EngineError::Unparseable(format!("bad number in `{part}`")))?;
        match k.trim() {
            "min" => st.min = v,
            "max" => st.max = v,
            "mean" => st.mean = v,
            "median" => st.median = v,
            k => {
                if let Some(p) = k
                    .strip_prefix("percentile(")
                    .and_then(|r| r.strip_suffix("%)"))
                    .and_then(|p| p.parse::<f64>().ok())
                {
                    st.percentiles.push((p, v));
                }
                continue;
            }
        }
        seen += 1;
    }
    if seen < 4 {
        return Err(EngineError::Unparseable(format!(
            "expected min, max, mean and median in `{s}`"
        )));
    }
    Ok(st)
}

/// The GPU trtexec ran on: `Selected Device: NVIDIA A100 80GB PCIe` (the device block that
/// `setCudaDevice` prints before anything is built or loaded).
pub fn selected_device(text: &str) -> Option<String> {
    text.lines()
        .map(strip_prefixes)
        .find_map(|l| l.strip_prefix("Selected Device:"))
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
}

/// `Warmup completed 842 queries over 1000 ms` (`printProlog`): the warm-up queries trtexec
/// ran and left out of `--exportTimes`.
pub fn warmup_queries(text: &str) -> Option<usize> {
    text.lines()
        .map(strip_prefixes)
        .find_map(|l| l.strip_prefix("Warmup completed "))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
}

/// Why a run failed, in one line: trtexec's last error lines (`[E] ...`, which name the
/// unknown option, the static-shape rule, the input file size...), else its last line.
pub fn failure_reason(text: &str) -> String {
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("[E]") || l.contains("[F]"))
        .map(strip_prefixes)
        .filter(|l| !l.is_empty())
        .collect();
    // The first error is the cause ("Unknown option", the static-shape rule, an input file
    // of the wrong size); the last one says what gave up ("Engine set up failed").
    match (errors.first(), errors.last()) {
        (Some(first), Some(last)) if first != last => return format!("{first} ... {last}"),
        (Some(first), _) => return (*first).to_owned(),
        _ => {}
    }
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output")
        .to_owned()
}

/// One query of `--exportTimes` (`exportJSONTrace`): 12 keys, all milliseconds since
/// trtexec's start; the enqueue time is `endEnqMs - startEnqMs` (as `traceToTiming`
/// computes it), the latency `h2d + compute + d2h`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QueryTime {
    #[serde(rename = "startEnqMs")]
    pub start_enq: f64,
    #[serde(rename = "endEnqMs")]
    pub end_enq: f64,
    #[serde(rename = "startH2dMs")]
    pub start_h2d: f64,
    #[serde(rename = "endH2dMs")]
    pub end_h2d: f64,
    #[serde(rename = "startComputeMs")]
    pub start_compute: f64,
    #[serde(rename = "endComputeMs")]
    pub end_compute: f64,
    #[serde(rename = "startD2hMs")]
    pub start_d2h: f64,
    #[serde(rename = "endD2hMs")]
    pub end_d2h: f64,
    #[serde(rename = "h2dMs")]
    pub h2d: f64,
    #[serde(rename = "computeMs")]
    pub compute: f64,
    #[serde(rename = "d2hMs")]
    pub d2h: f64,
    #[serde(rename = "latencyMs")]
    pub latency: f64,
}

impl QueryTime {
    pub fn enqueue(&self) -> f64 {
        self.end_enq - self.start_enq
    }
}

/// Every query of an `--exportTimes` file, in order.
pub fn parse_times(json: &str) -> Result<Vec<QueryTime>, EngineError> {
    let v: Vec<QueryTime> = serde_json::from_str(json)
        .map_err(|e| EngineError::Unparseable(format!("--exportTimes file: {e}")))?;
    if let Some(q) = v.iter().find(|q| {
        ![q.latency, q.h2d, q.compute, q.d2h]
            .iter()
            .all(|x| x.is_finite() && *x >= 0.0)
    }) {
        return Err(EngineError::Unparseable(format!(
            "--exportTimes file: a query with a negative or non-finite time: {q:?}"
        )));
    }
    Ok(v)
}

/// Outputs from `--exportOutput` (`exportJSONOutput`):
/// `[ { "name" : "x"\n, "dimensions" : "1x1000"\n, "values" : [ 0.1, ... ]\n } ]`. trtexec
/// writes values with `operator<<`, so a NaN or an infinity comes out as `nan`, `-nan`,
/// `inf`, `-inf`, which JSON has no words for: they are read as such here.
pub fn parse_outputs(json: &str) -> Result<Vec<HostTensor>, EngineError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Number(f64),
        Word(String),
    }
    #[derive(Deserialize)]
    struct Out {
        name: String,
        dimensions: String,
        values: Vec<Value>,
    }
    let outs: Vec<Out> = serde_json::from_str(&quote_non_finite(json))
        .map_err(|e| EngineError::Unparseable(format!("--exportOutput file: {e}")))?;
    outs.into_iter()
        .map(|o| {
            let shape = parse_dims(&o.dimensions).ok_or_else(|| {
                EngineError::Unparseable(format!(
                    "output `{}`: bad dimensions `{}`",
                    o.name, o.dimensions
                ))
            })?;
            let n: usize = shape.iter().product();
            if o.values.len() != n {
                return Err(EngineError::Unparseable(format!(
                    "output `{}`: {} values for dimensions {}",
                    o.name,
                    o.values.len(),
                    o.dimensions
                )));
            }
            let values = o
                .values
                .into_iter()
                .map(|v| match v {
                    Value::Number(x) => Ok(x as f32),
                    Value::Word(w) => match w.as_str() {
                        "nan" | "-nan" => Ok(f32::NAN),
                        "inf" => Ok(f32::INFINITY),
                        "-inf" => Ok(f32::NEG_INFINITY),
                        _ => Err(EngineError::Unparseable(format!(
                            "output `{}`: `{w}` is not a number",
                            o.name
                        ))),
                    },
                })
                .collect::<Result<Vec<f32>, EngineError>>()?;
            Ok(HostTensor {
                name: o.name,
                shape,
                data: TensorData::F32(values),
            })
        })
        .collect()
}

/// Puts the bare words `nan`, `-nan`, `inf`, `-inf` (C++ stream output) outside strings in
/// quotes, so that the document parses as JSON.
fn quote_non_finite(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_string = false;
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let c = rest.chars().next().unwrap_or(' ');
        if c == '"' {
            in_string = !in_string;
        } else if !in_string {
            if let Some(w) = ["-nan", "nan", "-inf", "inf"]
                .into_iter()
                .find(|w| rest.starts_with(w))
            {
                out.push('"');
                out.push_str(w);
                out.push('"');
                i += w.len();
                continue;
            }
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `1x3x224x224` (`operator<<` of `Dims`); an empty string is a scalar.
fn parse_dims(s: &str) -> Option<Vec<usize>> {
    let s = s.trim();
    if s.is_empty() || s == "scalar" {
        return Some(vec![]);
    }
    s.split('x').map(|d| d.trim().parse().ok()).collect()
}

/// Which precision each layer of the built engine computes in, from `--exportLayerInfo` of
/// an engine built with `--profilingVerbosity=detailed`: the lowest type among each layer's
/// inputs and outputs (`"Format/Datatype": "Channel major FP16 format where channel % 8 ==
/// 0"`).
/// Reformat and no-op layers only move data and are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerPrecisions {
    /// Layers per precision ("f32", "f16", "bf16", "int8", "fp8", "other").
    pub counts: BTreeMap<String, usize>,
}

impl LayerPrecisions {
    /// The lowest precision any layer ran in: what the accuracy gate must allow for.
    pub fn lowest(&self) -> Option<&'static str> {
        RANK.into_iter()
            .find(|p| self.counts.get(*p).is_some_and(|n| *n > 0))
    }

    /// `int8 37, f16 29, f32 8`: largest first.
    pub fn describe(&self) -> String {
        let mut v: Vec<(&String, &usize)> = self.counts.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Precisions from the lowest up.
const RANK: [&str; 5] = ["fp8", "int8", "bf16", "f16", "f32"];

/// Reads an `--exportLayerInfo` file. `Ok(None)`: the engine was built without detailed
/// profiling verbosity, so the file names the layers only.
pub fn parse_layer_info(json: &str) -> Result<Option<LayerPrecisions>, EngineError> {
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| EngineError::Unparseable(format!("--exportLayerInfo file: {e}")))?;
    let layers = v.get("Layers").and_then(|l| l.as_array()).ok_or_else(|| {
        EngineError::Unparseable("--exportLayerInfo file has no `Layers` list".into())
    })?;
    let mut counts = BTreeMap::new();
    let mut detailed = false;
    for l in layers {
        let Some(obj) = l.as_object() else {
            continue;
        };
        detailed = true;
        let kind = obj.get("LayerType").and_then(|t| t.as_str()).unwrap_or("");
        if kind == "Reformat" || kind == "NoOp" {
            continue;
        }
        // A layer computes in the lowest precision it reads or writes: a Q/DQ convolution
        // reads int8 and may write fp16.
        let p = ["Inputs", "Outputs"]
            .iter()
            .filter_map(|k| obj.get(*k).and_then(|t| t.as_array()))
            .flatten()
            .filter_map(|t| t.get("Format/Datatype").and_then(|d| d.as_str()))
            .map(precision_of)
            .filter(|p| *p != "other")
            .min_by_key(|p| RANK.iter().position(|r| r == p))
            .unwrap_or("other");
        *counts.entry(p.to_owned()).or_insert(0) += 1;
    }
    Ok(detailed.then_some(LayerPrecisions { counts }))
}

/// `Row major linear FP32` -> f32; `Thirty-two wide channel vectorized row major Int8
/// format` -> int8 (the names of `nvinfer1::DataType` in the inspector's strings).
fn precision_of(format: &str) -> &'static str {
    let words: Vec<&str> = format.split_whitespace().collect();
    let has = |w: &str| words.iter().any(|x| x.eq_ignore_ascii_case(w));
    if has("FP32") {
        "f32"
    } else if has("FP16") || has("Half") {
        "f16"
    } else if has("BF16") {
        "bf16"
    } else if has("Int8") {
        "int8"
    } else if has("FP8") {
        "fp8"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_values_are_read() {
        let j = "[\n  { \"name\" : \"y\"\n  , \"dimensions\" : \"1x4\"\n  , \"values\" : [ nan, -inf, inf, -nan ]\n  }\n]\n";
        let o = parse_outputs(j).unwrap();
        let TensorData::F32(v) = &o[0].data else {
            panic!()
        };
        assert!(v[0].is_nan() && v[3].is_nan());
        assert_eq!(v[1], f32::NEG_INFINITY);
        assert_eq!(v[2], f32::INFINITY);
    }

    #[test]
    fn values_must_fill_the_dimensions() {
        let j = r#"[{"name":"y","dimensions":"2x2","values":[1,2,3]}]"#;
        assert!(parse_outputs(j)
            .unwrap_err()
            .to_string()
            .contains("3 values"));
        let j = r#"[{"name":"y","dimensions":"","values":[1]}]"#;
        assert_eq!(parse_outputs(j).unwrap()[0].shape, Vec::<usize>::new());
    }

    #[test]
    fn failures_name_the_cause() {
        let log = "&&&& RUNNING TensorRT.trtexec [TensorRT v101600] [b72] # trtexec --onnx=m.onnx --shapes=x:1x3\n[12/01/2026-10:00:00] [E] Static model does not take explicit shapes since the shape of inference tensors will be determined by the model itself\n[12/01/2026-10:00:00] [E] Network And Config setup failed\n[12/01/2026-10:00:00] [E] Building engine failed\n[12/01/2026-10:00:00] [E] Failed to create engine from model or file.\n[12/01/2026-10:00:00] [E] Engine set up failed\n&&&& FAILED TensorRT.trtexec [TensorRT v101600] [b72] # trtexec --onnx=m.onnx --shapes=x:1x3\n";
        let r = failure_reason(log);
        assert!(
            r.starts_with("Static model does not take explicit shapes"),
            "{r}"
        );
        assert!(r.ends_with("Engine set up failed"), "{r}");
        assert_eq!(failure_reason("boom\n\n"), "boom");
        assert_eq!(selected_device(log), None);
        assert_eq!(
            selected_device("[I] Selected Device: NVIDIA H100 80GB HBM3\n").as_deref(),
            Some("NVIDIA H100 80GB HBM3")
        );
    }
}
