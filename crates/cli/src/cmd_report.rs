//! `edgebench report DIR`: rebuild every report of a study from its results.jsonl, without
//! measuring again. `--markdown` (and `--bench`, `--video`) print compact Markdown tables of
//! committed results instead (the README's tables).

mod tables;

use anyhow::{bail, Result};
use clap::Args;
use edgebench_core::schema::study::StudySummary;
use edgebench_report::study_progress;
use edgebench_study::summary;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A study folder (it holds results.jsonl).
    #[arg(required_unless_present_any = ["bench", "video"])]
    pub dir: Option<PathBuf>,
    /// Print summary.json on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Print the study's average speed-ups as one Markdown table (a row per variant, a column
    /// per task) on stdout and write nothing.
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// Bench JSON files (`bench --export-json`): print one Markdown table with a column per
    /// file and a row per variant (median ms [95% CI], speed-up [95% CI]), then each file's
    /// threads, rounds and accuracy gate; no study folder.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["dir", "json"])]
    pub bench: Vec<PathBuf>,
    /// Video JSON files (`video --export-json`): print one Markdown table with a row per model
    /// (unpaced inference and fps, paced end-to-end latency and verdict; several runs joined
    /// with ` / `); no study folder.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["dir", "json"])]
    pub video: Vec<PathBuf>,
}

pub fn run(a: ReportArgs) -> Result<ExitCode> {
    if !a.bench.is_empty() || !a.video.is_empty() {
        return tables::files(&a.bench, &a.video);
    }
    let Some(dir) = a.dir else {
        bail!("give a study folder, or --bench / --video files");
    };
    if a.markdown {
        return tables::study(&dir);
    }
    let summary::Rebuilt {
        summary,
        results,
        torn,
        written,
    } = summary::report(&dir)?;
    if torn {
        eprintln!(
            "edgebench: note: the last line of {} is torn (an interrupted write) and was ignored",
            results.display()
        );
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", edgebench_report::study_md::terminal_table(&summary));
    }
    if !summary.pending.is_empty() {
        eprintln!(
            "edgebench: {} of the study's jobs are not measured yet: `edgebench study --resume --out {}` with the same config finishes them",
            summary.pending.len(),
            dir.display()
        );
    }
    eprintln!("edgebench: wrote {}", study_progress::paths(&written));
    Ok(exit_code(&summary))
}

/// 1 when a variant failed, failed the accuracy gate or could not be verified (listed in the
/// report), else 0.
pub fn exit_code(s: &StudySummary) -> ExitCode {
    match study_progress::failures(s) {
        Some(why) => {
            eprintln!("{why}");
            ExitCode::from(1)
        }
        None => ExitCode::SUCCESS,
    }
}
