//! `edgebench compare A B`: two studies (or two bench JSON files) variant by variant:
//! improved, regressed or within noise (`edgebench_core::change`: an interval across each
//! run's rounds, beyond a stated noise floor); exit 1 on a regression beyond the threshold.

use anyhow::Result;
use clap::Args;
use edgebench_core::change::{compare, CompareOptions, DEFAULT_NOISE_FLOOR};
use edgebench_study::compare::load;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Before: a study folder (or its results.jsonl), or a JSON file from `bench --export-json`.
    pub a: PathBuf,
    /// After: the same kind of thing.
    pub b: PathBuf,
    /// Fail (exit 1) when a variant got slower by more than this many percent and the
    /// difference is beyond noise.
    #[arg(long, default_value_t = 5.0, value_name = "PERCENT")]
    pub threshold: f64,
    /// Changes smaller than this many percent are never a verdict, however narrow their
    /// interval (the variation between runs that no run's own statistics see).
    #[arg(long, default_value_t = DEFAULT_NOISE_FLOOR * 100.0, value_name = "PERCENT")]
    pub noise_floor: f64,
    /// Print the comparison as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: CompareArgs) -> Result<ExitCode> {
    let opts = CompareOptions {
        threshold_percent: a.threshold,
        noise_floor_percent: a.noise_floor,
    };
    opts.check()?;
    let cmp = compare(
        (&a.a.display().to_string(), &load(&a.a)?),
        (&a.b.display().to_string(), &load(&a.b)?),
        opts,
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&cmp)?);
    } else {
        print!("{}", edgebench_report::compare_view::text(&cmp));
    }
    let regressions = cmp.regressions;
    if regressions > 0 {
        eprintln!(
            "edgebench: {regressions} variant(s) regressed by more than {}% beyond noise",
            a.threshold
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
