//! The study's views with energy: report.md, results.csv, the terminal table and report.html
//! of a made-up study whose telemetry is built by hand; the n/a path shows the reason and
//! never a zero; a throttled variant is marked with its detail; user text stays escaped.

use edgebench_core::analysis::analyse;
use edgebench_core::fixtures::{self, agreement, FixtureModel, Study, NO_SENSOR};
use edgebench_core::schema::study::{StudySummary, Task};
use edgebench_report::{html, study_csv, study_md};

const HOSTILE: &str = "<script>alert(1)</script>";

/// Baselines at 10 ms and 4 J per inference (c3d_small 500 ms per clip); the optimized
/// variant twice as fast; its energy per inference from `optimized_j`. `baseline_j` None:
/// no sensor anywhere.
fn study(baseline_j: Option<f64>, optimized_j: impl Fn(&str) -> Option<f64>) -> StudySummary {
    let image = [1, 3, 224, 224];
    let models = vec![
        FixtureModel::new(
            HOSTILE,
            "zoo:mobilenet_v3_small?classes=2",
            Task::Classification,
            2_000_000,
            &image,
        ),
        FixtureModel::new(
            "resnet18",
            "zoo:resnet18?classes=2",
            Task::Classification,
            2_000_000,
            &image,
        ),
        FixtureModel::new(
            "c3d_small",
            "zoo:c3d_small?classes=4",
            Task::ActionRecognition,
            2_000_000,
            &[1, 3, 16, 112, 112],
        ),
    ];
    let study = Study::new(
        "energy views",
        "tract:reference",
        &["tract:optimized"],
        models,
    );
    let throttled = format!("throttle reasons fired: gpu0: sw_power_cap {HOSTILE}");
    let mut measurements = vec![];
    for job in &study.plan.jobs {
        let m = study.model(job);
        let video = m.label == "c3d_small";
        let base_ms = if video { 500.0 } else { 10.0 };
        let ms = if job.is_baseline {
            base_ms
        } else {
            base_ms / 2.0
        };
        let raw: Vec<f64> = (0..21).map(|i| ms * (1.0 + i as f64 * 1e-3)).collect();
        let mut r = fixtures::measured(&job.spec, raw);
        let (j, throttle) = if job.is_baseline {
            (baseline_j, None)
        } else {
            let throttle = (m.label == "resnet18").then_some(throttled.as_str());
            (optimized_j(&m.label), throttle)
        };
        r.energy = Some(fixtures::energy(j, &["gpu0"], throttle));
        if !job.is_reference {
            r.accuracy = Some(agreement(true));
        }
        measurements.push(study.measurement(job, r));
    }
    analyse(&study.loaded(measurements)).unwrap()
}

/// mobilenet 4 J -> 1 J, resnet18 4 J -> 2 J (throttled), c3d_small: no sensor on the variant.
fn measured() -> StudySummary {
    study(Some(4.0), |m| match m {
        "resnet18" => Some(2.0),
        "c3d_small" => None,
        _ => Some(1.0),
    })
}

fn none_measured() -> StudySummary {
    study(None, |_| None)
}

/// The cells of the Markdown table row that starts with `model` and names `spec`.
fn md_row(md: &str, model: &str, spec: &str, after: &str) -> Vec<String> {
    let part = &md[md.find(after).unwrap()..];
    let line = part
        .lines()
        .find(|l| l.starts_with(&format!("| {model} |")) && l.contains(&format!("`{spec}`")))
        .unwrap();
    line.trim_matches('|')
        .split(" | ")
        .map(|c| c.trim().to_owned())
        .collect()
}

#[test]
fn report_md_has_energy_per_inference_ratio_and_throttle() {
    let md = study_md::render(&measured());
    let r = md_row(
        &md,
        "resnet18",
        "tract:optimized",
        "## Energy per inference",
    );
    // Power W, Peak W, Idle W, mJ/inference, Above idle mJ, Energy ratio, Inferences/J,
    // FPS/W, CO2 g/1000, check, throttle.
    assert_eq!(
        r[2..],
        [
            "100",
            "120",
            "10.0",
            "2000",
            "1800",
            "2.00x",
            "0.500",
            "0.500",
            "0.222",
            "2100 (+5.0%)",
            "⚠ throttled"
        ]
    );
    let b = md_row(
        &md,
        "resnet18",
        "tract:reference",
        "## Energy per inference",
    );
    assert_eq!(b[7], "baseline");
    let c = md_row(
        &md,
        "c3d_small",
        "tract:optimized",
        "## Energy per inference",
    );
    assert_eq!(c[2..9], ["n/a", "n/a", "n/a", "n/a", "n/a", "-", "n/a"]);
    assert!(md.contains(&format!(
        "- Energy n/a for c3d_small `tract:optimized`: {NO_SENSOR}"
    )));
    // The throttled variant is listed with its detail, escaped.
    assert!(md.contains(
        "- ⚠ resnet18 `tract:optimized`: throttle reasons fired: gpu0: sw_power_cap &lt;script&gt;"
    ));
    assert!(!md.contains("<script>"));
    // Classification: energy ratios 4 and 2, geometric mean 2.83 over 2 models.
    assert!(md.contains("| 2.83x (n=2) |"), "{md}");
}

#[test]
fn report_md_without_any_sensor_says_why_once_and_shows_no_zero() {
    let md = study_md::render(&none_measured());
    assert!(md.contains(&format!("Energy is n/a: {NO_SENSOR}.")));
    assert_eq!(md.matches(NO_SENSOR).count(), 1, "{md}");
    let r = md_row(
        &md,
        "resnet18",
        "tract:reference",
        "## Energy per inference",
    );
    assert_eq!(
        r[2..11],
        ["n/a", "n/a", "n/a", "n/a", "n/a", "baseline", "n/a", "n/a", "-"]
    );
    let section =
        &md[md.find("## Energy per inference").unwrap()..md.find("## Do smaller").unwrap()];
    assert!(!section.contains("| 0 "), "{section}");
}

#[test]
fn results_csv_energy_columns() {
    let text = study_csv::render(&measured()).unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let head = rd.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    let get = |model: &str, spec: &str, col: &str| {
        let i = head.iter().position(|h| h == col).unwrap();
        let r = rows
            .iter()
            .find(|r| &r[0] == model && &r[6] == spec)
            .unwrap();
        r[i].to_owned()
    };
    assert_eq!(
        get("resnet18", "tract:optimized", "energy_per_inference_j"),
        "2"
    );
    assert_eq!(get("resnet18", "tract:optimized", "energy_ratio"), "2");
    assert_eq!(get("resnet18", "tract:optimized", "avg_power_w"), "100");
    assert_eq!(get("resnet18", "tract:optimized", "throttle"), "throttled");
    assert_eq!(get("resnet18", "tract:optimized", "counter_j"), "2");
    assert_eq!(get("resnet18", "tract:optimized", "power_x_time_j"), "2.1");
    assert_eq!(
        get("resnet18", "tract:optimized", "energy_window"),
        "sampling"
    );
    assert_eq!(get("resnet18", "tract:reference", "energy_ratio"), "");
    assert_eq!(
        get("c3d_small", "tract:optimized", "energy_per_inference_j"),
        ""
    );
    assert_eq!(get("c3d_small", "tract:optimized", "avg_power_w"), "");
    assert_eq!(
        get("c3d_small", "tract:optimized", "energy_na_reason"),
        NO_SENSOR
    );
    assert_eq!(get("c3d_small", "tract:optimized", "throttle"), "ok");
}

#[test]
fn terminal_table_has_energy_columns() {
    let t = study_md::terminal_table(&measured());
    assert!(
        t.contains("mJ/inference") && t.contains("energy ratio"),
        "{t}"
    );
    assert!(t.contains("⚠ throttled"), "{t}");
    assert!(t.contains(&format!(
        "energy: n/a for c3d_small tract:optimized: {NO_SENSOR}"
    )));
    assert!(
        t.contains("energy ratio of tract:optimized on classification: 2.83x (n=2)"),
        "{t}"
    );
    let t = study_md::terminal_table(&none_measured());
    assert!(t.contains(&format!("energy: n/a: {NO_SENSOR}\n")), "{t}");
}

#[test]
fn html_has_the_energy_charts_and_marks_throttling() {
    let page = html::render(&measured());
    assert!(page.contains("aria-label=\"energy per inference, classification\""));
    assert!(page.contains("aria-label=\"energy ratio against speed-up\""));
    // The throttled bar and point are marked; the detail is listed, escaped.
    assert!(page.contains(">⚠ throttled</text>"));
    assert!(page.contains(
        "<li class=\"throttled\">&#9888; resnet18 <code>tract:optimized</code>: throttle reasons fired: gpu0: sw_power_cap &lt;script&gt;alert(1)&lt;/script&gt;</li>"
    ));
    assert!(!page.contains("<script"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains(&format!(
        "<li>Energy n/a for c3d_small <code>tract:optimized</code>: {}</li>",
        html::esc(NO_SENSOR)
    )));
    assert!(!page.contains("Energy is n/a"));
}

#[test]
fn html_without_any_sensor_replaces_the_charts_with_the_reason() {
    let page = html::render(&none_measured());
    assert!(page.contains(&format!(
        "<p class=\"warn\">Energy is n/a: {}</p>",
        html::esc(NO_SENSOR)
    )));
    assert!(!page.contains("aria-label=\"energy per inference"));
    assert!(!page.contains("aria-label=\"energy ratio against speed-up\""));
    let section = &page[page.find("id=\"energy\"").unwrap()..page.find("id=\"trend\"").unwrap()];
    assert!(
        !section.contains(">0<") && !section.contains(">0.0<"),
        "{section}"
    );
}

#[test]
fn html_draws_no_energy_bar_for_work_no_sensor_measured() {
    let mut s = measured();
    let row = s
        .rows
        .iter_mut()
        .find(|r| {
            r.energy
                .as_ref()
                .is_some_and(|e| e.energy_per_inference_j.is_some())
        })
        .unwrap();
    let spec = row.spec.clone();
    row.energy.as_mut().unwrap().work_unmeasured =
        Some("the work ran on cpu, which no sensor here measures".into());
    let page = html::render(&s);
    assert!(
        page.contains(&format!(
            "{}: its device has no power sensor here",
            html::esc(&spec)
        )),
        "no label for the unmeasured bar"
    );
}

/// The views of the energy study as a whole, against their snapshots (`snapshots/`).
#[test]
fn energy_views_snapshots() {
    let s = measured();
    insta::assert_snapshot!("study_energy_md", study_md::render(&s));
    insta::assert_snapshot!("study_energy_csv", study_csv::render(&s).unwrap());
    insta::assert_snapshot!("study_energy_html", html::render(&s));
    let none = none_measured();
    insta::assert_snapshot!("study_energy_none_md", study_md::render(&none));
}
