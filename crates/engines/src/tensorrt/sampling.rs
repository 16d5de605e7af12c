//! How many queries each trtexec call times. Whether sampling stops is edgebench's own rule,
//! `edgebench_core::measure::StopRule`, fed the queries trtexec timed in the order it timed
//! them, so the TensorRT path stops where the measurement loop would.

use edgebench_core::measure::{MeasureOptions, StopRule};

/// The median of the samples so far (ms), for sizing the next batch.
fn median_ms(rule: &StopRule) -> Option<f64> {
    let mut v = rule.samples().to_vec();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// How many more queries the next trtexec call should time: enough to double the samples or
/// to reach the minimum sampling time, never past the sample limit or the time left.
pub fn next_batch(rule: &StopRule, opts: &MeasureOptions) -> usize {
    let n = rule.len();
    let med_s = median_ms(rule).unwrap_or(1.0).max(1e-6) / 1e3;
    let min_time = opts.min_time_s.max(0.0);
    let max_time = opts.time_limit_s();
    let for_min_time = ((min_time - rule.elapsed_s()).max(0.0) / med_s).ceil() as usize;
    let time_left = ((max_time - rule.elapsed_s()).max(0.0) / med_s).ceil() as usize;
    let samples_left = opts.max_samples.max(1).saturating_sub(n);
    n.max(for_min_time)
        .max(opts.min_samples.saturating_sub(n))
        .min(time_left.max(1))
        .min(samples_left)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_grow_and_respect_the_limits() {
        let opts = MeasureOptions {
            max_samples: 100,
            max_time_s: 1.0,
            min_samples: 10,
            target_rel_ci: 0.0,
            ..Default::default()
        };
        let mut s = StopRule::new(&opts);
        assert_eq!(next_batch(&s, &opts), 10);
        for i in 0..10 {
            s.push(10.0, (i + 1) as f64 * 0.01);
        }
        // 10 samples at 10 ms, 0.9 s left: double them.
        assert_eq!(next_batch(&s, &opts), 10);
        for i in 10..60 {
            s.push(10.0, (i + 1) as f64 * 0.01);
        }
        // 60 samples, 0.4 s left at 10 ms a query: 40 more at most.
        assert_eq!(next_batch(&s, &opts), 40);
    }
}
