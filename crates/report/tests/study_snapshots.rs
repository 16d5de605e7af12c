//! Snapshots of the study's views (report.md, results.csv, report.html and the terminal
//! table) of the fixtures' made-up studies, provenance fixed so that nothing in them depends
//! on the machine, the date or the commit: any change a user would see shows up here as a
//! diff to review (`cargo insta review`), and a mismatch fails the test.

use edgebench_core::analysis::analyse;
use edgebench_core::fixtures;
use edgebench_core::schema::study::StudySummary;
use edgebench_report::{html, study_csv, study_md};

/// [`fixtures::known_answers`] analysed: speed-ups 4x, 2x and 1x, a gate failure, a video
/// model, the FLOPs trend.
fn known() -> StudySummary {
    analyse(&fixtures::known_answers()).unwrap()
}

#[test]
fn study_markdown() {
    insta::assert_snapshot!("study_known_md", study_md::render(&known()));
}

#[test]
fn study_csv() {
    insta::assert_snapshot!("study_known_csv", study_csv::render(&known()).unwrap());
}

#[test]
fn study_html() {
    insta::assert_snapshot!("study_known_html", html::render(&known()));
}

#[test]
fn study_terminal_table() {
    insta::assert_snapshot!("study_known_table", study_md::terminal_table(&known()));
}
