//! `edgebench roofline [-e SPEC...] [--refresh] [--json]`: the compute and bandwidth roofs of
//! each engine variant on this host, measured through that variant (`core::roofline`) and
//! cached per host, spec, engine version and threads.

use anyhow::Result;
use clap::Args;
use edgebench_core::engine::EngineSpec;
use edgebench_core::roofline::{self, RoofCache, RoofOptions, RoofProgress, RoofSizes};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct RooflineArgs {
    /// Engine variant whose roofs to print, NAME[:VARIANT][,KEY=VALUE...] (repeatable; see
    /// `edgebench engines`). Default: every variant that can run here, PyTorch left out.
    #[arg(long = "engine", short = 'e', value_name = "SPEC")]
    pub engines: Vec<String>,
    /// Measure again even where the cache holds roofs.
    #[arg(long)]
    pub refresh: bool,
    /// Threads the engine may use (default: the number of physical cores, as `bench`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// Side of the compute roof's square matrices (tests use small ones).
    #[arg(long, hide = true, default_value_t = RoofSizes::default().matmul_n as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub matmul_n: u64,
    /// Values per operand of the bandwidth roof's Add (tests use few).
    #[arg(long, hide = true, default_value_t = RoofSizes::default().elements as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub elements: u64,
}

pub fn run(a: RooflineArgs) -> Result<ExitCode> {
    // Every spec is checked (valid, can run here) before anything is measured.
    let variants = if a.engines.is_empty() {
        edgebench_engines::available_variants()?
            .into_iter()
            .filter(|(s, _)| s.engine != "torch")
            .collect()
    } else {
        let mut v = vec![];
        for s in &a.engines {
            let spec = EngineSpec::parse(s)?;
            let engine = edgebench_engines::ready(&spec)?;
            v.push((spec, engine));
        }
        v
    };
    let pairs: Vec<_> = variants.iter().map(|(s, e)| (e.as_ref(), s)).collect();
    let opts = RoofOptions {
        sizes: RoofSizes {
            matmul_n: a.matmul_n as usize,
            elements: a.elements as usize,
        },
        threads: a.threads.map(|t| t as usize),
        refresh: a.refresh,
        ..RoofOptions::default()
    };
    let host = edgebench_core::host::HostInfo::detect();
    let mut progress = |p: RoofProgress| match p {
        RoofProgress::Measuring { spec, roof } => eprintln!("measuring the {roof} roof of {spec}"),
    };
    let outcomes = roofline::run(&pairs, &host, &RoofCache::default(), &opts, &mut progress);
    let failed = outcomes.iter().any(|(_, r)| r.is_err());
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&edgebench_report::roofline_chart::roofs_json(&outcomes))?
        );
    } else {
        print!(
            "{}",
            edgebench_report::roofline_chart::roofs_text(&outcomes)
        );
    }
    for (spec, r) in &outcomes {
        if let Err(e) = r {
            eprintln!(
                "edgebench: error: {spec}: {}",
                edgebench_core::error::one_line(e)
            );
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
