//! edgebench's sampling rule applied to the queries trtexec timed, in the order it timed
//! them: the same rule as `core::measure` (stop once the 95% interval of the median is within
//! the target, after `min_samples` samples and `min_time_s` of sampling; else at
//! `max_samples` or `max_time_s`), evaluated at the same points (about 20 times per
//! doubling of the sample count, and always at a limit).

use edgebench_core::measure::{relative_half_width, MeasureOptions, StopReason};

/// Samples taken so far and the state of the rule.
#[derive(Debug, Clone)]
pub struct Sampler {
    opts: MeasureOptions,
    samples: Vec<f64>,
    scratch: Vec<f64>,
    next_check: usize,
    /// Sampling time so far, in seconds (what `max_time_s` and `min_time_s` count).
    elapsed_s: f64,
}

impl Sampler {
    pub fn new(opts: &MeasureOptions) -> Sampler {
        Sampler {
            opts: opts.clone(),
            samples: vec![],
            scratch: vec![],
            next_check: 1,
            elapsed_s: 0.0,
        }
    }

    /// Adds one sample that ended `elapsed_s` seconds into sampling; `Some` when sampling
    /// must stop here.
    pub fn push(&mut self, sample_ms: f64, elapsed_s: f64) -> Option<StopReason> {
        self.samples.push(sample_ms);
        self.elapsed_s = elapsed_s;
        let n = self.samples.len();
        let max_samples = self.opts.max_samples.max(1);
        let min_time = self.opts.min_time_s.max(0.0);
        // As in core::measure: a minimum time beyond the time limit extends the limit.
        let max_time = self.opts.max_time_s.max(0.0).max(min_time);
        let at_limit = n >= max_samples || elapsed_s >= max_time;
        if n >= self.opts.min_samples.max(2) && (n >= self.next_check || at_limit) {
            self.next_check = n + (n / 20).max(1);
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.samples);
            self.scratch.sort_unstable_by(f64::total_cmp);
            if relative_half_width(&self.scratch) <= self.opts.target_rel_ci
                && elapsed_s >= min_time
            {
                return Some(StopReason::TargetReached);
            }
        }
        if n >= max_samples {
            return Some(StopReason::SampleLimit);
        }
        if elapsed_s >= max_time {
            return Some(StopReason::TimeLimit);
        }
        None
    }

    pub fn samples(&self) -> &[f64] {
        &self.samples
    }

    pub fn into_samples(self) -> Vec<f64> {
        self.samples
    }

    pub fn elapsed_s(&self) -> f64 {
        self.elapsed_s
    }

    /// The median so far (ms), for sizing the next batch.
    pub fn median_ms(&self) -> Option<f64> {
        let mut v = self.samples.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }

    /// How many more queries the next trtexec call should time: enough to double the
    /// samples or to reach the minimum sampling time, never past the sample limit or the
    /// time left.
    pub fn next_batch(&self) -> usize {
        let n = self.samples.len();
        let med_s = self.median_ms().unwrap_or(1.0).max(1e-6) / 1e3;
        let min_time = self.opts.min_time_s.max(0.0);
        let max_time = self.opts.max_time_s.max(0.0).max(min_time);
        let for_min_time = ((min_time - self.elapsed_s).max(0.0) / med_s).ceil() as usize;
        let time_left = ((max_time - self.elapsed_s).max(0.0) / med_s).ceil() as usize;
        let samples_left = self.opts.max_samples.max(1).saturating_sub(n);
        n.max(for_min_time)
            .max(self.opts.min_samples.saturating_sub(n))
            .min(time_left.max(1))
            .min(samples_left)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(opts: &MeasureOptions, ms: &[f64]) -> (usize, Option<StopReason>) {
        let mut s = Sampler::new(opts);
        let mut t = 0.0;
        for (i, x) in ms.iter().cycle().take(100_000).enumerate() {
            t += x / 1e3;
            if let Some(r) = s.push(*x, t) {
                return (i + 1, Some(r));
            }
        }
        (s.samples().len(), None)
    }

    #[test]
    fn same_stops_as_the_measurement_loop() {
        // The cases of core::measure's tests, fed as trtexec query times.
        let d = MeasureOptions::default();
        assert_eq!(feed(&d, &[10.0]), (10, Some(StopReason::TargetReached)));
        let never = MeasureOptions {
            target_rel_ci: 0.0,
            ..Default::default()
        };
        assert_eq!(
            feed(&never, &[1000.0, 1100.0, 900.0]),
            (20, Some(StopReason::TimeLimit))
        );
        let few = MeasureOptions {
            max_samples: 50,
            max_time_s: 1e9,
            ..Default::default()
        };
        let noisy = [1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0, 10.0, 20.0];
        assert_eq!(feed(&few, &noisy), (50, Some(StopReason::SampleLimit)));
        let long = MeasureOptions {
            min_time_s: 2.0,
            max_time_s: 1.0,
            ..Default::default()
        };
        let (n, r) = feed(&long, &[10.0]);
        assert_eq!(r, Some(StopReason::TargetReached));
        assert!((200..=215).contains(&n), "{n}");
    }

    #[test]
    fn batches_grow_and_respect_the_limits() {
        let opts = MeasureOptions {
            max_samples: 100,
            max_time_s: 1.0,
            min_samples: 10,
            target_rel_ci: 0.0,
            ..Default::default()
        };
        let mut s = Sampler::new(&opts);
        assert_eq!(s.next_batch(), 10);
        for i in 0..10 {
            s.push(10.0, (i + 1) as f64 * 0.01);
        }
        // 10 samples at 10 ms, 0.9 s left: double them.
        assert_eq!(s.next_batch(), 10);
        for i in 10..60 {
            s.push(10.0, (i + 1) as f64 * 0.01);
        }
        // 60 samples, 0.4 s left at 10 ms a query: 40 more at most.
        assert_eq!(s.next_batch(), 40);
    }
}
