//! A study folder written with schema version 1 (before one `model` object served every
//! document: `results/vm-2core/study`, committed) is still read by `report`, and its rebuilt
//! summary holds the rows and the FLOPs it held.

mod common;
use common::edgebench;
use std::path::Path;

#[test]
fn report_rebuilds_a_schema_1_study() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let results = root.join("results/vm-2core/study/results.jsonl");
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&results)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        first["schema_version"], 1,
        "the committed study is schema 1"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&results, dir.path().join("results.jsonl")).unwrap();
    let o = edgebench()
        .args(["report", dir.path().to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    // 0, or 1 when a variant of that study failed: never a refusal.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    let rows = s["rows"].as_array().expect("rows");
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .any(|r| r["flops"].as_u64().is_some_and(|f| f > 0)));
    assert!(dir.path().join("summary.json").is_file() && dir.path().join("report.md").is_file());
}
