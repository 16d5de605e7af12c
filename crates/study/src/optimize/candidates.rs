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
            for dtype in ["fp16", "fp32"] {
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
            }
            // Compiled variants last: their prepare (the compilation) costs the most of the
            // budget, so the quick candidates are screened first.
            for dtype in ["fp16", "fp32"] {
                let p = if dtype == "fp16" { "fp16" } else { "fp32" };
                let base = format!("torch:eager,device=cuda,dtype={dtype}");
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

/// The smallest `--budget` (seconds) that races `compile=max-autotune`: it autotunes every
/// kernel while it prepares, which took minutes for one zoo model on the H200, so a shorter
/// search would spend its whole budget compiling one candidate.
pub const MAX_AUTOTUNE_MIN_BUDGET_S: f64 = 900.0;

/// Why a spec is left out of a search of `budget_s` seconds, if it is.
fn too_slow_to_prepare(spec: &str, budget_s: f64) -> Option<String> {
    (spec.contains("compile=max-autotune") && budget_s < MAX_AUTOTUNE_MIN_BUDGET_S).then(|| {
        format!(
            "compile=max-autotune compiles for minutes (it autotunes every kernel); give \
             --budget {MAX_AUTOTUNE_MIN_BUDGET_S} or more to race it"
        )
    })
}

/// Every candidate for `engines` (in their order) in a search of `budget_s` seconds, and the
/// specs left out with why. Engines on a GPU get one thread count.
pub fn candidates(
    engines: &[Box<dyn Engine>],
    threads: &[usize],
    batches: &[usize],
    budget_s: f64,
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
            if let Some(why) = engine
                .availability_for(&spec)
                .refusal(&text)
                .or_else(|| too_slow_to_prepare(&text, budget_s))
            {
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
        let (c, skipped) = candidates(&engines, &[1, 2], &[1, 4], 300.0);
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

    #[test]
    fn max_autotune_needs_a_long_budget() {
        assert!(too_slow_to_prepare(
            "torch:eager,device=cuda,dtype=fp16,compile=max-autotune",
            300.0
        )
        .is_some_and(|why| why.contains("--budget 900")));
        assert_eq!(
            too_slow_to_prepare(
                "torch:eager,device=cuda,dtype=fp16,compile=max-autotune",
                900.0
            ),
            None
        );
        assert_eq!(
            too_slow_to_prepare(
                "torch:eager,device=cuda,dtype=fp16,compile=reduce-overhead",
                60.0
            ),
            None
        );
    }

    #[test]
    fn on_a_gpu_torch_screens_fp16_first_and_compiles_last() {
        let specs: Vec<String> = spec_strings("torch", true)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert!(specs[0].contains("dtype=fp16"), "{specs:?}");
        let first_compile = specs.iter().position(|s| s.contains("compile")).unwrap();
        assert!(
            specs[first_compile..].iter().all(|s| s.contains("compile")),
            "{specs:?}"
        );
    }
}
