//! The words of a run's progress display: what `bench` and `pipeline` show beside their
//! spinner for each [`RoundProgress`], and a measurement's [`Progress`] as every display shows
//! it (bench, pipeline and the study's children).

use edgebench_core::bench::RoundProgress;
use edgebench_core::engine::EngineSpec;
use edgebench_core::measure::Progress;

/// A run's progress in a few words.
pub fn progress_text(p: Progress) -> String {
    match p {
        Progress::Loading => "loading".into(),
        Progress::Preparing => "preparing".into(),
        Progress::WarmingUp { runs, elapsed_s } => {
            format!("warming up: {runs} runs, {elapsed_s:.1} s")
        }
        Progress::Sampling {
            samples,
            elapsed_s,
            rel_ci,
        } => format!(
            "sampling: {samples} samples, {elapsed_s:.1} s, CI ±{:.2}%",
            rel_ci * 100.0
        ),
    }
}

/// The spinner's prefix (round, variant `[i/n]` and spec) and message for `p`, the variants
/// being `specs`.
pub fn round_progress(p: &RoundProgress, specs: &[EngineSpec]) -> (String, String) {
    let n = specs.len();
    let variant = |v: usize| format!("[{}/{n}] {}", v + 1, specs[v]);
    match p {
        RoundProgress::Preparing { variant: v } => (variant(*v), "preparing".into()),
        RoundProgress::Measuring {
            variant: v,
            round,
            rounds,
            progress,
        } => (
            format!("round {}/{rounds} {}", round + 1, variant(*v)),
            progress_text(*progress),
        ),
        RoundProgress::CheckingOutputs { variant: v } => {
            (variant(*v), "outputs for the accuracy gate".into())
        }
        RoundProgress::Scenario {
            variant: v,
            progress,
        } => (
            variant(*v),
            format!(
                "{}: {} queries, {:.0}/{:.0} s",
                progress.scenario, progress.queries, progress.elapsed_s, progress.min_duration_s
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_names_its_round_and_variant() {
        let specs = [
            EngineSpec::parse("tract:reference").unwrap(),
            EngineSpec::parse("ort:all").unwrap(),
        ];
        let measuring = RoundProgress::Measuring {
            variant: 1,
            round: 0,
            rounds: 3,
            progress: Progress::Sampling {
                samples: 12,
                elapsed_s: 1.3,
                rel_ci: 0.0123,
            },
        };
        assert_eq!(
            round_progress(&measuring, &specs),
            (
                "round 1/3 [2/2] ort:all".to_string(),
                "sampling: 12 samples, 1.3 s, CI ±1.23%".to_string()
            )
        );
        assert_eq!(
            round_progress(&RoundProgress::Preparing { variant: 0 }, &specs),
            ("[1/2] tract:reference".to_string(), "preparing".to_string())
        );
        assert_eq!(
            round_progress(&RoundProgress::CheckingOutputs { variant: 0 }, &specs).1,
            "outputs for the accuracy gate"
        );
    }
}
