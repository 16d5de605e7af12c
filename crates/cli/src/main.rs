//! The `edgebench` binary: argument parsing, rendering and exit codes. Measurement and
//! analysis live in the library crates; this crate only wires them and prints.
//!
//! Exit codes ([`EXIT_CODES`], also in `--help`): 0 success; 1 a failed gate, regression or
//! variant; 2 bad usage or bad input; 3 an I/O or internal failure during a run. Errors are
//! classified by their type ([`exit_code`]), never by their text.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cmd_bench;
mod cmd_compare;
mod cmd_engines;
mod cmd_export;
mod cmd_inspect;
mod cmd_merge;
mod cmd_optimize;
mod cmd_pipeline;
mod cmd_prune;
mod cmd_quantize;
mod cmd_report;
mod cmd_roofline;
mod cmd_sensors;
mod cmd_slurm;
mod cmd_study;
mod cmd_video;
mod cmd_worker;
mod cmd_zoo;
mod memory_args;
mod scenario_args;
mod shared;
mod source;

/// How fast does this model run on this device, before and after optimization, and is it
/// fast enough for real time?
#[derive(Debug, Parser)]
#[command(name = "edgebench", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("EDGEBENCH_GIT_COMMIT"), ")"), after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// ONNX Runtime library to load (else ORT_DYLIB_PATH, the onnxruntime Python package,
    /// then the system library paths).
    #[arg(long, global = true, value_name = "PATH")]
    ort_lib: Option<std::path::PathBuf>,
    /// OpenVINO C library to load (else OPENVINO_LIB, the openvino Python package, then the
    /// system library paths).
    #[arg(long, global = true, value_name = "PATH")]
    openvino_lib: Option<std::path::PathBuf>,
    /// Python that runs the PyTorch worker (else EDGEBENCH_PYTHON, then python3 on PATH).
    #[arg(long, global = true, value_name = "PATH")]
    python: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a model on one or more engine variants and measure it.
    Bench(cmd_bench::BenchArgs),
    /// Show what is inside a model without running it: shapes, parameters, MACs.
    Inspect(cmd_inspect::InspectArgs),
    /// List the engines and variants this build knows, and whether they can run here.
    Engines(cmd_engines::EnginesArgs),
    /// List the power, energy, clock and throttle sensors readable here (and why others are not).
    Sensors(cmd_sensors::SensorsArgs),
    /// Export a PyTorch model (torchvision or your own module) to ONNX.
    Export(cmd_export::ExportArgs),
    /// PyTorch baseline -> ONNX export -> every engine, with the accuracy gate and speed-ups.
    Pipeline(cmd_pipeline::PipelineArgs),
    /// The built-in models of the study: list them, export them as ONNX.
    Zoo(cmd_zoo::ZooArgs),
    /// Quantize a model to int8 (QDQ ONNX) with ONNX Runtime's post-training static
    /// quantization, calibrated on an image folder or synthetic inputs.
    Quantize(cmd_quantize::QuantizeArgs),
    /// Prune a PyTorch model's channels (Torch-Pruning) at one or more ratios, export each,
    /// count its MACs and optionally measure it against the unpruned model.
    Prune(cmd_prune::PruneArgs),
    /// Run a matrix of models x engine variants and write a study folder with its reports.
    Study(cmd_study::StudyArgs),
    /// Search engines, precisions, threads, batch sizes and engine options for the fastest
    /// configuration that passes the accuracy gate, racing candidates on confidence intervals.
    Optimize(cmd_optimize::OptimizeArgs),
    /// Rebuild a study's reports from its results.jsonl, without measuring again.
    Report(cmd_report::ReportArgs),
    /// Compare two studies (or two bench JSON files) variant by variant.
    Compare(cmd_compare::CompareArgs),
    /// Join the folders of a study's shards (`study --shard`, one device or many) into one
    /// study folder with its reports, each device apart.
    Merge(cmd_merge::MergeArgs),
    /// Write (or submit) a study as Slurm job arrays, one shard per task, and the job that
    /// merges the shards once every task has succeeded.
    Slurm(cmd_slurm::SlurmArgs),
    /// The compute and bandwidth roofs of engine variants on this host, measured through each
    /// variant and cached: the ceilings every result's roofline is drawn against.
    Roofline(cmd_roofline::RooflineArgs),
    /// Real-time video recognition from a stream to a label, every stage measured.
    Video(cmd_video::VideoArgs),
    /// Run one job of a study (started by `edgebench study`).
    #[command(hide = true)]
    Worker(cmd_worker::WorkerArgs),
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    edgebench_engines::set_library_paths(edgebench_engines::LibraryPaths {
        ort: cli.ort_lib.clone(),
        openvino: cli.openvino_lib.clone(),
    });
    edgebench_torch::set_python(cli.python.clone());
    let result = match cli.command {
        Command::Bench(a) => cmd_bench::run(a),
        Command::Inspect(a) => cmd_inspect::run(a),
        Command::Engines(a) => cmd_engines::run(a),
        Command::Sensors(a) => cmd_sensors::run(a),
        Command::Export(a) => cmd_export::run(a),
        Command::Pipeline(a) => cmd_pipeline::run(a),
        Command::Zoo(a) => cmd_zoo::run(a),
        Command::Quantize(a) => cmd_quantize::run(a),
        Command::Prune(a) => cmd_prune::run(a),
        Command::Study(a) => cmd_study::run(a),
        Command::Optimize(a) => cmd_optimize::run(a),
        Command::Report(a) => cmd_report::run(a),
        Command::Compare(a) => cmd_compare::run(a),
        Command::Merge(a) => cmd_merge::run(a),
        Command::Slurm(a) => cmd_slurm::run(a),
        Command::Roofline(a) => cmd_roofline::run(a),
        Command::Video(a) => cmd_video::run(a),
        Command::Worker(a) => cmd_worker::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("edgebench: error: {}", one_line(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// A reader that closes edgebench's output early (`edgebench zoo list | head -1`) ends it
/// quietly with status 0, as ripgrep does. SIGPIPE stays ignored (Rust's default): with its
/// default action restored, writing a request to a PyTorch worker or ffmpeg that had just
/// exited killed edgebench itself, with no message and no results. A closed pipe to a child
/// is an `EPIPE` error its owner handles; a closed stdout or stderr makes `println!` panic
/// with "failed printing to stdout: Broken pipe", which this hook turns into the quiet exit.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// The exit codes, as `--help` lists them.
const EXIT_CODES: &str = "Exit codes:
  0  success
  1  a variant failed the accuracy gate, failed to run or could not be verified; compare
     found a regression; video --fail-if-slow found the pipeline too slow
  2  bad usage or bad input: a flag, a missing or broken file, an unsupported model or
     operator, a wrong shape, an engine that is not available, a study folder in use
  3  an I/O or internal failure during a run: an output file or study folder that cannot
     be written (disk full, no permission), a study's results that cannot be read back";

/// Bad usage or input (clap's own code for a bad flag too).
const EXIT_USAGE: u8 = 2;
/// An I/O or internal failure during a run.
const EXIT_IO: u8 = 3;

/// The exit code of an error, by the type of the first error in its chain that edgebench
/// knows: writing an output ([`edgebench_core::Error::Write`]) and the study's file I/O
/// ([`edgebench_study::Error::Io`]) are I/O failures; everything else, typed or not (the
/// commands' own checks of flags and files), is bad usage or input.
fn exit_code(e: &anyhow::Error) -> u8 {
    use edgebench_core::Error as Core;
    let core = |c: &Core| match c {
        Core::Write { .. } => EXIT_IO,
        _ => EXIT_USAGE,
    };
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<Core>() {
            return core(c);
        }
        if let Some(s) = cause.downcast_ref::<edgebench_study::Error>() {
            return match s {
                edgebench_study::Error::Io { .. } => EXIT_IO,
                edgebench_study::Error::Core(c) => core(c),
                _ => EXIT_USAGE,
            };
        }
        if let Some(edgebench_video::VideoError::Core(c)) = cause.downcast_ref() {
            return core(c);
        }
        if cause.is::<std::io::Error>() {
            return EXIT_IO;
        }
    }
    EXIT_USAGE
}

/// An error chain on one line, outermost context first.
fn one_line(e: &anyhow::Error) -> String {
    edgebench_core::error::one_line(&format!("{e:#}"))
}

/// Provenance of this binary.
pub fn tool_info() -> edgebench_core::schema::ToolInfo {
    edgebench_core::schema::ToolInfo {
        name: "edgebench".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        git_commit: env!("EDGEBENCH_GIT_COMMIT").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
