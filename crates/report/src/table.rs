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
        Status::Unverified => "UNVERIFIED".to_string(),
    };
    let Some(s) = &r.latency_ms else {
        let mut cells = vec![r.spec.clone(), status];
        cells.extend(std::iter::repeat_n("-".to_string(), HEADERS.len() - 2));
        return cells;
    };
    let energy = crate::energy::cells(r.energy.as_ref());
    let speedup = match &r.speedup {
        Some(sp) => format!("{} {}", sp.label(), sp.verdict),
        None if r.status == Status::GateFailed => "not counted".into(),
        None if r.status == Status::Unverified => "not verified".into(),
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
    .into_iter()
    .chain(energy)
    .collect()
}

/// The last five are [`crate::energy::HEADERS`].
pub(crate) const HEADERS: [&str; 16] = [
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
    "power W",
    "mJ/inference",
    "above idle mJ",
    "FPS/W",
    "throttle",
];

/// The table, then warnings, gate details, failures and why energy is n/a as notes under it.
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
            if i >= 2 && i != 6 && i != 7 && i != HEADERS.len() - 1 {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    let sha256 = report.model.sha256.as_deref().unwrap_or_default();
    let mut out = format!(
        "{} ({}), inputs {}, batch {}, {} thread(s)\n",
        report.model.path,
        &sha256[..12.min(sha256.len())],
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
    out.push_str(&crate::scenario_view::table(report));
    out
}

/// Warnings, gate verdicts, errors and energy caveats (each reason for `n/a` once), one line
/// each.
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
        for w in r.speedup.iter().flat_map(|s| &s.warnings) {
            out.push_str(&format!("{}: speed-up: {w}\n", r.spec));
        }
    }
    for line in crate::energy::notes(&report.results) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::energy::fixtures;
    use edgebench_core::schema::{ModelInfo, Settings, Speedup, Verdict};
    use edgebench_core::telemetry::Energy;
    use edgebench_core::tensor::{ConcreteSpec, DType};

    fn variant(spec: &str, median_ms: f64, energy: Option<Energy>) -> VariantResult {
        let raw: Vec<f64> = (0..20)
            .map(|i| median_ms * (1.0 + i as f64 * 1e-3))
            .collect();
        let mut r = edgebench_core::fixtures::measured(spec, raw);
        r.energy = energy;
        r
    }

    /// A bench run of three variants: the baseline, an optimized one whose device throttled,
    /// and one that failed; `energy` gives the first two their telemetry.
    pub(crate) fn report(energy: [Option<Energy>; 2]) -> BenchReport {
        let [a, b] = energy;
        let mut fast = variant("tract:optimized", 5.0, b);
        fast.speedup = Some(Speedup {
            baseline: "tract:reference".into(),
            ratio: 2.0,
            ci95_low: Some(1.9),
            ci95_high: Some(2.1),
            percent: 100.0,
            verdict: Verdict::Faster,
            method: edgebench_core::schema::IntervalMethod::Rounds,
            round_ratios: vec![1.95, 2.0, 2.05],
            warnings: vec![],
        });
        if let Some(e) = &fast.energy {
            if crate::energy::throttled(e.throttle.verdict) {
                fast.warnings
                    .push(edgebench_core::schema::Warning::Throttled {
                        detail: e.throttle.detail.clone(),
                    });
            }
        }
        BenchReport {
            schema_version: edgebench_core::SCHEMA_VERSION,
            tool: edgebench_core::fixtures::tool(),
            host: edgebench_core::fixtures::host(),
            model: ModelInfo {
                sha256: Some("0123456789abcdef".into()),
                opset: Some(13),
                load_ms: Some(1.0),
                inputs: vec![ConcreteSpec {
                    name: "input".into(),
                    dtype: DType::F32,
                    shape: vec![1, 3, 224, 224],
                }],
                ..ModelInfo::unloaded("model", "model.onnx", None)
            },
            settings: Settings {
                engines: vec!["tract:reference".into(), "tract:optimized".into()],
                batch: 1,
                threads: Some(2),
                seed: 0,
                target_fps: 30.0,
                measure: Default::default(),
                rounds: 3,
                gate_input_sets: 1,
                gate_enforced: true,
                reference: None,
            },
            results: vec![
                variant("tract:reference", 10.0, a),
                fast,
                VariantResult::failed(
                    &edgebench_core::engine::EngineSpec::parse("ort:all").unwrap(),
                    "no onnxruntime".into(),
                ),
            ],
        }
    }

    /// The last five cells of the table row naming `spec`.
    fn energy_cells(table: &str, spec: &str) -> Vec<String> {
        let line = table
            .lines()
            .find(|l| l.contains(&format!(" {spec} ")))
            .unwrap();
        let cells: Vec<String> = line
            .split(['│', '┆'])
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        cells[cells.len() - 5..].to_vec()
    }

    #[test]
    fn energy_headers_are_the_energy_cells() {
        assert_eq!(HEADERS[HEADERS.len() - 5..], crate::energy::HEADERS);
    }

    #[test]
    fn measured_and_throttled_variants() {
        // Baseline: 400 J over 100 inferences; optimized: 300 J over 200, throttled.
        let r = report([
            Some(fixtures::measured(190.0, 400.0, 100)),
            Some(fixtures::throttled(140.0, 300.0, 200)),
        ]);
        let t = bench_table(&r);
        insta::assert_snapshot!("bench_table_energy", t);
        assert_eq!(
            energy_cells(&t, "tract:reference"),
            ["200", "4000", "2800", "0.250", "ok"]
        );
        assert_eq!(
            energy_cells(&t, "tract:optimized"),
            ["150", "1500", "900", "0.333", "⚠ throttled"]
        );
        assert_eq!(energy_cells(&t, "ort:all"), ["-"; 5]);
        assert!(t.contains("warning: the device throttled while sampling (throttle reasons fired: gpu0: sw_power_cap"));
        assert!(!t.contains("n/a"), "{t}");
    }

    #[test]
    fn no_sensor_shows_na_and_the_reason_once_never_zero() {
        let why = "no power sensor: rapl: no /sys/class/powercap";
        let r = report([
            Some(fixtures::no_sensor(why)),
            Some(fixtures::no_sensor(why)),
        ]);
        let t = bench_table(&r);
        insta::assert_snapshot!("bench_table_energy_na", t);
        assert_eq!(t.matches(why).count(), 1, "{t}");
        assert!(t.contains(&format!("energy: n/a: {why}\n")), "{t}");
        for spec in ["tract:reference", "tract:optimized"] {
            assert_eq!(
                energy_cells(&t, spec),
                ["n/a", "n/a", "n/a", "n/a", "unknown"]
            );
        }

        let md = crate::markdown::bench_markdown(&r);
        assert!(md.contains("| n/a | n/a | n/a | n/a | unknown |"), "{md}");
        assert_eq!(md.matches(why).count(), 1, "{md}");
    }

    #[test]
    fn only_the_variants_without_energy_are_named() {
        let why = "the power sensors gave no readings in the window";
        let r = report([
            Some(fixtures::measured(190.0, 400.0, 100)),
            Some(fixtures::no_sensor(why)),
        ]);
        let n = notes(&r);
        assert!(
            n.contains(&format!("energy: n/a for tract:optimized: {why}")),
            "{n}"
        );
        let r = report([None, None]);
        assert!(notes(&r).contains("energy: n/a: no telemetry was recorded (--no-telemetry)"));
    }

    #[test]
    fn csv_energy_columns() {
        let r = report([
            Some(fixtures::measured(190.0, 400.0, 100)),
            Some(fixtures::no_sensor("no power sensor here")),
        ]);
        let text = crate::csv_export::bench_csv(&r).unwrap();
        insta::assert_snapshot!("bench_csv_energy", text);
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let head = rd.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
        let get = |row: usize, col: &str| {
            let i = head.iter().position(|h| h == col).unwrap();
            rows[row][i].to_owned()
        };
        assert_eq!(get(0, "avg_power_w"), "200");
        assert_eq!(get(0, "peak_power_w"), "228");
        assert_eq!(get(0, "energy_per_inference_j"), "4");
        assert_eq!(get(0, "energy_per_inference_above_idle_j"), "2.8");
        assert_eq!(get(0, "inferences_per_j"), "0.25");
        assert_eq!(get(0, "fps_per_w"), "0.25");
        assert_eq!(get(0, "idle_power_w"), "60");
        assert_eq!(get(0, "throttle"), "ok");
        assert_eq!(get(0, "energy_na_reason"), "");
        // n/a: empty cells and the reason, never a zero.
        for col in &crate::csv_export::COLUMNS[32..40] {
            assert_eq!(get(1, col), "", "{col}");
        }
        assert_eq!(get(1, "throttle"), "unknown");
        assert_eq!(get(1, "energy_na_reason"), "no power sensor here");
        // The failed variant: nothing, its error says why.
        assert_eq!(get(2, "energy_na_reason"), "");
        assert_eq!(get(2, "error"), "no onnxruntime");
    }
}
