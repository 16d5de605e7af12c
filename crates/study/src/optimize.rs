//! `edgebench optimize`: the fastest correct way to run a model here. Every candidate
//! (engine spec x threads x batch, [`candidates`]) is raced on confidence intervals
//! ([`edgebench_core::race`]): short screening runs, the clearly worse leave, the survivors
//! get twice the time each rung, until one is separated or the budget is spent. A candidate
//! whose outputs fail the accuracy gate against the fp32 reference leaves at its first trial.
//! The winner is measured once more as `bench` would ([`edgebench_core::bench::run_variants`],
//! interleaved rounds), so `best` is a bench result. Every trial goes to the search log as it
//! finishes ([`log`]), and `--resume` replays it.

pub mod candidates;
pub mod log;

use crate::lock::StudyLock;
use crate::{Error, Result};
use candidates::{Candidate, Skipped};
use edgebench_core::bench::{run_variants, BenchOptions, RoundProgress};
use edgebench_core::engine::{Engine, EngineSpec, PrepareOptions, Session};
use edgebench_core::gate::{compare, Agreement, Tolerance, ToleranceOverride};
use edgebench_core::host::HostInfo;
use edgebench_core::inputs::random_inputs;
use edgebench_core::measure::{measure, MeasureOptions};
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::race::{Fate, Race, RaceSettings, Request, Stop, Trial};
use edgebench_core::schema::{ModelInfo, Status, ToolInfo, VariantResult};
use edgebench_core::stats::median;
use edgebench_core::telemetry::Telemetry;
use edgebench_core::tensor::{ConcreteSpec, HostTensor};
use edgebench_torch::source::{ModelSource, ZooDefaults};
use log::{Entry, SearchLog};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The report's file name inside the search folder.
pub const REPORT_FILE: &str = "optimize.json";

/// What the search minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// Milliseconds per inference at batch 1.
    Latency,
    /// Milliseconds per item over batch sizes 1, 2, 4, 8: the inverse of items per second.
    Throughput,
    /// Millijoules per item (average power over the trial times each run's latency).
    Energy,
    /// Items per second per watt: the inverse of energy per item, so the same ranking.
    FpsPerWatt,
}

impl Objective {
    pub const ALL: [Objective; 4] = [
        Objective::Latency,
        Objective::Throughput,
        Objective::Energy,
        Objective::FpsPerWatt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Objective::Latency => "latency",
            Objective::Throughput => "throughput",
            Objective::Energy => "energy",
            Objective::FpsPerWatt => "fps-per-watt",
        }
    }

    pub fn parse(s: &str) -> Option<Objective> {
        Objective::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Whether it needs a power reading.
    pub fn needs_energy(self) -> bool {
        matches!(self, Objective::Energy | Objective::FpsPerWatt)
    }

    /// The unit of the cost the race minimizes.
    pub fn unit(self) -> &'static str {
        if self.needs_energy() {
            "mJ/item"
        } else {
            "ms/item"
        }
    }
}

/// Everything that decides a search; `--resume` requires the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub objective: Objective,
    pub budget_s: f64,
    pub max_accuracy_drop: Option<f64>,
    pub seed: u64,
    pub race: RaceSettings,
    /// Measurement time of the winner's final, bench-style run.
    pub final_s: f64,
}

impl Settings {
    /// `--objective latency --budget 300`, for a refusal.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "--objective {} --budget {}",
            self.objective.as_str(),
            self.budget_s
        );
        if let Some(x) = self.max_accuracy_drop {
            s.push_str(&format!(" --max-accuracy-drop {x}"));
        }
        s
    }
}

/// What `edgebench optimize` asks for.
#[derive(Debug, Clone)]
pub struct OptimizeRequest {
    /// The model as given: a path or `zoo:NAME`.
    pub model: String,
    pub objective: Objective,
    pub budget_s: f64,
    pub max_accuracy_drop: Option<f64>,
    /// The search folder (default `optimize-<model>`).
    pub out: Option<PathBuf>,
    pub resume: bool,
    pub seed: u64,
    /// Largest batch the throughput objective tries.
    pub max_batch: usize,
    /// Engines to search (`tract`, `ort`, ...); empty: every engine that can run here.
    pub engines: Vec<String>,
    /// The device's telemetry: needed by the energy objectives, recorded in `best`.
    pub telemetry: Option<Arc<Telemetry>>,
    pub tool: ToolInfo,
}

/// What the search is doing, for a progress display.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Candidates {
        count: usize,
        skipped: usize,
    },
    Replayed {
        trials: usize,
    },
    Trial {
        label: String,
        rung: usize,
        seconds: f64,
        /// `12.3 ms/item (240 samples)` or `out: reason`.
        outcome: String,
    },
    Final {
        label: String,
    },
}

/// The winner as `bench` runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Winner {
    /// The spec `bench -e` accepts.
    pub spec: String,
    pub threads: usize,
    pub batch: usize,
    /// `edgebench bench MODEL -e SPEC --threads N [--batch B]`.
    pub command: String,
    /// Survivors the race could not tell apart from it (a tie, or the budget ran out).
    pub not_separated_from: Vec<String>,
}

/// One candidate's fate and figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateResult {
    #[serde(flatten)]
    pub candidate: Candidate,
    pub fate: Fate,
    pub samples: usize,
    /// Median cost in the objective's unit, and its 95% interval.
    pub median: Option<f64>,
    pub ci95: Option<(f64, f64)>,
    pub spent_s: f64,
    /// Median milliseconds per item over its last trial.
    pub latency_ms_per_item: Option<f64>,
    /// Millijoules per item over its last trial, where power was read.
    pub energy_mj_per_item: Option<f64>,
    /// Its outputs against the reference's.
    pub max_abs_err: Option<f64>,
    pub min_cosine: Option<f64>,
    pub gate_passed: Option<bool>,
    pub on_pareto_front: bool,
}

/// The whole search: `--json` prints it, `DIR/optimize.json` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptimizeReport {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub host: HostInfo,
    pub model: ModelInfo,
    pub settings: Settings,
    pub out: String,
    pub unit: String,
    /// The gate's reference (`SPEC --threads N`).
    pub reference: Option<String>,
    pub winner: Option<Winner>,
    /// The winner's result in `bench`'s schema.
    pub best: Option<VariantResult>,
    pub stop: Stop,
    pub rungs: usize,
    pub spent_s: f64,
    /// Trials taken from an earlier run's log.
    pub replayed_trials: usize,
    pub candidates: Vec<CandidateResult>,
    pub skipped: Vec<Skipped>,
}

/// Runs the whole search. Bad input (a missing model, a budget <= 0, no engine, a folder of
/// another search) is an error before anything is measured.
pub fn run(req: &OptimizeRequest, on_event: &mut dyn FnMut(Event)) -> Result<OptimizeReport> {
    if !(req.budget_s.is_finite() && req.budget_s > 0.0) {
        return Err(Error::Invalid(format!(
            "--budget {}: must be a positive number of seconds, e.g. --budget 300",
            req.budget_s
        )));
    }
    if let Some(x) = req.max_accuracy_drop {
        if !(x.is_finite() && (0.0..1.0).contains(&x)) {
            return Err(Error::Invalid(format!(
                "--max-accuracy-drop {x}: must be a share of top-1 agreement lost, from 0 to below 1 (0.01 is one point)"
            )));
        }
    }
    if req.objective.needs_energy() && req.telemetry.is_none() {
        return Err(Error::Invalid(format!(
            "--objective {}: needs the power sensors, which are turned off; drop --no-telemetry",
            req.objective.as_str()
        )));
    }
    let source = ModelSource::parse_onnx(&req.model)?;
    let model = source.load(ZooDefaults::default())?;
    let inputs = model.resolve_inputs(&ShapeRequest {
        shapes: vec![],
        batch: Some(1),
    })?;
    let all = edgebench_engines::all();
    for name in &req.engines {
        if !all.iter().any(|e| e.name() == name) {
            return Err(Error::Invalid(format!(
                "--engine {name}: no such engine; valid: {}",
                all.iter().map(|e| e.name()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    type Engines = Vec<Box<dyn Engine>>;
    let (engines, unavailable): (Engines, Engines) = all
        .into_iter()
        .filter(|e| req.engines.is_empty() || req.engines.iter().any(|n| n == e.name()))
        .partition(|e| e.availability().refusal(e.name()).is_none());
    let cores = edgebench_core::bench::default_threads();
    let (cands, skipped) = candidates::candidates(
        &engines,
        &candidates::thread_counts(cores),
        &candidates::batch_sizes(req.objective, req.max_batch),
        req.budget_s,
    );
    if cands.is_empty() {
        let why: Vec<String> = unavailable
            .iter()
            .filter_map(|e| e.availability().refusal(e.name()))
            .chain(skipped.first().map(|s| format!("{}: {}", s.spec, s.reason)))
            .collect();
        return Err(Error::Invalid(format!(
            "no candidate can run here ({}); see `edgebench engines` for what each engine needs",
            if why.is_empty() {
                "no engine".to_string()
            } else {
                why.join("; ")
            }
        )));
    }
    let reference = candidates::reference(&cands);
    on_event(Event::Candidates {
        count: cands.len(),
        skipped: skipped.len(),
    });
    let final_s = (req.budget_s * 0.1).clamp(0.5, 30.0);
    let settings = Settings {
        objective: req.objective,
        budget_s: req.budget_s,
        max_accuracy_drop: req.max_accuracy_drop,
        seed: req.seed,
        race: RaceSettings {
            budget_s: req.budget_s - final_s,
            screen_s: ((req.budget_s - final_s) / (4.0 * cands.len() as f64)).clamp(0.05, 2.0),
            seed: req.seed,
            ..RaceSettings::default()
        },
        final_s,
    };
    let out = req.out.clone().unwrap_or_else(|| default_out(&req.model));
    let _lock = StudyLock::acquire(&out, "edgebench optimize")?;
    let mut log = SearchLog::open(&out, req.resume, &model.sha256, &settings, &cands)?;

    let mut live = Live {
        source: &source,
        candidates: &cands,
        engines: &engines,
        reference,
        objective: req.objective,
        seed: req.seed,
        max_drop: req.max_accuracy_drop,
        telemetry: req.telemetry.clone(),
        batches: BTreeMap::new(),
        references: BTreeMap::new(),
        sessions: BTreeMap::new(),
    };
    let mut race = Race::new(cands.len(), settings.race.clone());
    let mut facts: BTreeMap<usize, Facts> = BTreeMap::new();
    let mut gates: BTreeMap<usize, Agreement> = BTreeMap::new();
    let mut replayed = 0;
    while let Some(request) = race.next_request() {
        let c = request.candidate;
        let label = cands[c].label();
        let trial = match log.logged_trial(&request) {
            Some(t) => {
                replayed += 1;
                if let Some(g) = log.logged_gate(c) {
                    gates.insert(c, g);
                }
                if let Some(f) = logged_facts(&log, &request) {
                    facts.insert(c, f);
                }
                t
            }
            None => {
                let (trial, gate, f) = live.trial(&request);
                if let Some(g) = gate {
                    log.append(&Entry::Gate {
                        candidate: c,
                        spec: label.clone(),
                        agreement: Box::new(g.clone()),
                    })?;
                    gates.insert(c, g);
                }
                log.append(&Entry::Trial {
                    candidate: c,
                    spec: label.clone(),
                    request,
                    trial: trial.clone(),
                    latency_ms_per_item: f.latency_ms_per_item,
                    energy_mj_per_item: f.energy_mj_per_item,
                    unix: crate::results::now_unix(),
                })?;
                facts.insert(c, f);
                on_event(Event::Trial {
                    label: label.clone(),
                    rung: request.rung,
                    seconds: request.seconds,
                    outcome: describe(&trial, req.objective),
                });
                trial
            }
        };
        race.record(&request, trial);
    }
    if replayed > 0 {
        on_event(Event::Replayed { trials: replayed });
    }
    let outcome = race.outcome();
    // Sessions hold engine memory: the final run prepares its own.
    live.sessions.clear();

    let mut best = None;
    let mut winner = None;
    if let Some(w) = outcome.winner {
        let cand = &cands[w];
        on_event(Event::Final {
            label: cand.label(),
        });
        best = Some(live.final_run(w, final_s)?);
        let not_separated_from = (0..cands.len())
            .filter(|&i| i != w && outcome.fates[i] == Fate::Racing)
            .map(|i| cands[i].label())
            .collect();
        let mut command = format!(
            "edgebench bench {} -e {} --threads {}",
            req.model, cand.spec, cand.threads
        );
        if cand.batch > 1 {
            command.push_str(&format!(" --batch {}", cand.batch));
        }
        winner = Some(Winner {
            spec: cand.spec.clone(),
            threads: cand.threads,
            batch: cand.batch,
            command,
            not_separated_from,
        });
    }

    let mut results: Vec<CandidateResult> = cands
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let s = &outcome.standings[i];
            let g = gates.get(&i);
            let f = facts.get(&i).cloned().unwrap_or_default();
            CandidateResult {
                candidate: c.clone(),
                fate: outcome.fates[i].clone(),
                samples: s.samples,
                median: s.median,
                ci95: s.ci95,
                spent_s: s.spent_s,
                latency_ms_per_item: f.latency_ms_per_item,
                energy_mj_per_item: f.energy_mj_per_item,
                max_abs_err: g.map(|g| g.max_abs_err),
                min_cosine: g.map(|g| g.min_cosine),
                gate_passed: g.map(|g| g.passed),
                on_pareto_front: false,
            }
        })
        .collect();
    for i in pareto_front(&results) {
        results[i].on_pareto_front = true;
    }
    let report = OptimizeReport {
        schema_version: edgebench_core::SCHEMA_VERSION,
        tool: req.tool.clone(),
        host: HostInfo::detect(),
        model: ModelInfo::new(&model, inputs),
        settings,
        out: out.display().to_string(),
        unit: req.objective.unit().into(),
        reference: reference.map(|r| cands[r].label()),
        winner,
        best,
        stop: outcome.stop,
        rungs: outcome.rungs,
        spent_s: outcome.spent_s,
        replayed_trials: replayed,
        candidates: results,
        skipped,
    };
    let json = serde_json::to_vec_pretty(&report).map_err(|e| crate::io_err(&out, e))?;
    edgebench_core::write::write_atomic(&out.join(REPORT_FILE), &json)?;
    Ok(report)
}

/// `optimize-<model name>` in the current folder.
pub fn default_out(model: &str) -> PathBuf {
    let base = model
        .strip_prefix("zoo:")
        .map(|z| z.split('?').next().unwrap_or(z).to_owned())
        .unwrap_or_else(|| {
            std::path::Path::new(model)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".into())
        });
    let safe: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!("optimize-{safe}"))
}

/// Figures of a candidate's last trial besides its cost.
#[derive(Debug, Clone, Default, PartialEq)]
struct Facts {
    latency_ms_per_item: Option<f64>,
    energy_mj_per_item: Option<f64>,
}

fn logged_facts(log: &SearchLog, request: &Request) -> Option<Facts> {
    log.earlier.iter().find_map(|e| match e {
        Entry::Trial {
            request: r,
            latency_ms_per_item,
            energy_mj_per_item,
            ..
        } if r.candidate == request.candidate && r.rung == request.rung => Some(Facts {
            latency_ms_per_item: *latency_ms_per_item,
            energy_mj_per_item: *energy_mj_per_item,
        }),
        _ => None,
    })
}

fn describe(trial: &Trial, objective: Objective) -> String {
    match trial {
        Trial::Measured { samples, .. } => format!(
            "{} {} ({} samples)",
            edgebench_core::fmt::sig(median(samples)),
            objective.unit(),
            samples.len()
        ),
        Trial::Out { reason, .. } => format!("out: {reason}"),
    }
}

/// The candidates no other candidate beats on every axis: median latency per item, energy
/// per item (where every compared candidate has it) and error against the reference. Only
/// candidates that passed the gate and were measured count.
pub fn pareto_front(results: &[CandidateResult]) -> Vec<usize> {
    let points: Vec<(usize, Vec<f64>)> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.gate_passed != Some(false) && !matches!(r.fate, Fate::Out { .. }))
        .filter_map(|(i, r)| {
            let lat = r.latency_ms_per_item?;
            let mut v = vec![lat, r.max_abs_err.unwrap_or(0.0)];
            if let Some(e) = r.energy_mj_per_item {
                v.push(e);
            }
            Some((i, v))
        })
        .collect();
    let dominates = |a: &[f64], b: &[f64]| {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| x <= y)
            && a.iter().zip(b).any(|(x, y)| x < y)
    };
    points
        .iter()
        .filter(|(_, p)| !points.iter().any(|(_, q)| dominates(q, p)))
        .map(|(i, _)| *i)
        .collect()
}

/// The gate's tolerance for a candidate that ran in `precision`: the per-precision default,
/// and with `--max-accuracy-drop X` a reduced-precision candidate is judged by its top-1
/// agreement (at least 1 - X) and the precision's cosine rule, as int8 always is.
pub fn tolerance(precision: &str, max_drop: Option<f64>) -> Tolerance {
    let base = Tolerance::resolve(precision, &ToleranceOverride::default());
    match max_drop {
        Some(x) if !matches!(precision, "f32" | "fp32") => Tolerance {
            atol: f64::INFINITY,
            rtol: f64::INFINITY,
            min_top1: 1.0 - x,
            topk_only: true,
            ..base
        },
        _ => base,
    }
}

/// A batch size's model, inputs and measured input tensors.
struct AtBatch {
    model: Model,
    inputs: Vec<ConcreteSpec>,
    tensors: Vec<HostTensor>,
}

/// The real trials: engine sessions prepared on first use and kept while their candidate
/// races.
struct Live<'a> {
    source: &'a ModelSource,
    candidates: &'a [Candidate],
    engines: &'a [Box<dyn Engine>],
    reference: Option<usize>,
    objective: Objective,
    seed: u64,
    max_drop: Option<f64>,
    telemetry: Option<Arc<Telemetry>>,
    batches: BTreeMap<usize, std::result::Result<Arc<AtBatch>, String>>,
    references: BTreeMap<usize, std::result::Result<Arc<GateOutputs>, String>>,
    sessions: BTreeMap<usize, Box<dyn Session>>,
}

/// A session's outputs for each of the gate's input sets.
type GateOutputs = Vec<Vec<HostTensor>>;

const GATE_INPUT_SETS: usize = edgebench_core::bench::DEFAULT_GATE_INPUT_SETS;

impl<'a> Live<'a> {
    fn engine(&self, c: usize) -> std::result::Result<(&'a dyn Engine, EngineSpec), String> {
        let spec = EngineSpec::parse(&self.candidates[c].spec).map_err(|e| e.to_string())?;
        let engines: &'a [Box<dyn Engine>] = self.engines;
        let engine = engines
            .iter()
            .find(|e| e.name() == spec.engine)
            .ok_or_else(|| format!("engine {} is not available", spec.engine))?;
        Ok((engine.as_ref(), spec))
    }

    fn at_batch(&mut self, batch: usize) -> std::result::Result<Arc<AtBatch>, String> {
        let seed = self.seed;
        let source = self.source;
        self.batches
            .entry(batch)
            .or_insert_with(|| {
                let defaults = ZooDefaults {
                    classes: None,
                    batch: (batch > 1).then_some(batch),
                };
                let model = source.load(defaults).map_err(|e| e.to_string())?;
                let inputs = model
                    .resolve_inputs(&ShapeRequest {
                        shapes: vec![],
                        batch: Some(batch),
                    })
                    .map_err(|e| e.to_string())?;
                let tensors = random_inputs(&inputs, seed).map_err(|e| e.to_string())?;
                Ok(Arc::new(AtBatch {
                    model,
                    inputs,
                    tensors,
                }))
            })
            .clone()
    }

    fn prepare(&mut self, c: usize) -> std::result::Result<Box<dyn Session>, String> {
        let at = self.at_batch(self.candidates[c].batch)?;
        let (engine, spec) = self.engine(c)?;
        let popts = PrepareOptions {
            inputs: at.inputs.clone(),
            threads: Some(self.candidates[c].threads),
        };
        let mut s = engine
            .prepare(&at.model, &spec, &popts)
            .map_err(|e| e.to_string())?;
        s.set_inputs(&at.tensors).map_err(|e| e.to_string())?;
        Ok(s)
    }

    /// The outputs of the input sets the gate compares; the session's measured inputs are
    /// loaded again afterwards.
    fn gate_outputs(
        &mut self,
        session: &mut dyn Session,
        batch: usize,
    ) -> std::result::Result<Vec<Vec<HostTensor>>, String> {
        let at = self.at_batch(batch)?;
        let e = |e: edgebench_core::Error| e.to_string();
        let mut out = vec![];
        for i in 0..GATE_INPUT_SETS {
            let inputs = random_inputs(&at.inputs, self.seed.wrapping_add(i as u64)).map_err(e)?;
            session.set_inputs(&inputs).map_err(e)?;
            session.run().map_err(e)?;
            session.synchronize().map_err(e)?;
            out.push(session.outputs().map_err(e)?);
        }
        session.set_inputs(&at.tensors).map_err(e)?;
        Ok(out)
    }

    fn reference_outputs(&mut self, batch: usize) -> std::result::Result<Arc<GateOutputs>, String> {
        if let Some(r) = self.references.get(&batch) {
            return r.clone();
        }
        let r = (|| {
            let rc = self
                .reference
                .ok_or("no fp32 candidate of ORT or tract to check outputs against")?;
            // The reference at this batch: its spec and threads with this batch's inputs.
            let probe = Candidate {
                batch,
                ..self.candidates[rc].clone()
            };
            let at = self.at_batch(batch)?;
            let spec = EngineSpec::parse(&probe.spec).map_err(|e| e.to_string())?;
            let engine = self
                .engines
                .iter()
                .find(|e| e.name() == spec.engine)
                .ok_or("the reference's engine is not available")?;
            let mut s = engine
                .prepare(
                    &at.model,
                    &spec,
                    &PrepareOptions {
                        inputs: at.inputs.clone(),
                        threads: Some(probe.threads),
                    },
                )
                .map_err(|e| format!("the reference {} failed: {e}", probe.label()))?;
            self.gate_outputs(s.as_mut(), batch).map(Arc::new)
        })();
        self.references.insert(batch, r.clone());
        r
    }

    /// One trial: prepare on first use (and check the outputs), then measure for the
    /// requested time. Returns the trial, the accuracy check when one was made, and the
    /// trial's latency and energy per item.
    fn trial(&mut self, r: &Request) -> (Trial, Option<Agreement>, Facts) {
        let t0 = Instant::now();
        let c = r.candidate;
        let out = |reason: String, gate: Option<Agreement>| {
            (
                Trial::Out {
                    reason,
                    spent_s: t0.elapsed().as_secs_f64(),
                },
                gate,
                Facts::default(),
            )
        };
        let first = !self.sessions.contains_key(&c);
        if first {
            match self.prepare(c) {
                Ok(s) => {
                    self.sessions.insert(c, s);
                }
                Err(e) => return out(e, None),
            }
        }
        let batch = self.candidates[c].batch;
        let opts = MeasureOptions {
            warmup_s: if first {
                (r.seconds / 4.0).min(0.5)
            } else {
                0.0
            },
            min_warmup_runs: if first { 2 } else { 1 },
            min_samples: 1,
            // The loop allocates room for every sample beforehand: one per 10 µs at most.
            max_samples: ((r.seconds * 1e5) as usize).clamp(1_000, 5_000_000),
            max_time_s: r.seconds,
            target_rel_ci: 0.0,
            min_time_s: r.seconds,
        };
        let telemetry = self
            .telemetry
            .clone()
            .filter(|_| self.objective.needs_energy());
        let Some(mut session) = self.sessions.remove(&c) else {
            return out("no session".into(), None);
        };
        let recording = telemetry.as_deref().map(Telemetry::start);
        let m = match session.measure_self(&opts) {
            Some(m) => m,
            None => measure(session.as_mut(), &opts, &mut |_| {}),
        };
        let trace = recording.map(|r| r.stop());
        let m = match m {
            Ok(m) if !m.samples_ms.is_empty() => m,
            Ok(_) => return out("no samples were taken".into(), None),
            Err(e) => return out(e.to_string(), None),
        };
        let per_item: Vec<f64> = m.samples_ms.iter().map(|s| s / batch as f64).collect();
        let mut facts = Facts {
            latency_ms_per_item: Some(median(&per_item)),
            energy_mj_per_item: None,
        };
        let cost = match (telemetry.as_deref(), trace) {
            (Some(t), Some(trace)) => {
                let Some((begin, end)) = m.sampling_window else {
                    return out(
                        "the engine timed itself: no sampling window to read power over".into(),
                        None,
                    );
                };
                let window = edgebench_core::telemetry::energy::Window {
                    kind: edgebench_core::telemetry::energy::WindowKind::Sampling,
                    begin,
                    end,
                    inferences: m.samples_ms.len(),
                    throughput_per_s: Some(1e3 / median(&per_item)),
                };
                let e = edgebench_core::telemetry::energy::summarize(
                    &trace,
                    &window,
                    t.idle.as_ref(),
                    t.grid_gco2_per_kwh,
                    &t.unavailable,
                );
                let Some(total) = e.total else {
                    return out(
                        format!(
                            "no power reading: {}; see `edgebench sensors`",
                            e.total_na.unwrap_or_else(|| "no sensor".into())
                        ),
                        None,
                    );
                };
                // ms x W = mJ.
                let cost: Vec<f64> = per_item.iter().map(|s| s * total.avg_power_w).collect();
                facts.energy_mj_per_item = Some(median(&cost));
                cost
            }
            _ => per_item,
        };
        let mut gate = None;
        if first {
            session.read_back();
            let checked = self.check(c, session.as_mut());
            match checked {
                Ok(a) if a.passed => gate = Some(a),
                Ok(a) => {
                    let reason = format!(
                        "failed the accuracy gate: {}",
                        a.reason.clone().unwrap_or_else(|| "outputs differ".into())
                    );
                    return out(reason, Some(a));
                }
                Err(e) => return out(format!("accuracy not checked: {e}"), None),
            }
        }
        self.sessions.insert(c, session);
        (
            Trial::Measured {
                samples: cost,
                spent_s: t0.elapsed().as_secs_f64(),
            },
            gate,
            facts,
        )
    }

    fn check(
        &mut self,
        c: usize,
        session: &mut dyn Session,
    ) -> std::result::Result<Agreement, String> {
        let batch = self.candidates[c].batch;
        let reference = self.reference_outputs(batch)?;
        let outputs = self.gate_outputs(session, batch)?;
        let precision = session.info().precision;
        Ok(compare(
            &reference,
            &outputs,
            tolerance(&precision, self.max_drop),
        ))
    }

    /// The winner measured as `bench` measures a variant, with the gate against the
    /// reference.
    fn final_run(&mut self, c: usize, seconds: f64) -> Result<VariantResult> {
        let cand = self.candidates[c].clone();
        let at = self.at_batch(cand.batch).map_err(Error::Invalid)?;
        let (engine, spec) = self.engine(c).map_err(Error::Invalid)?;
        let opts = BenchOptions {
            inputs: at.inputs.clone(),
            batch: cand.batch,
            threads: Some(cand.threads),
            seed: self.seed,
            measure: MeasureOptions {
                warmup_s: (seconds / 5.0).min(1.0),
                max_time_s: seconds,
                ..MeasureOptions::default()
            },
            rounds: edgebench_core::bench::DEFAULT_ROUNDS,
            target_fps: 30.0,
            gate_input_sets: GATE_INPUT_SETS,
            telemetry: self.telemetry.clone(),
            scenario: None,
        };
        let mut runs = run_variants(
            &[(engine, &spec)],
            &at.model,
            &opts,
            &mut |_: RoundProgress| {},
            None,
        );
        let mut run = runs
            .pop()
            .ok_or_else(|| Error::Invalid("no result".into()))?;
        if run.result.status == Status::Ok {
            match self.reference_outputs(cand.batch) {
                Ok(reference) => {
                    let precision = run
                        .result
                        .session
                        .as_ref()
                        .map(|s| s.precision.clone())
                        .unwrap_or_else(|| "f32".into());
                    let a = compare(
                        &reference,
                        &run.outputs,
                        tolerance(&precision, self.max_drop),
                    );
                    if !a.passed {
                        run.result.status = Status::GateFailed;
                    }
                    run.result.accuracy = Some(a);
                }
                Err(e) => {
                    run.result.status = Status::Unverified;
                    run.result.error = Some(e);
                }
            }
        }
        Ok(run.result)
    }
}

impl OptimizeReport {
    /// The terminal view: every candidate's fate, best first, then the winner.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let sig = edgebench_core::fmt::sig;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "optimize {} for {} ({}): {} candidates, {} rungs, {:.0} s, stop: {}{}",
            self.model.path,
            self.settings.objective.as_str(),
            self.unit,
            self.candidates.len(),
            self.rungs,
            self.spent_s,
            serde_json::to_value(self.stop)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            if self.replayed_trials > 0 {
                format!(" ({} trials replayed from the log)", self.replayed_trials)
            } else {
                String::new()
            }
        );
        let mut order: Vec<&CandidateResult> = self.candidates.iter().collect();
        order.sort_by(|a, b| {
            let k = |r: &CandidateResult| r.median.unwrap_or(f64::INFINITY);
            k(a).total_cmp(&k(b))
        });
        let _ = writeln!(
            s,
            "{:<48} {:>10} {:>21} {:>8}  fate",
            "candidate", "median", "95% CI", "samples"
        );
        for r in order {
            let fate = match &r.fate {
                Fate::Racing => "survived".to_string(),
                Fate::Beaten { rung, .. } => format!("beaten in rung {rung}"),
                Fate::Out { rung, reason } => format!("out in rung {rung}: {reason}"),
                Fate::NotMeasured => "not measured (budget)".into(),
            };
            let ci = r
                .ci95
                .map(|(a, b)| format!("[{}, {}]", sig(a), sig(b)))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "{:<48} {:>10} {:>21} {:>8}  {}{}",
                r.candidate.label(),
                r.median.map(sig).unwrap_or_else(|| "-".into()),
                ci,
                r.samples,
                fate,
                if r.on_pareto_front { " (pareto)" } else { "" }
            );
        }
        match (&self.winner, &self.best) {
            (Some(w), Some(b)) => {
                let med = b.latency_ms.as_ref().map(|l| l.median);
                let _ = writeln!(
                    s,
                    "best: {} --threads {}{}: {} ms per run in the final measurement, gate {}",
                    w.spec,
                    w.threads,
                    if w.batch > 1 {
                        format!(" --batch {}", w.batch)
                    } else {
                        String::new()
                    },
                    med.map(sig).unwrap_or_else(|| "-".into()),
                    match b.status {
                        Status::Ok => "passed".to_string(),
                        other => format!("{other:?}").to_lowercase(),
                    }
                );
                if !w.not_separated_from.is_empty() {
                    let _ = writeln!(s, "not separated from: {}", w.not_separated_from.join("; "));
                }
                let _ = writeln!(s, "run it: {}", w.command);
            }
            _ => {
                let _ = writeln!(s, "no candidate ran and passed the accuracy gate");
            }
        }
        let _ = write!(s, "search log: {}/{}", self.out, log::LOG_FILE);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(lat: f64, err: f64, energy: Option<f64>) -> CandidateResult {
        CandidateResult {
            candidate: Candidate {
                spec: "tract:optimized".into(),
                threads: 1,
                batch: 1,
                precision: "fp32".into(),
            },
            fate: Fate::Racing,
            samples: 10,
            median: Some(lat),
            ci95: None,
            spent_s: 1.0,
            latency_ms_per_item: Some(lat),
            energy_mj_per_item: energy,
            max_abs_err: Some(err),
            min_cosine: Some(1.0),
            gate_passed: Some(true),
            on_pareto_front: false,
        }
    }

    #[test]
    fn the_pareto_front_keeps_the_fast_and_the_exact() {
        let rs = vec![
            result(5.0, 1e-6, None), // exact, slower
            result(3.0, 1e-2, None), // fast, less exact
            result(6.0, 1e-5, None), // dominated by 0
            result(3.0, 1e-2, None), // equal to 1: both stay
        ];
        assert_eq!(pareto_front(&rs), vec![0, 1, 3]);
        let mut failed = result(1.0, 0.0, None);
        failed.gate_passed = Some(false);
        assert_eq!(pareto_front(&[failed, result(2.0, 0.0, None)]), vec![1]);
    }

    #[test]
    fn the_accuracy_drop_loosens_only_reduced_precisions() {
        let f32 = tolerance("f32", Some(0.05));
        assert_eq!(f32, Tolerance::for_precision("f32"));
        let bf16 = tolerance("bf16", Some(0.05));
        assert!(bf16.topk_only && (bf16.min_top1 - 0.95).abs() < 1e-12);
        assert_eq!(tolerance("int8", None), Tolerance::for_precision("int8"));
    }

    #[test]
    fn objectives_parse_and_the_default_folder_names_the_model() {
        for o in Objective::ALL {
            assert_eq!(Objective::parse(o.as_str()), Some(o));
        }
        assert_eq!(Objective::parse("speed"), None);
        assert_eq!(
            default_out("zoo:mobilenet_v2?batch=2"),
            PathBuf::from("optimize-mobilenet_v2")
        );
        assert_eq!(
            default_out("/tmp/m odel.onnx"),
            PathBuf::from("optimize-m_odel")
        );
    }
}
