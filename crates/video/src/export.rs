//! Views of a [`VideoReport`]: CSV (one row per stage) and predictions as JSON lines. The
//! JSON document is the report itself (`serde_json`). [`write`] writes the files a run asks
//! for, each atomically.

use crate::report::VideoReport;
use crate::run::Prediction;
use crate::VideoError;
use edgebench_core::write::write_atomic;
use std::path::Path;

/// The files a video run writes; each is optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outputs<'a> {
    /// The report as JSON (raw per-stage samples and every prediction).
    pub json: Option<&'a Path>,
    /// [`stages_csv`].
    pub csv: Option<&'a Path>,
    /// [`predictions_jsonl`].
    pub predictions: Option<&'a Path>,
}

impl Outputs<'_> {
    /// The paths given, in flag order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        [self.json, self.csv, self.predictions]
            .into_iter()
            .flatten()
    }
}

/// Writes every file `to` names, each atomically; a failure is
/// [`edgebench_core::Error::Write`] naming the file.
pub fn write(r: &VideoReport, to: &Outputs) -> Result<(), VideoError> {
    let failed = |path: &Path, reason: String| edgebench_core::Error::Write {
        path: path.to_owned(),
        reason,
    };
    if let Some(p) = to.json {
        let json = serde_json::to_vec_pretty(r).map_err(|e| failed(p, e.to_string()))?;
        write_atomic(p, &json)?;
    }
    if let Some(p) = to.csv {
        let csv = stages_csv(r).map_err(|e| failed(p, format!("rendering CSV: {e}")))?;
        write_atomic(p, csv.as_bytes())?;
    }
    if let Some(p) = to.predictions {
        let lines = predictions_jsonl(&r.predictions).map_err(|e| failed(p, e.to_string()))?;
        write_atomic(p, lines.as_bytes())?;
    }
    Ok(())
}

/// Columns of [`stages_csv`]. The energy columns (from `avg_power_w` on) describe the whole
/// run and repeat on every row; they are empty where nothing measured them, and `energy_na`
/// says why.
pub const CSV_HEADER: [&str; 26] = [
    "model",
    "engine",
    "source",
    "paced",
    "stage",
    "per",
    "count",
    "median_ms",
    "mean_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "min_ms",
    "max_ms",
    "ci95_low_ms",
    "ci95_high_ms",
    "outliers",
    "complete",
    "avg_power_w",
    "idle_power_w",
    "energy_per_clip_j",
    "energy_per_clip_above_idle_j",
    "energy_per_frame_j",
    "fps_per_w",
    "energy_na",
    "throttle",
];

/// The energy columns of [`stages_csv`], the same on every row.
fn energy_cells(r: &VideoReport) -> [String; 8] {
    let num = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
    let Some(e) = &r.energy else {
        let mut cells: [String; 8] = Default::default();
        cells[6] = "telemetry off (--no-telemetry)".into();
        return cells;
    };
    let t = e.total.as_ref();
    [
        num(t.map(|t| t.avg_power_w)),
        num(t.and_then(|t| t.idle_power_w)),
        num(t.map(|t| t.energy_per_inference_j)),
        num(t.and_then(|t| t.energy_per_inference_above_idle_j)),
        num(r.energy_per_frame_j),
        num(t.and_then(|t| t.fps_per_w)),
        e.total_na.clone().unwrap_or_default(),
        serde_json::to_value(e.throttle.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    ]
}

/// Why an export could not be rendered in memory; its message is the reason the write error
/// gives.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{0}")]
    Csv(#[from] csv::Error),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Flush(#[source] std::io::Error),
    #[error("{0}")]
    Utf8(#[from] std::string::FromUtf8Error),
}

/// A `--labels` file that holds no usable labels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    #[error("no labels in the file; write one label per line, in class order")]
    Empty,
    #[error("line {line} is empty; write one label per line, in class order")]
    EmptyLine { line: usize },
}

/// One row per stage with its statistics, then the run's energy figures; stages without
/// samples have empty cells.
pub fn stages_csv(r: &VideoReport) -> Result<String, RenderError> {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(CSV_HEADER)?;
    let energy = energy_cells(r);
    for s in &r.stages {
        let num = |f: fn(&edgebench_core::stats::Summary) -> f64| {
            s.latency_ms
                .as_ref()
                .map(|x| format!("{:.6}", f(x)))
                .unwrap_or_default()
        };
        let stage = [
            r.model.path.clone(),
            r.settings.engine.clone(),
            r.source.input.clone(),
            r.settings.paced.to_string(),
            s.stage.name().to_string(),
            s.per.clone(),
            s.count.to_string(),
            num(|x| x.median),
            num(|x| x.mean),
            num(|x| x.p90),
            num(|x| x.p95),
            num(|x| x.p99),
            num(|x| x.min),
            num(|x| x.max),
            num(|x| x.ci95_low),
            num(|x| x.ci95_high),
            s.outliers.total().to_string(),
            r.complete.to_string(),
        ];
        w.write_record(stage.iter().chain(&energy))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| RenderError::Flush(e.into_error()))?;
    Ok(String::from_utf8(bytes)?)
}

/// One JSON object per clip, in clip order, each on its own line.
pub fn predictions_jsonl(predictions: &[Prediction]) -> Result<String, RenderError> {
    let mut out = String::new();
    for p in predictions {
        out.push_str(&serde_json::to_string(p)?);
        out.push('\n');
    }
    Ok(out)
}

/// Reads the `--labels` file ([`parse_labels`]); the error names the file and the fix.
pub fn read_labels(path: &Path) -> Result<Vec<String>, VideoError> {
    let bad = |reason: String| VideoError::BadLabels {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad(match e.kind() {
            std::io::ErrorKind::NotFound => "no such file; check the path".into(),
            _ => format!("cannot read it: {e}"),
        })
    })?;
    parse_labels(&text).map_err(|e| bad(e.to_string()))
}

/// Reads `--labels`: one label per line, in class order; trailing blank lines ignored.
pub fn parse_labels(text: &str) -> Result<Vec<String>, LabelsError> {
    let mut labels: Vec<String> = text.lines().map(|l| l.trim().to_owned()).collect();
    while labels.last().is_some_and(|l| l.is_empty()) {
        labels.pop();
    }
    if labels.is_empty() {
        return Err(LabelsError::Empty);
    }
    if let Some(i) = labels.iter().position(|l| l.is_empty()) {
        return Err(LabelsError::EmptyLine { line: i + 1 });
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_lines() {
        assert_eq!(parse_labels("a\nb \n\n").unwrap(), ["a", "b"]);
        assert_eq!(parse_labels("\n\n"), Err(LabelsError::Empty));
        assert_eq!(
            parse_labels("a\n\nb"),
            Err(LabelsError::EmptyLine { line: 2 })
        );
        assert!(LabelsError::EmptyLine { line: 2 }
            .to_string()
            .starts_with("line 2 is empty"));
    }
}
