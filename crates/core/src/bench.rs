//! One benchmark run, end to end for each variant: prepare -> load inputs -> measure ->
//! summarize -> fetch outputs for the gate; then speed-ups, real-time verdicts and the gate
//! across variants. Returns data; the CLI renders it.

pub mod outcome;
pub mod scenario;

pub use outcome::{conclude, leave_out_unavailable, NothingRan, Outcome};

use crate::engine::{Engine, EngineSpec, PrepareOptions};
use crate::gate::{compare, Tolerance, ToleranceOverride};
use crate::inputs::random_inputs;
use crate::measure::{measure, MeasureOptions, Progress};
use crate::model::Model;
use crate::schema::{
    IntervalMethod, Speedup, SpeedupWarning, Status, VariantResult, Verdict, Warning,
};
use crate::stats::{bootstrap_ci, mean, median, summarize, tukey_outliers};
use crate::tensor::{ConcreteSpec, HostTensor};
use edgebench_telemetry::energy::{summarize as summarize_energy, Window, WindowKind};
use edgebench_telemetry::{Energy, Telemetry, Trace};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings of a run, shared by every variant.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub inputs: Vec<ConcreteSpec>,
    pub batch: usize,
    /// Threads for every engine; `None` means [`default_threads`].
    pub threads: Option<usize>,
    pub seed: u64,
    /// The whole measurement of one variant: its time and sample limits are shared out over
    /// the rounds.
    pub measure: MeasureOptions,
    /// Interleaved rounds (A B C A B C ...): speed-ups and their intervals come from the
    /// rounds, so they cover the variation between runs. 1 measures each variant once.
    pub rounds: usize,
    pub target_fps: f64,
    /// How many random input sets the accuracy gate compares (the measured one included).
    pub gate_input_sets: usize,
    /// The device's telemetry, sampled during every measurement; `None` turns it off.
    pub telemetry: Option<Arc<Telemetry>>,
    /// An MLPerf scenario each variant runs after its measurement and gate outputs
    /// ([`scenario`]); `None` runs none.
    pub scenario: Option<crate::scenario::ScenarioSettings>,
}

/// Random input sets the accuracy gate compares unless told (the measured one included).
pub const DEFAULT_GATE_INPUT_SETS: usize = 3;

/// Interleaved rounds a run uses unless told: three is the fewest that give an interval
/// across rounds with a usable width (Student's t with 2 degrees of freedom).
pub const DEFAULT_ROUNDS: usize = 3;

/// Threads each engine uses when the user does not say: the physical cores (engines that
/// spread one inference over hyper-threads usually lose), at least one.
pub fn default_threads() -> usize {
    sysinfo::System::physical_core_count()
        .ok()
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .max(1)
}

/// A measured variant and the outputs it produced for the gate.
pub struct VariantRun {
    pub result: VariantResult,
    pub outputs: Vec<Vec<HostTensor>>,
}

/// Prepares and measures one variant in one round (the study's children, which interleave
/// rounds across processes). Engine failures become a `Failed` result, not an error.
pub fn run_variant(
    engine: &dyn Engine,
    model: &Model,
    spec: &EngineSpec,
    opts: &BenchOptions,
    progress: &mut dyn FnMut(Progress),
) -> VariantRun {
    let mut run = || -> crate::error::Result<VariantRun> {
        let inputs = random_inputs(&opts.inputs, opts.seed)?;
        let (mut session, prepare_ms) = prepare(engine, model, spec, opts, &inputs)?;
        let (m, energy) = measure_round(
            spec,
            session.as_mut(),
            &opts.measure,
            opts.telemetry.as_deref(),
            opts.batch,
            progress,
        )?;
        let outputs = gate_outputs(session.as_mut(), opts)?;
        let self_timed = scenario::timed_itself(std::slice::from_ref(&m));
        let mut result = build_result(spec, &session.info(), prepare_ms, &[m], energy, opts)?;
        if let Some(settings) = &opts.scenario {
            let s = scenario::run_on_session(
                session.as_mut(),
                &result.spec,
                settings,
                opts.batch,
                &inputs,
                self_timed,
                &mut |_| {},
            );
            result = scenario::attach(result, s);
        }
        Ok(VariantRun { result, outputs })
    };
    run().unwrap_or_else(|e| VariantRun {
        result: VariantResult::failed(spec, e.to_string()),
        outputs: vec![],
    })
}

/// What [`run_variants`] hands the results measured so far after each round.
pub type OnRound<'a> = dyn FnMut(&[VariantResult]) + 'a;

/// Where a [`run_variants`] is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RoundProgress {
    Preparing {
        variant: usize,
    },
    Measuring {
        variant: usize,
        round: usize,
        rounds: usize,
        progress: Progress,
    },
    CheckingOutputs {
        variant: usize,
    },
    /// The variant's MLPerf scenario ([`BenchOptions::scenario`]), between queries.
    Scenario {
        variant: usize,
        progress: crate::scenario::RunProgress,
    },
}

/// Prepares every variant, then measures them in `opts.rounds` interleaved rounds (A B C, A B
/// C, ...), so that a slow drift of the machine's speed falls on every variant alike and shows
/// up between rounds instead of inside one variant's figure; then takes each variant's
/// outputs for the gate. `on_round`, when given, gets the results measured so far after every
/// round, for exports that must survive an interruption (building them costs a bootstrap per
/// variant, so callers without exports pass `None`). A variant that fails at any step becomes a
/// `Failed` result; the others go on.
pub fn run_variants(
    variants: &[(&dyn Engine, &EngineSpec)],
    model: &Model,
    opts: &BenchOptions,
    progress: &mut dyn FnMut(RoundProgress),
    mut on_round: Option<&mut OnRound>,
) -> Vec<VariantRun> {
    struct Live {
        session: Option<Box<dyn crate::engine::Session>>,
        prepare_ms: f64,
        rounds: Vec<crate::measure::Measurement>,
        energy: Option<Energy>,
        error: Option<String>,
    }
    let rounds = opts.rounds.max(1);
    let inputs = random_inputs(&opts.inputs, opts.seed);
    let mut live: Vec<Live> = variants
        .iter()
        .enumerate()
        .map(|(i, (engine, spec))| {
            progress(RoundProgress::Preparing { variant: i });
            let prepared = inputs
                .as_ref()
                .map_err(|e| e.to_string())
                .and_then(|inputs| {
                    prepare(*engine, model, spec, opts, inputs).map_err(|e| e.to_string())
                });
            match prepared {
                Ok((session, prepare_ms)) => Live {
                    session: Some(session),
                    prepare_ms,
                    rounds: vec![],
                    energy: None,
                    error: None,
                },
                Err(e) => Live {
                    session: None,
                    prepare_ms: 0.0,
                    rounds: vec![],
                    energy: None,
                    error: Some(e),
                },
            }
        })
        .collect();
    let snapshot = |live: &[Live]| -> Vec<VariantResult> {
        live.iter()
            .zip(variants)
            .map(|(l, (_, spec))| match (&l.error, &l.session) {
                (None, Some(s)) if !l.rounds.is_empty() => build_result(
                    spec,
                    &s.info(),
                    l.prepare_ms,
                    &l.rounds,
                    l.energy.clone(),
                    opts,
                )
                .unwrap_or_else(|e| VariantResult::failed(spec, e.to_string())),
                (Some(e), _) => VariantResult::failed(spec, e.clone()),
                _ => VariantResult::failed(spec, "not measured yet".into()),
            })
            .collect()
    };
    for round in 0..rounds {
        for (i, l) in live.iter_mut().enumerate() {
            let Some(session) = l.session.as_mut().filter(|_| l.error.is_none()) else {
                continue;
            };
            let mopts = round_options(&opts.measure, round, rounds);
            // Energy over the last round, which samples at least as long as the sensors need.
            let telemetry = opts.telemetry.as_deref().filter(|_| round + 1 == rounds);
            let spec = variants[i].1;
            match measure_round(
                spec,
                session.as_mut(),
                &mopts,
                telemetry,
                opts.batch,
                &mut |p| {
                    progress(RoundProgress::Measuring {
                        variant: i,
                        round,
                        rounds,
                        progress: p,
                    })
                },
            ) {
                Ok((m, energy)) => {
                    l.rounds.push(m);
                    if energy.is_some() {
                        l.energy = energy;
                    }
                }
                Err(e) => l.error = Some(e.to_string()),
            }
        }
        if let Some(on_round) = on_round.as_mut() {
            on_round(&snapshot(&live));
        }
    }
    // With a scenario (long runs), the exports are rewritten after each variant's scenario.
    let mut partial = match (&opts.scenario, on_round.is_some()) {
        (Some(_), true) => snapshot(&live),
        _ => vec![],
    };
    live.iter_mut()
        .zip(variants)
        .enumerate()
        .map(|(i, (l, (_, spec)))| {
            let mut done = || -> crate::error::Result<VariantRun> {
                if let Some(e) = &l.error {
                    return Err(crate::Error::Engine {
                        engine: spec.to_string(),
                        reason: e.clone(),
                    });
                }
                let session = l.session.as_mut().ok_or_else(|| crate::Error::Engine {
                    engine: spec.to_string(),
                    reason: "no session".into(),
                })?;
                progress(RoundProgress::CheckingOutputs { variant: i });
                let outputs = gate_outputs(session.as_mut(), opts)?;
                let mut result = build_result(
                    spec,
                    &session.info(),
                    l.prepare_ms,
                    &l.rounds,
                    l.energy.take(),
                    opts,
                )?;
                if let (Some(settings), Ok(inputs)) = (&opts.scenario, &inputs) {
                    let s = scenario::run_on_session(
                        session.as_mut(),
                        &result.spec,
                        settings,
                        opts.batch,
                        inputs,
                        scenario::timed_itself(&l.rounds),
                        &mut |p| {
                            progress(RoundProgress::Scenario {
                                variant: i,
                                progress: p,
                            })
                        },
                    );
                    result = scenario::attach(result, s);
                }
                Ok(VariantRun { result, outputs })
            };
            let run = done().unwrap_or_else(|e| VariantRun {
                result: VariantResult::failed(
                    spec,
                    l.error.clone().unwrap_or_else(|| e.to_string()),
                ),
                outputs: vec![],
            });
            // Sessions hold engine memory (and GPU contexts): free each as soon as it is done.
            l.session = None;
            if let (Some(slot), Some(on_round)) = (partial.get_mut(i), on_round.as_mut()) {
                *slot = run.result.clone();
                on_round(&partial);
            }
            run
        })
        .collect()
}

/// One round's share of a measurement: its part of the time and sample limits; the first
/// round warms up fully, the later ones briefly (the session is warm, but its caches went to
/// the other variants); the sensors' minimum time applies to the last round, which carries
/// the energy figures.
pub fn round_options(whole: &MeasureOptions, round: usize, rounds: usize) -> MeasureOptions {
    let r = rounds.max(1) as f64;
    MeasureOptions {
        warmup_s: if round == 0 {
            whole.warmup_s
        } else {
            whole.warmup_s / r
        },
        min_warmup_runs: if round == 0 { whole.min_warmup_runs } else { 1 },
        min_samples: whole.min_samples.div_ceil(rounds.max(1)).max(2),
        max_samples: whole.max_samples.div_ceil(rounds.max(1)).max(1),
        max_time_s: whole.max_time_s / r,
        target_rel_ci: whole.target_rel_ci,
        min_time_s: if round + 1 == rounds {
            whole.min_time_s
        } else {
            0.0
        },
    }
}

fn prepare(
    engine: &dyn Engine,
    model: &Model,
    spec: &EngineSpec,
    opts: &BenchOptions,
    inputs: &[HostTensor],
) -> crate::error::Result<(Box<dyn crate::engine::Session>, f64)> {
    // Every engine gets the same thread count, so that comparisons are like for like.
    let threads = opts.threads.unwrap_or_else(default_threads);
    let popts = PrepareOptions {
        inputs: opts.inputs.clone(),
        threads: Some(threads),
    };
    let t0 = Instant::now();
    let mut session = engine.prepare(model, spec, &popts)?;
    let prepare_ms = t0.elapsed().as_secs_f64() * 1e3;
    session.set_inputs(inputs)?;
    Ok((session, prepare_ms))
}

/// One measurement of a prepared session (the measured inputs loaded), with telemetry over
/// its sampling window when `telemetry` is given.
fn measure_round(
    spec: &EngineSpec,
    session: &mut dyn crate::engine::Session,
    mopts: &MeasureOptions,
    telemetry: Option<&Telemetry>,
    batch: usize,
    progress: &mut dyn FnMut(Progress),
) -> crate::error::Result<(crate::measure::Measurement, Option<Energy>)> {
    let recording = telemetry.map(Telemetry::start);
    let call_start = Instant::now();
    let m = match session.measure_self(mopts) {
        Some(m) => m,
        None => measure(session, mopts, progress),
    };
    let call_end = Instant::now();
    let trace = recording.map(|r| r.stop());
    let m = m?;
    if m.samples_ms.is_empty() {
        return Err(crate::Error::Engine {
            engine: spec.to_string(),
            reason: "no samples were taken".into(),
        });
    }
    let energy = match (telemetry, trace) {
        (Some(t), Some(trace)) => {
            let med = median(&m.samples_ms);
            let mut e = energy_of(
                t,
                &trace,
                &m,
                (call_start, call_end),
                batch.max(1) as f64 * 1e3 / med,
            );
            e.check_coverage(&session.info().device);
            Some(e)
        }
        _ => None,
    };
    Ok((m, energy))
}

/// The outputs for the gate: the measured inputs' first (the session's last run was on
/// them), then more input sets.
fn gate_outputs(
    session: &mut dyn crate::engine::Session,
    opts: &BenchOptions,
) -> crate::error::Result<Vec<Vec<HostTensor>>> {
    session.read_back();
    let mut outputs = vec![session.outputs()?];
    for i in 1..opts.gate_input_sets.max(1) {
        session.set_inputs(&random_inputs(
            &opts.inputs,
            opts.seed.wrapping_add(i as u64),
        )?)?;
        session.run()?;
        session.synchronize()?;
        outputs.push(session.outputs()?);
    }
    Ok(outputs)
}

/// A variant's result from its rounds' measurements (in order).
fn build_result(
    spec: &EngineSpec,
    info: &crate::engine::SessionInfo,
    prepare_ms: f64,
    rounds: &[crate::measure::Measurement],
    energy: Option<Energy>,
    opts: &BenchOptions,
) -> crate::error::Result<VariantResult> {
    use crate::measure::StopReason;
    let first = rounds.first().ok_or_else(|| crate::Error::Engine {
        engine: spec.to_string(),
        reason: "no samples were taken".into(),
    })?;
    let raw_ms: Vec<f64> = rounds
        .iter()
        .flat_map(|m| m.samples_ms.iter().copied())
        .collect();
    let stop_reason = combined_stop_reason(rounds.iter().map(|m| m.stop_reason))
        .unwrap_or(StopReason::TargetReached);
    let mut r = VariantResult::failed(spec, String::new());
    r.status = Status::Ok;
    r.error = None;
    r.session = Some(info.clone());
    r.prepare_ms = Some(prepare_ms);
    r.first_run_ms = Some(first.first_run_ms);
    r.warmup_runs = rounds.iter().map(|m| m.warmup_runs).sum();
    r.stop_reason = Some(stop_reason);
    r.timer_overhead_ns = Some(first.timer_overhead_ns);
    r.energy = energy;
    r.rounds = if rounds.len() > 1 {
        rounds.iter().map(|m| m.samples_ms.len()).collect()
    } else {
        vec![]
    };
    r.raw_ms = raw_ms;
    let frames = crate::realtime::frames_per_inference(&opts.inputs, opts.batch, None);
    summarize_samples(
        &mut r,
        opts.batch,
        (opts.target_fps, frames),
        opts.measure.target_rel_ci,
        opts.seed,
    )?;
    Ok(r)
}

/// Why a run measured in rounds stopped: at its target only if every round did, else at the
/// time limit if any round hit it, else at the sample limit. `None` without rounds.
fn combined_stop_reason(
    rounds: impl Iterator<Item = crate::measure::StopReason>,
) -> Option<crate::measure::StopReason> {
    use crate::measure::StopReason;
    rounds.max_by_key(|s| match s {
        StopReason::TargetReached => 0,
        StopReason::SampleLimit => 1,
        StopReason::TimeLimit => 2,
    })
}

/// Fills a result's statistics from its raw samples: summary, outliers, throughput, the
/// real-time verdict and the warnings.
fn summarize_samples(
    r: &mut VariantResult,
    batch: usize,
    (target_fps, frames_per_inference): (f64, usize),
    target_rel_ci: f64,
    seed: u64,
) -> crate::error::Result<()> {
    let summary = summarize(&r.raw_ms, seed).ok_or_else(|| crate::Error::Engine {
        engine: r.spec.clone(),
        reason: "no samples were taken".into(),
    })?;
    let outliers = tukey_outliers(&r.raw_ms);
    let batch = batch.max(1) as f64;
    let mut warnings = Warning::assess(
        &summary,
        r.raw_ms.len(),
        r.first_run_ms.unwrap_or(0.0),
        r.timer_overhead_ns.unwrap_or(0.0),
        &outliers,
        target_rel_ci,
    );
    if let Some(e) = r.energy.as_ref().filter(|e| e.throttle.verdict.slowed()) {
        warnings.push(Warning::Throttled {
            detail: e.throttle.detail.clone(),
        });
    }
    warnings.extend(r.session.iter().flat_map(crate::precision::warnings));
    r.per_item_ms = Some(summary.median / batch);
    r.throughput_per_s = Some(batch * 1e3 / summary.median);
    r.realtime = crate::realtime::judge(&r.raw_ms, target_fps, frames_per_inference);
    r.samples = r.raw_ms.len();
    r.latency_ms = Some(summary);
    r.outliers = outliers;
    r.warnings = warnings;
    Ok(())
}

/// One variant measured in rounds by separate processes (the study's children) -> one
/// result: the samples concatenated in round order with `rounds` recording the split, the
/// statistics recomputed over all of them, preparation and first run from the first round,
/// energy from the last round that has it. A failed round fails the variant.
pub fn merge_rounds(
    parts: &[VariantResult],
    batch: usize,
    target_fps: f64,
    target_rel_ci: f64,
    seed: u64,
) -> Option<VariantResult> {
    let first = parts.first()?;
    if let Some(bad) = parts.iter().find(|p| p.status == Status::Failed) {
        return Some(bad.clone());
    }
    if parts.len() == 1 {
        return Some(first.clone());
    }
    let mut r = first.clone();
    r.raw_ms = parts
        .iter()
        .flat_map(|p| p.raw_ms.iter().copied())
        .collect();
    r.rounds = parts.iter().map(|p| p.raw_ms.len()).collect();
    r.warmup_runs = parts.iter().map(|p| p.warmup_runs).sum();
    r.energy = parts.iter().rev().find_map(|p| p.energy.clone());
    r.stop_reason = combined_stop_reason(parts.iter().filter_map(|p| p.stop_reason));
    r.speedup = None;
    r.accuracy = None;
    // The rounds' own verdicts know the model's frames per inference (a clip's stride).
    let frames = parts
        .iter()
        .find_map(|p| p.realtime.as_ref())
        .map_or(batch.max(1), |rt| rt.frames_per_inference);
    if let Err(e) = summarize_samples(&mut r, batch, (target_fps, frames), target_rel_ci, seed) {
        r = VariantResult::failed(
            &EngineSpec::parse(&first.spec).unwrap_or(EngineSpec {
                engine: first.engine.clone(),
                flags: vec![],
                options: Default::default(),
            }),
            e.to_string(),
        );
    }
    Some(r)
}

/// Telemetry over the samples' window. edgebench's own loop marks it exactly; an engine that
/// times itself reports how long it sampled, which ends when its call returns; without that,
/// the whole call is the window and its warm-up runs count as inferences too.
fn energy_of(
    t: &Telemetry,
    trace: &Trace,
    m: &crate::measure::Measurement,
    call: (Instant, Instant),
    throughput_per_s: f64,
) -> Energy {
    let samples = m.samples_ms.len();
    let window = match m.sampling_window {
        Some((begin, end)) => Window {
            kind: WindowKind::Sampling,
            begin,
            end,
            inferences: samples,
            throughput_per_s: Some(throughput_per_s),
        },
        None if m.sampling_ms > 0.0 => Window {
            kind: WindowKind::EngineSampling,
            begin: call
                .1
                .checked_sub(Duration::from_secs_f64(m.sampling_ms / 1e3))
                .unwrap_or(call.0)
                .max(call.0),
            end: call.1,
            inferences: samples,
            throughput_per_s: Some(throughput_per_s),
        },
        None => Window {
            kind: WindowKind::WholeMeasurement,
            begin: call.0,
            end: call.1,
            inferences: samples + m.warmup_runs,
            throughput_per_s: Some(throughput_per_s),
        },
    };
    summarize_energy(
        trace,
        &window,
        t.idle.as_ref(),
        t.grid_gco2_per_kwh,
        &t.unavailable,
    )
}

/// Speed-up of `candidate` over `baseline`.
///
/// When both sides were measured in interleaved rounds (A B A B ...; at least two rounds
/// each), the ratio is the geometric mean of the paired rounds' ratios of medians and its 95%
/// interval is Student's t across those log ratios: it covers the variation between runs,
/// which on a busy CPU or a launch-bound GPU is far larger than the noise within one run. A
/// Cochran's Q test compares the rounds' spread with their own intervals and warns when they
/// disagree. With one round each, the interval is a bootstrap of the two sample sets, marked
/// as such. When either side has fewer than `min_samples` samples there is no interval and no
/// verdict.
pub fn speedup(
    baseline: &VariantResult,
    candidate: &VariantResult,
    min_samples: usize,
    seed: u64,
) -> Option<Speedup> {
    if baseline.raw_ms.is_empty() || candidate.raw_ms.is_empty() {
        return None;
    }
    let mut warnings = vec![];
    for side in [baseline, candidate] {
        if side.raw_ms.len() < min_samples.max(2) {
            warnings.push(SpeedupWarning::FewSamples {
                spec: side.spec.clone(),
                samples: side.raw_ms.len(),
                min_samples: min_samples.max(2),
            });
        }
    }
    let b_rounds = baseline.round_samples();
    let c_rounds = candidate.round_samples();
    let paired = b_rounds.len().min(c_rounds.len());
    let few = !warnings.is_empty();
    let (ratio, interval, method, round_ratios) = if paired >= 2 {
        let logs: Vec<f64> = b_rounds
            .iter()
            .zip(&c_rounds)
            .map(|(b, c)| (median(b) / median(c)).ln())
            .collect();
        let ratio = mean(&logs).exp();
        let interval = if few {
            None
        } else {
            let (lo, hi) = t_interval(&logs, 0.95)?;
            if let Some(w) = rounds_disagree(&b_rounds, &c_rounds, &logs) {
                warnings.push(w);
            }
            Some((lo.exp(), hi.exp()))
        };
        let method = if interval.is_some() {
            IntervalMethod::Rounds
        } else {
            IntervalMethod::None
        };
        (
            ratio,
            interval,
            method,
            logs.iter().map(|l| l.exp()).collect(),
        )
    } else {
        let ratio = median(&baseline.raw_ms) / median(&candidate.raw_ms);
        let interval = if few {
            None
        } else {
            warnings.push(SpeedupWarning::OneRound);
            Some(bootstrap_ci(
                &[&baseline.raw_ms, &candidate.raw_ms],
                1000,
                0.95,
                seed,
                |s| {
                    let (b, c) = s.split_at_mut(1);
                    median(&b[0]) / median(&c[0])
                },
            ))
        };
        let method = if interval.is_some() {
            IntervalMethod::Samples
        } else {
            IntervalMethod::None
        };
        (ratio, interval, method, vec![])
    };
    let verdict = match interval {
        None => Verdict::Undetermined,
        Some((lo, _)) if lo > 1.0 => Verdict::Faster,
        Some((_, hi)) if hi < 1.0 => Verdict::Slower,
        Some(_) => Verdict::WithinNoise,
    };
    Some(Speedup {
        baseline: baseline.spec.clone(),
        ratio,
        ci95_low: interval.map(|i| i.0),
        ci95_high: interval.map(|i| i.1),
        percent: (ratio - 1.0) * 100.0,
        verdict,
        method,
        round_ratios,
        warnings,
    })
}

/// Student's t interval of the mean of `v` (at least two values).
pub fn t_interval(v: &[f64], level: f64) -> Option<(f64, f64)> {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let n = v.len();
    let (m, var) = crate::stats::mean_and_variance(v)?;
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .ok()?
        .inverse_cdf(0.5 + level / 2.0);
    let half = t * (var / n as f64).sqrt();
    Some((m - half, m + half))
}

/// Variance of the log of a sample set's median, from its order-statistic 95% interval.
fn log_median_variance(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rel = crate::measure::relative_half_width(&sorted);
    if rel.is_finite() {
        (rel / 1.96).powi(2)
    } else {
        f64::INFINITY
    }
}

/// Cochran's Q over the rounds' log ratios, each weighted by its own variance: above the
/// chi-square 99% quantile with (rounds - 1) degrees of freedom, the rounds disagree beyond
/// what their own intervals allow.
fn rounds_disagree(b: &[&[f64]], c: &[&[f64]], logs: &[f64]) -> Option<SpeedupWarning> {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    let weights: Vec<f64> = b
        .iter()
        .zip(c)
        .map(|(b, c)| {
            // A round whose samples are all equal has no spread of its own; a floor of 0.1%
            // keeps its weight finite.
            let v = log_median_variance(b) + log_median_variance(c);
            1.0 / v.max(1e-6)
        })
        .collect();
    let wsum: f64 = weights.iter().sum();
    if !(wsum.is_finite() && wsum > 0.0) {
        return None;
    }
    let pooled = weights.iter().zip(logs).map(|(w, l)| w * l).sum::<f64>() / wsum;
    let q: f64 = weights
        .iter()
        .zip(logs)
        .map(|(w, l)| w * (l - pooled).powi(2))
        .sum();
    let critical = ChiSquared::new((logs.len() - 1) as f64)
        .ok()?
        .inverse_cdf(0.99);
    (q > critical).then(|| SpeedupWarning::RoundsDisagree {
        q,
        critical,
        min_ratio: logs.iter().copied().fold(f64::INFINITY, f64::min).exp(),
        max_ratio: logs.iter().copied().fold(f64::NEG_INFINITY, f64::max).exp(),
    })
}

/// Applies the accuracy gate against `reference` and computes speed-ups over the first
/// variant.
///
/// A variant gets a speed-up only when the baseline and the variant both ran and passed the
/// gate (the reference passes by definition). When the reference did not run, nothing can be
/// verified: every variant that ran is `Unverified` with the reason, and no speed-up is given.
/// Returns the reason when the gate could not run at all.
pub fn finish(
    runs: &mut [VariantRun],
    reference: usize,
    overrides: &ToleranceOverride,
    min_samples: usize,
    seed: u64,
) -> Option<String> {
    if runs.len() < 2 {
        return None;
    }
    let reference = reference.min(runs.len() - 1);
    if runs[reference].result.status != Status::Ok {
        let why = format!(
            "the reference variant {} did not run ({}): nothing could be checked against it, so no variant is verified and no speed-up is given; fix it or choose another --reference",
            runs[reference].result.spec,
            runs[reference]
                .result
                .error
                .as_deref()
                .unwrap_or("no outputs")
        );
        for run in runs.iter_mut() {
            if run.result.status == Status::Ok {
                run.result.status = Status::Unverified;
                run.result.error = Some(why.clone());
            }
        }
        return Some(why);
    }
    let ref_outputs = runs[reference].outputs.clone();
    for (i, run) in runs.iter_mut().enumerate() {
        if i == reference || run.result.status != Status::Ok {
            continue;
        }
        let precision = run
            .result
            .session
            .as_ref()
            .map(|s| s.precision.as_str())
            .unwrap_or("f32");
        let agreement = compare(
            &ref_outputs,
            &run.outputs,
            Tolerance::resolve(precision, overrides),
        );
        if !agreement.passed {
            run.result.status = Status::GateFailed;
        }
        run.result.accuracy = Some(agreement);
    }
    let baseline = runs[0].result.clone();
    if baseline.status != Status::Ok {
        return None;
    }
    for run in runs.iter_mut().skip(1) {
        if run.result.status == Status::Ok {
            run.result.speedup = speedup(&baseline, &run.result, min_samples, seed);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(spec: &str, raw: Vec<f64>) -> VariantResult {
        let mut r = VariantResult::failed(&EngineSpec::parse(spec).unwrap(), String::new());
        r.status = Status::Ok;
        r.raw_ms = raw;
        r
    }

    fn rounds(spec: &str, rounds: &[Vec<f64>]) -> VariantResult {
        let mut r = result(spec, rounds.concat());
        r.rounds = rounds.iter().map(Vec::len).collect();
        r
    }

    /// Samples around `centre` with a spread of +-1%, deterministic.
    fn around(centre: f64, n: usize, phase: usize) -> Vec<f64> {
        (0..n)
            .map(|i| centre * (1.0 + ((i * 7 + phase) % 11) as f64 / 500.0 - 0.01))
            .collect()
    }

    #[test]
    fn speedup_of_twice_as_fast_is_two_and_faster() {
        let base: Vec<f64> = (0..100).map(|i| 20.0 + (i % 7) as f64 * 0.1).collect();
        let fast: Vec<f64> = base.iter().map(|x| x / 2.0).collect();
        let s = speedup(&result("a", base), &result("b", fast), 10, 1).unwrap();
        assert!((s.ratio - 2.0).abs() < 1e-12);
        assert!((s.percent - 100.0).abs() < 1e-9);
        let (lo, hi) = (s.ci95_low.unwrap(), s.ci95_high.unwrap());
        assert!(lo <= 2.0 && hi >= 2.0 && lo > 1.9);
        assert_eq!(s.verdict, Verdict::Faster);
        assert_eq!(s.method, IntervalMethod::Samples);
        assert_eq!(s.warnings, vec![SpeedupWarning::OneRound]);
    }

    #[test]
    fn overlapping_samples_are_within_noise() {
        let a: Vec<f64> = (0..50).map(|i| 10.0 + (i % 10) as f64).collect();
        let b: Vec<f64> = (0..50).map(|i| 10.0 + ((i + 3) % 10) as f64).collect();
        let s = speedup(&result("a", a), &result("b", b), 10, 1).unwrap();
        assert_eq!(s.verdict, Verdict::WithinNoise);
    }

    #[test]
    fn one_baseline_sample_gives_no_interval_and_no_verdict() {
        // The README's r3d_18 "27.4x [26.8, 28.0]" came from one tract:reference sample.
        let s = speedup(
            &result("slow", vec![9000.0]),
            &result("fast", around(330.0, 40, 0)),
            10,
            1,
        )
        .unwrap();
        assert!((s.ratio - 9000.0 / median(&around(330.0, 40, 0))).abs() < 1e-9);
        assert_eq!((s.ci95_low, s.ci95_high), (None, None));
        assert_eq!(s.verdict, Verdict::Undetermined);
        assert_eq!(s.method, IntervalMethod::None);
        assert!(matches!(
            s.warnings[0],
            SpeedupWarning::FewSamples { samples: 1, .. }
        ));
    }

    #[test]
    fn rounds_that_move_together_give_an_interval_across_rounds() {
        // The machine's speed moves +-40% between rounds (a launch-bound GPU, a busy CPU),
        // but both variants move together: the ratio stays 2 and the interval is tight.
        let scale = [1.0, 1.4, 0.8, 1.2];
        let b: Vec<Vec<f64>> = scale.iter().map(|k| around(10.0 * k, 30, 0)).collect();
        let c: Vec<Vec<f64>> = scale.iter().map(|k| around(5.0 * k, 30, 3)).collect();
        let s = speedup(&rounds("a", &b), &rounds("b", &c), 10, 1).unwrap();
        assert_eq!(s.method, IntervalMethod::Rounds);
        assert_eq!(s.round_ratios.len(), 4);
        assert!((s.ratio - 2.0).abs() < 0.02, "{}", s.ratio);
        let (lo, hi) = (s.ci95_low.unwrap(), s.ci95_high.unwrap());
        assert!(lo > 1.9 && hi < 2.1, "[{lo}, {hi}]");
        assert_eq!(s.verdict, Verdict::Faster);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn rounds_that_disagree_widen_the_interval_and_warn() {
        // Each round is precise (+-1%) but the ratio moves from 0.8 to 1.3 between rounds: a
        // one-run bootstrap would call it a clear verdict; across rounds it is within noise.
        let ratios = [1.3, 0.8, 1.25, 0.85];
        let b: Vec<Vec<f64>> = ratios.iter().map(|_| around(10.0, 40, 0)).collect();
        let c: Vec<Vec<f64>> = ratios.iter().map(|r| around(10.0 / r, 40, 5)).collect();
        let s = speedup(&rounds("a", &b), &rounds("b", &c), 10, 1).unwrap();
        assert_eq!(s.verdict, Verdict::WithinNoise);
        assert!(s
            .warnings
            .iter()
            .any(|w| matches!(w, SpeedupWarning::RoundsDisagree { .. })));
        let one_run = speedup(
            &result("a", b[0].clone()),
            &result("b", c[0].clone()),
            10,
            1,
        )
        .unwrap();
        assert_eq!(one_run.verdict, Verdict::Faster);
    }

    #[test]
    fn t_interval_matches_the_table() {
        // mean 2, sd 1, n 3: t(0.975, 2) = 4.303; half width 4.303 / sqrt(3) = 2.484
        let (lo, hi) = t_interval(&[1.0, 2.0, 3.0], 0.95).unwrap();
        assert!((hi - 2.0 - 2.4843).abs() < 1e-3 && (2.0 - lo - 2.4843).abs() < 1e-3);
        assert_eq!(t_interval(&[1.0], 0.95), None);
    }

    #[test]
    fn round_options_share_the_limits_and_put_the_sensor_time_last() {
        let whole = MeasureOptions {
            min_time_s: 2.0,
            ..Default::default()
        };
        let r0 = round_options(&whole, 0, 4);
        let r3 = round_options(&whole, 3, 4);
        assert_eq!(r0.warmup_s, whole.warmup_s);
        assert_eq!(r0.min_warmup_runs, whole.min_warmup_runs);
        assert_eq!(r3.min_warmup_runs, 1);
        assert_eq!(r0.max_time_s, whole.max_time_s / 4.0);
        assert_eq!((r0.min_time_s, r3.min_time_s), (0.0, 2.0));
        assert!(r0.min_samples * 4 >= whole.min_samples);
    }

    #[test]
    fn merged_rounds_keep_every_sample_in_order() {
        let parts: Vec<VariantResult> = (0..3)
            .map(|k| result("a", around(10.0 + k as f64, 12, k)))
            .collect();
        let m = merge_rounds(&parts, 1, 30.0, 0.01, 1).unwrap();
        assert_eq!(m.rounds, vec![12, 12, 12]);
        assert_eq!(
            m.raw_ms,
            parts
                .iter()
                .flat_map(|p| p.raw_ms.clone())
                .collect::<Vec<_>>()
        );
        assert_eq!(m.round_samples()[2], &parts[2].raw_ms[..]);
        assert_eq!(m.samples, 36);
        assert!((m.latency_ms.unwrap().median - 11.0).abs() < 0.2);
    }
}
