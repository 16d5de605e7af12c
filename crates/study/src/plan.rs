//! A config resolved against this build and this machine: which engines can run, the
//! baseline (said plainly when it stands in for PyTorch eager), the candidate variants, and
//! the list of jobs (one per model x batch x variant x round), in the order they run.
//!
//! Rounds: each model's variants are measured in `measure.rounds` interleaved rounds
//! (reference, baseline, v1, v2, ..., then again), one child process per variant per round, so
//! that a drift of the machine's speed falls on every variant alike and the speed-up's interval
//! covers the variation between runs. Every round is a job of its own with its own key:
//! round 1 keeps the key of a study measured in one round (`label|source|batch=N|spec`),
//! later rounds add `|round=K`. `--resume` skips every key `results.jsonl` holds, so an
//! interrupted study finishes the rounds it lacks; the analysis merges a variant's rounds.
//! The plan's types (a document: `results.jsonl` records it) are
//! `edgebench_core::schema::study`; this module builds one.

use crate::{Error, Result};
use edgebench_core::engine::{Availability, Engine, EngineSpec};
use edgebench_core::schema::study::{
    round_key, EngineStatus, Job, ModelConfig, Plan, PlannedModel, StudyConfig, Task,
};

/// The baseline the study wants: PyTorch eager, as in the published study.
pub const PREFERRED_BASELINE: &str = "torch:eager";

/// When PyTorch is missing, the least optimized variants, most preferred first.
const UNOPTIMIZED: &[&str] = &["tract:reference", "ort:none"];

/// The optimized variant of each engine, most preferred first within an engine; engines in
/// the order `auto` lists them (TensorRT first). An engine not named here contributes the
/// last variant it lists.
const OPTIMIZED: &[(&str, &[&str])] = &[
    ("tensorrt", &["fp16", "fp32", "default"]),
    ("tract-cuda", &["optimized", "f32", "default"]),
    ("openvino", &["f32", "optimized", "default"]),
    ("ort", &["all", "optimized", "level3"]),
    ("tract", &["optimized"]),
    // PyTorch is the baseline engine: `auto` adds no optimized variant of it.
    ("torch", &[]),
];

fn available(e: &dyn Engine) -> bool {
    matches!(e.availability(), Availability::Available { .. })
}

fn why_not(a: &Availability) -> String {
    match a {
        Availability::Available { .. } => "available".into(),
        Availability::Unavailable { reason, fix } => format!("{reason}; {fix}"),
        Availability::NotCompiled { feature } => format!(
            "not compiled into this build; {}",
            Availability::not_compiled_fix(feature)
        ),
    }
}

/// Resolves a config against the engines of this build.
pub fn resolve(cfg: &StudyConfig) -> Result<Plan> {
    resolve_with(cfg, &edgebench_engines::all())
}

/// [`resolve`] with a given engine list (tests).
pub fn resolve_with(cfg: &StudyConfig, engines: &[Box<dyn Engine>]) -> Result<Plan> {
    let find = |name: &str| engines.iter().find(|e| e.name() == name);
    let usable = |spec: &str| -> bool {
        EngineSpec::parse(spec).ok().is_some_and(|s| {
            find(&s.engine).is_some_and(|e| {
                matches!(e.availability_for(&s), Availability::Available { .. })
                    && e.validate(&s).is_ok()
            })
        })
    };
    let statuses: Vec<EngineStatus> = engines
        .iter()
        .map(|e| EngineStatus {
            name: e.name().into(),
            availability: e.availability(),
        })
        .collect();
    let mut notes: Vec<String> = vec![];
    let auto = cfg.baseline == "auto" || cfg.variants.iter().any(|v| v == "auto");
    for s in statuses.iter().filter(|_| auto) {
        if !matches!(s.availability, Availability::Available { .. }) {
            notes.push(format!(
                "engine {} left out: {}",
                s.name,
                why_not(&s.availability)
            ));
        }
    }

    let (baseline, baseline_note) = if cfg.baseline == "auto" {
        if usable(PREFERRED_BASELINE) {
            (
                PREFERRED_BASELINE.to_owned(),
                "baseline: PyTorch eager (torch:eager), as in the published study".to_owned(),
            )
        } else {
            let why = match find("torch") {
                None => "this build has no PyTorch engine".to_owned(),
                Some(e) => why_not(&e.availability()),
            };
            let fallback = UNOPTIMIZED
                .iter()
                .map(|s| s.to_string())
                .find(|s| usable(s))
                .or_else(|| {
                    engines
                        .iter()
                        .filter(|e| available(e.as_ref()))
                        .flat_map(|e| e.variants())
                        .map(|v| v.spec)
                        .find(|s| usable(s))
                })
                .ok_or_else(|| {
                    Error::Invalid(
                        "no engine is available on this machine: run `edgebench engines` to see why".into(),
                    )
                })?;
            let note = format!(
                "baseline: {fallback}, the least optimized variant available, standing in for PyTorch eager ({why}); speed-ups are over {fallback}, not over PyTorch"
            );
            (fallback, note)
        }
    } else {
        let b = normalize(&cfg.baseline)?;
        require_available(engines, &b, "baseline")?;
        (b.clone(), format!("baseline: {b}, as the config says"))
    };

    let mut variants: Vec<String> = vec![];
    for v in &cfg.variants {
        if v == "auto" {
            for spec in auto_variants(engines) {
                if spec != baseline && !variants.contains(&spec) {
                    variants.push(spec);
                }
            }
        } else {
            let s = normalize(v)?;
            require_available(engines, &s, "variants")?;
            if s != baseline && !variants.contains(&s) {
                variants.push(s);
            }
        }
    }
    if variants.is_empty() {
        return Err(Error::Invalid(format!(
            "no variant to compare with the baseline {baseline}: name one in `variants`, or install an engine (see `edgebench engines`)"
        )));
    }
    let reference = match &cfg.reference {
        None => baseline.clone(),
        Some(r) => {
            let r = normalize(r)?;
            if r != baseline && !variants.contains(&r) {
                return Err(Error::Invalid(format!(
                    "reference = {r}: the gate's reference must be the baseline ({baseline}) or one of the variants ({})",
                    variants.join(", ")
                )));
            }
            r
        }
    };

    let zoo = edgebench_zoo::list();
    let mut models: Vec<PlannedModel> = cfg
        .models
        .iter()
        .map(|m| plan_model(m, &zoo, &baseline, &reference))
        .collect();
    // PyTorch runs only models it has the source of (zoo models, each of which has a PyTorch
    // twin: torchvision's or edgebench's own; files written by `edgebench export`): the others
    // fall back to the least optimized variant available, said per model.
    if baseline.starts_with("torch:") {
        let fallback = UNOPTIMIZED
            .iter()
            .map(|s| s.to_string())
            .find(|s| usable(s));
        let mut fell_back = vec![];
        for m in models.iter_mut().filter(|m| !torch_can_run(m)) {
            let Some(fb) = &fallback else {
                continue;
            };
            m.baseline_note = Some(format!(
                "baseline {fb}: PyTorch cannot run this model (no PyTorch source: neither a zoo model nor a file written by `edgebench export`)"
            ));
            if m.reference == baseline {
                m.reference = fb.clone();
            }
            m.baseline = fb.clone();
            fell_back.push(m.label.clone());
        }
        if let (false, Some(fb)) = (fell_back.is_empty(), &fallback) {
            notes.push(format!(
                "PyTorch cannot run {} (neither a zoo model nor a file written by `edgebench export`, so no PyTorch source is known): their baseline is {fb}, the least optimized variant available",
                fell_back.join(", ")
            ));
        }
    }
    let mut labels = std::collections::HashSet::new();
    for m in &models {
        if !labels.insert(m.label.clone()) {
            return Err(Error::Invalid(format!(
                "two models are labelled `{}`: give each [[model]] a different label",
                m.label
            )));
        }
    }

    // PyTorch variants among the candidates skip the models PyTorch cannot run: they could
    // only fail.
    let torch_ok: Vec<bool> = if variants.iter().any(|v| v.starts_with("torch:")) {
        models.iter().map(torch_can_run).collect()
    } else {
        vec![true; models.len()]
    };
    let skipped: Vec<&str> = models
        .iter()
        .zip(&torch_ok)
        .filter(|(_, ok)| !**ok)
        .map(|(m, _)| m.label.as_str())
        .collect();
    if !skipped.is_empty() {
        notes.push(format!(
            "the PyTorch variants skip {}: PyTorch cannot run them",
            skipped.join(", ")
        ));
    }

    // Per model and batch, in each round: the reference first (its outputs gate the others),
    // then the baseline, then the candidates; then the next round in the same order.
    let mut jobs = vec![];
    for (mi, m) in models.iter().enumerate() {
        let mut order = vec![m.reference.clone()];
        for s in std::iter::once(&m.baseline).chain(&variants) {
            let torch_skip = !torch_ok[mi] && s.starts_with("torch:") && *s != m.baseline;
            if !order.contains(s) && (*s != baseline || m.baseline == baseline) && !torch_skip {
                order.push(s.clone());
            }
        }
        for &batch in &cfg.batch {
            for round in 1..=cfg.measure.rounds.max(1) {
                for spec in &order {
                    jobs.push(Job {
                        key: round_key(&m.label, &m.source, batch, spec, round),
                        model: mi,
                        batch,
                        spec: spec.clone(),
                        is_baseline: *spec == m.baseline,
                        is_reference: *spec == m.reference,
                        round,
                    });
                }
            }
        }
    }
    Ok(Plan {
        baseline,
        baseline_note,
        reference,
        variants,
        notes,
        engines: statuses,
        models,
        jobs,
    })
}

fn normalize(spec: &str) -> Result<String> {
    Ok(EngineSpec::parse(spec)?.to_string())
}

fn require_available(engines: &[Box<dyn Engine>], spec: &str, key: &str) -> Result<()> {
    let s = EngineSpec::parse(spec)?;
    let e = engines
        .iter()
        .find(|e| e.name() == s.engine)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{key}: unknown engine in {spec}; see `edgebench engines`"
            ))
        })?;
    e.validate(&s)?;
    // The spec's own paths count (`tensorrt:fp16,trtexec=/opt/trt/bin/trtexec`).
    match e.availability_for(&s) {
        Availability::Available { .. } => Ok(()),
        a => Err(Error::Invalid(format!(
            "{key}: {spec} cannot run here: {}; remove it from the config or use \"auto\"",
            why_not(&a)
        ))),
    }
}

/// The optimized variant of every available engine, TensorRT first.
pub fn auto_variants(engines: &[Box<dyn Engine>]) -> Vec<String> {
    let rank = |name: &str| {
        OPTIMIZED
            .iter()
            .position(|(n, _)| *n == name)
            .unwrap_or(OPTIMIZED.len())
    };
    let mut avail: Vec<&Box<dyn Engine>> =
        engines.iter().filter(|e| available(e.as_ref())).collect();
    avail.sort_by_key(|e| (rank(e.name()), e.name()));
    let mut out = vec![];
    for e in avail {
        let valid = |s: &String| EngineSpec::parse(s).is_ok_and(|p| e.validate(&p).is_ok());
        let chosen = match OPTIMIZED.iter().find(|(n, _)| *n == e.name()) {
            Some((_, [])) => None,
            Some((_, preferred)) => preferred
                .iter()
                .map(|v| format!("{}:{v}", e.name()))
                .find(valid),
            None => e.variants().last().map(|v| v.spec.clone()).filter(valid),
        };
        if let Some(c) = chosen {
            if let Ok(s) = EngineSpec::parse(&c) {
                out.push(s.to_string());
            }
        }
    }
    out
}

/// Whether the torch engine has a PyTorch model for this source: a zoo model with a PyTorch
/// twin (every zoo model has one: torchvision's, or edgebench's own definition in the worker),
/// or an ONNX file written by `edgebench export` (which records its source).
fn torch_can_run(m: &PlannedModel) -> bool {
    match edgebench_torch::source::zoo_query(&m.source) {
        Some(_) => edgebench_torch::source::zoo_has_twin(&m.source),
        None => edgebench_core::model::Model::from_path(std::path::Path::new(&m.source)).is_ok_and(
            |model| {
                model
                    .proto
                    .metadata_props
                    .iter()
                    .any(|kv| kv.key == edgebench_torch::source::meta::SOURCE)
            },
        ),
    }
}

fn plan_model(
    m: &ModelConfig,
    zoo: &[edgebench_zoo::ZooEntry],
    baseline: &str,
    reference: &str,
) -> PlannedModel {
    let zoo_name = edgebench_torch::source::zoo_name(&m.source).map(str::to_owned);
    let entry = zoo_name
        .as_deref()
        .and_then(|n| zoo.iter().find(|e| e.name == n));
    let label = m
        .label
        .clone()
        .unwrap_or_else(|| edgebench_torch::source::default_label(&m.source));
    let task = m.task.unwrap_or(entry.map_or(Task::Other, |e| e.task));
    PlannedModel {
        label,
        source: m.source.clone(),
        task,
        shapes: m.shapes.clone(),
        known_macs: entry.map(|e| e.macs),
        baseline: baseline.to_owned(),
        reference: reference.to_owned(),
        baseline_note: None,
    }
}
