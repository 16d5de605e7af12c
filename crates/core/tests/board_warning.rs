//! A Jetson's board state goes into a result's host section, and a board below its maximum
//! performance puts a warning naming the fix on every variant that ran; a machine that is not
//! a Jetson gets neither, and its document keeps its shape. Driven through the library with
//! the fixture trees of `crates/telemetry/tests/fixtures/boards` as the file-system root.

use edgebench_core::engine::EngineSpec;
use edgebench_core::host::HostInfo;
use edgebench_core::measure::MeasureOptions;
use edgebench_core::schema::{
    BenchReport, ModelInfo, Settings, Status, ToolInfo, VariantResult, Warning,
};
use edgebench_core::telemetry::tegra_board::BoardOptions;
use std::path::{Path, PathBuf};

fn board(tree: &str) -> BoardOptions {
    BoardOptions {
        root: Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../telemetry/tests/fixtures/boards")
            .join(tree),
    }
}

fn measured(spec: &str) -> VariantResult {
    let mut r = VariantResult::failed(&EngineSpec::parse(spec).unwrap(), String::new());
    r.status = Status::Ok;
    r.error = None;
    r.raw_ms = vec![10.0, 10.1, 9.9, 10.0, 10.2];
    r.samples = r.raw_ms.len();
    r.latency_ms = edgebench_core::stats::summarize(&r.raw_ms, 0);
    r
}

fn report(host: HostInfo) -> BenchReport {
    BenchReport {
        schema_version: edgebench_core::SCHEMA_VERSION,
        tool: ToolInfo {
            name: "edgebench".into(),
            version: "0".into(),
            git_commit: "test".into(),
        },
        host,
        model: ModelInfo::unloaded("model", "model.onnx", None),
        settings: Settings {
            engines: vec!["tract:reference".into(), "tract:optimized".into()],
            batch: 1,
            threads: Some(1),
            seed: 0,
            target_fps: 30.0,
            measure: MeasureOptions::default(),
            rounds: 1,
            gate_input_sets: 1,
            gate_enforced: true,
            reference: None,
        },
        results: vec![
            measured("tract:reference"),
            measured("tract:optimized"),
            VariantResult::failed(&EngineSpec::parse("ort:cpu").unwrap(), "no library".into()),
        ],
    }
}

#[test]
fn a_nano_in_5w_warns_on_every_variant_that_ran() {
    let mut r = report(HostInfo::detect_with(&board("nano-5w")));
    r.add_host_warnings();
    // Twice is once.
    r.add_host_warnings();
    let json = serde_json::to_value(&r).unwrap();
    let b = &json["host"]["board"];
    assert_eq!(b["power_mode"]["name"], "5W");
    assert_eq!(b["power_mode"]["id"], 1);
    assert_eq!(b["power_mode"]["max_modes"][0]["name"], "MAXN");
    assert_eq!(b["jetson_clocks"], false);
    assert_eq!(b["max_performance"], false);
    assert_eq!(b["gpu"]["max_mhz"], 640.0);
    for i in 0..2 {
        let w = json["results"][i]["warnings"].as_array().unwrap();
        let board: Vec<_> = w
            .iter()
            .filter(|w| w["kind"] == "board_not_at_max_performance")
            .collect();
        assert_eq!(board.len(), 1, "{w:?}");
        assert_eq!(board[0]["fix"], "sudo nvpmodel -m 0 && sudo jetson_clocks");
    }
    // A variant that did not run measured nothing on this board.
    assert!(json["results"][2]["warnings"]
        .as_array()
        .unwrap()
        .is_empty());

    let text = r.results[0].warnings.last().unwrap().to_string();
    assert!(
        text.contains("`sudo nvpmodel -m 0 && sudo jetson_clocks`"),
        "{text}"
    );
    assert!(
        text.contains("power mode 5W (1), not the maximum MAXN (0)"),
        "{text}"
    );
    // The document reads back the same.
    let back: BenchReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn a_nano_at_maximum_performance_has_its_state_and_no_warning() {
    let mut r = report(HostInfo::detect_with(&board("nano-maxn-clocks")));
    r.add_host_warnings();
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["host"]["board"]["power_mode"]["name"], "MAXN");
    assert_eq!(json["host"]["board"]["jetson_clocks"], true);
    assert_eq!(json["host"]["board"]["emc"]["cur_mhz"], 1600.0);
    assert!(r.results.iter().all(|v| v.warnings.is_empty()));
}

#[test]
fn an_orin_with_free_clocks_asks_for_jetson_clocks_only() {
    let host = HostInfo::detect_with(&board("orin-agx"));
    let w = Warning::for_host(&host).unwrap();
    let Warning::BoardNotAtMaxPerformance { fix, .. } = &w else {
        panic!("{w:?}")
    };
    assert_eq!(fix, "sudo jetson_clocks");
}

#[test]
fn elsewhere_the_host_section_has_no_board() {
    let empty = tempfile::tempdir().unwrap();
    let mut r = report(HostInfo::detect_with(&BoardOptions {
        root: PathBuf::from(empty.path()),
    }));
    r.add_host_warnings();
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["host"].get("board").is_none(), "{}", json["host"]);
    assert!(r.results.iter().all(|v| v.warnings.is_empty()));
    // An older document without the key still reads.
    let back: BenchReport = serde_json::from_value(json).unwrap();
    assert_eq!(back.host.board, None);
}
