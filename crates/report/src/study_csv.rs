//! `results.csv` of a study: one row per model x batch x variant. Raw samples stay in
//! results.jsonl.

use edgebench_core::schema::Status;
use edgebench_study::analysis::Summary;

pub const COLUMNS: [&str; 26] = [
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
    "speedup",
    "speedup_ci95_low",
    "speedup_ci95_high",
    "gain_percent",
    "verdict",
    "realtime_meets",
    "deadline_miss_share",
    "note",
];

fn opt<T: ToString>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

pub fn render(s: &Summary) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(vec![]);
    let e = |e: csv::Error| format!("cannot write CSV: {e}");
    w.write_record(COLUMNS).map_err(e)?;
    for r in &s.rows {
        let status = match r.status {
            Status::Ok => "ok",
            Status::GateFailed => "gate_failed",
            Status::Failed => "failed",
        };
        w.write_record([
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
            opt(r.speedup.as_ref().map(|x| x.ratio)),
            opt(r.speedup.as_ref().map(|x| x.ci95_low)),
            opt(r.speedup.as_ref().map(|x| x.ci95_high)),
            opt(r.speedup.as_ref().map(|x| x.percent)),
            opt(r.speedup.as_ref().map(|x| x.verdict.to_string())),
            opt(r.realtime.as_ref().map(|x| x.meets)),
            opt(r.realtime.as_ref().map(|x| x.miss_share)),
            opt(r.note.clone()),
        ])
        .map_err(e)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| format!("cannot write CSV: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("cannot write CSV: {e}"))
}
