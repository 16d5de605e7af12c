//! The search space of `optimize`: engine spec strings x threads x batch, built from what each
//! engine's own grammar accepts (`Engine::validate`) and what can run here
//! (`Engine::availability_for`). Specs are written as strings and kept only when the engine
//! accepts them, so an option an engine gains later (`quant=int8`, say) joins the search
//! without a change here, and one it lacks is never sent.

use super::Objective;
use edgebench_core::engine::{Availability, Engine, EngineSpec};
use serde::{Deserialize, Serialize};

/// One configuration to race: what `bench` would run with
/// `-e SPEC --threads THREADS --batch BATCH`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub spec: String,
    pub threads: usize,
    pub batch: usize,
    /// The precision asked for (`fp32`, `bf16`, `fp16`, `int8`); what ran is in the session.
    pub precision: String,
}

impl Candidate {
    /// `SPEC --threads N [--batch B]`: the candidate as `bench` flags.
    pub fn label(&self) -> String {
        let mut s = format!("{} --threads {}", self.spec, self.threads);
        if self.batch > 1 {
            s.push_str(&format!(" --batch {}", self.batch));
        }
        s
    }

    /// Whether the accuracy gate judges it with a reduced-precision tolerance.
    pub fn reduced_precision(&self) -> bool {
        self.precision != "fp32"
    }
}

/// A spec the search would have raced but that cannot run here or that its engine refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub spec: String,
    pub reason: String,
}

/// Thread counts tried on a machine with `cores` physical cores: 1, half and all of them.
pub fn thread_counts(cores: usize) -> Vec<usize> {
    let mut t = vec![1, cores / 2, cores];
    t.retain(|&n| n >= 1);
    t.sort_unstable();
    t.dedup();
    t
}

/// Batch sizes tried: 1 except for the throughput objective, which doubles up to `max`.
pub fn batch_sizes(objective: Objective, max: usize) -> Vec<usize> {
    match objective {
        Objective::Throughput => std::iter::successors(Some(1usize), |b| Some(b * 2))
            .take_while(|&b| b <= max.max(1))
            .collect(),
        _ => vec![1],
    }
}

/// The spec strings each engine is asked about, with the precision each asks for. `gpu`:
/// whether an engine here reports a CUDA device (GPU-only options are left out otherwise,
/// since they could only fail).
pub fn spec_strings(engine: &str, gpu: bool) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = vec![];
    let mut push = |s: String, p: &'static str| out.push((s, p));
    match engine {
        "tract" => {
            // tract:reference is tract before optimization: never the fastest way to run.
            push("tract:optimized".into(), "fp32");
            push("tract:optimized,quant=int8".into(), "int8");
            push("tract:optimized,fp16".into(), "fp16");
        }
        "ort" => {
            for level in ["basic", "extended", "all"] {
                push(format!("ort:{level}"), "fp32");
            }
            push("ort:all,quant=int8".into(), "int8");
            push("ort:all,fp16".into(), "fp16");
            if gpu {
                push("ort:all,ep=cuda".into(), "fp32");
                push("ort:all,ep=tensorrt".into(), "fp32");
                push("ort:all,ep=tensorrt,fp16".into(), "fp16");
            }
        }
        "openvino" => {
            for (variant, precision) in [("f32", "fp32"), ("bf16", "bf16"), ("f16", "fp16")] {
                push(format!("openvino:{variant}"), precision);
                push(format!("openvino:{variant},hint=throughput"), precision);
            }
            push("openvino:f32,quant=int8".into(), "int8");
        }
        "torch" if gpu => {
            for dtype in ["fp32", "fp16"] {
                let p = if dtype == "fp16" { "fp16" } else { "fp32" };
                let base = format!("torch:eager,device=cuda,dtype={dtype}");
                push(base.clone(), p);
                push(
                    format!("torch:eager,cuda_graph,device=cuda,dtype={dtype}"),
                    p,
                );
                push(
                    format!("torch:eager,channels_last,cuda_graph,device=cuda,dtype={dtype}"),
                    p,
                );
                push(format!("{base},compile=reduce-overhead"), p);
                push(format!("{base},compile=max-autotune"), p);
            }
        }
        "tensorrt" => {
            push("tensorrt:fp32".into(), "fp32");
            push("tensorrt:fp16".into(), "fp16");
            push("tensorrt:int8".into(), "int8");
            push("tensorrt:best".into(), "fp16");
        }
        "tract-cuda" if gpu => push("tract-cuda:f32".into(), "fp32"),
        _ => {}
    }
    out
}

/// Whether an engine's availability names a GPU.
pub fn has_gpu(engines: &[Box<dyn Engine>]) -> bool {
    engines.iter().any(|e| match e.availability() {
        Availability::Available { devices, .. } => devices.iter().any(|d| {
            let d = d.to_ascii_lowercase();
            d.starts_with("cuda") || d.starts_with("gpu")
        }),
        _ => false,
    })
}

/// Every candidate for `engines` (in their order), and the specs left out with why.
/// `threads_of(spec)` gives the thread counts of a spec: engines on a GPU get one.
pub fn candidates(
    engines: &[Box<dyn Engine>],
    threads: &[usize],
    batches: &[usize],
) -> (Vec<Candidate>, Vec<Skipped>) {
    let gpu = has_gpu(engines);
    let mut out = vec![];
    let mut skipped = vec![];
    for engine in engines {
        for (text, precision) in spec_strings(engine.name(), gpu) {
            let spec = match EngineSpec::parse(&text) {
                Ok(s) => s,
                Err(e) => {
                    skipped.push(Skipped {
                        spec: text,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            if let Err(e) = engine.validate(&spec) {
                skipped.push(Skipped {
                    spec: text,
                    reason: e.to_string(),
                });
                continue;
            }
            if let Some(why) = engine.availability_for(&spec).refusal(&text) {
                skipped.push(Skipped {
                    spec: text,
                    reason: why,
                });
                continue;
            }
            let on_gpu = text.contains("cuda") || text.starts_with("tensorrt");
            let ts: &[usize] = if on_gpu {
                &threads[threads.len() - 1..]
            } else {
                threads
            };
            for &batch in batches {
                for &t in ts {
                    out.push(Candidate {
                        spec: spec.to_string(),
                        threads: t,
                        batch,
                        precision: precision.to_owned(),
                    });
                }
            }
        }
    }
    (out, skipped)
}

/// The reference of the accuracy gate: the first ORT or tract fp32 candidate at batch 1 with
/// the most threads (as `bench` takes its first variant), else the first fp32 candidate.
pub fn reference(candidates: &[Candidate]) -> Option<usize> {
    let fp32 = |c: &&Candidate| c.precision == "fp32" && c.batch == 1;
    let most = candidates.iter().map(|c| c.threads).max()?;
    candidates
        .iter()
        .position(|c| {
            fp32(&c)
                && c.threads == most
                && (c.spec.starts_with("ort:") || c.spec.starts_with("tract:"))
        })
        .or_else(|| candidates.iter().position(|c| fp32(&c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_one_half_and_all_cores() {
        assert_eq!(thread_counts(1), vec![1]);
        assert_eq!(thread_counts(2), vec![1, 2]);
        assert_eq!(thread_counts(8), vec![1, 4, 8]);
    }

    #[test]
    fn only_throughput_tries_batches() {
        assert_eq!(batch_sizes(Objective::Latency, 8), vec![1]);
        assert_eq!(batch_sizes(Objective::Throughput, 8), vec![1, 2, 4, 8]);
    }

    #[test]
    fn tract_alone_gives_its_optimized_plan_per_thread_count_and_skips_what_it_refuses() {
        let engines: Vec<Box<dyn Engine>> = vec![Box::new(edgebench_engines::tract::Tract)];
        let (c, skipped) = candidates(&engines, &[1, 2], &[1, 4]);
        let labels: Vec<String> = c.iter().map(Candidate::label).collect();
        assert!(labels.contains(&"tract:optimized --threads 1".to_string()));
        assert!(labels.contains(&"tract:optimized --threads 2 --batch 4".to_string()));
        assert!(!labels.iter().any(|l| l.contains("reference")));
        // Every spec the engine refused is named with the engine's own reason.
        for s in &skipped {
            assert!(s.spec.starts_with("tract:"), "{s:?}");
            assert!(!s.reason.is_empty());
        }
        assert_eq!(c.len() + skipped.len() * 4, 3 * 4);
        assert_eq!(reference(&c), Some(1));
    }
}
