//! `readings::read_all` on fixture trees: what `edgebench sensors` shows.

use edgebench_telemetry::readings::read_all;
use edgebench_telemetry::tegra_board::BoardOptions;
use edgebench_telemetry::ProbeOptions;
use std::path::Path;
use std::time::Duration;

fn opts(root: &Path) -> (ProbeOptions, BoardOptions) {
    (
        ProbeOptions {
            sysfs: root.join("sys"),
            nvml: false,
            root: root.to_path_buf(),
            tegrastats_interval: Duration::from_millis(20),
        },
        BoardOptions {
            root: root.to_path_buf(),
        },
    )
}

#[test]
fn a_jetson_tree_gives_readings_and_its_board_state() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/boards/nano-maxn-clocks");
    let (probe, board) = opts(&root);
    let r = read_all(&probe, &board);
    assert!(!r.channels.is_empty());
    assert!(r.channels.iter().any(|c| c.value.is_some()));
    assert!(r.board.is_some());
    let json = serde_json::to_value(&r).unwrap();
    // A reading is its channel's fields with `value` beside them.
    assert!(json["channels"][0]["value"].is_number() || json["channels"][0]["value"].is_null());
    assert!(json["channels"][0]["source"].is_string());
    assert!(json["board"].is_object());
}

#[test]
fn an_empty_tree_gives_no_readings_every_source_says_why_and_no_board_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (probe, board) = opts(tmp.path());
    let r = read_all(&probe, &board);
    assert!(r.channels.is_empty());
    assert!(r.board.is_none());
    assert!(r.unavailable.iter().all(|u| !u.reason.is_empty()));
    assert!(r.unavailable.iter().any(|u| u.source == "tegrastats"));
    let json = serde_json::to_value(&r).unwrap();
    assert!(json.get("board").is_none());
}
