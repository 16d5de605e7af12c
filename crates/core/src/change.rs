//! Did a variant get slower or faster between two runs (`edgebench compare`)? The rule used by
//! CI: a change counts only when its 95% interval lies beyond a stated noise floor, and the
//! interval covers the variation between runs (from each run's interleaved rounds), not just
//! the noise inside one run. [`compare`] applies it to every variant two runs share, keyed by
//! [`variant_key`], and decides which changes are regressions beyond a threshold.

use crate::error::{Error, Result};
use crate::schema::{BenchReport, Status, VariantResult};
use crate::stats::{bootstrap_ci, mean, mean_and_variance, median};
use serde::{Deserialize, Serialize};

/// Changes smaller than this (either way) are never a verdict, however narrow their interval:
/// two identical runs on one machine differ by a few percent that no run's own statistics can
/// see (the state of caches, clocks and other programs at the time). Measured on the 2-core
/// development VM: see docs/measurement.md.
pub const DEFAULT_NOISE_FLOOR: f64 = 0.05;

/// The verdict on one variant between run A (before) and run B (after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeVerdict {
    Improved,
    Regressed,
    WithinNoise,
}

impl std::fmt::Display for ChangeVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChangeVerdict::Improved => "improved",
            ChangeVerdict::Regressed => "regressed",
            ChangeVerdict::WithinNoise => "within noise",
        })
    }
}

/// How B's latency compares with A's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// A's and B's typical latency in ms: the geometric mean of the rounds' medians (with
    /// rounds), else the median; `ratio` is computed from these two figures.
    pub a_ms: f64,
    pub b_ms: f64,
    /// B's typical latency over A's: above 1 is slower. With rounds on both sides, the ratio
    /// of the geometric means of the rounds' medians; else the ratio of the medians.
    pub ratio: f64,
    /// 95% interval of `ratio`.
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// "rounds" (Welch's t on the rounds' log medians) or "samples" (a bootstrap of the
    /// samples of one run each, which sees no run-to-run variation).
    pub method: &'static str,
    pub noise_floor: f64,
    pub verdict: ChangeVerdict,
}

impl Change {
    /// (ratio - 1) x 100: positive is slower.
    pub fn percent(&self) -> f64 {
        (self.ratio - 1.0) * 100.0
    }
}

/// Compares one variant's result in run A with its result in run B.
pub fn change(a: &VariantResult, b: &VariantResult, noise_floor: f64, seed: u64) -> Option<Change> {
    if a.raw_ms.is_empty() || b.raw_ms.is_empty() {
        return None;
    }
    let log_medians = |r: &VariantResult| -> Vec<f64> {
        r.round_samples().iter().map(|s| median(s).ln()).collect()
    };
    let (la, lb) = (log_medians(a), log_medians(b));
    let geo = |l: &[f64]| mean(l).exp();
    let (mut a_ms, mut b_ms) = (geo(&la), geo(&lb));
    let (ratio, lo, hi, method) = match welch(&la, &lb) {
        Some((d, lo, hi)) => (d.exp(), lo.exp(), hi.exp(), "rounds"),
        None => {
            (a_ms, b_ms) = (median(&a.raw_ms), median(&b.raw_ms));
            let ratio = b_ms / a_ms;
            let (lo, hi) = bootstrap_ci(&[&a.raw_ms, &b.raw_ms], 1000, 0.95, seed, |s| {
                let (x, y) = s.split_at_mut(1);
                median(&y[0]) / median(&x[0])
            });
            (ratio, lo, hi, "samples")
        }
    };
    let floor = noise_floor.max(0.0);
    let verdict = if lo > 1.0 + floor {
        ChangeVerdict::Regressed
    } else if hi < 1.0 / (1.0 + floor) {
        ChangeVerdict::Improved
    } else {
        ChangeVerdict::WithinNoise
    };
    Some(Change {
        a_ms,
        b_ms,
        ratio,
        ci95_low: lo,
        ci95_high: hi,
        method,
        noise_floor: floor,
        verdict,
    })
}

/// The key that matches one variant across two runs: model, batch and engine spec.
pub fn variant_key(model: &str, batch: usize, spec: &str) -> String {
    format!("{model} · batch {batch} · {spec}")
}

/// A bench document's variants by [`variant_key`].
pub fn bench_variants(report: BenchReport) -> Vec<(String, VariantResult)> {
    let (model, batch) = (report.model.path, report.settings.batch);
    report
        .results
        .into_iter()
        .map(|r| (variant_key(&model, batch, &r.spec), r))
        .collect()
}

/// One variant measured in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub key: String,
    /// Typical latency of A and B: the geometric mean of the rounds' medians (the median with
    /// one round), the figures the change is computed from.
    pub a_ms: f64,
    pub b_ms: f64,
    /// (B / A - 1) x 100: positive is slower.
    pub change_percent: f64,
    /// A / B with its 95% interval: above 1 is faster.
    pub speedup: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// "rounds" (across each run's interleaved rounds) or "samples" (one round: the interval
    /// sees no run-to-run variation).
    pub interval: &'static str,
    pub verdict: ChangeVerdict,
    /// Regressed beyond noise by more than the threshold: what fails `compare`.
    pub regression: bool,
}

/// Two runs variant by variant (`edgebench compare --json` prints this document).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub threshold_percent: f64,
    pub noise_floor_percent: f64,
    pub entries: Vec<Entry>,
    /// Variants only A measured, and those that did not run on both sides (marked so).
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
    /// Entries with `regression`.
    pub regressions: usize,
}

/// The two percentages of [`compare`].
#[derive(Debug, Clone, Copy)]
pub struct CompareOptions {
    /// A slowdown beyond noise by more than this many percent is a regression.
    pub threshold_percent: f64,
    /// Changes within this many percent are never a verdict ([`DEFAULT_NOISE_FLOOR`] x 100).
    pub noise_floor_percent: f64,
}

impl CompareOptions {
    /// An error naming the flag for a negative or non-finite percentage.
    pub fn check(&self) -> Result<()> {
        for (flag, v) in [
            ("--threshold", self.threshold_percent),
            ("--noise-floor", self.noise_floor_percent),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::InvalidArgument(format!(
                    "{flag} {v}: must be a non-negative number of percent"
                )));
            }
        }
        Ok(())
    }
}

/// Compares every variant A and B share (by key, in A's order): its [`change`] and whether it
/// is a regression. An error (naming the flag or the runs) for a negative or non-finite
/// percentage, or when the runs share no variant measured on both sides.
pub fn compare(
    (a_name, a): (&str, &[(String, VariantResult)]),
    (b_name, b): (&str, &[(String, VariantResult)]),
    opts: CompareOptions,
) -> Result<Comparison> {
    opts.check()?;
    let usable = |r: &VariantResult| r.status == Status::Ok && !r.raw_ms.is_empty();
    let mut entries = vec![];
    let mut only_in_a = vec![];
    for (key, ra) in a {
        match b.iter().find(|(k, _)| k == key) {
            None => only_in_a.push(key.clone()),
            Some((_, rb)) if usable(ra) && usable(rb) => {
                let Some(c) = change(ra, rb, opts.noise_floor_percent / 100.0, 0) else {
                    continue;
                };
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
                    regression: c.verdict == ChangeVerdict::Regressed
                        && c.percent() > opts.threshold_percent,
                });
            }
            Some(_) => only_in_a.push(format!("{key} (did not run on both sides)")),
        }
    }
    if entries.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{a_name} and {b_name} have no measured variant in common (same model, batch and engine spec): compare runs of the same study"
        )));
    }
    Ok(Comparison {
        a: a_name.to_owned(),
        b: b_name.to_owned(),
        threshold_percent: opts.threshold_percent,
        noise_floor_percent: opts.noise_floor_percent,
        regressions: entries.iter().filter(|e| e.regression).count(),
        entries,
        only_in_a,
        only_in_b: b
            .iter()
            .filter(|(k, _)| !a.iter().any(|(l, _)| l == k))
            .map(|(k, _)| k.clone())
            .collect(),
    })
}

/// Welch's 95% interval of mean(b) - mean(a); `None` unless both have at least two values.
fn welch(a: &[f64], b: &[f64]) -> Option<(f64, f64, f64)> {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    // Each side's mean and the variance of that mean.
    let mv = |v: &[f64]| mean_and_variance(v).map(|(m, var)| (m, var / v.len() as f64));
    let ((ma, sa), (mb, sb)) = (mv(a)?, mv(b)?);
    let d = mb - ma;
    let se2 = sa + sb;
    if se2 <= 0.0 {
        return Some((d, d, d));
    }
    let df = se2.powi(2)
        / (sa.powi(2) / (a.len() - 1) as f64 + sb.powi(2) / (b.len() - 1) as f64)
            .max(f64::MIN_POSITIVE);
    let t = StudentsT::new(0.0, 1.0, df.max(1.0))
        .ok()?
        .inverse_cdf(0.975);
    let half = t * se2.sqrt();
    Some((d, d - half, d + half))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineSpec;
    use crate::schema::Status;

    fn run(rounds: &[Vec<f64>]) -> VariantResult {
        let mut r = VariantResult::failed(&EngineSpec::parse("x").unwrap(), String::new());
        r.status = Status::Ok;
        r.raw_ms = rounds.concat();
        r.rounds = if rounds.len() > 1 {
            rounds.iter().map(Vec::len).collect()
        } else {
            vec![]
        };
        r
    }

    fn around(centre: f64, phase: usize) -> Vec<f64> {
        (0..40)
            .map(|i| centre * (1.0 + ((i * 7 + phase) % 11) as f64 / 500.0 - 0.01))
            .collect()
    }

    #[test]
    fn identical_machines_that_drift_between_runs_are_within_noise() {
        // Each run's rounds are precise (+-1%), but the machine moves by up to 8% from round
        // to round: a 4% difference between the runs is noise.
        let a = run(&[around(10.0, 0), around(10.8, 1), around(10.2, 2)]);
        let b = run(&[around(10.6, 3), around(10.1, 4), around(11.0, 5)]);
        let c = change(&a, &b, DEFAULT_NOISE_FLOOR, 1).unwrap();
        assert_eq!(c.method, "rounds");
        assert_eq!(c.verdict, ChangeVerdict::WithinNoise, "{c:?}");
        // The same two runs judged on their samples alone (one round each) look "regressed":
        // the false precision this rule removes.
        let one_a = run(&[a.raw_ms[..40].to_vec()]);
        let one_b = run(&[b.raw_ms[..40].to_vec()]);
        let naive = change(&one_a, &one_b, 0.0, 1).unwrap();
        assert_eq!(naive.verdict, ChangeVerdict::Regressed);
    }

    #[test]
    fn a_real_slowdown_is_flagged() {
        // One thread instead of two: about 25% slower, steady.
        let a = run(&[around(10.0, 0), around(10.3, 1), around(10.1, 2)]);
        let b = run(&[around(12.6, 3), around(12.4, 4), around(12.9, 5)]);
        let c = change(&a, &b, DEFAULT_NOISE_FLOOR, 1).unwrap();
        assert_eq!(c.verdict, ChangeVerdict::Regressed, "{c:?}");
        assert!((c.percent() - 24.5).abs() < 2.0, "{}", c.percent());
        let back = change(&b, &a, DEFAULT_NOISE_FLOOR, 1).unwrap();
        assert_eq!(back.verdict, ChangeVerdict::Improved);
    }

    #[test]
    fn a_change_inside_the_noise_floor_is_never_a_verdict() {
        // 3% slower, measured very precisely: below the 5% floor.
        let a = run(&[vec![10.0; 30], vec![10.0; 30], vec![10.0; 30]]);
        let b = run(&[vec![10.3; 30], vec![10.3; 30], vec![10.3; 30]]);
        let c = change(&a, &b, DEFAULT_NOISE_FLOOR, 1).unwrap();
        assert_eq!(c.verdict, ChangeVerdict::WithinNoise);
        assert_eq!(
            change(&a, &b, 0.01, 1).unwrap().verdict,
            ChangeVerdict::Regressed
        );
    }

    #[test]
    fn compare_flags_only_regressions_beyond_the_threshold_and_lists_the_rest() {
        let steady = |ms: f64| run(&[vec![ms; 30], vec![ms; 30], vec![ms; 30]]);
        let mut failed = steady(10.0);
        failed.status = Status::Failed;
        let a = vec![
            ("slower".to_string(), steady(10.0)),
            ("a bit slower".to_string(), steady(10.0)),
            ("gone".to_string(), steady(10.0)),
            ("broke".to_string(), steady(10.0)),
        ];
        let b = vec![
            ("slower".to_string(), steady(13.0)),
            ("a bit slower".to_string(), steady(10.8)),
            ("broke".to_string(), failed),
            ("new".to_string(), steady(10.0)),
        ];
        let opts = CompareOptions {
            threshold_percent: 10.0,
            noise_floor_percent: 5.0,
        };
        let c = compare(("A", &a), ("B", &b), opts).unwrap();
        assert_eq!(c.entries.len(), 2);
        // 30% slower: a regression; 8% slower: regressed beyond noise, within the threshold.
        assert!(c.entries[0].regression);
        assert_eq!(c.entries[1].verdict, ChangeVerdict::Regressed);
        assert!(!c.entries[1].regression);
        assert_eq!(c.regressions, 1);
        assert_eq!(c.only_in_a, ["gone", "broke (did not run on both sides)"]);
        assert_eq!(c.only_in_b, ["new"]);
        let none = compare(("A", &a[2..3]), ("B", &b[3..]), opts).unwrap_err();
        assert!(
            none.to_string().contains("no measured variant in common"),
            "{none}"
        );
        let bad = CompareOptions {
            threshold_percent: -1.0,
            ..opts
        };
        assert!(compare(("A", &a), ("B", &b), bad)
            .unwrap_err()
            .to_string()
            .starts_with("--threshold -1"));
    }
}
