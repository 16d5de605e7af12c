//! `edgebench engines`: every engine and variant this build knows, whether it can run here,
//! its version, the devices or execution providers it sees, where its library was found, and
//! for each one that cannot run, why and the one command that makes it available.

use anyhow::Result;
use clap::Args;
use edgebench_report::engines_view;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct EnginesArgs {
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: EnginesArgs) -> Result<ExitCode> {
    let rows = edgebench_engines::statuses();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in &rows {
        let library = r.library.as_deref();
        let view = engines_view::engine(r.name, &r.availability, library, &r.variants);
        print!("{view}");
    }
    Ok(ExitCode::SUCCESS)
}
