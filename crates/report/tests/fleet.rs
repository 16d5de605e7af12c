//! A fleet's views (a study measured on two devices, `fixtures::fleet`): report.md,
//! results.csv, report.html and the terminal table as snapshots; each device's section is
//! that device's own report; the cross-device view; device labels escaped everywhere.

use edgebench_core::analysis::analyse;
use edgebench_core::fixtures::{self, FLEET_DEVICES};
use edgebench_core::schema::study::{Loaded, StudySummary};
use edgebench_report::{html, study_csv, study_md};

const HOSTILE: &str = "<script>alert('d')</script><img src=x onerror=alert(1)>|x";

fn fleet() -> StudySummary {
    analyse(&fixtures::fleet()).unwrap()
}

/// The fleet with its second device renamed `label`.
fn renamed(label: &str) -> StudySummary {
    let mut loaded: Loaded = fixtures::fleet();
    for s in &mut loaded.sessions {
        if s.device.as_deref() == Some(FLEET_DEVICES[1]) {
            s.device = Some(label.into());
        }
    }
    for m in &mut loaded.measurements {
        if m.device.as_deref() == Some(FLEET_DEVICES[1]) {
            m.device = Some(label.into());
        }
    }
    analyse(&loaded).unwrap()
}

#[test]
fn fleet_markdown() {
    insta::assert_snapshot!("fleet_md", study_md::render(&fleet()));
}

#[test]
fn fleet_csv() {
    insta::assert_snapshot!("fleet_csv", study_csv::render(&fleet()).unwrap());
}

#[test]
fn fleet_html() {
    insta::assert_snapshot!("fleet_html", html::render(&fleet()));
}

#[test]
fn fleet_terminal_table() {
    insta::assert_snapshot!("fleet_table", study_md::terminal_table(&fleet()));
}

#[test]
fn each_devices_section_is_its_own_report() {
    let s = fleet();
    let md = study_md::render(&s);
    for d in &s.devices {
        let alone = study_md::render(&s.device_view(d));
        // The device's section holds the sections of its own report, one heading down.
        let speedups = alone
            .split("\n## Speed-up per model\n")
            .nth(1)
            .unwrap()
            .split("\n## Average speed-up\n")
            .next()
            .unwrap();
        assert!(md.contains(speedups), "{}", d.device);
    }
    // Never an average across devices: orin-nano's tract:optimized averages 2.00x, rack-h100's
    // 2.52x, all six rows together would be 2.52x over n=6.
    assert!(md.contains("| tract:optimized | classification | 3 | +133.3% | 2.00x |"));
    assert!(md.contains("| tract:optimized | classification | 3 | +266.7% | 2.52x |"));
    assert!(!md.contains("| 6 |"));
}

#[test]
fn the_csv_has_a_device_column_and_every_devices_rows() {
    let csv = study_csv::render(&fleet()).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("device,model,task,"));
    let devices: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(devices.iter().filter(|d| **d == "orin-nano").count(), 9);
    // rack-h100 did not measure vgg11's onnxruntime:all.
    assert_eq!(devices.iter().filter(|d| **d == "rack-h100").count(), 8);
    // One device: no device column.
    let one = study_csv::render(&analyse(&fixtures::known_answers()).unwrap()).unwrap();
    assert!(one.starts_with("model,task,"));
}

#[test]
fn the_html_has_the_cross_device_charts_and_unique_ids() {
    let page = html::render(&fleet());
    assert!(page.contains("aria-label=\"latency per model and device\""));
    assert!(page.contains("aria-label=\"energy per inference per model and device\""));
    // Each device's charts under its own section.
    assert_eq!(page.matches("<h3 id=\"d1-fps\">").count(), 1);
    assert_eq!(page.matches("<h3 id=\"d2-fps\">").count(), 1);
    let mut ids: Vec<&str> = page
        .split(" id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "every id once");
    assert!(page.matches("<svg").count() >= 8);
    // rack-h100's missing cells are listed.
    assert!(page.contains("Missing cells: 3 of the plan"));
}

#[test]
fn device_labels_are_escaped_in_every_view() {
    let s = renamed(HOSTILE);
    let page = html::render(&s);
    assert!(!page.contains("<script"));
    assert!(!page.contains("<img"));
    assert!(page.contains(&html::esc(HOSTILE)));
    let md = study_md::render(&s);
    assert!(!md.contains("<script"));
    assert!(md.contains("&lt;script&gt;"));
    // A `|` in a label does not open a Markdown cell.
    assert!(!md.contains(">|x"));
    let csv = study_csv::render(&s).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let labels: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[0].to_string())
        .collect();
    assert!(labels.iter().any(|l| l == HOSTILE));
}

#[test]
fn one_device_renders_as_before() {
    // A shard's folder names its device on every measurement: still one device, no fleet.
    let mut loaded = fixtures::known_answers();
    for m in &mut loaded.measurements {
        m.device = Some("orin-nano".into());
    }
    let named = analyse(&loaded).unwrap();
    let plain = analyse(&fixtures::known_answers()).unwrap();
    assert!(!named.is_fleet());
    assert_eq!(study_md::render(&named), study_md::render(&plain));
    assert_eq!(html::render(&named), html::render(&plain));
    assert_eq!(
        study_csv::render(&named).unwrap(),
        study_csv::render(&plain).unwrap()
    );
}

#[test]
fn a_fleets_folder_gets_every_report_with_the_devices_in_summary_json() {
    let s = fleet();
    let dir = tempfile::tempdir().unwrap();
    let written = edgebench_report::write_study(dir.path(), &s).unwrap();
    assert_eq!(written.len(), 4);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    let devices: Vec<&str> = json["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(devices, FLEET_DEVICES);
    assert_eq!(json["cross_device"].as_array().unwrap().len(), 3);
    assert_eq!(json["averages"].as_array().unwrap().len(), 0);
    assert_eq!(json["rows"][0]["device"], "orin-nano");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("report.html")).unwrap(),
        html::render(&s)
    );
}
