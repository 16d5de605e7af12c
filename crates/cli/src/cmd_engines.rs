//! `edgebench engines`.

use anyhow::Result;
use clap::Args;
use edgebench_core::engine::Availability;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct EnginesArgs {
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct EngineRow {
    name: &'static str,
    availability: Availability,
    variants: Vec<edgebench_core::engine::VariantInfo>,
}

pub fn run(a: EnginesArgs) -> Result<ExitCode> {
    let rows: Vec<EngineRow> = edgebench_engines::all()
        .iter()
        .map(|e| EngineRow {
            name: e.name(),
            availability: e.availability(),
            variants: e.variants(),
        })
        .collect();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in &rows {
        match &r.availability {
            Availability::Available { version, devices } => {
                println!(
                    "{} {version}: available (devices: {})",
                    r.name,
                    devices.join(", ")
                )
            }
            Availability::Unavailable { reason, fix } => {
                println!("{}: not available: {reason}; {fix}", r.name)
            }
            Availability::NotCompiled { feature } => {
                println!("{}: not compiled in: rebuild with `cargo build --release --features {feature}`", r.name)
            }
        }
        for v in &r.variants {
            println!("  {:<24} {}", v.spec, v.description);
        }
    }
    Ok(ExitCode::SUCCESS)
}
