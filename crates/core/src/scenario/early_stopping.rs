//! LoadGen's percentile and early-stopping arithmetic, ported line by line from
//! `loadgen/early_stopping.cc` and `loadgen/results.cc` (mlcommons/inference at
//! b66003e10e2db4b8c36a448b0545ec90fcc6e9e9, LoadGen 6.0.17); the rule itself is the appendix
//! "Early Stopping Criterion" of `inference_rules.adoc` (mlcommons/inference_policies at
//! ac93e89c0c9a8819eb0ad987768c2f6e22896714).
//!
//! The question the rule answers: a system meets a latency bound with probability `p` per
//! query; having seen `t` queries over the bound, how many under the bound (`h`) must it have
//! seen before a "minimally failing" system (one that meets it with probability `p - d`)
//! would have shown a result this good with probability below `1 - c`? That probability is
//! the binomial CDF `F(t; h + t, 1 - (p - d)) = I(p - d; h, t + 1)` (the regularized incomplete
//! beta function), and `h` is the smallest value with `I(p - d; h, t + 1) < 1 - c`. LoadGen
//! uses `d = 0` (tolerance) and `c = 0.99` (confidence), hard-coded in
//! `PerformanceSummary::EarlyStopping`.

use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;

/// LoadGen's confidence `c` (`results.cc`: `double confidence = 0.99;`).
pub const LOADGEN_CONFIDENCE: f64 = 0.99;
/// LoadGen's tolerance `d` (`results.cc`: `double tolerance = 0.0;`).
pub const LOADGEN_TOLERANCE: f64 = 0.0;

/// The early-stopping parameters: LoadGen's by default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStoppingParams {
    /// `c`: one minus the false-positive rate for a minimally failing system.
    pub confidence: f64,
    /// `d`: how far below the target rate a minimally failing system is.
    pub tolerance: f64,
}

impl Default for EarlyStoppingParams {
    fn default() -> Self {
        EarlyStoppingParams {
            confidence: LOADGEN_CONFIDENCE,
            tolerance: LOADGEN_TOLERANCE,
        }
    }
}

/// `lbeta` of `early_stopping.cc`: the log of the beta function of two integers.
fn lbeta(x: i64, y: i64) -> f64 {
    ln_gamma(x as f64) + ln_gamma(y as f64) - ln_gamma((x + y) as f64)
}

/// `hypergeometric_2F1_A1` of `early_stopping.cc`: the Gaussian hypergeometric function with
/// `a = 1`, summed until a term falls below 2^-33 (for `b <= 0` it is a polynomial).
fn hypergeometric_2f1_a1(b: i64, c: i64, x: f64) -> f64 {
    let tolerance = 1.0 / (1u64 << 33) as f64;
    let mut term: f64 = 1.0;
    let mut result: f64 = 1.0;
    let mut i: i64 = 0;
    while term.abs() > tolerance {
        term *= (b + i) as f64 * x / (c + i) as f64;
        result += term;
        i += 1;
    }
    result
}

/// `beta_regularized` of `early_stopping.cc`: `I(x; a, b)` through DLMF 15.8.E1.
fn beta_regularized(x: f64, a: i64, b: i64) -> f64 {
    (a as f64 * x.ln() + (b - 1) as f64 * (1.0 - x).ln() - lbeta(a, b)).exp() / a as f64
        * hypergeometric_2f1_a1(1 - b, 1 + a, x / (x - 1.0))
}

/// `odds` of `early_stopping.cc`: the probability that a system meeting the bound with
/// probability `p - d` shows `t` or fewer overlatency queries in `h + t`.
pub fn odds(h: i64, t: i64, p: f64, d: f64) -> f64 {
    beta_regularized(p - d, h, 1 + t)
}

/// The smallest `h >= 1` with `odds(h, t, p, d) < 1 - c`: the underlatency queries needed
/// after `t` overlatency ones (`MinPassingQueriesFinder` of `early_stopping.cc`). LoadGen
/// bounds its binary search with a cache of earlier answers; this searches from the exact
/// answer for `t = 0`, `ceil(ln(1 - c) / ln(p - d))`, which is a lower bound for every `t`,
/// so the answer is the same without the cache.
pub fn min_passing_queries(t: u64, p: f64, d: f64, c: f64) -> u64 {
    let t = t as i64;
    let passes = |h: i64| odds(h, t, p, d) < 1.0 - c;
    let h0 = ((1.0 - c).ln() / (p - d).ln()).ceil() as i64;
    let mut lo = (h0 - 1).max(1);
    if passes(lo) {
        return lo as u64;
    }
    // `lo` fails; double until one passes, then bisect: odds falls as h grows.
    let mut hi = lo.max(1) * 2 + t;
    while !passes(hi) {
        lo = hi;
        hi *= 2;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if passes(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi as u64
}

/// LoadGen's percentile of sorted latencies: `sorted[floor(n * p)]` (`results.cc`,
/// `ProcessLatencies`), no interpolation; `None` when empty.
pub fn loadgen_percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = (sorted.len() as f64 * p) as usize;
    Some(sorted[i.min(sorted.len() - 1)])
}

/// The single-stream and multi-stream early-stopping estimate of a percentile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercentileEstimate {
    /// The percentile estimated, as a fraction (0.90).
    pub percentile: f64,
    /// Queries processed.
    pub queries: u64,
    /// The fewest queries for which the rule gives an estimate (`h_min + 1`).
    pub min_queries: u64,
    /// Highest latencies discarded (`t - 1`); `None` when there were too few queries.
    pub discarded: Option<u64>,
    /// The estimate (ms): the highest latency left after discarding; `None` when there were
    /// too few queries.
    pub estimate_ms: Option<f64>,
}

impl PercentileEstimate {
    /// Whether there were enough queries for an estimate (LoadGen's "early stopping
    /// satisfied").
    pub fn met(&self) -> bool {
        self.estimate_ms.is_some()
    }
}

/// The early-stopping estimate of percentile `p` of `sorted` latencies (ascending), as
/// `PerformanceSummary::EarlyStopping` computes it for single-stream and multi-stream: with
/// `t = 1` LoadGen needs `h_min + 1` queries; otherwise `t` is one less than the first
/// `i >= 2` whose `h(i) + i` exceeds the query count, and the estimate is
/// `sorted[n - t]`, so the `t - 1` highest latencies are discarded. LoadGen tries every `i`
/// in turn; `h(i) + i` grows with `i`, so bisecting over `i` finds the same one.
pub fn percentile_estimate(
    sorted: &[f64],
    p: f64,
    params: EarlyStoppingParams,
) -> PercentileEstimate {
    let (d, c) = (params.tolerance, params.confidence);
    let n = sorted.len() as u64;
    let h_min = min_passing_queries(1, p, d, c);
    let mut out = PercentileEstimate {
        percentile: p,
        queries: n,
        min_queries: h_min + 1,
        discarded: None,
        estimate_ms: None,
    };
    if n < h_min + 1 {
        return out;
    }
    let exceeds = |i: u64| n < min_passing_queries(i, p, d, c) + i;
    // The first i in [2, n] where `exceeds` holds; it holds at i = n (h >= 1).
    let (mut lo, mut hi) = (1u64, n.max(2));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if exceeds(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let t = if exceeds(hi) { hi - 1 } else { 1 };
    out.discarded = Some(t - 1);
    out.estimate_ms = Some(sorted[(n - t) as usize]);
    out
}

/// The server scenario's early-stopping check: with `t` queries over the bound, LoadGen
/// needs at least `h(t) + t` queries in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerEarlyStopping {
    /// Queries processed.
    pub queries: u64,
    /// Queries over the latency bound (`t`).
    pub overlatency: u64,
    /// The queries the rule needs, `h(t) + t`.
    pub required_queries: u64,
    /// `queries >= required_queries`.
    pub met: bool,
}

/// The server scenario's check of `PerformanceSummary::EarlyStopping`: `t` counts the
/// latencies strictly over `bound_ms`.
pub fn server_check(
    latencies_ms: &[f64],
    bound_ms: f64,
    p: f64,
    params: EarlyStoppingParams,
) -> ServerEarlyStopping {
    let n = latencies_ms.len() as u64;
    let t = latencies_ms.iter().filter(|&&l| l > bound_ms).count() as u64;
    let required = min_passing_queries(t, p, params.tolerance, params.confidence) + t;
    ServerEarlyStopping {
        queries: n,
        overlatency: t,
        required_queries: required,
        met: n >= required,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `odds` by the binomial sum itself: P(at most t failures in h + t trials, failure
    /// probability 1 - q).
    fn binomial_cdf(h: u64, t: u64, q: f64) -> f64 {
        let n = h + t;
        let mut ln_choose = 0.0; // ln C(n, 0)
        let mut sum = 0.0;
        for x in 0..=t {
            if x > 0 {
                ln_choose += ((n - x + 1) as f64).ln() - (x as f64).ln();
            }
            sum += (ln_choose + (n - x) as f64 * q.ln() + x as f64 * (1.0 - q).ln()).exp();
        }
        sum
    }

    #[test]
    fn odds_equals_the_binomial_cdf() {
        for &(h, t, p) in &[
            (44, 0, 0.9),
            (63, 1, 0.9),
            (62, 1, 0.9),
            (305, 20, 0.9),
            (661, 1, 0.99),
            (3284, 20, 0.99),
        ] {
            let a = odds(h as i64, t as i64, p, 0.0);
            let b = binomial_cdf(h, t, p);
            assert!(
                (a - b).abs() < 1e-9 * b.max(1e-300),
                "h={h} t={t} p={p}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn min_passing_queries_by_hand() {
        // t = 0: 0.9^h < 0.01 first at h = ceil(ln 0.01 / ln 0.9) = ceil(43.71) = 44, and
        // 0.99^h < 0.01 first at ceil(458.21) = 459.
        assert_eq!(min_passing_queries(0, 0.9, 0.0, 0.99), 44);
        assert_eq!(min_passing_queries(0, 0.99, 0.0, 0.99), 459);
        // t = 1: F = 0.9^h (1 + 0.1 h); h = 62 gives 0.01048, h = 63 gives 0.00956.
        assert!(binomial_cdf(62, 1, 0.9) > 0.01 && binomial_cdf(63, 1, 0.9) < 0.01);
        assert_eq!(min_passing_queries(1, 0.9, 0.0, 0.99), 63);
        // p = 0.99, t = 1: 0.99^h (1 + 0.01 h): h = 660 gives 0.0100010, h = 661 0.0099140.
        assert_eq!(min_passing_queries(1, 0.99, 0.0, 0.99), 661);
    }

    #[test]
    fn min_passing_queries_equal_loadgens_own() {
        // Printed by LoadGen's own `MinPassingQueriesFinder` (early_stopping.cc at b66003e,
        // compiled with g++ 12 and called for t = 0, 1, 2, ... in turn, as results.cc does).
        let p90 = [44, 63, 79, 94, 109, 122, 136, 149, 162, 174, 187, 199, 211];
        let p99 = [
            459, 661, 836, 998, 1153, 1302, 1447, 1589, 1728, 1865, 2000, 2133, 2265,
        ];
        for (t, (&a, &b)) in p90.iter().zip(&p99).enumerate() {
            assert_eq!(
                min_passing_queries(t as u64, 0.9, 0.0, 0.99),
                a,
                "p90 t={t}"
            );
            assert_eq!(
                min_passing_queries(t as u64, 0.99, 0.0, 0.99),
                b,
                "p99 t={t}"
            );
        }
        for &(t, a, b) in &[
            (20, 305, 3284),
            (50, 631, 6848),
            (100, 1146, 12471),
            (200, 2137, 23327),
            (1000, 9722, 106569),
        ] {
            assert_eq!(min_passing_queries(t, 0.9, 0.0, 0.99), a, "p90 t={t}");
            assert_eq!(min_passing_queries(t, 0.99, 0.0, 0.99), b, "p99 t={t}");
        }
    }

    /// Latencies 1, 2, ..., n ms (sorted).
    fn ramp(n: usize) -> Vec<f64> {
        (1..=n).map(|x| x as f64).collect()
    }

    #[test]
    fn percentile_estimates_equal_loadgens_loop() {
        // (p, n, t) from LoadGen's own loop of results.cc over its finder (see above):
        // single-stream p90 needs h(1) + 1 = 64 queries; multi-stream p99 needs 662, the
        // `*.MultiStream.min_query_count` of mlperf.conf.
        let cases = [
            (0.9, 64, 1),
            (0.9, 100, 3),
            (0.9, 200, 10),
            (0.9, 458, 30),
            (0.9, 459, 31),
            (0.9, 1000, 78),
            (0.9, 10000, 930),
            (0.99, 662, 1),
            (0.99, 1000, 2),
            (0.99, 10000, 77),
        ];
        for &(p, n, t) in &cases {
            let e = percentile_estimate(&ramp(n), p, EarlyStoppingParams::default());
            assert_eq!(e.discarded, Some(t - 1), "p={p} n={n}");
            // sorted[n - t] of 1..=n is n - t + 1.
            assert_eq!(
                e.estimate_ms,
                Some((n - t as usize + 1) as f64),
                "p={p} n={n}"
            );
            assert!(e.met());
        }
        for &(p, n, need) in &[
            (0.9, 63, 64),
            (0.9, 10, 64),
            (0.99, 661, 662),
            (0.99, 100, 662),
        ] {
            let e = percentile_estimate(&ramp(n), p, EarlyStoppingParams::default());
            assert_eq!(
                (e.min_queries, e.estimate_ms, e.met()),
                (need, None, false),
                "p={p} n={n}"
            );
        }
    }

    #[test]
    fn percentile_estimate_by_hand_at_100_queries() {
        // n = 100, p = 0.9: h(2) + 2 = 81, h(3) + 3 = 97, h(4) + 4 = 113 > 100 (h(4) = 109),
        // so t = 3, two highest discarded, estimate = sorted[97], the 98th smallest. The plain
        // percentile is sorted[floor(100 * 0.9)] = sorted[90].
        let v = ramp(100);
        let e = percentile_estimate(&v, 0.9, EarlyStoppingParams::default());
        assert_eq!(e.estimate_ms, Some(98.0));
        assert_eq!(loadgen_percentile(&v, 0.9), Some(91.0));
        assert_eq!(loadgen_percentile(&v, 0.5), Some(51.0));
        assert_eq!(loadgen_percentile(&v, 0.99), Some(100.0));
        assert_eq!(loadgen_percentile(&[], 0.99), None);
    }

    #[test]
    fn server_check_by_hand() {
        // 500 queries, bound 10 ms, 0 over: h(0) = 459 <= 500, met.
        let mut v = vec![5.0; 500];
        let s = server_check(&v, 10.0, 0.99, EarlyStoppingParams::default());
        assert_eq!((s.overlatency, s.required_queries, s.met), (0, 459, true));
        // One exactly at the bound is not over it; one above is: h(1) + 1 = 662 > 500.
        v[0] = 10.0;
        v[1] = 10.5;
        let s = server_check(&v, 10.0, 0.99, EarlyStoppingParams::default());
        assert_eq!((s.overlatency, s.required_queries, s.met), (1, 662, false));
    }
}
