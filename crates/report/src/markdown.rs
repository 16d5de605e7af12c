//! Markdown view of a bench run, ready to paste into an issue or a paper draft.

use crate::table::{notes, row, HEADERS};
use edgebench_core::schema::BenchReport;

pub fn bench_markdown(report: &BenchReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "## edgebench: `{}`\n\n",
        escape(&report.model.path)
    ));
    out.push_str(&format!(
        "Host: {} ({} logical CPUs, {:.1} GiB), {}. edgebench {} ({}). Batch {}, seed {}.\n\n",
        escape(&report.host.cpu),
        report.host.logical_cpus,
        report.host.memory_bytes as f64 / (1u64 << 30) as f64,
        escape(&report.host.os),
        report.tool.version,
        report.tool.git_commit,
        report.settings.batch,
        report.settings.seed,
    ));
    if let Some(board) = &report.host.board {
        out.push_str(&format!("Board: {}.\n\n", escape(&board.summary())));
    }
    let mut headers: Vec<String> = HEADERS.iter().map(|s| s.to_string()).collect();
    headers[7] = format!("real-time ({} fps)", report.settings.target_fps);
    out.push_str(&format!("| {} |\n", headers.join(" | ")));
    out.push_str(&format!("|{}\n", " --- |".repeat(headers.len())));
    for r in &report.results {
        let cells: Vec<String> = row(r).iter().map(|c| escape(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    let n = notes(report);
    if !n.is_empty() {
        out.push('\n');
        for line in n.lines() {
            out.push_str(&format!("- {}\n", escape(line)));
        }
    }
    out.push_str(&crate::scenario_view::markdown(&report.results));
    out
}

/// Escapes characters that would break a Markdown table cell.
fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
