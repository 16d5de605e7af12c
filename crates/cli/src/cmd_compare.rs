//! `edgebench compare A B`: two studies (or two bench JSON files) variant by variant:
//! improved, regressed or within noise (`edgebench_core::change`: an interval across each
//! run's rounds, beyond a stated noise floor); exit 1 on a regression beyond the threshold.

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use edgebench_core::change::{change, ChangeVerdict, DEFAULT_NOISE_FLOOR};
use edgebench_core::schema::{BenchReport, Status, VariantResult};
use edgebench_report::fmt::ms;
use edgebench_study::results;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Before: a study folder (or its results.jsonl), or a JSON file from `bench --export-json`.
    pub a: PathBuf,
    /// After: the same kind of thing.
    pub b: PathBuf,
    /// Fail (exit 1) when a variant got slower by more than this many percent and the
    /// difference is beyond noise.
    #[arg(long, default_value_t = 5.0, value_name = "PERCENT")]
    pub threshold: f64,
    /// Changes smaller than this many percent are never a verdict, however narrow their
    /// interval (the variation between runs that no run's own statistics see).
    #[arg(long, default_value_t = DEFAULT_NOISE_FLOOR * 100.0, value_name = "PERCENT")]
    pub noise_floor: f64,
    /// Print the comparison as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Entry {
    key: String,
    /// Typical latency of A and B: the geometric mean of the rounds' medians (the median with
    /// one round), the figures the change is computed from.
    a_ms: f64,
    b_ms: f64,
    /// (B / A - 1) x 100: positive is slower.
    change_percent: f64,
    /// A / B with its 95% interval: above 1 is faster.
    speedup: f64,
    ci95_low: f64,
    ci95_high: f64,
    /// "rounds" (across each run's interleaved rounds) or "samples" (one round: the interval
    /// sees no run-to-run variation).
    interval: &'static str,
    verdict: ChangeVerdict,
    regression: bool,
}

#[derive(Debug, Serialize)]
struct Comparison {
    a: String,
    b: String,
    threshold_percent: f64,
    noise_floor_percent: f64,
    entries: Vec<Entry>,
    only_in_a: Vec<String>,
    only_in_b: Vec<String>,
    regressions: usize,
}

/// Measured variants of a study or bench file, by a key that names model, batch and variant.
fn load(p: &Path) -> Result<Vec<(String, VariantResult)>> {
    let file = if p.is_dir() {
        p.join(results::RESULTS_FILE)
    } else {
        p.to_path_buf()
    };
    if !file.is_file() {
        bail!(
            "{}: not a study folder (no results.jsonl) or a bench JSON file; check the path",
            p.display()
        );
    }
    let is_jsonl = file.extension().is_some_and(|e| e == "jsonl");
    if is_jsonl {
        // One entry per variant, its interleaved rounds (one line each) merged.
        let loaded = results::load(&file)?;
        return Ok(edgebench_core::analysis::merged_variants(&loaded)
            .into_iter()
            .map(|m| {
                (
                    format!("{} · batch {} · {}", m.model.label, m.batch, m.spec),
                    m.result,
                )
            })
            .collect());
    }
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let report: BenchReport = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow!(
            "{} is not a bench JSON file ({e}): give a study folder or a file from `edgebench bench --export-json`",
            file.display()
        )
    })?;
    Ok(report
        .results
        .into_iter()
        .map(|r| {
            (
                format!(
                    "{} · batch {} · {}",
                    report.model.path, report.settings.batch, r.spec
                ),
                r,
            )
        })
        .collect())
}

pub fn run(a: CompareArgs) -> Result<ExitCode> {
    for (flag, v) in [
        ("--threshold", a.threshold),
        ("--noise-floor", a.noise_floor),
    ] {
        if !v.is_finite() || v < 0.0 {
            bail!("{flag} {v}: must be a non-negative number of percent");
        }
    }
    let left = load(&a.a)?;
    let right = load(&a.b)?;
    let usable = |r: &VariantResult| r.status == Status::Ok && !r.raw_ms.is_empty();
    let mut entries = vec![];
    let mut only_in_a = vec![];
    for (key, ra) in &left {
        match right.iter().find(|(k, _)| k == key) {
            None => only_in_a.push(key.clone()),
            Some((_, rb)) if usable(ra) && usable(rb) => {
                let Some(c) = change(ra, rb, a.noise_floor / 100.0, 0) else {
                    continue;
                };
                let regression = c.verdict == ChangeVerdict::Regressed && c.percent() > a.threshold;
                entries.push(Entry {
                    key: key.clone(),
                    a_ms: c.a_ms,
                    b_ms: c.b_ms,
                    change_percent: c.percent(),
                    speedup: 1.0 / c.ratio,
                    ci95_low: 1.0 / c.ci95_high,
                    ci95_high: 1.0 / c.ci95_low,
                    interval: c.method,
                    verdict: c.verdict,
                    regression,
                });
            }
            Some(_) => only_in_a.push(format!("{key} (did not run on both sides)")),
        }
    }
    let only_in_b: Vec<String> = right
        .iter()
        .filter(|(k, _)| !left.iter().any(|(l, _)| l == k))
        .map(|(k, _)| k.clone())
        .collect();
    if entries.is_empty() {
        bail!(
            "{} and {} have no measured variant in common (same model, batch and engine spec): compare runs of the same study",
            a.a.display(),
            a.b.display()
        );
    }
    let regressions = entries.iter().filter(|e| e.regression).count();
    let cmp = Comparison {
        a: a.a.display().to_string(),
        b: a.b.display().to_string(),
        threshold_percent: a.threshold,
        noise_floor_percent: a.noise_floor,
        entries,
        only_in_a,
        only_in_b,
        regressions,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&cmp)?);
    } else {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "variant",
            "A ms",
            "B ms",
            "change",
            "A/B [95% CI]",
            "interval from",
            "verdict",
        ]);
        for e in &cmp.entries {
            let right = |x: String| Cell::new(x).set_alignment(CellAlignment::Right);
            t.add_row(vec![
                Cell::new(&e.key),
                right(ms(e.a_ms)),
                right(ms(e.b_ms)),
                right(format!("{:+.1}%", e.change_percent)),
                right(format!(
                    "{:.2}x [{:.2}, {:.2}]",
                    e.speedup, e.ci95_low, e.ci95_high
                )),
                Cell::new(e.interval),
                Cell::new(if e.regression {
                    format!("{} (beyond {}%)", e.verdict, a.threshold)
                } else {
                    e.verdict.to_string()
                }),
            ]);
        }
        println!("{t}");
        println!(
            "changes within ±{}% are noise whatever their interval (--noise-floor); \"samples\" intervals come from one round per run and miss run-to-run variation",
            a.noise_floor
        );
        for k in &cmp.only_in_a {
            println!("only in A: {k}");
        }
        for k in &cmp.only_in_b {
            println!("only in B: {k}");
        }
    }
    if regressions > 0 {
        eprintln!(
            "edgebench: {regressions} variant(s) regressed by more than {}% beyond noise",
            a.threshold
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
