//! `edgebench report --markdown`: compact Markdown tables rebuilt from committed result
//! documents, written to stdout only (nothing in the folder or beside the files is touched).
//! The README's tables are this output; `crates/cli/tests/readme.rs` checks them.

use anyhow::{anyhow, Result};
use edgebench_core::schema::BenchReport;
use edgebench_report::tables;
use edgebench_study::summary;
use edgebench_video::report::VideoReport;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn read<T: DeserializeOwned>(file: &Path, what: &str) -> Result<T> {
    // A file the user names that cannot be read is bad input (exit 2), not an I/O failure.
    let bytes = std::fs::read(file).map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        anyhow!(
            "{} is not a {what} JSON file ({e}): give a file written by `edgebench {what} --export-json`",
            file.display()
        )
    })
}

/// The study's average speed-ups by variant and task (`report DIR --markdown`).
pub fn study(dir: &Path) -> Result<ExitCode> {
    let (summary, _) = summary::rebuild(&summary::results_in(dir)?)?;
    print!("{}", tables::study_averages(&summary));
    Ok(ExitCode::SUCCESS)
}

/// Bench runs side by side (`report --bench FILE...`), or video runs one model a row
/// (`report --video FILE...`).
pub fn files(bench: &[PathBuf], video: &[PathBuf]) -> Result<ExitCode> {
    if !bench.is_empty() {
        let runs = bench
            .iter()
            .map(|f| read::<BenchReport>(f, "bench"))
            .collect::<Result<Vec<_>>>()?;
        print!("{}", tables::bench_matrix(&runs));
    }
    if !video.is_empty() {
        let runs = video
            .iter()
            .map(|f| read::<VideoReport>(f, "video"))
            .collect::<Result<Vec<_>>>()?;
        print!("{}", edgebench_video::view::markdown_table(&runs));
    }
    Ok(ExitCode::SUCCESS)
}
