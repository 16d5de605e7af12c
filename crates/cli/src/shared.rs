//! What `bench` and `pipeline` share: measurement and gate flags, output flags and exports,
//! and the progress spinner.

use anyhow::{bail, Result};
use clap::Args;
use edgebench_core::bench::{run_variants, BenchOptions, VariantRun};
use edgebench_core::engine::{Engine, EngineSpec};
use edgebench_core::gate::ToleranceOverride;
use edgebench_core::measure::MeasureOptions;
use edgebench_core::model::Model;
use edgebench_core::schema::{BenchReport, VariantResult};
use edgebench_core::tensor::ConcreteSpec;
use edgebench_report::bench_progress::round_progress;
use edgebench_report::{write_bench, BenchOutputs, PartialBench};
use edgebench_telemetry::{ProbeOptions, Telemetry, TelemetrySettings};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Warm-up, sampling, real-time and accuracy-gate flags.
#[derive(Debug, Args)]
pub struct MeasureArgs {
    /// Warm-up time in seconds (at least --min-warmup-runs runs).
    #[arg(long, default_value_t = MeasureOptions::default().warmup_s, value_name = "SECONDS")]
    pub warmup: f64,
    #[arg(long, default_value_t = MeasureOptions::default().min_warmup_runs)]
    pub min_warmup_runs: usize,
    /// Fewest samples before the confidence target may stop sampling.
    #[arg(long, default_value_t = MeasureOptions::default().min_samples)]
    pub min_samples: usize,
    #[arg(long, default_value_t = MeasureOptions::default().max_samples)]
    pub max_samples: usize,
    /// Most seconds of sampling per variant.
    #[arg(long, default_value_t = MeasureOptions::default().max_time_s, value_name = "SECONDS")]
    pub max_time: f64,
    /// Stop when the 95% CI of the median is within this many percent of the median.
    #[arg(long, default_value_t = MeasureOptions::default().target_rel_ci * 100.0, value_name = "PERCENT")]
    pub target_ci: f64,
    /// Interleaved rounds (A B A B ...) over which the variants are measured: speed-ups and
    /// their intervals come from the rounds, so they cover the variation between runs
    /// (--max-time is shared out over the rounds).
    #[arg(long, default_value_t = edgebench_core::bench::DEFAULT_ROUNDS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub rounds: usize,
    /// Real-time target in frames per second.
    #[arg(long, default_value_t = edgebench_core::realtime::DEFAULT_TARGET_FPS)]
    pub fps: f64,
    /// Random input sets the accuracy gate compares.
    #[arg(long, default_value_t = edgebench_core::bench::DEFAULT_GATE_INPUT_SETS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub gate_inputs: usize,
    /// Absolute tolerance of the accuracy gate (replaces only the per-precision atol).
    #[arg(long)]
    pub atol: Option<f64>,
    /// Relative tolerance of the accuracy gate (replaces only the per-precision rtol).
    #[arg(long)]
    pub rtol: Option<f64>,
    /// Report accuracy-gate failures without failing the command (exit 0 instead of 1).
    #[arg(long)]
    pub no_gate: bool,
}

impl MeasureArgs {
    /// Rejects numbers no measurement can use, naming the flag.
    pub fn check(&self) -> Result<()> {
        check_numbers(&[
            ("--warmup", self.warmup, true),
            ("--max-time", self.max_time, false),
            ("--target-ci", self.target_ci, false),
            ("--fps", self.fps, false),
        ])?;
        if self.min_samples > self.max_samples {
            bail!(
                "--min-samples {} is more than --max-samples {}: lower one of them",
                self.min_samples,
                self.max_samples
            );
        }
        Ok(())
    }

    pub fn options(&self) -> MeasureOptions {
        MeasureOptions {
            warmup_s: self.warmup,
            min_warmup_runs: self.min_warmup_runs.max(1),
            min_samples: self.min_samples,
            max_samples: self.max_samples.max(1),
            max_time_s: self.max_time,
            target_rel_ci: self.target_ci / 100.0,
            min_time_s: 0.0,
        }
    }

    /// What `--atol`/`--rtol` change in the per-precision tolerance (only what they name).
    pub fn tolerance(&self) -> ToleranceOverride {
        ToleranceOverride {
            atol: self.atol,
            rtol: self.rtol,
        }
    }
}

/// Refuses a flag's number that is not finite, negative, or zero where `zero_ok` is false.
fn check_numbers(flags: &[(&str, f64, bool)]) -> Result<()> {
    for &(flag, v, zero_ok) in flags {
        if !v.is_finite() || v < 0.0 || (!zero_ok && v == 0.0) {
            bail!(
                "{flag} {v}: must be a {} number",
                if zero_ok { "non-negative" } else { "positive" }
            );
        }
    }
    Ok(())
}

/// Power, energy and throttle telemetry flags.
#[derive(Debug, Args)]
pub struct TelemetryArgs {
    /// Do not sample power, clocks or throttling.
    #[arg(long)]
    pub no_telemetry: bool,
    /// Milliseconds between telemetry readings.
    #[arg(
        long,
        default_value_t = 50.0,
        value_name = "MS",
        allow_negative_numbers = true
    )]
    pub telemetry_period: f64,
    /// Seconds of idle power measured before the run, for "above idle" figures (0: none).
    #[arg(
        long,
        default_value_t = 2.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub idle_time: f64,
    /// Where a power sensor exists, sample each variant at least this long (sensors average
    /// over up to a second).
    #[arg(
        long,
        default_value_t = 2.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub energy_min_time: f64,
    /// Grid carbon intensity in grams of CO2 per kWh, for a CO2 estimate per inference.
    #[arg(long, value_name = "G_PER_KWH", allow_negative_numbers = true)]
    pub grid_gco2_per_kwh: Option<f64>,
}

impl TelemetryArgs {
    pub fn check(&self) -> Result<()> {
        check_numbers(&[
            ("--telemetry-period", self.telemetry_period, false),
            ("--idle-time", self.idle_time, true),
            ("--energy-min-time", self.energy_min_time, true),
            (
                "--grid-gco2-per-kwh",
                self.grid_gco2_per_kwh.unwrap_or(1.0),
                true,
            ),
        ])
    }

    pub fn settings(&self) -> TelemetrySettings {
        TelemetrySettings {
            period_ms: self.telemetry_period,
            idle_s: self.idle_time,
            min_time_s: self.energy_min_time,
            grid_gco2_per_kwh: self.grid_gco2_per_kwh,
        }
    }

    /// Opens the machine's sensors and measures idle power (with a spinner); `None` with
    /// `--no-telemetry`.
    pub fn open(&self, quiet: bool) -> Option<Arc<Telemetry>> {
        if self.no_telemetry {
            return None;
        }
        let settings = self.settings();
        let mut t = Telemetry::open(&settings, &ProbeOptions::default());
        if t.has_power() && settings.idle_s > 0.0 {
            let bar = spinner(quiet, "idle power");
            bar.set_message(format!("measuring for {:.1} s", settings.idle_s));
            t.measure_idle(Duration::from_secs_f64(settings.idle_s));
            bar.finish_and_clear();
        }
        Some(Arc::new(t))
    }

    /// The least sampling time per variant that `telemetry`'s sensors need (0 without a
    /// power sensor or telemetry).
    pub fn min_sampling_s(&self, telemetry: Option<&Telemetry>) -> f64 {
        telemetry.map_or(0.0, |t| t.min_sampling_s(&self.settings()))
    }
}

/// The options every variant of a `bench` or `pipeline` run shares: the sensors opened (and
/// idle power measured) first, sampling at least as long as they need, the batch read from the
/// inputs' first dimension.
pub fn bench_options(
    measure: &MeasureArgs,
    telemetry: &TelemetryArgs,
    quiet: bool,
    inputs: &[ConcreteSpec],
    threads: Option<usize>,
    seed: u64,
) -> BenchOptions {
    let tel = telemetry.open(quiet);
    BenchOptions {
        batch: inputs
            .first()
            .and_then(|i| i.shape.first().copied())
            .unwrap_or(1),
        inputs: inputs.to_vec(),
        threads,
        seed,
        measure: MeasureOptions {
            min_time_s: telemetry.min_sampling_s(tel.as_deref()),
            ..measure.options()
        },
        rounds: measure.rounds,
        target_fps: measure.fps,
        gate_input_sets: measure.gate_inputs,
        telemetry: tel,
        scenario: None,
    }
}

/// Where results go.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print one JSON document on stdout and nothing else.
    #[arg(long)]
    pub json: bool,
    /// Write the JSON document (raw samples included) to FILE.
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,
    /// Write one CSV row per variant to FILE.
    #[arg(long, value_name = "FILE")]
    pub export_csv: Option<PathBuf>,
    /// Write a Markdown table to FILE.
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

impl OutputArgs {
    /// Every export path given, with its flag.
    pub fn export_paths(&self) -> impl Iterator<Item = (&'static str, &PathBuf)> {
        [
            ("--export-json", &self.export_json),
            ("--export-csv", &self.export_csv),
            ("--export-markdown", &self.export_markdown),
        ]
        .into_iter()
        .filter_map(|(flag, p)| p.as_ref().map(|p| (flag, p)))
    }

    /// The files the exports go to.
    pub fn outputs(&self) -> BenchOutputs {
        BenchOutputs {
            json: self.export_json.clone(),
            csv: self.export_csv.clone(),
            markdown: self.export_markdown.clone(),
        }
    }
}

/// Measures the variants in interleaved rounds with a spinner, rewriting the exports after
/// each round so that an interrupted run keeps what it measured.
pub fn measure_variants(
    specs: &[EngineSpec],
    engines: &[Box<dyn Engine>],
    model: &Model,
    opts: &BenchOptions,
    report: &BenchReport,
    output: &OutputArgs,
) -> Result<Vec<VariantRun>> {
    let variants: Vec<(&dyn Engine, &EngineSpec)> = engines
        .iter()
        .map(|e| e.as_ref())
        .zip(specs.iter())
        .collect();
    let bar = spinner(output.quiet, "");
    // Partial results are only built when there is an export to keep them in.
    let outputs = output.outputs();
    let mut partial = PartialBench::new(report, &outputs);
    let mut write_partial = |results: &[VariantResult]| partial.write(results);
    let runs = run_variants(
        &variants,
        model,
        opts,
        &mut |p| {
            let (prefix, message) = round_progress(&p, specs);
            bar.set_prefix(prefix);
            bar.set_message(message);
        },
        outputs
            .any()
            .then_some(&mut write_partial as &mut dyn FnMut(&[VariantResult])),
    );
    bar.finish_and_clear();
    partial.finish()?;
    Ok(runs)
}

/// Concludes the run (`edgebench_core::bench::conclude`: gate, speed-ups, what failed),
/// writes the exports and prints the table (or the JSON document). Exit 1 when a variant
/// failed to run, could not be verified, or failed an enforced gate, each with its reason on
/// stderr; else 0.
pub fn conclude(
    runs: Vec<VariantRun>,
    reference: usize,
    measure: &MeasureArgs,
    report: BenchReport,
    output: &OutputArgs,
) -> Result<ExitCode> {
    let outcome = edgebench_core::bench::conclude(runs, reference, &measure.tolerance(), report)?;
    write_bench(&outcome.report, &output.outputs())?;
    if output.json {
        println!("{}", serde_json::to_string_pretty(&outcome.report)?);
    } else {
        print!("{}", edgebench_report::table::bench_table(&outcome.report));
        print!(
            "{}",
            edgebench_report::roofline_chart::bench_roofline(&outcome.report)
        );
    }
    let problems = outcome.problems();
    for p in &problems {
        eprintln!("edgebench: {p}");
    }
    Ok(match problems.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    })
}

/// Fails early (before measuring) when an output path cannot be written; the error names
/// the flag that gave it.
pub fn check_writable(flag: &str, path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!(
            "{flag} {}: it is a directory; give a file name",
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "{flag} {}: folder {} does not exist; create it first",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

/// A spinner on stderr (hidden with `--quiet`, and by indicatif when stderr is no terminal).
pub fn spinner(quiet: bool, label: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(label.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
