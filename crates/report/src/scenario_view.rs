//! Views of a variant's MLPerf scenario (`bench --scenario`, a study's `[scenario]`): its
//! headline ([`ScenarioResult::headline`]: the metric, its value, whether LoadGen would call
//! the run valid and why not), the percentile latency behind it, and the compliance notes.
//! The terminal table, Markdown and CSV of a bench run and the study's reports call these;
//! a document without a scenario renders as before.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use edgebench_core::fmt::{markdown_cell, ms, sig};
use edgebench_core::scenario::ScenarioResult;
use edgebench_core::schema::{BenchReport, VariantResult};

/// Columns of the scenario table, in the terminal and in Markdown.
pub const HEADERS: [&str; 6] = [
    "variant",
    "scenario",
    "metric",
    "value",
    "percentile latency",
    "compliant",
];

/// The CSV columns a bench run gets at the end when a variant ran a scenario.
pub const CSV_COLUMNS: [&str; 8] = [
    "scenario",
    "scenario_metric",
    "scenario_value",
    "scenario_unit",
    "scenario_percentile",
    "scenario_percentile_ms",
    "scenario_compliant",
    "scenario_notes",
];

/// The scenario's name as the user gave it (`server` with `find peak` for a rate search).
pub fn name(s: &ScenarioResult) -> &'static str {
    match s {
        ScenarioResult::SingleStream(_) => "single-stream",
        ScenarioResult::MultiStream(_) => "multi-stream",
        ScenarioResult::Offline(_) => "offline",
        ScenarioResult::Server(_) => "server",
        ScenarioResult::ServerSearch(_) => "server, find peak",
    }
}

/// The target percentile (a fraction) and its latency in ms by LoadGen's definition; `None`
/// for offline, whose metric is a rate over one query, and for a rate search where no rate
/// passed.
pub fn percentile_latency(s: &ScenarioResult) -> Option<(f64, f64)> {
    match s {
        ScenarioResult::SingleStream(r) => Some((r.settings.percentile, r.percentile_ms)),
        ScenarioResult::MultiStream(r) => Some((r.settings.percentile, r.percentile_ms)),
        ScenarioResult::Offline(_) => None,
        ScenarioResult::Server(r) => Some((r.settings.percentile, r.percentile_ms)),
        ScenarioResult::ServerSearch(r) => r
            .best
            .as_ref()
            .map(|b| (b.settings.percentile, b.percentile_ms)),
    }
}

/// `0.9` -> `p90`, `0.999` -> `p99.9`.
fn p_label(p: f64) -> String {
    let s = format!("{:.1}", p * 100.0);
    format!("p{}", s.strip_suffix(".0").unwrap_or(&s))
}

/// The headline value with its unit: `4.12 ms`, `812 samples/s`; `n/a` when there is none.
pub fn value(s: &ScenarioResult) -> String {
    let h = s.headline();
    match h.value {
        Some(v) if h.unit == "ms" => format!("{} ms", ms(v)),
        Some(v) => format!("{} {}", sig(v), h.unit),
        None => "n/a".into(),
    }
}

/// `p90 4.10 ms`, or `-`.
pub fn latency_cell(s: &ScenarioResult) -> String {
    percentile_latency(s)
        .map(|(p, l)| format!("{} {} ms", p_label(p), ms(l)))
        .unwrap_or_else(|| "-".into())
}

/// One row of the scenario table; `None` for a variant without a scenario.
pub fn cells(r: &VariantResult) -> Option<Vec<String>> {
    let s = r.scenario.as_ref()?;
    let h = s.headline();
    Some(vec![
        r.spec.clone(),
        name(s).into(),
        h.metric,
        value(s),
        latency_cell(s),
        if h.compliant { "yes" } else { "no" }.into(),
    ])
}

/// Each variant's compliance notes, one line each: `spec: scenario: note`.
pub fn notes(results: &[VariantResult]) -> Vec<String> {
    results
        .iter()
        .filter_map(|r| Some((r, r.scenario.as_ref()?)))
        .flat_map(|(r, s)| {
            s.headline()
                .notes
                .into_iter()
                .map(move |n| format!("{}: {}: {n}", r.spec, name(s)))
        })
        .collect()
}

/// Whether any variant ran a scenario.
pub fn any(results: &[VariantResult]) -> bool {
    results.iter().any(|r| r.scenario.is_some())
}

/// The terminal view: a heading, the table and the notes; empty without a scenario.
pub fn table(report: &BenchReport) -> String {
    if !any(&report.results) {
        return String::new();
    }
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(HEADERS.to_vec());
    for c in report.results.iter().filter_map(cells) {
        t.add_row(c.into_iter().enumerate().map(|(i, c)| {
            let cell = Cell::new(c);
            if i == 3 || i == 4 {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    let mut out = String::from("MLPerf scenario, LoadGen's rules (docs/scenarios.md)\n");
    out.push_str(&t.to_string());
    out.push('\n');
    for n in notes(&report.results) {
        out.push_str(&n);
        out.push('\n');
    }
    out
}

/// The Markdown view: a heading, the table and the notes as a list; empty without a
/// scenario.
pub fn markdown(results: &[VariantResult]) -> String {
    if !any(results) {
        return String::new();
    }
    let mut out = String::from("\n### MLPerf scenario (LoadGen's rules)\n\n");
    out.push_str(&format!("| {} |\n", HEADERS.join(" | ")));
    out.push_str(&format!("|{}\n", " --- |".repeat(HEADERS.len())));
    for c in results.iter().filter_map(cells) {
        let c: Vec<String> = c.iter().map(|c| markdown_cell(c)).collect();
        out.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    let n = notes(results);
    if !n.is_empty() {
        out.push('\n');
        for line in n {
            out.push_str(&format!("- {}\n", markdown_cell(&line)));
        }
    }
    out
}

/// The [`CSV_COLUMNS`] cells of one variant (empty cells without a scenario).
pub fn csv_cells(r: &VariantResult) -> Vec<String> {
    let Some(s) = &r.scenario else {
        return vec![String::new(); CSV_COLUMNS.len()];
    };
    let h = s.headline();
    let lat = percentile_latency(s);
    vec![
        name(s).into(),
        h.metric,
        h.value.map(|v| v.to_string()).unwrap_or_default(),
        h.unit,
        lat.map(|(p, _)| p.to_string()).unwrap_or_default(),
        lat.map(|(_, l)| l.to_string()).unwrap_or_default(),
        h.compliant.to_string(),
        h.notes.join("; "),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_core::measure::SystemClock;
    use edgebench_core::scenario::{run, Scenario, ScenarioRequest};
    use edgebench_core::schema::Status;

    /// A variant with a 0 s single-stream run of 70 queries on a session whose every query
    /// is instant: figures do not matter here, the structure does.
    pub(crate) fn with_scenario(spec: &str, scenario: Scenario) -> VariantResult {
        struct Instant;
        impl edgebench_core::engine::Session for Instant {
            fn set_inputs(
                &mut self,
                _: &[edgebench_core::tensor::HostTensor],
            ) -> edgebench_core::error::Result<()> {
                Ok(())
            }
            fn run(&mut self) -> edgebench_core::error::Result<()> {
                Ok(())
            }
            fn outputs(
                &mut self,
            ) -> edgebench_core::error::Result<Vec<edgebench_core::tensor::HostTensor>>
            {
                Ok(vec![])
            }
            fn info(&self) -> edgebench_core::engine::SessionInfo {
                unreachable!("not asked")
            }
        }
        let mut req = ScenarioRequest::new(scenario);
        req.duration_s = Some(0.0);
        req.min_query_count = Some(70);
        if scenario == Scenario::Server {
            req.target_qps = Some(1e6);
        }
        let s = run(
            &mut Instant,
            &req.settings().unwrap(),
            &SystemClock::default(),
            &mut |_| {},
            &mut |_| {},
        )
        .unwrap();
        let mut r = edgebench_core::fixtures::measured(spec, vec![1.0, 1.1, 1.2]);
        r.status = Status::Ok;
        r.scenario = Some(s);
        r
    }

    #[test]
    fn every_scenario_has_a_row_with_its_metric_and_validity() {
        for sc in Scenario::ALL {
            let r = with_scenario("tract:optimized", sc);
            let c = cells(&r).unwrap();
            assert_eq!(c.len(), HEADERS.len());
            assert_eq!(c[1], sc.name());
            assert_eq!(c[5], "no", "a 0 s run is not compliant");
            assert_ne!(c[3], "n/a");
            assert_eq!(csv_cells(&r).len(), CSV_COLUMNS.len());
            let n = notes(std::slice::from_ref(&r));
            assert!(
                n.iter().any(|l| l.starts_with(&format!(
                    "tract:optimized: {}: not a compliant run: ran ",
                    sc.name()
                ))),
                "{n:?}"
            );
        }
    }

    #[test]
    fn no_scenario_no_view() {
        let r = edgebench_core::fixtures::measured("tract:optimized", vec![1.0, 1.1]);
        assert!(cells(&r).is_none());
        assert_eq!(markdown(std::slice::from_ref(&r)), "");
        assert!(csv_cells(&r).iter().all(String::is_empty));
    }

    #[test]
    fn markdown_lists_the_rows_and_notes() {
        let md = markdown(&[with_scenario("ort:all", Scenario::Offline)]);
        assert!(md.contains("| ort:all | offline | throughput | "), "{md}");
        assert!(
            md.contains("- ort:all: offline: not a compliant run: "),
            "{md}"
        );
    }
}
