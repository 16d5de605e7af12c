//! The study's findings ([`StudySummary`], `summary.json`), computed from `results.jsonl` alone: per model and variant the
//! median latency with its interval, FPS, the speed-up over the baseline with a bootstrap
//! interval and a verdict, real-time verdicts; across models the average speed-up per task
//! (arithmetic mean of percentages, as the published study reports, and the geometric mean of
//! ratios, the right average for ratios), and the FLOPs trend: Spearman and Pearson
//! correlation between log10 FLOPs and speed-up, a least-squares line, and the models whose
//! residual breaks the trend. Only variants that pass the accuracy gate count.
//!
//! Energy: per row the telemetry's figures (power, energy per inference with and without
//! idle, inferences per joule, FPS per watt, CO2, the throttle verdict), or why there are
//! none; the energy ratio over the baseline (baseline joules per inference / the variant's,
//! the "energy saving" as the speed-up is the time saving), and its geometric mean per task.
//!
//! A fleet ([`fleet`]): when the measurements name more than one device, each device is
//! analysed on its own, as if it had run the study alone, and the devices are set side by
//! side model by model; nothing is averaged across devices.

use crate::bench::merge_rounds;
use crate::host::HostInfo;
use crate::schema::study::{
    Average, Failure, Job, Loaded, Plan, Row, RowEnergy, StudyConfig, StudyMeasurement,
    StudySummary, Task, Trend, TrendPoint, BEST,
};
use crate::schema::{Realtime, Status, VariantResult};
use crate::stats;
use crate::telemetry::energy::{DevicePower, EnergyMethod};

pub mod fleet;

/// The row's energy figures and, when there is no energy per inference, why.
pub fn row_energy(r: &VariantResult) -> (Option<RowEnergy>, Option<String>) {
    let Some(e) = &r.energy else {
        let why = if r.status == Status::Failed {
            "the variant did not run"
        } else {
            "no telemetry was recorded (the study ran with --no-telemetry, or before edgebench measured energy)"
        };
        return (None, Some(why.to_owned()));
    };
    let t = e.total.as_ref();
    let n = e.window.inferences.max(1) as f64;
    let counted = |d: &&DevicePower| d.in_total && t.is_some_and(|t| t.devices.contains(&d.device));
    let checked: Vec<_> = e
        .devices
        .iter()
        .filter(counted)
        .filter(|d| {
            d.method == Some(EnergyMethod::Counter)
                && d.power_x_time_j.is_some()
                && d.energy_j.is_some()
        })
        .collect();
    let sum = |f: fn(&DevicePower) -> Option<f64>| {
        (!checked.is_empty()).then(|| checked.iter().filter_map(|d| f(d)).sum::<f64>() / n)
    };
    let energy = RowEnergy {
        window: e.window.kind,
        window_s: e.window.duration_s,
        inferences: e.window.inferences,
        devices: t.map(|t| t.devices.clone()).unwrap_or_default(),
        avg_power_w: t.map(|t| t.avg_power_w),
        peak_power_w: t.and_then(|t| t.peak_power_w),
        idle_power_w: t.and_then(|t| t.idle_power_w),
        energy_per_inference_j: t.map(|t| t.energy_per_inference_j),
        energy_per_inference_above_idle_j: t.and_then(|t| t.energy_per_inference_above_idle_j),
        inferences_per_j: t.map(|t| t.inferences_per_j),
        fps_per_w: t.and_then(|t| t.fps_per_w),
        grid_gco2_per_kwh: t.and_then(|t| t.grid_gco2_per_kwh),
        co2_g_per_1000_inferences: t.and_then(|t| t.co2_g_per_1000_inferences),
        power_x_time_j: sum(|d| d.power_x_time_j),
        counter_j: sum(|d| d.energy_j),
        check_devices: checked.iter().map(|d| d.device.clone()).collect(),
        throttle: e.throttle.verdict,
        throttle_detail: e.throttle.detail.clone(),
        notes: e.notes.clone(),
        work_unmeasured: e.work_unmeasured.clone(),
    };
    let na = match (t, &e.total_na) {
        (Some(_), _) => None,
        (None, Some(why)) => Some(why.clone()),
        (None, None) => Some("no power total in the telemetry".to_owned()),
    };
    (Some(energy), na)
}

/// Why a variant has no energy ratio to its baseline although both have an energy total: the
/// note its row carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoEnergyRatio {
    /// One side's energy leaves out part of its work (`side`: "the baseline" or "this variant").
    #[error("no energy ratio: for {side}, {why}")]
    WorkUnmeasured { side: &'static str, why: String },
    /// The two totals count different devices.
    #[error("no energy ratio: the baseline's energy counts {} and this variant's {}", baseline.join(", "), candidate.join(", "))]
    DevicesDiffer {
        baseline: Vec<String>,
        candidate: Vec<String>,
    },
}

/// Baseline joules per inference / the candidate's, when both were measured over the same
/// devices; otherwise why not (`None` with no reason: a side has no energy, said elsewhere).
fn energy_ratio(
    baseline: &VariantResult,
    candidate: &VariantResult,
) -> Result<Option<f64>, NoEnergyRatio> {
    let total = |r: &VariantResult| r.energy.as_ref().and_then(|e| e.total.clone());
    let (Some(b), Some(c)) = (total(baseline), total(candidate)) else {
        return Ok(None);
    };
    for (side, r) in [("the baseline", baseline), ("this variant", candidate)] {
        if let Some(why) = r.energy.as_ref().and_then(|e| e.work_unmeasured.as_ref()) {
            return Err(NoEnergyRatio::WorkUnmeasured {
                side,
                why: why.clone(),
            });
        }
    }
    if b.devices != c.devices {
        return Err(NoEnergyRatio::DevicesDiffer {
            baseline: b.devices,
            candidate: c.devices,
        });
    }
    if b.energy_per_inference_j > 0.0 && c.energy_per_inference_j > 0.0 {
        Ok(Some(b.energy_per_inference_j / c.energy_per_inference_j))
    } else {
        Ok(None)
    }
}

/// Samples per round of a (merged) result.
fn round_counts(r: &VariantResult) -> Vec<usize> {
    if r.rounds.is_empty() {
        if r.raw_ms.is_empty() {
            vec![]
        } else {
            vec![r.raw_ms.len()]
        }
    } else {
        r.rounds.clone()
    }
}

/// Percentiles 0, 5, ..., 100 of samples.
fn quantiles(raw: &[f64]) -> Vec<f64> {
    if raw.is_empty() {
        return vec![];
    }
    let mut v = raw.to_vec();
    v.sort_by(f64::total_cmp);
    (0..=20)
        .map(|i| crate::stats::percentile(&v, i as f64 * 5.0))
        .collect()
}

/// Real-time verdict by core's rule ([`crate::realtime`]): an image model must keep
/// up with `fps` frames per second, a video model (a rank-5 input) with `fps / stride` clips
/// per second, the stride being `realtime.clip_stride` or else the clip length. Returns the
/// verdict, the unit (`frames` or `clips`) and how many of them per second it must handle.
pub fn realtime(m: &StudyMeasurement, cfg: &StudyConfig) -> (Option<Realtime>, String, f64) {
    use crate::realtime::{clip_length, frames_per_inference, judge};
    let fps = cfg.realtime.fps;
    let inputs = &m.model.inputs;
    let (unit, required) = match clip_length(inputs) {
        Some(_) => (
            "clips",
            fps / frames_per_inference(inputs, 1, cfg.realtime.clip_stride) as f64,
        ),
        None => ("frames", fps),
    };
    let frames = frames_per_inference(inputs, m.batch, cfg.realtime.clip_stride);
    (judge(&m.result.raw_ms, fps, frames), unit.into(), required)
}

/// One variant (model x batch x engine spec) with its rounds merged.
struct Merged {
    m: StudyMeasurement,
    /// Rounds measured, of those planned.
    rounds_measured: usize,
}

/// Merges a variant's rounds (in round order) into one measurement: the first round that did
/// not pass stands for the variant (a variant that crashes or disagrees in one round is not
/// reliable), else the samples of every round, recomputed ([`merge_rounds`]).
fn merge_variant(parts: &[&StudyMeasurement], planned: usize, cfg: &StudyConfig) -> Merged {
    let first = parts[0];
    if let Some((i, bad)) = parts
        .iter()
        .enumerate()
        .find(|(_, p)| p.result.status != Status::Ok)
    {
        let mut m = (*bad).clone();
        if planned > 1 {
            if let Some(e) = m.result.error.as_mut() {
                *e = format!("round {} of {planned}: {e}", i + 1);
            }
            if let Some(a) = m.result.accuracy.as_mut() {
                if let Some(r) = a.reason.as_mut() {
                    *r = format!("round {} of {planned}: {r}", i + 1);
                }
            }
        }
        return Merged {
            m,
            rounds_measured: parts.len(),
        };
    }
    let mut m = first.clone();
    if parts.len() > 1 {
        let results: Vec<VariantResult> = parts.iter().map(|p| p.result.clone()).collect();
        if let Some(r) = merge_rounds(
            &results,
            first.batch,
            cfg.realtime.fps,
            cfg.measure.target_ci_pct / 100.0,
            cfg.seed,
        ) {
            m.result = r;
        }
        // Every round passed the gate against the same reference outputs: keep the round
        // that agreed least.
        m.result.accuracy = parts
            .iter()
            .filter_map(|p| p.result.accuracy.as_ref())
            .min_by(|a, b| a.min_cosine.total_cmp(&b.min_cosine))
            .cloned();
        m.wall_s = parts.iter().map(|p| p.wall_s).sum();
        m.finished_unix = parts.iter().map(|p| p.finished_unix).fold(0.0, f64::max);
    }
    Merged {
        m,
        rounds_measured: parts.len(),
    }
}

/// Every variant of the latest session's plan that has a measurement, its rounds merged into
/// one measurement (key: its first round's), in plan order: what `compare` and other readers
/// of a study should take instead of the rounds one by one. In a fleet (measurements of more
/// than one device), each device's variants in turn, each with its `device` set: the same key
/// on two devices is two variants, never one.
pub fn merged_variants(loaded: &Loaded) -> Vec<StudyMeasurement> {
    let devices = fleet::devices(loaded);
    if devices.len() < 2 {
        return merged_variants_of_device(loaded);
    }
    devices
        .iter()
        .flat_map(|d| {
            let mut v = merged_variants_of_device(&fleet::of_device(loaded, d));
            for m in &mut v {
                m.device = Some(d.clone());
            }
            v
        })
        .collect()
}

fn merged_variants_of_device(loaded: &Loaded) -> Vec<StudyMeasurement> {
    let Some(session) = loaded.sessions.last() else {
        return vec![];
    };
    let (variants, _) = variants_of(loaded, &session.plan, &session.config);
    variants
        .into_iter()
        .filter_map(|(_, m)| m.map(|m| m.m))
        .collect()
}

/// The plan's variants (its first round's jobs) with their rounds merged, and the keys of the
/// rounds not measured yet (a round after one that did not pass is never run: not pending).
fn variants_of<'a>(
    loaded: &Loaded,
    plan: &'a Plan,
    cfg: &StudyConfig,
) -> (Vec<(&'a Job, Option<Merged>)>, Vec<String>) {
    let latest = loaded.latest();
    let by_key: std::collections::HashMap<&str, &StudyMeasurement> =
        latest.iter().map(|m| (m.key.as_str(), *m)).collect();
    let mut pending = vec![];
    let mut variants: Vec<(&Job, Option<Merged>)> = vec![];
    for job in plan.jobs.iter().filter(|j| j.round <= 1) {
        let mut rounds: Vec<&Job> = plan
            .jobs
            .iter()
            .filter(|j| j.model == job.model && j.batch == job.batch && j.spec == job.spec)
            .collect();
        rounds.sort_by_key(|j| j.round);
        let mut parts: Vec<&StudyMeasurement> = vec![];
        for r in &rounds {
            match by_key.get(r.key.as_str()) {
                Some(m) => parts.push(m),
                // A round after one that did not pass is not run: nothing is pending.
                None if parts.iter().any(|p| p.result.status != Status::Ok) => {}
                None => pending.push(r.key.clone()),
            }
        }
        let merged = (!parts.is_empty()).then(|| merge_variant(&parts, rounds.len(), cfg));
        variants.push((job, merged));
    }
    (variants, pending)
}

/// Computes the findings from the latest measurement of each job, each variant's rounds
/// merged into one. When the measurements name more than one device (a fleet), each device
/// is analysed on its own ([`fleet::analyse`]).
pub fn analyse(loaded: &Loaded) -> Option<StudySummary> {
    if fleet::devices(loaded).len() > 1 {
        return fleet::analyse(loaded);
    }
    analyse_device(loaded, Pending::OfThisFolder)
}

/// Which of the plan's jobs count as pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Those this folder is to measure: a shard's folder (every session the same
    /// `study --shard I/N`) only its shard's, else the whole plan's.
    OfThisFolder,
    /// The whole plan's, whatever the shards (one device of a merged fleet: its missing
    /// cells).
    WholePlan,
}

/// The shard every session of `loaded` measures, if they all measure the same one.
fn one_shard(loaded: &Loaded) -> Option<crate::schema::study::Shard> {
    let first = loaded.sessions.first()?.shard?;
    loaded
        .sessions
        .iter()
        .all(|s| s.shard == Some(first))
        .then_some(first)
}

/// Every distinct host of `sessions`, in order.
pub(crate) fn hosts_of(sessions: &[crate::schema::study::StudySession]) -> Vec<HostInfo> {
    let mut hosts: Vec<HostInfo> = vec![];
    for s in sessions {
        if !hosts.contains(&s.host) {
            hosts.push(s.host.clone());
        }
    }
    hosts
}

/// [`analyse`] of measurements taken on one device (or that name none).
pub(crate) fn analyse_device(loaded: &Loaded, scope: Pending) -> Option<StudySummary> {
    let session = loaded.sessions.last()?;
    let cfg = &session.config;
    let plan: &Plan = &session.plan;
    let (variants, mut pending) = variants_of(loaded, plan, cfg);
    if let (Pending::OfThisFolder, Some(shard)) = (scope, one_shard(loaded)) {
        let mine: std::collections::HashSet<&str> =
            shard.jobs(plan).iter().map(|j| j.key.as_str()).collect();
        pending.retain(|k| mine.contains(k.as_str()));
    }
    let find = |model: usize, batch: usize, spec: &str| {
        variants
            .iter()
            .find(|(j, _)| j.model == model && j.batch == batch && j.spec == spec)
            .and_then(|(_, m)| m.as_ref())
    };

    // Whether a variant counts, and why not. A variant other than the reference counts only
    // when its comparison ran and passed, and when the reference itself passed every round:
    // a reference that failed leaves nothing verified for its model.
    let verdict = |job: &Job, m: &StudyMeasurement| -> (Status, bool, Option<String>) {
        let model = &plan.models[job.model];
        let status = m.result.status;
        match status {
            Status::Failed | Status::Unverified => return (status, false, m.result.error.clone()),
            Status::GateFailed => {
                let why = m
                    .result
                    .accuracy
                    .as_ref()
                    .and_then(|a| a.reason.clone())
                    .or_else(|| m.result.error.clone())
                    .unwrap_or_default();
                return (
                    status,
                    false,
                    Some(format!("failed the accuracy gate: {why}")),
                );
            }
            Status::Ok => {}
        }
        if job.is_reference {
            return (Status::Ok, true, None);
        }
        if let Some(r) = find(job.model, job.batch, &model.reference) {
            if r.m.result.status != Status::Ok {
                let why =
                    r.m.result
                        .error
                        .clone()
                        .or_else(|| r.m.result.accuracy.as_ref().and_then(|a| a.reason.clone()))
                        .unwrap_or_else(|| "no reason recorded".into());
                return (
                    Status::Unverified,
                    false,
                    Some(format!(
                        "not verified: the gate reference {} failed for this model ({why}); no speed-up",
                        model.reference
                    )),
                );
            }
        }
        match &m.result.accuracy {
            Some(a) if a.passed => (Status::Ok, true, None),
            _ => (
                Status::Unverified,
                false,
                Some(format!(
                    "not verified: no comparison with the gate reference {} was recorded for this variant; no speed-up",
                    model.reference
                )),
            ),
        }
    };

    let mut rows = vec![];
    let mut failures = vec![];
    for (job, merged) in &variants {
        let model = &plan.models[job.model];
        let Some(merged) = merged else {
            continue;
        };
        let m = &merged.m;
        let (status, counted, mut note) = verdict(job, m);
        if status != Status::Ok {
            failures.push(Failure {
                model: model.label.clone(),
                batch: job.batch,
                spec: job.spec.clone(),
                status,
                reason: note.clone().unwrap_or_else(|| "unknown".into()),
                device: None,
            });
        }
        let mut speedup = None;
        let (mut energy, energy_na) = row_energy(&m.result);
        let mut energy_ratio = None;
        if !job.is_baseline && counted {
            let baseline_job = variants
                .iter()
                .map(|(j, _)| *j)
                .find(|j| j.model == job.model && j.batch == job.batch && j.spec == model.baseline);
            match (find(job.model, job.batch, &model.baseline), baseline_job) {
                (Some(b), Some(bj)) if verdict(bj, &b.m).1 => {
                    speedup = crate::bench::speedup(
                        &b.m.result,
                        &m.result,
                        cfg.measure.min_samples,
                        cfg.seed,
                    );
                    match self::energy_ratio(&b.m.result, &m.result) {
                        Ok(r) => energy_ratio = r,
                        Err(why) => {
                            if let Some(e) = energy.as_mut() {
                                e.notes.push(why.to_string());
                            }
                        }
                    }
                }
                (Some(_), _) => {
                    note = Some(format!(
                        "no speed-up: the baseline {} did not run or failed the gate",
                        model.baseline
                    ))
                }
                (None, _) => {
                    note = Some(format!(
                        "no speed-up yet: the baseline {} is not measured",
                        model.baseline
                    ))
                }
            }
        }
        if merged.rounds_measured < cfg.measure.rounds.max(1) && status == Status::Ok {
            let more = format!(
                "{} of {} rounds measured (an interrupted study: --resume finishes it)",
                merged.rounds_measured,
                cfg.measure.rounds.max(1)
            );
            note = Some(match note {
                Some(n) => format!("{n}; {more}"),
                None => more,
            });
        }
        let (rt, unit, required) = realtime(m, cfg);
        let summary = m.result.latency_ms.as_ref();
        rows.push(Row {
            model: model.label.clone(),
            task: model.task,
            batch: job.batch,
            source: model.source.clone(),
            flops: m.model.flops,
            params: m.model.params,
            bytes_moved: m.model.bytes_moved,
            spec: job.spec.clone(),
            is_baseline: job.is_baseline,
            status,
            counted,
            note,
            engine_version: m.result.session.as_ref().map(|s| s.engine_version.clone()),
            precision: m.result.session.as_ref().map(|s| s.precision.clone()),
            median_ms: summary.map(|s| s.median),
            ci95_low_ms: summary.map(|s| s.ci95_low),
            ci95_high_ms: summary.map(|s| s.ci95_high),
            fps: m.result.throughput_per_s,
            samples: m.result.samples,
            rounds: round_counts(&m.result),
            quantiles_ms: quantiles(&m.result.raw_ms),
            speedup,
            realtime: rt,
            unit,
            required_per_s: required,
            accuracy: m.result.accuracy.clone(),
            warnings: m.result.warnings.iter().map(|w| w.to_string()).collect(),
            energy,
            energy_na,
            energy_ratio,
            device: None,
        });
    }

    // Pseudo-variant "best" when there is more than one candidate.
    let mut variants: Vec<String> = plan.variants.clone();
    if plan.variants.len() > 1 {
        variants.push(BEST.into());
    }
    let speedups_of = |variant: &str, task: Option<Task>, batch: usize| -> Vec<(&Row, f64)> {
        let mut out: Vec<(&Row, f64)> = vec![];
        let mut models: Vec<&str> = vec![];
        for r in &rows {
            if r.batch == batch && !models.contains(&r.model.as_str()) {
                models.push(&r.model);
            }
        }
        for model in models {
            let candidates = rows.iter().filter(|r| {
                r.model == model
                    && r.batch == batch
                    && task.is_none_or(|t| r.task == t)
                    && r.speedup.is_some()
                    && (variant == BEST || r.spec == variant)
            });
            let best = candidates.max_by(|a, b| {
                let ra = a.speedup.as_ref().map_or(0.0, |s| s.ratio);
                let rb = b.speedup.as_ref().map_or(0.0, |s| s.ratio);
                ra.total_cmp(&rb)
            });
            if let Some(r) = best {
                if let Some(s) = &r.speedup {
                    out.push((r, s.ratio));
                }
            }
        }
        out
    };
    let mut tasks: Vec<Task> = plan.models.iter().map(|m| m.task).collect();
    tasks.sort();
    tasks.dedup();
    let mut groups: Vec<Option<Task>> = tasks.iter().copied().map(Some).collect();
    if tasks.len() > 1 {
        groups.push(None);
    }
    let mut averages = vec![];
    let mut trends = vec![];
    for &batch in &cfg.batch {
        for v in &variants {
            for &task in &groups {
                let pts = speedups_of(v, task, batch);
                let ratios: Vec<f64> = pts.iter().map(|p| p.1).collect();
                let percents: Vec<f64> = ratios.iter().map(|r| (r - 1.0) * 100.0).collect();
                let with_energy: Vec<(&str, f64)> = pts
                    .iter()
                    .filter_map(|p| Some((p.0.model.as_str(), p.0.energy_ratio?)))
                    .collect();
                let energy_ratios: Vec<f64> = with_energy.iter().map(|e| e.1).collect();
                averages.push(Average {
                    variant: v.clone(),
                    task,
                    batch,
                    n: ratios.len(),
                    mean_percent: (!percents.is_empty()).then(|| stats::mean(&percents)),
                    geomean_ratio: stats::geometric_mean(&ratios),
                    models: pts.iter().map(|p| p.0.model.clone()).collect(),
                    energy_n: energy_ratios.len(),
                    energy_geomean_ratio: stats::geometric_mean(&energy_ratios),
                    energy_models: with_energy.iter().map(|e| e.0.to_owned()).collect(),
                });
                trends.push(trend(v, task, batch, &pts, cfg.analysis.exception_sd));
            }
        }
    }

    Some(StudySummary {
        schema_version: crate::SCHEMA_VERSION,
        name: cfg.name.clone(),
        tool: session.tool.clone(),
        hosts: hosts_of(&loaded.sessions),
        sessions: loaded.sessions.len(),
        started_unix: loaded.sessions.first().map_or(0.0, |s| s.started_unix),
        baseline: plan.baseline.clone(),
        baseline_note: plan.baseline_note.clone(),
        reference: plan.reference.clone(),
        variants: plan.variants.clone(),
        notes: plan.notes.clone(),
        engines: plan.engines.clone(),
        config: cfg.clone(),
        rows,
        averages,
        trends,
        failures,
        pending,
        devices: vec![],
        cross_device: vec![],
    })
}

/// The FLOPs trend of one variant over the given (row, ratio) points.
pub fn trend(
    variant: &str,
    task: Option<Task>,
    batch: usize,
    pts: &[(&Row, f64)],
    exception_sd: f64,
) -> Trend {
    let usable: Vec<(&Row, f64, f64)> = pts
        .iter()
        .filter_map(|(r, ratio)| {
            let f = r.flops? as f64 / r.batch.max(1) as f64;
            (f > 0.0).then_some((*r, f, *ratio))
        })
        .collect();
    let x: Vec<f64> = usable.iter().map(|u| u.1.log10()).collect();
    let y: Vec<f64> = usable.iter().map(|u| u.2).collect();
    let line = stats::least_squares(&x, &y);
    let points: Vec<TrendPoint> = usable
        .iter()
        .zip(&x)
        .map(|((r, f, ratio), &lx)| {
            let fitted = line.map(|l| l.at(lx));
            let residual = fitted.map(|f| ratio - f);
            let std_residual = match (residual, line) {
                (Some(res), Some(l)) if l.residual_sd > 0.0 => Some(res / l.residual_sd),
                _ => None,
            };
            TrendPoint {
                model: r.model.clone(),
                task: r.task,
                flops: *f,
                log10_flops: lx,
                ratio: *ratio,
                fitted,
                residual,
                std_residual,
                exception: std_residual.is_some_and(|z| z.abs() > exception_sd),
            }
        })
        .collect();
    Trend {
        variant: variant.into(),
        task,
        batch,
        n: points.len(),
        spearman: stats::spearman(&x, &y),
        pearson: stats::pearson(&x, &y),
        slope: line.map(|l| l.slope),
        intercept: line.map(|l| l.intercept),
        residual_sd: line.map(|l| l.residual_sd),
        exception_sd,
        exceptions: points
            .iter()
            .filter(|p| p.exception)
            .map(|p| p.model.clone())
            .collect(),
        points,
    }
}
