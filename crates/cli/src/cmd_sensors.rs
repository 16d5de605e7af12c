//! `edgebench sensors`: the power, energy, clock and throttle sensors edgebench can read on
//! this machine, one reading of each, and why each missing source is missing; on a Jetson, the
//! board state every result records (power mode, jetson_clocks, clocks, fan).

use anyhow::Result;
use clap::Args;
use edgebench_core::telemetry::tegra_board::BoardOptions;
use edgebench_core::telemetry::{self, ProbeOptions, Quantity};
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
    if doc.channels.is_empty() {
        println!("no sensor can be read here: energy and throttling will be n/a");
    }
    for r in &doc.channels {
        let c = &r.channel;
        let value = match (r.value, c.quantity) {
            (None, _) => "n/a (this reading failed)".to_owned(),
            (Some(v), Quantity::PowerW) => format!("{v:.1} W"),
            (Some(_), Quantity::EnergyJ) => "counter".to_owned(),
            (Some(v), Quantity::ClockMhz) => format!("{v:.0} MHz"),
            (Some(v), Quantity::TemperatureC) => format!("{v:.0} °C"),
            (Some(v), Quantity::UtilizationPct) => format!("{v:.0}%"),
            (Some(v), Quantity::MemoryUsedMib) => format!("{v:.0} MiB"),
            (Some(v), Quantity::ThrottleReasons) => {
                let bits = v as u64;
                let slowing = telemetry::throttle::slowing(bits);
                if slowing.is_empty() {
                    format!("0x{bits:x} (none slowing)")
                } else {
                    format!("0x{bits:x} ({})", slowing.join(", "))
                }
            }
        };
        let total = if matches!(c.quantity, Quantity::PowerW | Quantity::EnergyJ) {
            if c.in_total {
                ", counted in the total"
            } else {
                ", part of another device"
            }
        } else {
            ""
        };
        println!("{} {} ({}{total}): {value}", c.device, c.name, c.source);
    }
    for u in &doc.unavailable {
        println!("{}: n/a: {}", u.source, u.reason);
    }
    if let Some(b) = &doc.board {
        println!("board: {}", b.summary());
        if let (Some(short), Some(fix)) = (&b.shortfall, &b.fix) {
            println!("board: not in its maximum-performance mode ({short}); run `{fix}` before benchmarking");
        }
        for note in &b.notes {
            println!("board: n/a: {note}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
