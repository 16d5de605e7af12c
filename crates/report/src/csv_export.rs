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

/// Why a CSV view could not be rendered (in memory, so in practice never; the message is the
/// reason a write error names).
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("{0}")]
    Record(#[from] csv::Error),
    #[error("{0}")]
    Flush(#[source] std::io::Error),
    #[error("{0}")]
    Utf8(#[from] std::string::FromUtf8Error),
}

impl<W> From<csv::IntoInnerError<W>> for CsvError {
    fn from(e: csv::IntoInnerError<W>) -> CsvError {
        CsvError::Flush(e.into_error())
    }
}

/// One row per variant under [`COLUMNS`].
pub fn bench_csv(report: &BenchReport) -> Result<String, CsvError> {
    let mut w = csv::Writer::from_writer(vec![]);
    let scenario = crate::scenario_view::any(&report.results);
    let extra: &[&str] = if scenario {
        &crate::scenario_view::CSV_COLUMNS
    } else {
        &[]
    };
    w.write_record(COLUMNS.iter().chain(extra))?;
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
        let mut rec: Vec<String> = vec![
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
        if scenario {
            rec.extend(crate::scenario_view::csv_cells(r));
        }
        w.write_record(&rec)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
