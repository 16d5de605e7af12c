//! `results.csv` of a study: one row per model x batch x variant. Raw samples stay in
//! results.jsonl. Energy is in joules and watts; a figure nothing measured is an empty cell
//! with the reason in `energy_na_reason`, never a zero. A fleet's (more than one device) has
//! a first column, `device`, and every device's rows.

use crate::csv_export::CsvError;
use crate::energy::throttle_key;
use edgebench_core::schema::study::StudySummary;
use edgebench_core::schema::{IntervalMethod, Status};
use edgebench_core::telemetry::energy::WindowKind;

pub const COLUMNS: [&str; 46] = [
    "model",
    "task",
    "batch",
    "source",
    "flops",
    "params",
    "spec",
    "is_baseline",
    "status",
    "counted",
    "engine_version",
    "precision",
    "median_ms",
    "ci95_low_ms",
    "ci95_high_ms",
    "per_s",
    "unit",
    "samples",
    "rounds",
    "speedup",
    "speedup_ci95_low",
    "speedup_ci95_high",
    "speedup_interval",
    "speedup_warnings",
    "gain_percent",
    "verdict",
    "realtime_meets",
    "deadline_miss_share",
    "note",
    "avg_power_w",
    "peak_power_w",
    "idle_power_w",
    "energy_per_inference_j",
    "energy_per_inference_above_idle_j",
    "energy_ratio",
    "inferences_per_j",
    "fps_per_w",
    "co2_g_per_1000_inferences",
    "power_x_time_j",
    "counter_j",
    "energy_window",
    "energy_window_s",
    "throttle",
    "throttle_detail",
    "energy_na_reason",
    "energy_notes",
];

fn opt<T: ToString>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// The window's kind as in the JSON.
fn window_key(k: WindowKind) -> &'static str {
    match k {
        WindowKind::Sampling => "sampling",
        WindowKind::EngineSampling => "engine_sampling",
        WindowKind::WholeMeasurement => "whole_measurement",
        WindowKind::Pipeline => "pipeline",
    }
}

pub fn render(s: &StudySummary) -> Result<String, CsvError> {
    let mut w = csv::Writer::from_writer(vec![]);
    let fleet = s.is_fleet();
    let device = fleet.then_some("device");
    w.write_record(device.into_iter().chain(COLUMNS))?;
    for r in &s.rows {
        let device = fleet.then(|| r.device.clone().unwrap_or_default());
        let e = r.energy.as_ref();
        let status = match r.status {
            Status::Ok => "ok",
            Status::GateFailed => "gate_failed",
            Status::Failed => "failed",
            Status::Unverified => "unverified",
        };
        let cells = [
            r.model.clone(),
            r.task.name().into(),
            r.batch.to_string(),
            r.source.clone(),
            opt(r.flops),
            opt(r.params),
            r.spec.clone(),
            r.is_baseline.to_string(),
            status.into(),
            r.counted.to_string(),
            opt(r.engine_version.clone()),
            opt(r.precision.clone()),
            opt(r.median_ms),
            opt(r.ci95_low_ms),
            opt(r.ci95_high_ms),
            opt(r.fps),
            r.unit.clone(),
            r.samples.to_string(),
            // Samples per interleaved round, `;`-separated.
            r.rounds
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(";"),
            opt(r.speedup.as_ref().map(|x| x.ratio)),
            opt(r.speedup.as_ref().and_then(|x| x.ci95_low)),
            opt(r.speedup.as_ref().and_then(|x| x.ci95_high)),
            // Where the interval comes from: `rounds`, `samples` (one run each) or `none`.
            opt(r.speedup.as_ref().map(|x| match x.method {
                IntervalMethod::Rounds => "rounds",
                IntervalMethod::Samples => "samples",
                IntervalMethod::None => "none",
            })),
            crate::study_md::speedup_warnings(r).join("; "),
            opt(r.speedup.as_ref().map(|x| x.percent)),
            opt(r.speedup.as_ref().map(|x| x.verdict.to_string())),
            opt(r.realtime.as_ref().map(|x| x.meets)),
            opt(r.realtime.as_ref().map(|x| x.miss_share)),
            opt(r.note.clone()),
            opt(e.and_then(|e| e.avg_power_w)),
            opt(e.and_then(|e| e.peak_power_w)),
            opt(e.and_then(|e| e.idle_power_w)),
            opt(e.and_then(|e| e.energy_per_inference_j)),
            opt(e.and_then(|e| e.energy_per_inference_above_idle_j)),
            opt(r.energy_ratio),
            opt(e.and_then(|e| e.inferences_per_j)),
            opt(e.and_then(|e| e.fps_per_w)),
            opt(e.and_then(|e| e.co2_g_per_1000_inferences)),
            opt(e.and_then(|e| e.power_x_time_j)),
            opt(e.and_then(|e| e.counter_j)),
            opt(e.map(|e| window_key(e.window))),
            opt(e.map(|e| e.window_s)),
            opt(e.map(|e| throttle_key(e.throttle))),
            opt(e.map(|e| e.throttle_detail.clone())),
            opt(r.energy_na.clone().filter(|_| r.status != Status::Failed)),
            e.map(|e| e.notes.join("; ")).unwrap_or_default(),
        ];
        w.write_record(device.into_iter().chain(cells))?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
