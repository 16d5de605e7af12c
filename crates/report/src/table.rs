//! The terminal view of a bench run.

use crate::fmt::ms;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use edgebench_core::schema::{BenchReport, Status, VariantResult};

/// Cells of one row, shared by the terminal table and Markdown.
pub(crate) fn row(r: &VariantResult) -> Vec<String> {
    let status = match r.status {
        Status::Ok => "ok".to_string(),
        Status::GateFailed => "GATE FAILED".to_string(),
        Status::Failed => "FAILED".to_string(),
    };
    let Some(s) = &r.latency_ms else {
        let mut cells = vec![r.spec.clone(), status];
        cells.extend(std::iter::repeat_n("-".to_string(), HEADERS.len() - 2));
        return cells;
    };
    let speedup = match &r.speedup {
        Some(sp) => format!(
            "{:.2}x [{:.2}, {:.2}] {}",
            sp.ratio, sp.ci95_low, sp.ci95_high, sp.verdict
        ),
        None if r.status == Status::GateFailed => "not counted".into(),
        None => "baseline".into(),
    };
    let realtime = match &r.realtime {
        Some(rt) => format!(
            "{} ({:.0}% late)",
            if rt.meets { "yes" } else { "no" },
            rt.miss_share * 100.0
        ),
        None => "-".into(),
    };
    vec![
        r.spec.clone(),
        status,
        format!("{} [{}, {}]", ms(s.median), ms(s.ci95_low), ms(s.ci95_high)),
        ms(s.p99),
        format!("{}±{}", ms(s.mean), ms(s.std)),
        r.throughput_per_s
            .map(|t| format!("{t:.1}"))
            .unwrap_or_default(),
        speedup,
        realtime,
        r.prepare_ms.map(ms).unwrap_or_default(),
        r.first_run_ms.map(ms).unwrap_or_default(),
        r.samples.to_string(),
    ]
}

pub(crate) const HEADERS: [&str; 11] = [
    "variant",
    "status",
    "median ms [95% CI]",
    "p99 ms",
    "mean±std ms",
    "items/s",
    "speed-up [95% CI]",
    "real-time",
    "prepare ms",
    "1st run ms",
    "samples",
];

/// The table, then warnings, gate details and failures as notes under it.
pub fn bench_table(report: &BenchReport) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    let mut headers: Vec<String> = HEADERS.iter().map(|s| s.to_string()).collect();
    headers[7] = format!("{} fps?", report.settings.target_fps);
    t.set_header(headers);
    for r in &report.results {
        t.add_row(row(r).into_iter().enumerate().map(|(i, c)| {
            let cell = Cell::new(c);
            if i >= 2 && i != 6 && i != 7 {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    let mut out = format!(
        "{} ({}), inputs {}, batch {}, {} thread(s)\n",
        report.model.path,
        &report.model.sha256[..12.min(report.model.sha256.len())],
        report
            .model
            .inputs
            .iter()
            .map(|i| format!(
                "{}:{}",
                i.name,
                edgebench_core::tensor::shape_string(&i.shape)
            ))
            .collect::<Vec<_>>()
            .join(" "),
        report.settings.batch,
        report
            .settings
            .threads
            .map(|t| t.to_string())
            .unwrap_or_else(|| "default".into()),
    );
    out.push_str(&t.to_string());
    out.push('\n');
    out.push_str(&notes(report));
    out
}

/// Warnings, gate verdicts and errors, one line each.
pub fn notes(report: &BenchReport) -> String {
    let mut out = String::new();
    for r in &report.results {
        if let Some(e) = &r.error {
            out.push_str(&format!("{}: failed: {e}\n", r.spec));
        }
        if let Some(a) = &r.accuracy {
            let top1 = a
                .top1
                .map(|t| format!(", top-1 agreement {:.0}%", t * 100.0))
                .unwrap_or_default();
            out.push_str(&format!(
                "{}: accuracy gate {}: max abs err {:.2e}, cosine {:.6}{top1} over {} input sets{}\n",
                r.spec,
                if a.passed { "passed" } else { "FAILED" },
                a.max_abs_err,
                a.min_cosine,
                a.input_sets,
                a.reason.as_ref().map(|w| format!(" ({w})")).unwrap_or_default(),
            ));
        }
        for w in &r.warnings {
            out.push_str(&format!("{}: warning: {w}\n", r.spec));
        }
    }
    out
}
