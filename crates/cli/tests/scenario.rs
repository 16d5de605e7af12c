//! `bench --scenario`: every MLPerf scenario end to end on the tiny test model with tract
//! (short runs: the structure of the result is checked, never a timing), its views, and
//! every bad input refused with one line, exit 2 and no output file.

mod common;

use common::{edgebench, refused_with, tiny_model, FAST};
use serde_json::Value;
use std::path::Path;

/// `bench` of the tiny model on tract:optimized under `scenario` (extra flags after it),
/// with every export; returns the JSON document, the CSV and the Markdown.
fn bench(dir: &Path, scenario: &[&str]) -> (Value, String, String, String) {
    let m = tiny_model(dir);
    let (json, csv, md) = (dir.join("r.json"), dir.join("r.csv"), dir.join("r.md"));
    let o = edgebench()
        .arg("bench")
        .arg(&m)
        .args(["-e", "tract:optimized", "--no-telemetry", "--rounds", "1"])
        .args(FAST)
        .args(["--scenario-duration", "0.2"])
        .args(scenario)
        .arg("--export-json")
        .arg(&json)
        .arg("--export-csv")
        .arg(&csv)
        .arg("--export-markdown")
        .arg(&md)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{scenario:?}: {}{out}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (
        doc,
        std::fs::read_to_string(&csv).unwrap(),
        std::fs::read_to_string(&md).unwrap(),
        out,
    )
}

/// The fields of one CSV line (quoted fields may hold commas and doubled quotes).
fn fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (vec![], String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[test]
fn every_scenario_yields_its_metric_and_validity_in_every_view() {
    let cases: [(&[&str], &str, &str); 5] = [
        (
            &["--scenario", "single-stream"],
            "single-stream",
            "90th percentile latency",
        ),
        (
            &[
                "--scenario",
                "multi-stream",
                "--samples-per-query",
                "2",
                "--min-query-count",
                "20",
            ],
            "multi-stream",
            "99th percentile latency",
        ),
        (
            &["--scenario", "offline", "--min-query-count", "50"],
            "offline",
            "throughput",
        ),
        (
            &["--scenario", "server", "--target-qps", "50"],
            "server",
            "99th percentile latency at 50",
        ),
        (
            &[
                "--scenario",
                "server",
                "--target-qps",
                "20",
                "--latency-bound-ms",
                "1000",
                "--find-peak",
                "--min-query-count",
                "10",
            ],
            "server-search",
            "highest rate within the latency bound",
        ),
    ];
    for (flags, tag, metric) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (doc, csv, md, out) = bench(dir.path(), flags);
        let r = &doc["results"][0];
        assert_eq!(r["status"], "ok", "{tag}: {r}");
        let s = &r["scenario"];
        assert_eq!(s["scenario"], tag, "{s}");
        // The run is far shorter than LoadGen's 600 s: valid is false, with the reason.
        let validity = match tag {
            "server-search" => &s["best"]["validity"],
            _ => &s["validity"],
        };
        assert_eq!(validity["compliant"], false, "{tag}: {validity}");
        assert!(
            validity["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["kind"] == "short_run"),
            "{tag}: {validity}"
        );
        // The terminal table, the Markdown and the CSV show the headline and the note.
        let shown = tag.replace("server-search", "server, find peak");
        for view in [&out, &md] {
            assert!(view.contains("MLPerf scenario"), "{tag}: {view}");
            assert!(view.contains(metric), "{tag}: {view}");
            assert!(
                view.contains(&format!(
                    "tract:optimized: {shown}: not a compliant run: ran "
                )),
                "{tag}: {view}"
            );
            assert!(view.contains("(raise --scenario-duration)"), "{view}");
        }
        let mut lines = csv.lines();
        let headers = fields(lines.next().unwrap());
        let row = fields(lines.next().unwrap());
        assert_eq!(headers.len(), row.len(), "{csv}");
        let cell = |name: &str| row[headers.iter().position(|h| h == name).unwrap()].clone();
        assert_eq!(cell("scenario"), shown);
        assert!(cell("scenario_metric").starts_with(metric), "{csv}");
        assert_eq!(cell("scenario_compliant"), "false");
        assert!(
            cell("scenario_value").parse::<f64>().unwrap() > 0.0,
            "{tag}"
        );
    }
}

#[test]
fn without_a_scenario_the_documents_are_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let m = tiny_model(dir.path());
    let (json, csv) = (dir.path().join("r.json"), dir.path().join("r.csv"));
    let o = edgebench()
        .arg("bench")
        .arg(&m)
        .args(["-e", "tract:optimized", "--no-telemetry"])
        .args(FAST)
        .arg("--export-json")
        .arg(&json)
        .arg("--export-csv")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(doc["results"][0].get("scenario").is_none());
    assert!(!std::fs::read_to_string(&csv).unwrap().contains("scenario"));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("MLPerf scenario"));
}

#[test]
fn bad_scenario_input_is_one_line_exit_2_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = tiny_model(dir.path());
    let out = dir.path().join("r.json");
    let cases: [(&[&str], &[&str]); 9] = [
        (
            &["--scenario", "streaming"],
            &["--scenario streaming: unknown scenario", "single-stream"],
        ),
        (
            &["--target-qps", "10"],
            &["--target-qps is a setting of --scenario"],
        ),
        (
            &["--scenario", "single-stream", "--target-qps", "10"],
            &["--target-qps applies to --scenario server only"],
        ),
        (
            &["--scenario", "offline", "--find-peak"],
            &["--find-peak applies to --scenario server only"],
        ),
        (
            &["--scenario", "server", "--samples-per-query", "4"],
            &["--samples-per-query applies to --scenario multi-stream only"],
        ),
        (
            &["--scenario", "server"],
            &["--scenario server needs --target-qps"],
        ),
        (
            &["--scenario", "server", "--target-qps", "0"],
            &["--target-qps 0:", "more than 0"],
        ),
        (
            &["--scenario", "server", "--target-qps", "-5"],
            &["--target-qps -5:", "more than 0"],
        ),
        (
            &["--scenario", "single-stream", "--scenario-duration", "-1"],
            &["--scenario-duration -1:"],
        ),
    ];
    for (flags, needles) in cases {
        let mut cmd = edgebench();
        cmd.arg("bench")
            .arg(&m)
            .args(["-e", "tract:optimized", "--no-telemetry"])
            .args(FAST)
            .args(flags)
            .arg("--export-json")
            .arg(&out);
        let o = refused_with(&mut cmd, needles);
        assert!(o.stdout.is_empty(), "{flags:?}");
        assert!(!out.exists(), "{flags:?}: no output file");
    }
    let mut cmd = edgebench();
    cmd.arg("bench")
        .arg(&m)
        .args(["--scenario", "server", "--target-qps", "10"])
        .args(["--latency-bound-ms", "0"]);
    refused_with(&mut cmd, &["--latency-bound-ms 0:"]);
}
