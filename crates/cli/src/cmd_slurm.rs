//! `edgebench slurm`: write (or submit) a study as Slurm job arrays, one shard per task, and
//! the merge job that waits for them (`edgebench_study::slurm`).

use anyhow::Result;
use clap::Args;
use edgebench_study::slurm;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// The study config (TOML), as `edgebench study --config` reads it.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Split the study into this many shards, one array task each (a shard runs whole models
    /// at a batch size, so at most models x batch sizes).
    #[arg(long, value_name = "N")]
    pub shards: usize,
    /// The partition of every device that names none, and of the merge job.
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// Generic resources of every device that names none, e.g. gpu:1 (not for the merge).
    #[arg(long, value_name = "GRES")]
    pub gres: Option<String>,
    /// Run at most K tasks of each array at once (--array=1-N%K).
    #[arg(long, value_name = "K")]
    pub max_parallel: Option<usize>,
    /// A device kind and where it runs: NAME, NAME=partition:P, NAME=constraint:C (several
    /// joined by commas, also gres:G and edgebench:PATH, the binary its nodes run). One job
    /// array per device; each measures the whole study. Default: one device named after
    /// --partition (else `slurm`).
    #[arg(long = "device", value_name = "NAME[=partition:P|constraint:C]")]
    pub devices: Vec<String>,
    /// The study's folder: OUT/DEVICE/shard-I per task, OUT/merged, OUT/slurm (scripts, logs).
    #[arg(long, default_value = "study-out", value_name = "DIR")]
    pub out: PathBuf,
    /// The edgebench binary the tasks run, on a file system every node sees (default: this
    /// one).
    #[arg(long, value_name = "PATH")]
    pub edgebench: Option<PathBuf>,
    /// Let other jobs share a node with a shard (no --exclusive): faster to schedule, but
    /// their load shows up in the timings.
    #[arg(long)]
    pub share_nodes: bool,
    /// Submit the arrays and the merge with sbatch, and print their job ids.
    #[arg(long)]
    pub submit: bool,
    /// Print what was written (and submitted) as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: SlurmArgs) -> Result<ExitCode> {
    let tool = crate::tool_info();
    let given = slurm::Given {
        config: a.config,
        shards: a.shards,
        max_parallel: a.max_parallel,
        partition: a.partition,
        gres: a.gres,
        devices: a.devices,
        out: a.out,
        edgebench: a.edgebench,
        exclusive: !a.share_nodes,
        tool: format!("{} {} ({})", tool.name, tool.version, tool.git_commit),
    };
    let cfg = slurm::load_config(&given)?;
    let req = slurm::request(given, &cfg)?;
    let scripts = slurm::scripts(&req)?;
    // sbatch is looked for before anything is written, so that a refusal leaves no files.
    let sbatch = match a.submit {
        true => Some(slurm::find_sbatch(&scripts)?),
        false => None,
    };
    slurm::write(&scripts)?;
    let submitted = match &sbatch {
        Some(sbatch) => Some(slurm::submit(&scripts, sbatch)?),
        None => None,
    };
    if a.json {
        let doc = slurm::summary_json(&req, &scripts, submitted.as_ref());
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!(
            "{}",
            slurm::summary_text(&req, &scripts, submitted.as_ref())
        );
    }
    Ok(ExitCode::SUCCESS)
}
