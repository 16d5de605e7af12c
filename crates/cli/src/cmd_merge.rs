//! `edgebench merge`: join the folders of a study's shards (one device or many) into one study
//! folder and write its reports.

use anyhow::Result;
use clap::Args;
use edgebench_study::merge::{self, MergeOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shard folders (`edgebench study --shard I/N --out DIR`), of one device or many.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The merged study folder: results.jsonl, merge.json and the reports.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Merge even when a device's shards are missing (their jobs are listed as missing).
    #[arg(long)]
    pub allow_missing: bool,
    /// Print the merge's record (merge.json) on stdout instead of the text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: MergeArgs) -> Result<ExitCode> {
    let report = merge::merge(
        &a.dirs,
        &a.out,
        &MergeOptions {
            allow_missing: a.allow_missing,
        },
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    eprintln!(
        "edgebench: wrote {}, {}, {}",
        a.out.join(edgebench_study::results::RESULTS_FILE).display(),
        a.out.join(merge::MERGE_FILE).display(),
        edgebench_report::study_progress::paths(&report.written)
    );
    Ok(ExitCode::SUCCESS)
}
