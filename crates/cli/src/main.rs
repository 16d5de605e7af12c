//! The `edgebench` binary: argument parsing, rendering and exit codes. Measurement and
//! analysis live in the library crates; this crate only wires them and prints.
//!
//! Exit codes: 0 success, 1 a gate failed (accuracy), 2 bad usage or bad input.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cmd_bench;
mod cmd_compare;
mod cmd_engines;
mod cmd_export;
mod cmd_inspect;
mod cmd_pipeline;
mod cmd_report;
mod cmd_sensors;
mod cmd_study;
mod cmd_video;
mod cmd_worker;
mod cmd_zoo;
mod memory_args;
mod shared;
mod source;

/// How fast does this model run on this device, before and after optimization, and is it
/// fast enough for real time?
#[derive(Debug, Parser)]
#[command(name = "edgebench", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("EDGEBENCH_GIT_COMMIT"), ")"))]
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
    /// Run a matrix of models x engine variants and write a study folder with its reports.
    Study(cmd_study::StudyArgs),
    /// Rebuild a study's reports from its results.jsonl, without measuring again.
    Report(cmd_report::ReportArgs),
    /// Compare two studies (or two bench JSON files) variant by variant.
    Compare(cmd_compare::CompareArgs),
    /// Real-time video recognition from a stream to a label, every stage measured.
    Video(cmd_video::VideoArgs),
    /// Run one job of a study (started by `edgebench study`).
    #[command(hide = true)]
    Worker(cmd_worker::WorkerArgs),
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`edgebench ... | head`) would
    // panic; the default action ends the process quietly, as other command-line tools do.
    // SAFETY: called once, before any other thread exists, with a valid handler constant.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
        Command::Study(a) => cmd_study::run(a),
        Command::Report(a) => cmd_report::run(a),
        Command::Compare(a) => cmd_compare::run(a),
        Command::Video(a) => cmd_video::run(a),
        Command::Worker(a) => cmd_worker::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("edgebench: error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
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
