//! `edgebench slurm`: write (or submit) a study as Slurm job arrays, one shard per task, and
//! the merge job that waits for them (`edgebench_study::slurm`).

use anyhow::{bail, Context, Result};
use clap::Args;
use edgebench_study::slurm::{self, DeviceKind, Request, Scripts, SlurmError, Submitted};
use std::path::{Path, PathBuf};
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
    if !a.config.is_file() {
        bail!(
            "--config {}: no such file: give the study's TOML config (see examples/study.toml)",
            a.config.display()
        );
    }
    let cfg = edgebench_study::config::load(&a.config)?;
    let config = a
        .config
        .canonicalize()
        .with_context(|| format!("--config {}", a.config.display()))?;
    let out = std::path::absolute(&a.out).with_context(|| format!("--out {}", a.out.display()))?;
    let edgebench = match &a.edgebench {
        Some(p) => {
            if !p.is_file() {
                bail!(
                    "--edgebench {}: no such file: give the path of the edgebench binary the nodes run",
                    p.display()
                );
            }
            std::path::absolute(p).with_context(|| format!("--edgebench {}", p.display()))?
        }
        None => std::env::current_exe().context(
            "cannot find this edgebench binary: give the one the nodes run with --edgebench PATH",
        )?,
    };
    let mut devices = a
        .devices
        .iter()
        .map(|d| d.parse::<DeviceKind>())
        .collect::<std::result::Result<Vec<_>, SlurmError>>()?;
    for d in &mut devices {
        if let Some(p) = &d.edgebench {
            if !p.is_file() {
                bail!(
                    "--device {}: edgebench:{}: no such file: give the path of the edgebench binary this device's nodes run",
                    d.name,
                    p.display()
                );
            }
            d.edgebench =
                Some(std::path::absolute(p).with_context(|| format!("--device {}", d.name))?);
        }
    }
    let tool = crate::tool_info();
    let req = Request {
        config,
        study_name: cfg.name.clone(),
        units: cfg.models.len() * cfg.batch.len().max(1),
        shards: a.shards,
        max_parallel: a.max_parallel,
        partition: a.partition.clone(),
        gres: a.gres.clone(),
        devices,
        out,
        edgebench,
        exclusive: !a.share_nodes,
        tool: format!("{} {} ({})", tool.name, tool.version, tool.git_commit),
    };
    let scripts = slurm::scripts(&req)?;
    // sbatch is looked for before anything is written, so that a refusal leaves no files.
    let sbatch = match a.submit {
        true => Some(find_sbatch(&scripts)?),
        false => None,
    };
    slurm::write(&scripts)?;
    let submitted = match &sbatch {
        Some(sbatch) => Some(slurm::submit(&scripts, sbatch)?),
        None => None,
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json(&req, &scripts, submitted.as_ref()))?
        );
    } else {
        print!("{}", text(&req, &scripts, submitted.as_ref()));
    }
    Ok(ExitCode::SUCCESS)
}

/// `sbatch` on PATH, as a path.
fn find_sbatch(scripts: &Scripts) -> Result<PathBuf, SlurmError> {
    let dir = scripts
        .merge
        .path
        .parent()
        .unwrap_or(Path::new("."))
        .display()
        .to_string();
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("sbatch"))
        .find(|p| p.is_file())
        .ok_or(SlurmError::SbatchMissing {
            reason: "not on PATH".into(),
            dir,
        })
}

fn text(req: &Request, s: &Scripts, submitted: Option<&Submitted>) -> String {
    let mut out = String::new();
    let n = req.shards;
    let at_once = req
        .max_parallel
        .map(|k| format!(", at most {k} at a time"))
        .unwrap_or_default();
    for a in &s.arrays {
        out.push_str(&format!(
            "wrote {}: device {}, shards 1-{n} of the study `{}`{at_once}\n",
            a.script.path.display(),
            a.device,
            req.study_name
        ));
    }
    out.push_str(&format!(
        "wrote {}: merges the shards into {}\n",
        s.merge.path.display(),
        s.merged.display()
    ));
    match submitted {
        None => {
            out.push_str("submit them (or run this again with --submit):\n");
            let mut ids = vec![];
            for (i, a) in s.arrays.iter().enumerate() {
                out.push_str(&format!(
                    "  a{}=$(sbatch --parsable {})\n",
                    i + 1,
                    slurm::shell_quote(&a.script.path.to_string_lossy())
                ));
                ids.push(format!("${{a{}%%;*}}", i + 1));
            }
            out.push_str(&format!(
                "  sbatch --dependency=afterok:{} {}\n",
                ids.join(":"),
                slurm::shell_quote(&s.merge.path.to_string_lossy())
            ));
        }
        Some(sub) => {
            for a in &sub.arrays {
                out.push_str(&format!(
                    "submitted device {}: job array {} (tasks 1-{n})\n",
                    a.device, a.job_id
                ));
            }
            let ids: Vec<&str> = sub.arrays.iter().map(|a| a.job_id.as_str()).collect();
            out.push_str(&format!(
                "submitted the merge: job {}, once every task of {} has succeeded\n",
                sub.merge,
                ids.join(", ")
            ));
            out.push_str(&format!(
                "logs in {}; the merged study will be in {}\n",
                s.logs.display(),
                s.merged.display()
            ));
        }
    }
    out
}

fn json(req: &Request, s: &Scripts, submitted: Option<&Submitted>) -> serde_json::Value {
    serde_json::json!({
        "shards": req.shards,
        "arrays": s.arrays.iter().map(|a| serde_json::json!({
            "device": a.device,
            "script": a.script.path,
            "shard_dirs": a.shard_dirs,
        })).collect::<Vec<_>>(),
        "merge_script": s.merge.path,
        "merged": s.merged,
        "logs": s.logs,
        "submitted": submitted,
    })
}
