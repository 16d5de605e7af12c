//! CSV view: one row per variant, no raw samples (those are in the JSON export). Energy
//! columns are in joules and watts; a figure nothing measured is an empty cell, with the
//! reason in `energy_na_reason`, never a zero.

use crate::energy::{na_reason, throttle_key};
use edgebench_core::schema::{BenchReport, Status};

pub const COLUMNS: [&str; 42] = [
    "model",
    "engine",
    "variant",
    "spec",
    "status",
    "median_ms",
    "ci95_low_ms",
    "ci95_high_ms",
    "mean_ms",
    "std_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "min_ms",
    "max_ms",
    "cv",
    "samples",
    "throughput_per_s",
    "per_item_ms",
    "prepare_ms",
    "first_run_ms",
    "speedup",
    "speedup_ci95_low",
    "speedup_ci95_high",
    "verdict",
    "realtime_meets",
    "deadline_miss_share",
    "gate_passed",
    "max_abs_err",
    "cosine",
    "warnings",
    "error",
    "avg_power_w",
    "peak_power_w",
    "energy_per_inference_j",
    "energy_per_inference_above_idle_j",
    "inferences_per_j",
    "fps_per_w",
    "idle_power_w",
    "co2_g_per_1000_inferences",
    "throttle",
    "energy_na_reason",
];

pub fn bench_csv(report: &BenchReport) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(vec![]);
    let e = |e: csv::Error| e.to_string();
    w.write_record(COLUMNS).map_err(e)?;
    let f = |x: Option<f64>| x.map(|v| format!("{v}")).unwrap_or_default();
    for r in &report.results {
        let s = r.latency_ms.as_ref();
        let sp = r.speedup.as_ref();
        let t = r.energy.as_ref().and_then(|e| e.total.as_ref());
        let status = match r.status {
            Status::Ok => "ok",
            Status::GateFailed => "gate_failed",
            Status::Failed => "failed",
            Status::Unverified => "unverified",
        };
        let rec: Vec<String> = vec![
            report.model.path.clone(),
            r.engine.clone(),
            r.variant.clone(),
            r.spec.clone(),
            status.into(),
            f(s.map(|s| s.median)),
            f(s.map(|s| s.ci95_low)),
            f(s.map(|s| s.ci95_high)),
            f(s.map(|s| s.mean)),
            f(s.map(|s| s.std)),
            f(s.map(|s| s.p90)),
            f(s.map(|s| s.p95)),
            f(s.map(|s| s.p99)),
            f(s.map(|s| s.min)),
            f(s.map(|s| s.max)),
            f(s.map(|s| s.cv)),
            r.samples.to_string(),
            f(r.throughput_per_s),
            f(r.per_item_ms),
            f(r.prepare_ms),
            f(r.first_run_ms),
            f(sp.map(|s| s.ratio)),
            f(sp.and_then(|s| s.ci95_low)),
            f(sp.and_then(|s| s.ci95_high)),
            sp.map(|s| s.verdict.to_string()).unwrap_or_default(),
            r.realtime
                .as_ref()
                .map(|x| x.meets.to_string())
                .unwrap_or_default(),
            f(r.realtime.as_ref().map(|x| x.miss_share)),
            r.accuracy
                .as_ref()
                .map(|a| a.passed.to_string())
                .unwrap_or_default(),
            f(r.accuracy.as_ref().map(|a| a.max_abs_err)),
            f(r.accuracy.as_ref().map(|a| a.min_cosine)),
            r.warnings
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join("; "),
            r.error.clone().unwrap_or_default(),
            f(t.map(|t| t.avg_power_w)),
            f(t.and_then(|t| t.peak_power_w)),
            f(t.map(|t| t.energy_per_inference_j)),
            f(t.and_then(|t| t.energy_per_inference_above_idle_j)),
            f(t.map(|t| t.inferences_per_j)),
            f(t.and_then(|t| t.fps_per_w)),
            f(t.and_then(|t| t.idle_power_w)),
            f(t.and_then(|t| t.co2_g_per_1000_inferences)),
            r.energy
                .as_ref()
                .map(|e| throttle_key(e.throttle.verdict).to_owned())
                .unwrap_or_default(),
            na_reason(r).unwrap_or_default(),
        ];
        w.write_record(&rec).map_err(e)?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}
