//! The study analysis' maths (`stats`, the speed-up) against answers computed by hand (the
//! working is in the comments).

use edgebench_core::bench::speedup;
use edgebench_core::engine::EngineSpec;
use edgebench_core::schema::{Status, VariantResult, Verdict};
use edgebench_core::stats::{geometric_mean, least_squares, mean, pearson, ranks, spearman};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn pearson_and_least_squares_by_hand() {
    // x = 1..5, y = 2 4 5 4 5: dx = -2 -1 0 1 2, dy = -2 0 1 0 1
    // sxy = 4 + 0 + 0 + 0 + 2 = 6, sxx = 10, syy = 6, r = 6 / sqrt(60)
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    let y = [2.0, 4.0, 5.0, 4.0, 5.0];
    let r = pearson(&x, &y).unwrap();
    assert!(close(r, 6.0 / 60f64.sqrt()), "{r}");
    assert!(close(r, 0.7745966692414834));
    // slope = sxy / sxx = 0.6, intercept = 4 - 0.6 * 3 = 2.2
    // fitted 2.8 3.4 4.0 4.6 5.2, residuals -0.8 0.6 1.0 -0.6 -0.2, SSR = 2.4, sd = sqrt(2.4 / 3)
    let l = least_squares(&x, &y).unwrap();
    assert!(close(l.slope, 0.6) && close(l.intercept, 2.2), "{l:?}");
    assert!(close(l.residual_sd, 0.8f64.sqrt()));
    assert!(close(l.at(10.0), 8.2));
}

#[test]
fn spearman_by_hand() {
    // No ties: ranks of y = 3 1 4 5 2, d = -2 1 -1 -1 3, sum d^2 = 16,
    // rho = 1 - 6 * 16 / (5 * (25 - 1)) = 0.2
    let x = [10.0, 20.0, 30.0, 40.0, 50.0];
    let y = [3.0, 1.0, 4.0, 5.0, 2.0];
    assert!(close(spearman(&x, &y).unwrap(), 0.2));
    // Ties get the average rank: y = 2 4 5 4 5 -> 1 2.5 4.5 2.5 4.5; with x ranks 1..5:
    // dy = -2 -0.5 1.5 -0.5 1.5, sxy = 7, sxx = 10, syy = 9, rho = 7 / sqrt(90)
    let y = [2.0, 4.0, 5.0, 4.0, 5.0];
    assert_eq!(ranks(&y), vec![1.0, 2.5, 4.5, 2.5, 4.5]);
    assert!(close(
        spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &y).unwrap(),
        7.0 / 90f64.sqrt()
    ));
    // A monotone but curved relation: Spearman 1, Pearson below 1.
    let x = [1.0, 2.0, 3.0, 4.0];
    let y = [1.0, 10.0, 100.0, 1000.0];
    assert!(close(spearman(&x, &y).unwrap(), 1.0));
    assert!(pearson(&x, &y).unwrap() < 0.9);
}

#[test]
fn degenerate_inputs_give_none() {
    assert_eq!(pearson(&[1.0, 2.0], &[1.0, 2.0]), None);
    assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    assert!(least_squares(&[2.0, 2.0, 2.0], &[1.0, 2.0, 3.0]).is_none());
    assert_eq!(geometric_mean(&[]), None);
    assert_eq!(geometric_mean(&[1.0, 0.0]), None);
    assert!(mean(&[]).is_nan());
}

#[test]
fn the_two_averages_differ_as_they_should() {
    // 2x faster and 2x slower: the percentages +100% and -50% average to +25%, the ratios'
    // geometric mean is exactly 1.
    let ratios = [2.0, 0.5];
    let percents: Vec<f64> = ratios.iter().map(|r| (r - 1.0) * 100.0).collect();
    assert!(close(mean(&percents), 25.0));
    assert!(close(geometric_mean(&ratios).unwrap(), 1.0));
    // cube root of 1 * 2 * 4 = 2
    assert!(close(geometric_mean(&[1.0, 2.0, 4.0]).unwrap(), 2.0));
}

fn result(raw: Vec<f64>) -> VariantResult {
    let mut r = VariantResult::failed(
        &EngineSpec::parse("tract:optimized").unwrap(),
        String::new(),
    );
    r.status = Status::Ok;
    r.error = None;
    r.raw_ms = raw;
    r
}

#[test]
fn speedup_and_its_interval_by_hand() {
    // One round each: a bootstrap of both sample sets.
    // Constant samples: every resample has the same medians, so the interval is the point.
    let s = speedup(&result(vec![10.0; 30]), &result(vec![4.0; 30]), 10, 1).unwrap();
    assert!(
        close(s.ratio, 2.5) && close(s.ci95_low.unwrap(), 2.5) && close(s.ci95_high.unwrap(), 2.5)
    );
    assert!(close(s.percent, 150.0));
    assert_eq!(s.verdict, Verdict::Faster);

    // Candidate: 51 samples of 4 ms and 50 of 6 ms (101, odd): its median is 4, ratio 10/4.
    // A resample's median is 4 when it draws at least 51 fours, else 6 (probability about
    // one half each), so the 2.5% and 97.5% quantiles of the ratio are 10/6 and 10/4.
    let mut cand = vec![4.0; 51];
    cand.extend(vec![6.0; 50]);
    let s = speedup(&result(vec![10.0; 101]), &result(cand), 10, 7).unwrap();
    assert!(close(s.ratio, 2.5));
    assert!(close(s.ci95_low.unwrap(), 10.0 / 6.0), "{:?}", s.ci95_low);
    assert!(close(s.ci95_high.unwrap(), 2.5), "{:?}", s.ci95_high);
    assert_eq!(s.verdict, Verdict::Faster);

    // Baseline 10 or 12, candidate 11: the interval [10/11, 12/11] straddles 1.
    let mut base = vec![10.0; 51];
    base.extend(vec![12.0; 50]);
    let s = speedup(&result(base), &result(vec![11.0; 101]), 10, 3).unwrap();
    assert!(close(s.ci95_low.unwrap(), 10.0 / 11.0) && close(s.ci95_high.unwrap(), 12.0 / 11.0));
    assert_eq!(s.verdict, Verdict::WithinNoise);
}
