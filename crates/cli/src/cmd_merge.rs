//! `edgebench merge`: join the folders of a study's shards (one device or many) into one study
//! folder and write its reports.

use anyhow::Result;
use clap::Args;
use edgebench_study::merge::{self, MergeOptions, MergeReport};
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
        print!("{}", text(&report));
    }
    eprintln!(
        "edgebench: wrote {}, {}, {}",
        a.out.join(edgebench_study::results::RESULTS_FILE).display(),
        a.out.join(merge::MERGE_FILE).display(),
        crate::cmd_report::paths(&report.written)
    );
    Ok(ExitCode::SUCCESS)
}

/// Per device: the shards merged, the jobs measured, the cells missing.
fn text(r: &MergeReport) -> String {
    let mut out = format!(
        "merged study `{}` (config {}): {} device(s)\n",
        r.study,
        r.config_hash,
        r.devices.len()
    );
    for d in &r.devices {
        let shards: Vec<String> = d.shards.iter().map(|s| s.index.to_string()).collect();
        out.push_str(&format!(
            "{}: shard(s) {} of {}, {} of {} jobs measured",
            d.device,
            shards.join(", "),
            d.shard_count,
            d.measured_jobs,
            d.planned_jobs
        ));
        if !d.missing_shards.is_empty() {
            let missing: Vec<String> = d.missing_shards.iter().map(|i| i.to_string()).collect();
            out.push_str(&format!("; shard(s) {} missing", missing.join(", ")));
        }
        out.push('\n');
        for s in d.shards.iter().filter(|s| s.torn_line_ignored) {
            out.push_str(&format!(
                "  note: the last line of {}/results.jsonl was torn (an interrupted write) and was left out\n",
                s.dir.display()
            ));
        }
        if !d.missing.is_empty() {
            out.push_str(&format!("  missing ({}):\n", d.missing.len()));
            for k in &d.missing {
                out.push_str(&format!("    {k}\n"));
            }
        }
    }
    out
}
