//! What one child process does: load one model, inspect it, prepare and measure one engine
//! variant, and write its result and the outputs the accuracy gate needs to files. The
//! parent reads them back; a child that crashes or hangs loses only its own measurement.

use crate::{io_err, Result};
use edgebench_core::bench::{run_variant, BenchOptions};
use edgebench_core::engine::EngineSpec;
use edgebench_core::measure::{MeasureOptions, Progress};
use edgebench_core::memory::{self, Limit, Run};
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::schema::study::Task;
use edgebench_core::schema::{ModelInfo, VariantResult};
use edgebench_core::telemetry::{ProbeOptions, Telemetry};
use edgebench_core::tensor::{HostTensor, TensorData};
use edgebench_torch::source::{ModelSource, ZooDefaults};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything a child needs, written by the parent as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerJob {
    pub label: String,
    pub source: String,
    pub task: Task,
    pub shapes: Vec<String>,
    pub batch: usize,
    pub spec: String,
    pub threads: Option<usize>,
    pub seed: u64,
    pub measure: MeasureOptions,
    pub target_fps: f64,
    /// The study's `realtime.clip_stride`: the real-time verdict of a video model counts this
    /// many new frames per clip instead of the clip length.
    #[serde(default)]
    pub clip_stride: Option<usize>,
    pub gate_inputs: usize,
    /// Where the child writes its [`WorkerResult`].
    pub result_path: PathBuf,
    /// Where the child writes the outputs of every gate input set.
    pub outputs_path: PathBuf,
    /// Telemetry for the child to sample, with the idle power the parent measured before
    /// the study (a child cannot: the previous child's load still shows in the sensors).
    #[serde(default)]
    pub telemetry: Option<JobTelemetry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTelemetry {
    pub settings: edgebench_core::telemetry::TelemetrySettings,
    pub idle: Option<edgebench_core::telemetry::Idle>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerResult {
    pub model: ModelInfo,
    pub result: VariantResult,
}

/// Outputs as stored on disk (values as f64; the gate compares in f64).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredTensor {
    name: String,
    shape: Vec<usize>,
    #[serde(with = "non_finite_as_text")]
    values: Vec<f64>,
}

/// JSON has no NaN or infinity (serde_json writes `null` and cannot read it back): they are
/// stored as the strings `"NaN"`, `"inf"` and `"-inf"`, so that the gate sees them and fails
/// the variant for them instead of finding the outputs unreadable.
mod non_finite_as_text {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            if x.is_finite() {
                seq.serialize_element(x)?;
            } else if x.is_nan() {
                seq.serialize_element("NaN")?;
            } else if *x > 0.0 {
                seq.serialize_element("inf")?;
            } else {
                seq.serialize_element("-inf")?;
            }
        }
        seq.end()
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Number(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Vec::<Value>::deserialize(d)?
            .into_iter()
            .map(|v| match v {
                Value::Number(x) => Ok(x),
                Value::Text(t) => match t.as_str() {
                    "NaN" => Ok(f64::NAN),
                    "inf" => Ok(f64::INFINITY),
                    "-inf" => Ok(f64::NEG_INFINITY),
                    _ => Err(serde::de::Error::custom(format!("`{t}` is not a number"))),
                },
            })
            .collect()
    }
}

/// Runs a job and writes its two files. Model and engine errors become a `failed` result,
/// and so does a run that would need more memory than `limit` (checked before anything
/// whose size comes from the model is allocated); only an unreadable job or an unwritable
/// folder is an error. The child prints `progress` on stdout for its parent's display.
pub fn run(job: &WorkerJob, limit: &Limit, progress: &mut dyn FnMut(Progress)) -> Result<()> {
    progress(Progress::Loading);
    let spec = EngineSpec::parse(&job.spec)?;
    let mut facts = ModelInfo::unloaded(&job.label, &job.source, Some(job.task));
    let (result, outputs) = match load(job, &spec, limit) {
        Err(e) => (VariantResult::failed(&spec, e.to_string()), vec![]),
        Ok((model, inputs)) => {
            facts = ModelInfo {
                label: job.label.clone(),
                task: Some(job.task),
                ..edgebench_torch::source::describe(&job.source, &model, inputs.clone())
            };
            match edgebench_engines::find(&spec.engine) {
                Err(e) => (VariantResult::failed(&spec, e.to_string()), vec![]),
                Ok(engine) => {
                    let opts = BenchOptions {
                        batch: inputs
                            .first()
                            .and_then(|i| i.shape.first().copied())
                            .unwrap_or(1),
                        inputs,
                        threads: job.threads,
                        seed: job.seed,
                        measure: job.measure.clone(),
                        rounds: 1,
                        target_fps: job.target_fps,
                        gate_input_sets: job.gate_inputs,
                        telemetry: job.telemetry.as_ref().map(|t| {
                            let mut tel = Telemetry::open(&t.settings, &ProbeOptions::default());
                            tel.idle = t.idle.clone();
                            Arc::new(tel)
                        }),
                        scenario: None,
                    };
                    progress(Progress::Preparing);
                    let run = run_variant(engine.as_ref(), &model, &spec, &opts, progress);
                    (run.result, run.outputs)
                }
            }
        }
    };
    write_outputs(&job.outputs_path, &outputs)?;
    let mut result = result;
    if job.clip_stride.is_some() {
        // bench judged with the default stride (the clip length); the study's own stride,
        // by the same rule, so that results.jsonl and summary.json agree.
        let frames = edgebench_core::realtime::frames_per_inference(
            &facts.inputs,
            job.batch,
            job.clip_stride,
        );
        result.realtime = edgebench_core::realtime::judge(&result.raw_ms, job.target_fps, frames);
    }
    let doc = WorkerResult {
        model: facts,
        result,
    };
    write_json(&job.result_path, &doc)
}

fn load(
    job: &WorkerJob,
    spec: &EngineSpec,
    limit: &Limit,
) -> Result<(Model, Vec<edgebench_core::tensor::ConcreteSpec>)> {
    // The CLI's loader. The study's batch is the zoo model's: the config refuses a batch in
    // the `zoo:` query.
    let model = ModelSource::parse_onnx(&job.source)?.load(ZooDefaults {
        classes: None,
        batch: Some(job.batch),
    })?;
    let shapes = job
        .shapes
        .iter()
        .map(|s| ShapeRequest::parse_shape(s))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let inputs = model.resolve_inputs(&ShapeRequest {
        shapes,
        batch: Some(job.batch),
    })?;
    let run = Run {
        // The outputs of every gate set are written as JSON for the parent.
        outputs_as_json: true,
        ..Run::bench(spec, job.gate_inputs)
    };
    memory::check(&model, &inputs, &[(spec.to_string(), run)], limit)?;
    Ok((model, inputs))
}

/// Writes JSON through a temporary file and a rename, so a reader never sees half a file.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| io_err(path, e))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

fn write_outputs(path: &Path, sets: &[Vec<HostTensor>]) -> Result<()> {
    let stored: Vec<Vec<StoredTensor>> = sets
        .iter()
        .map(|set| {
            set.iter()
                .map(|t| StoredTensor {
                    name: t.name.clone(),
                    shape: t.shape.clone(),
                    values: t.data.to_f64(),
                })
                .collect()
        })
        .collect();
    write_json(path, &stored)
}

/// Reads outputs written by a worker.
pub fn read_outputs(path: &Path) -> Result<Vec<Vec<HostTensor>>> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let stored: Vec<Vec<StoredTensor>> =
        serde_json::from_slice(&bytes).map_err(|e| io_err(path, e))?;
    Ok(stored
        .into_iter()
        .map(|set| {
            set.into_iter()
                .map(|t| HostTensor {
                    name: t.name,
                    shape: t.shape,
                    data: TensorData::F64(t.values),
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NaN written as JSON `null` made the outputs unreadable and the variant "not
    /// verified"; they must come back as NaN for the gate to fail it.
    #[test]
    fn non_finite_outputs_survive_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let sets = vec![vec![HostTensor {
            name: "scores".into(),
            shape: vec![1, 4],
            data: TensorData::F32(vec![0.5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY]),
        }]];
        write_outputs(&path, &sets).unwrap();
        let back = read_outputs(&path).unwrap();
        let v = back[0][0].data.to_f64();
        assert_eq!(v[0], 0.5);
        assert!(v[1].is_nan());
        assert_eq!((v[2], v[3]), (f64::INFINITY, f64::NEG_INFINITY));
    }
}
