//! A Jetson's board state where a report shows the host: the bench Markdown export, and the
//! study's Markdown and HTML provenance, with the warning and its commands when the board was
//! below its maximum performance. Board states come from the fixture trees of
//! `crates/telemetry/tests/fixtures/boards`.

use edgebench_core::analysis::analyse;
use edgebench_core::fixtures;
use edgebench_core::host::HostInfo;
use edgebench_core::telemetry::tegra_board::BoardOptions;
use edgebench_report::{html, study_md};
use std::path::Path;

fn host(tree: &str) -> HostInfo {
    let mut h = fixtures::host();
    h.board = HostInfo::detect_with(&BoardOptions {
        root: Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../telemetry/tests/fixtures/boards")
            .join(tree),
    })
    .board;
    assert!(h.board.is_some(), "{tree}");
    h
}

#[test]
fn the_study_provenance_shows_the_board_and_its_warning() {
    let mut loaded = fixtures::known_answers();
    for s in &mut loaded.sessions {
        s.host = host("nano-5w");
    }
    let s = analyse(&loaded).unwrap();
    let md = study_md::render(&s);
    assert!(
        md.contains("- Board: NVIDIA Jetson Nano Developer Kit, L4T R32.7.1, power mode 5W (1, not the maximum), jetson_clocks off"),
        "{md}"
    );
    assert!(
        md.contains("run `sudo nvpmodel -m 0 && sudo jetson_clocks` and rerun"),
        "{md}"
    );
    let page = html::render(&s);
    assert!(page.contains("<th>board</th>"), "{page}");
    assert!(
        page.contains("power mode 5W (1, not the maximum)"),
        "{page}"
    );
    assert!(page.contains("<th>board warning</th>"), "{page}");

    // At maximum performance: the board, no warning.
    let mut loaded = fixtures::known_answers();
    for s in &mut loaded.sessions {
        s.host = host("nano-maxn-clocks");
    }
    let s = analyse(&loaded).unwrap();
    let md = study_md::render(&s);
    assert!(
        md.contains("power mode MAXN (0, maximum), jetson_clocks on"),
        "{md}"
    );
    assert!(!md.contains("maximum-performance mode"), "{md}");
    assert!(!html::render(&s).contains("board warning"));

    // Elsewhere: no board line at all.
    let s = analyse(&fixtures::known_answers()).unwrap();
    assert!(!study_md::render(&s).contains("Board:"));
    assert!(!html::render(&s).contains("<th>board</th>"));
}
