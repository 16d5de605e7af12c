//! The README's measured tables are rebuilt from the data committed under `results/`.
//!
//! Each table in README.md sits between `<!-- table: edgebench report ARGS -->` and
//! `<!-- /table -->`. This test runs that `edgebench report` command (which only reads the
//! committed files and prints Markdown) and fails when its output differs from the README's text
//! between the markers, or when a table's command reads nothing under `results/`. To update a
//! table after new measurements: run its command from the repository root and paste the output.

use std::path::{Path, PathBuf};
use std::process::Command;

const OPEN: &str = "<!-- table: ";
const CLOSE: &str = "<!-- /table -->";

struct Table {
    line: usize,
    command: String,
    text: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tables(readme: &str) -> Vec<Table> {
    let mut out = vec![];
    let lines: Vec<&str> = readme.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim();
        if let Some(rest) = l.strip_prefix(OPEN) {
            let command = rest
                .strip_suffix("-->")
                .unwrap_or_else(|| panic!("README.md:{}: a table marker ends with -->", i + 1))
                .trim()
                .to_string();
            let start = i + 1;
            let end = (start..lines.len())
                .find(|&j| lines[j].trim() == CLOSE)
                .unwrap_or_else(|| panic!("README.md:{}: no {CLOSE} after this marker", i + 1));
            assert!(
                !lines[start..end]
                    .iter()
                    .any(|l| l.trim_start().starts_with(OPEN)),
                "README.md:{}: a table marker inside another",
                i + 1
            );
            out.push(Table {
                line: i + 1,
                command,
                text: lines[start..end].join("\n"),
            });
            i = end;
        }
        i += 1;
    }
    out
}

/// Runs every marked table's command; returns the number of tables and one message per table
/// that differs from what its command prints.
fn check(readme: &str) -> (usize, Vec<String>) {
    let root = root();
    let tables = tables(readme);
    assert!(
        tables.len() >= 4,
        "README.md has {} marked tables; every measured table is marked with {OPEN}COMMAND --> ... {CLOSE}",
        tables.len()
    );
    let mut failures = vec![];
    for t in &tables {
        let args: Vec<&str> = t.command.split_whitespace().collect();
        assert!(
            args.len() >= 2 && args[0] == "edgebench" && args[1] == "report",
            "README.md:{}: a table's command is `edgebench report ...` (it only reads committed data), not `{}`",
            t.line,
            t.command
        );
        let data: Vec<&&str> = args[2..].iter().filter(|a| !a.starts_with("--")).collect();
        assert!(
            !data.is_empty(),
            "README.md:{}: `{}` names no data",
            t.line,
            t.command
        );
        for d in &data {
            assert!(
                d.starts_with("results/") && root.join(d).exists(),
                "README.md:{}: `{d}` is not committed data under results/",
                t.line
            );
        }
        let out = Command::new(env!("CARGO_BIN_EXE_edgebench"))
            .args(&args[1..])
            .current_dir(&root)
            .output()
            .expect("run edgebench");
        assert!(
            out.status.success(),
            "README.md:{}: `{}` failed: {}",
            t.line,
            t.command,
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(out.stdout).expect("utf-8 output");
        if got.trim() != t.text.trim() {
            failures.push(format!(
                "README.md:{}: the table differs from what `{}` rebuilds from the committed data.\n--- README\n{}\n--- rebuilt\n{}",
                t.line,
                t.command,
                t.text.trim(),
                got.trim()
            ));
        }
    }
    (tables.len(), failures)
}

#[test]
fn readme_tables_are_rebuilt_from_committed_results() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    let (_, failures) = check(&readme);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_changed_figure_is_caught() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    // Change the first digit of the first table's first data row.
    let start = readme.find(OPEN).expect("a marked table");
    let row = start
        + readme[start..]
            .match_indices("\n| ")
            .nth(2)
            .expect("a data row")
            .0;
    let digit = row
        + readme[row..]
            .find(|c: char| c.is_ascii_digit())
            .expect("a digit");
    let d = readme.as_bytes()[digit];
    let mut changed = readme.clone();
    changed.replace_range(digit..digit + 1, if d == b'9' { "8" } else { "9" });
    let (n, failures) = check(&changed);
    assert_eq!(failures.len(), 1, "{n} tables, failures: {failures:?}");
}

#[test]
fn report_refuses_files_of_the_wrong_kind() {
    let out = Command::new(env!("CARGO_BIN_EXE_edgebench"))
        .args(["report", "--bench", "README.md"])
        .current_dir(root())
        .output()
        .expect("run edgebench");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a bench JSON file"));
    let out = Command::new(env!("CARGO_BIN_EXE_edgebench"))
        .args(["report", "--video", "results/vm-2core/cpu-resnet18.json"])
        .current_dir(root())
        .output()
        .expect("run edgebench");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a video JSON file"));
}

#[test]
fn markers_are_found() {
    let t = tables(
        "a\n<!-- table: edgebench report --bench results/x.json -->\n| a |\n| --- |\n<!-- /table -->\nb\n",
    );
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].line, 2);
    assert_eq!(t[0].command, "edgebench report --bench results/x.json");
    assert_eq!(t[0].text, "| a |\n| --- |");
}
