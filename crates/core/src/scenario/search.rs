//! The server scenario's search for the highest rate that keeps the latency bound, as
//! LoadGen's `FindPeakPerformanceMode` does it (`loadgen.cc`, `test_settings_internal.h` at
//! mlcommons/inference b66003e): from a rate that passes, widen the upper bound by
//! `1 + step` (×2 by default) until a rate fails, then bisect until the two bounds agree to
//! `decimals` decimal places (`IsFinished`: `floor(l·10^d) + 1 >= floor(u·10^d)`); each rate is
//! one whole run. Where the first rate fails LoadGen stops with an error; this search instead
//! divides it by `1 + step` until a rate passes, then bisects the same way.

use serde::{Deserialize, Serialize};

/// How the rate search proceeds (LoadGen's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateSearchSettings {
    /// `server_find_peak_qps_decimals_of_precision`: the search ends when the bounds agree
    /// to this many decimal places of queries per second.
    pub decimals: u32,
    /// `server_find_peak_qps_boundary_step_size`: the upper bound grows by `1 + step`.
    pub step: f64,
    /// Never more runs than this (LoadGen has no limit); the search then reports itself
    /// incomplete.
    pub max_runs: usize,
}

impl Default for RateSearchSettings {
    fn default() -> Self {
        RateSearchSettings {
            decimals: 1,
            step: 1.0,
            max_runs: 40,
        }
    }
}

/// One rate tried.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateRun {
    pub target_qps: f64,
    pub passed: bool,
}

/// What the search found: every rate tried in order, the highest that passed with its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateSearch<R> {
    pub runs: Vec<RateRun>,
    /// The highest passing rate and its run; `None` when no rate passed.
    pub best_qps: Option<f64>,
    pub best: Option<R>,
    /// The lowest rate that failed, the search's upper bound; `None` when none failed.
    pub lowest_failing_qps: Option<f64>,
    /// Whether the bounds met the precision (false: `max_runs` was reached, or no rate as
    /// high as the precision passed).
    pub complete: bool,
}

/// Searches rates from `start_qps`: `run_at(qps)` runs at one rate and `passed` says
/// whether that run kept the bound.
pub fn search_rate<R, E>(
    start_qps: f64,
    settings: &RateSearchSettings,
    mut run_at: impl FnMut(f64) -> Result<R, E>,
    passed: impl Fn(&R) -> bool,
) -> Result<RateSearch<R>, E> {
    let scale = 10f64.powi(settings.decimals as i32);
    let finished = |l: f64, u: f64| (l * scale).floor() + 1.0 >= (u * scale).floor();
    let grow = 1.0 + settings.step.max(f64::EPSILON);
    let mut out = RateSearch {
        runs: vec![],
        best_qps: None,
        best: None,
        lowest_failing_qps: None,
        complete: false,
    };
    let mut try_rate = |qps: f64, out: &mut RateSearch<R>| -> Result<bool, E> {
        let r = run_at(qps)?;
        let ok = passed(&r);
        out.runs.push(RateRun {
            target_qps: qps,
            passed: ok,
        });
        if ok {
            if out.best_qps.is_none_or(|b| qps > b) {
                out.best_qps = Some(qps);
                out.best = Some(r);
            }
        } else if out.lowest_failing_qps.is_none_or(|f| qps < f) {
            out.lowest_failing_qps = Some(qps);
        }
        Ok(ok)
    };
    let budget_left = |out: &RateSearch<R>| out.runs.len() < settings.max_runs.max(1);

    // Bounds: `lo` passes, `hi` fails.
    let (mut lo, mut hi);
    if try_rate(start_qps, &mut out)? {
        lo = start_qps;
        loop {
            if !budget_left(&out) {
                return Ok(out);
            }
            let u = lo * grow;
            if try_rate(u, &mut out)? {
                lo = u;
            } else {
                hi = u;
                break;
            }
        }
    } else {
        hi = start_qps;
        loop {
            let l = hi / grow;
            if !budget_left(&out) || l * scale < 1.0 {
                // Below the precision nothing is left to tell apart.
                return Ok(out);
            }
            if try_rate(l, &mut out)? {
                lo = l;
                break;
            }
            hi = l;
        }
    }
    while !finished(lo, hi) {
        if !budget_left(&out) {
            return Ok(out);
        }
        let mid = lo + (hi - lo) / 2.0;
        if try_rate(mid, &mut out)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    out.complete = true;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// A system that keeps the bound exactly up to `limit` queries per second.
    fn search(limit: f64, start: f64, settings: &RateSearchSettings) -> RateSearch<f64> {
        let r: Result<_, Infallible> = search_rate(start, settings, Ok, |&q| q <= limit);
        r.unwrap()
    }

    #[test]
    fn widens_then_bisects_as_loadgen_does() {
        let s = search(37.3, 1.0, &RateSearchSettings::default());
        // 1, 2, 4, 8, 16, 32 pass, 64 fails; then bisection of [32, 64) to 0.1 qps.
        let rates: Vec<f64> = s.runs.iter().map(|r| r.target_qps).collect();
        assert_eq!(&rates[..7], &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]);
        assert_eq!(rates[7], 48.0);
        assert_eq!(rates[8], 40.0);
        assert!(s.complete);
        let best = s.best_qps.unwrap();
        let fail = s.lowest_failing_qps.unwrap();
        assert!(best <= 37.3 && fail > 37.3, "{best} {fail}");
        // IsFinished: floor(10 l) + 1 >= floor(10 u).
        assert!((best * 10.0).floor() + 1.0 >= (fail * 10.0).floor());
        assert_eq!(s.best, Some(best));
    }

    #[test]
    fn a_failing_start_comes_down() {
        let s = search(3.3, 100.0, &RateSearchSettings::default());
        assert!(!s.runs[0].passed);
        let best = s.best_qps.unwrap();
        assert!(best <= 3.3 && s.lowest_failing_qps.unwrap() > 3.3 && s.complete);
        assert!(3.3 - best < 0.2, "{best}");
    }

    #[test]
    fn nothing_passes_and_the_run_budget_holds() {
        let s = search(0.0, 1.0, &RateSearchSettings::default());
        assert_eq!((s.best_qps, s.complete), (None, false));
        // 1, 0.5, 0.25, 0.125; the next, 0.0625, is under the 0.1 precision.
        assert_eq!(s.runs.len(), 4);
        let capped = search(
            f64::INFINITY,
            1.0,
            &RateSearchSettings {
                max_runs: 5,
                ..Default::default()
            },
        );
        assert_eq!(
            (capped.runs.len(), capped.best_qps, capped.complete),
            (5, Some(16.0), false)
        );
    }
}
