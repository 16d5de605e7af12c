//! `edgebench sensors`: the power, energy, clock and throttle sensors edgebench can read on
//! this machine, one reading of each, and why each missing source is missing; on a Jetson, the
//! board state every result records (power mode, jetson_clocks, clocks, fan).

use anyhow::Result;
use clap::Args;
use edgebench_core::telemetry::tegra_board::BoardOptions;
use edgebench_core::telemetry::{self, ProbeOptions};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SensorsArgs {
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: SensorsArgs) -> Result<ExitCode> {
    let doc = telemetry::readings::read_all(&ProbeOptions::default(), &BoardOptions::default());
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", edgebench_report::sensors_view::text(&doc));
    Ok(ExitCode::SUCCESS)
}
