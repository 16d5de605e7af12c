//! `edgebench worker --job FILE` (hidden): the child process of `edgebench study`. Runs one
//! job and writes its result files; progress goes to stdout as JSON lines for the parent.

use anyhow::{Context, Result};
use clap::Args;
use edgebench_study::worker::{self, WorkerJob};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The job file written by `edgebench study`.
    #[arg(long, value_name = "FILE")]
    pub job: PathBuf,
    /// The study's `--max-memory`, passed on.
    #[command(flatten)]
    pub memory: crate::memory_args::MemoryArgs,
}

pub fn run(a: WorkerArgs) -> Result<ExitCode> {
    let bytes = std::fs::read(&a.job)
        .with_context(|| format!("cannot read job file {}", a.job.display()))?;
    let job: WorkerJob = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a worker job written by `edgebench study`",
            a.job.display()
        )
    })?;
    // The parent holds our stdin open while it lives: when it dies (even by SIGKILL) the pipe
    // closes and this worker stops too, instead of running on unobserved, and so do the
    // process groups it started (a PyTorch worker, trtexec, ffmpeg): exit runs no destructors.
    std::thread::spawn(|| {
        use std::io::Read;
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        edgebench_core::process::kill_all_groups();
        std::process::exit(3);
    });
    let mut stdout = std::io::stdout().lock();
    worker::run(&job, &a.memory.limit(), &mut |p| {
        if let Ok(line) = serde_json::to_string(&p) {
            // The parent may have stopped reading; progress is best effort.
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
