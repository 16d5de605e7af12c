//! One benchmark run, end to end for each variant: prepare -> load inputs -> measure ->
//! summarize -> fetch outputs for the gate; then speed-ups, real-time verdicts and the gate
//! across variants. Returns data; the CLI renders it.

use crate::engine::{Engine, EngineSpec, PrepareOptions};
use crate::gate::{compare, Tolerance};
use crate::inputs::random_inputs;
use crate::measure::{measure, MeasureOptions, Progress};
use crate::model::Model;
use crate::schema::{Realtime, Speedup, Status, VariantResult, Verdict, Warning};
use crate::stats::{bootstrap_ci, median, summarize, tukey_outliers};
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
    pub measure: MeasureOptions,
    pub target_fps: f64,
    /// How many random input sets the accuracy gate compares (the measured one included).
    pub gate_input_sets: usize,
    /// The device's telemetry, sampled during every measurement; `None` turns it off.
    pub telemetry: Option<Arc<Telemetry>>,
}

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

/// Prepares and measures one variant. Engine failures become a `Failed` result, not an error.
pub fn run_variant(
    engine: &dyn Engine,
    model: &Model,
    spec: &EngineSpec,
    opts: &BenchOptions,
    progress: &mut dyn FnMut(Progress),
) -> VariantRun {
    match try_run_variant(engine, model, spec, opts, progress) {
        Ok(run) => run,
        Err(e) => VariantRun {
            result: VariantResult::failed(spec, e.to_string()),
            outputs: vec![],
        },
    }
}

fn try_run_variant(
    engine: &dyn Engine,
    model: &Model,
    spec: &EngineSpec,
    opts: &BenchOptions,
    progress: &mut dyn FnMut(Progress),
) -> crate::error::Result<VariantRun> {
    // Every engine gets the same thread count, so that comparisons are like for like.
    let threads = opts.threads.unwrap_or_else(default_threads);
    let popts = PrepareOptions {
        inputs: opts.inputs.clone(),
        threads: Some(threads),
    };
    let t0 = Instant::now();
    let mut session = engine.prepare(model, spec, &popts)?;
    let prepare_ms = t0.elapsed().as_secs_f64() * 1e3;

    let inputs = random_inputs(&opts.inputs, opts.seed)?;
    session.set_inputs(&inputs)?;
    let recording = opts.telemetry.as_deref().map(Telemetry::start);
    let call_start = Instant::now();
    let m = match session.measure_self(&opts.measure) {
        Some(m) => m,
        None => measure(session.as_mut(), &opts.measure, progress),
    };
    let call_end = Instant::now();
    let trace = recording.map(|r| r.stop());
    let m = m?;

    // Outputs for the gate: the measured inputs first, then more input sets.
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

    let summary = summarize(&m.samples_ms, opts.seed).ok_or_else(|| crate::Error::Engine {
        engine: spec.to_string(),
        reason: "no samples were taken".into(),
    })?;
    let outliers = tukey_outliers(&m.samples_ms);
    let batch = opts.batch.max(1) as f64;
    let energy = match (opts.telemetry.as_deref(), trace) {
        (Some(t), Some(trace)) => Some(energy_of(
            t,
            &trace,
            &m,
            (call_start, call_end),
            batch * 1e3 / summary.median,
        )),
        _ => None,
    }
    .map(|mut e| {
        e.check_coverage(&session.info().device);
        e
    });
    let mut warnings = Warning::assess(
        &summary,
        m.samples_ms.len(),
        m.first_run_ms,
        m.timer_overhead_ns,
        &outliers,
        opts.measure.target_rel_ci,
    );
    if let Some(e) = energy.as_ref().filter(|e| e.throttle.verdict.slowed()) {
        warnings.push(Warning::Throttled {
            detail: e.throttle.detail.clone(),
        });
    }
    let deadline_ms = 1e3 / opts.target_fps * batch;
    let misses = m.samples_ms.iter().filter(|&&x| x > deadline_ms).count();
    let result = VariantResult {
        engine: spec.engine.clone(),
        variant: spec.variant().unwrap_or("default").to_owned(),
        spec: spec.to_string(),
        status: Status::Ok,
        error: None,
        session: Some(session.info()),
        prepare_ms: Some(prepare_ms),
        first_run_ms: Some(m.first_run_ms),
        warmup_runs: m.warmup_runs,
        per_item_ms: Some(summary.median / batch),
        throughput_per_s: Some(batch * 1e3 / summary.median),
        realtime: Some(Realtime {
            target_fps: opts.target_fps,
            deadline_ms,
            meets: summary.median <= deadline_ms,
            miss_share: misses as f64 / m.samples_ms.len() as f64,
        }),
        latency_ms: Some(summary),
        samples: m.samples_ms.len(),
        stop_reason: Some(m.stop_reason),
        outliers,
        timer_overhead_ns: Some(m.timer_overhead_ns),
        speedup: None,
        accuracy: None,
        warnings,
        energy,
        raw_ms: m.samples_ms,
    };
    Ok(VariantRun { result, outputs })
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

/// Speed-up of `candidate` over `baseline` (ratio of medians) with a bootstrap interval.
pub fn speedup(baseline: &VariantResult, candidate: &VariantResult, seed: u64) -> Option<Speedup> {
    if baseline.raw_ms.is_empty() || candidate.raw_ms.is_empty() {
        return None;
    }
    let ratio = median(&baseline.raw_ms) / median(&candidate.raw_ms);
    let (lo, hi) = bootstrap_ci(
        &[&baseline.raw_ms, &candidate.raw_ms],
        1000,
        0.95,
        seed,
        |s| {
            let (b, c) = s.split_at_mut(1);
            median(&b[0]) / median(&c[0])
        },
    );
    let verdict = if lo > 1.0 {
        Verdict::Faster
    } else if hi < 1.0 {
        Verdict::Slower
    } else {
        Verdict::WithinNoise
    };
    Some(Speedup {
        baseline: baseline.spec.clone(),
        ratio,
        ci95_low: lo,
        ci95_high: hi,
        percent: (ratio - 1.0) * 100.0,
        verdict,
    })
}

/// Applies the accuracy gate against `reference` and computes speed-ups over the first
/// variant. Variants that fail the gate get `GateFailed` and no speed-up.
pub fn finish(runs: &mut [VariantRun], reference: usize, tolerance: Option<Tolerance>, seed: u64) {
    if runs.is_empty() {
        return;
    }
    if runs.len() > 1 && runs[reference].result.status == Status::Ok {
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
            let tol = tolerance.unwrap_or_else(|| Tolerance::for_precision(precision));
            let agreement = compare(&ref_outputs, &run.outputs, tol);
            if !agreement.passed {
                run.result.status = Status::GateFailed;
            }
            run.result.accuracy = Some(agreement);
        }
    }
    let baseline = runs[0].result.clone();
    for run in runs.iter_mut().skip(1) {
        if run.result.status == Status::Ok {
            run.result.speedup = speedup(&baseline, &run.result, seed);
        }
    }
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

    #[test]
    fn speedup_of_twice_as_fast_is_two_and_faster() {
        let base: Vec<f64> = (0..100).map(|i| 20.0 + (i % 7) as f64 * 0.1).collect();
        let fast: Vec<f64> = base.iter().map(|x| x / 2.0).collect();
        let s = speedup(&result("a", base), &result("b", fast), 1).unwrap();
        assert!((s.ratio - 2.0).abs() < 1e-12);
        assert!((s.percent - 100.0).abs() < 1e-9);
        assert!(s.ci95_low <= 2.0 && s.ci95_high >= 2.0 && s.ci95_low > 1.9);
        assert_eq!(s.verdict, Verdict::Faster);
    }

    #[test]
    fn overlapping_samples_are_within_noise() {
        let a: Vec<f64> = (0..50).map(|i| 10.0 + (i % 10) as f64).collect();
        let b: Vec<f64> = (0..50).map(|i| 10.0 + ((i + 3) % 10) as f64).collect();
        let s = speedup(&result("a", a), &result("b", b), 1).unwrap();
        assert_eq!(s.verdict, Verdict::WithinNoise);
    }
}
