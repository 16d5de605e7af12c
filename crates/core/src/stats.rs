//! Statistics of latency samples: percentiles, a bootstrap confidence interval of the median,
//! a cheap distribution-free interval used while sampling, and Tukey-fence outlier labels.
//! Outliers are counted and reported, never dropped. Across models (the study's findings):
//! the geometric mean of ratios, Pearson's and Spearman's correlations, a least-squares line.

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Summary of a set of samples (all in the unit of the samples, milliseconds in edgebench).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub mean: f64,
    pub std: f64,
    pub median: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    /// Coefficient of variation: std / mean.
    pub cv: f64,
    /// 95% percentile-bootstrap confidence interval of the median.
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// Lag-1 autocorrelation of the samples in the order taken: near 0 for independent
    /// samples; high when the machine's speed drifts (background load, clocks), which makes
    /// every interval computed as if the samples were independent too narrow. `None` with
    /// fewer than 3 samples or no variation.
    #[serde(default)]
    pub autocorr_lag1: Option<f64>,
}

/// Outlier counts by Tukey's fences (mild: beyond 1.5 IQR, severe: beyond 3 IQR).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outliers {
    pub low_severe: usize,
    pub low_mild: usize,
    pub high_mild: usize,
    pub high_severe: usize,
}

impl Outliers {
    pub fn total(&self) -> usize {
        self.low_severe + self.low_mild + self.high_mild + self.high_severe
    }
}

/// Number of bootstrap resamples; 2000 gives stable 2.5% / 97.5% quantiles.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// Summarizes samples. `seed` makes the bootstrap reproducible. Returns `None` when empty.
pub fn summarize(samples: &[f64], seed: u64) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let mean = sorted.iter().sum::<f64>() / n;
    let var = if sorted.len() > 1 {
        sorted.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let std = var.sqrt();
    let (ci95_low, ci95_high) = bootstrap_median_ci(samples, BOOTSTRAP_RESAMPLES, 0.95, seed);
    Some(Summary {
        mean,
        std,
        median: percentile(&sorted, 50.0),
        p90: percentile(&sorted, 90.0),
        p95: percentile(&sorted, 95.0),
        p99: percentile(&sorted, 99.0),
        min: sorted[0],
        max: sorted[sorted.len() - 1],
        cv: if mean > 0.0 { std / mean } else { 0.0 },
        ci95_low,
        ci95_high,
        autocorr_lag1: lag1_autocorrelation(samples),
    })
}

/// Lag-1 autocorrelation of a series (the standard estimator: the lag-1 autocovariance over
/// the variance, both about the series' mean). `None` with fewer than 3 values or none varying.
pub fn lag1_autocorrelation(series: &[f64]) -> Option<f64> {
    let n = series.len();
    if n < 3 {
        return None;
    }
    let mean = series.iter().sum::<f64>() / n as f64;
    let var: f64 = series.iter().map(|x| (x - mean).powi(2)).sum();
    if var <= 0.0 || !var.is_finite() {
        return None;
    }
    let cov: f64 = series
        .windows(2)
        .map(|w| (w[0] - mean) * (w[1] - mean))
        .sum();
    Some(cov / var)
}

/// Percentile of sorted data with linear interpolation between closest ranks (the
/// "type 7" definition used by NumPy and R by default).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let rank = (p / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = rank.floor() as usize;
            let hi = rank.ceil() as usize;
            sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
        }
    }
}

/// Arithmetic mean (NaN when empty).
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Mean and sample variance (n - 1 in the denominator); `None` with fewer than two values.
pub fn mean_and_variance(v: &[f64]) -> Option<(f64, f64)> {
    if v.len() < 2 {
        return None;
    }
    let m = mean(v);
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    Some((m, var))
}

/// Median of unsorted data.
pub fn median(samples: &[f64]) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    percentile(&v, 50.0)
}

/// Percentile bootstrap confidence interval of the median.
pub fn bootstrap_median_ci(samples: &[f64], resamples: usize, level: f64, seed: u64) -> (f64, f64) {
    bootstrap_ci(&[samples], resamples, level, seed, |s| {
        median_in_place(&mut s[0])
    })
}

/// Percentile bootstrap confidence interval of any statistic of one or more sample sets,
/// each resampled independently with replacement.
pub fn bootstrap_ci(
    sets: &[&[f64]],
    resamples: usize,
    level: f64,
    seed: u64,
    mut stat: impl FnMut(&mut [Vec<f64>]) -> f64,
) -> (f64, f64) {
    if sets.iter().any(|s| s.is_empty()) {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut scratch: Vec<Vec<f64>> = sets.iter().map(|s| vec![0.0; s.len()]).collect();
    let mut stats = Vec::with_capacity(resamples);
    for _ in 0..resamples.max(1) {
        for (buf, set) in scratch.iter_mut().zip(sets) {
            for slot in buf.iter_mut() {
                *slot = set[rng.random_range(0..set.len())];
            }
        }
        stats.push(stat(&mut scratch));
    }
    stats.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    (
        percentile(&stats, alpha * 100.0),
        percentile(&stats, (1.0 - alpha) * 100.0),
    )
}

fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if n % 2 == 1 {
        m
    } else {
        let below = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (below + m) / 2.0
    }
}

/// Distribution-free 95% confidence interval of the median from order statistics (normal
/// approximation to the binomial). Cheap enough to evaluate while sampling; needs sorted data.
pub fn order_statistic_median_ci(sorted: &[f64]) -> (f64, f64) {
    let n = sorted.len();
    if n < 6 {
        return (
            sorted.first().copied().unwrap_or(f64::NAN),
            sorted.last().copied().unwrap_or(f64::NAN),
        );
    }
    let half_width = 1.96 * (n as f64).sqrt() / 2.0;
    let centre = n as f64 / 2.0;
    let lo = ((centre - half_width).floor() as usize).clamp(0, n - 1);
    let hi = ((centre + half_width).ceil() as usize).clamp(0, n - 1);
    (sorted[lo], sorted[hi])
}

/// Smallest spread the outlier fences use, relative to the median: a sample within 1.5% of the
/// quartiles is never an outlier, even when the interquartile range is zero (a quantized
/// timer, or a steady device where most samples are equal).
pub const MIN_OUTLIER_SPREAD: f64 = 0.01;

/// Labels outliers with Tukey's fences on the quartiles. The spread is the interquartile
/// range, or where that is (nearly) zero the median absolute deviation scaled to the same
/// units, and never less than [`MIN_OUTLIER_SPREAD`] of the median.
pub fn tukey_outliers(samples: &[f64]) -> Outliers {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q1 = percentile(&sorted, 25.0);
    let q3 = percentile(&sorted, 75.0);
    let med = percentile(&sorted, 50.0);
    let mut deviations: Vec<f64> = sorted.iter().map(|x| (x - med).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    // For a normal distribution IQR = 1.349 sigma and MAD = 0.6745 sigma: MAD x 2 is on the
    // IQR's scale.
    let mad_as_iqr = 2.0 * percentile(&deviations, 50.0);
    let iqr = (q3 - q1)
        .max(mad_as_iqr)
        .max(MIN_OUTLIER_SPREAD * med.abs());
    let mut o = Outliers::default();
    for &x in &sorted {
        if x < q1 - 3.0 * iqr {
            o.low_severe += 1;
        } else if x < q1 - 1.5 * iqr {
            o.low_mild += 1;
        } else if x > q3 + 3.0 * iqr {
            o.high_severe += 1;
        } else if x > q3 + 1.5 * iqr {
            o.high_mild += 1;
        }
    }
    o
}

/// Geometric mean of positive values (the right average of ratios: the mean of 2x and 0.5x
/// is 1x); `None` when empty or when a value is not positive.
pub fn geometric_mean(v: &[f64]) -> Option<f64> {
    if v.is_empty() || v.iter().any(|&x| x.is_nan() || x <= 0.0 || !x.is_finite()) {
        return None;
    }
    Some((v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp())
}

/// Pearson's correlation coefficient; `None` with fewer than 3 pairs or no variation.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n != y.len() || n < 3 {
        return None;
    }
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    Some((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Ranks starting at 1, ties given the average of the ranks they span.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation: Pearson's on the ranks (ties averaged).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() {
        return None;
    }
    pearson(&ranks(x), &ranks(y))
}

/// A least-squares line `y = intercept + slope * x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearFit {
    pub slope: f64,
    pub intercept: f64,
    /// Residual standard deviation, sqrt(SSR / (n - 2)).
    pub residual_sd: f64,
}

impl LinearFit {
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// Ordinary least squares; `None` with fewer than 3 points or all x equal.
pub fn least_squares(x: &[f64], y: &[f64]) -> Option<LinearFit> {
    let n = x.len();
    if n != y.len() || n < 3 {
        return None;
    }
    let (mx, my) = (mean(x), mean(y));
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ssr: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (b - (intercept + slope * a)).powi(2))
        .sum();
    Some(LinearFit {
        slope,
        intercept,
        residual_sd: (ssr / (n - 2) as f64).sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0, 5.0], 1).unwrap();
        assert_eq!(s.mean, 3.0);
        assert_eq!(s.median, 3.0);
        assert!((s.std - 2.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 5.0);
        // type 7: rank 0.9 * 4 = 3.6 -> 4 + 0.6
        assert!((s.p90 - 4.6).abs() < 1e-12);
        assert!(s.ci95_low >= 1.0 && s.ci95_high <= 5.0 && s.ci95_low <= 3.0 && s.ci95_high >= 3.0);
    }

    #[test]
    fn percentile_matches_numpy() {
        // numpy.percentile([10, 20, 30, 40], [25, 50, 99]) -> 17.5, 25.0, 39.7
        let v = [10.0, 20.0, 30.0, 40.0];
        assert!((percentile(&v, 25.0) - 17.5).abs() < 1e-12);
        assert!((percentile(&v, 50.0) - 25.0).abs() < 1e-12);
        assert!((percentile(&v, 99.0) - 39.7).abs() < 1e-9);
    }

    #[test]
    fn tukey_labels_but_keeps() {
        let mut v: Vec<f64> = (0..100).map(|i| 10.0 + (i % 10) as f64 * 0.01).collect();
        v.push(10.5); // IQR is about 0.05, so 10.5 is beyond 3 IQR: severe
        v.push(100.0); // severe high
        v.push(1.0); // severe low
        let o = tukey_outliers(&v);
        assert_eq!(o.high_severe, 2);
        assert_eq!(o.low_severe, 1);
        assert_eq!(o.total(), 3);
    }

    #[test]
    fn zero_iqr_does_not_make_every_differing_sample_severe() {
        // 90% of the samples equal: the IQR is 0. Before the fix, 10.05 and 9.95 were
        // "severe" outliers; they are half a percent from the median.
        let mut v = vec![10.0; 90];
        v.extend([10.05, 9.95, 10.02, 9.98, 10.01]);
        let o = tukey_outliers(&v);
        assert_eq!(o.total(), 0, "{o:?}");
        // A sample twice the median still is.
        v.push(20.0);
        let o = tukey_outliers(&v);
        assert_eq!(o.high_severe, 1, "{o:?}");
        assert_eq!(o.total(), 1);
    }

    #[test]
    fn lag1_autocorrelation_of_drift_and_of_alternation() {
        // A steady drift: neighbours are alike.
        let drift: Vec<f64> = (0..100).map(|i| 10.0 + i as f64 * 0.1).collect();
        assert!(lag1_autocorrelation(&drift).unwrap() > 0.9);
        // Alternation: neighbours are opposite.
        let alt: Vec<f64> = (0..100)
            .map(|i| if i % 2 == 0 { 9.0 } else { 11.0 })
            .collect();
        assert!(lag1_autocorrelation(&alt).unwrap() < -0.9);
        assert_eq!(lag1_autocorrelation(&[5.0; 10]), None);
        assert_eq!(lag1_autocorrelation(&[1.0, 2.0]), None);
        // x = [1, 2, 3, 5, 4]; mean 3; sum((x[:-1]-3)*(x[1:]-3)) / sum((x-3)**2) = 4 / 10
        assert!((lag1_autocorrelation(&[1.0, 2.0, 3.0, 5.0, 4.0]).unwrap() - 0.4).abs() < 1e-12);
    }

    #[test]
    fn order_statistic_interval_brackets_median() {
        let v: Vec<f64> = (1..=101).map(|i| i as f64).collect();
        let (lo, hi) = order_statistic_median_ci(&v);
        // n = 101: half width 1.96 * sqrt(101) / 2 = 9.85 -> ranks 40 and 61 (0-based)
        assert_eq!((lo, hi), (41.0, 62.0));
    }

    #[test]
    fn bootstrap_of_constant_is_that_constant() {
        assert_eq!(bootstrap_median_ci(&[4.0; 50], 200, 0.95, 3), (4.0, 4.0));
    }

    #[test]
    fn bootstrap_is_reproducible() {
        let v: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64).collect();
        assert_eq!(
            bootstrap_median_ci(&v, 500, 0.95, 9),
            bootstrap_median_ci(&v, 500, 0.95, 9)
        );
    }

    proptest! {
        #[test]
        fn summary_is_ordered(v in prop::collection::vec(0.001f64..1000.0, 1..300)) {
            let s = summarize(&v, 1).unwrap();
            prop_assert!(s.min <= s.median && s.median <= s.p90 && s.p90 <= s.p95);
            prop_assert!(s.p95 <= s.p99 && s.p99 <= s.max);
            prop_assert!(s.min <= s.mean && s.mean <= s.max * (1.0 + 1e-12));
            prop_assert!(s.ci95_low <= s.median + 1e-9 || v.len() < 3);
            prop_assert!(s.ci95_low >= s.min && s.ci95_high <= s.max);
            prop_assert!(tukey_outliers(&v).total() <= v.len());
        }

        #[test]
        fn median_in_place_matches_sorted(v in prop::collection::vec(-1e6f64..1e6, 1..200)) {
            let mut w = v.clone();
            prop_assert!((median_in_place(&mut w) - median(&v)).abs() < 1e-9);
        }
    }
}
