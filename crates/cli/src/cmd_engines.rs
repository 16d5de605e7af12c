//! `edgebench engines`: every engine and variant this build knows, whether it can run here,
//! its version, the devices or execution providers it sees, where its library was found, and
//! for each one that cannot run, why and the one command that makes it available.

use anyhow::Result;
use clap::Args;
use edgebench_core::engine::Availability;
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
        match &r.availability {
            Availability::Available { version, devices } => {
                println!("{} {version}: available ({})", r.name, devices.join(", "));
                if let Some(lib) = &r.library {
                    println!("  library: {lib}");
                }
            }
            Availability::Unavailable { reason, fix } => {
                println!("{}: not available: {reason}", r.name);
                println!("  fix: {fix}");
            }
            Availability::NotCompiled { feature } => {
                println!("{}: not compiled into this build", r.name);
                println!("  fix: {}", Availability::not_compiled_fix(feature));
            }
        }
        for v in &r.variants {
            println!("  {:<40} {}", v.spec, v.description);
        }
    }
    Ok(ExitCode::SUCCESS)
}
