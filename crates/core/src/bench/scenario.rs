//! `bench --scenario`: each variant, once measured and its outputs taken for the accuracy
//! gate, runs on the same session under one MLPerf scenario ([`crate::scenario`]); the
//! result goes into the variant's `scenario`. A variant that times itself (a worker process,
//! trtexec: [`crate::engine::Session::measure_self`]) cannot be driven query by query from
//! here, so its scenario is refused with the reason, and the variant fails.

use crate::engine::Session;
use crate::measure::{Measurement, SystemClock};
use crate::scenario::{RunProgress, ScenarioError, ScenarioResult, ScenarioSettings};
use crate::schema::{Status, VariantResult};
use crate::tensor::HostTensor;

/// Why a variant has no scenario result.
#[derive(Debug, thiserror::Error)]
pub enum VariantScenarioError {
    #[error("--scenario {scenario}: {spec} times itself (its worker or tool runs the whole measurement), so its queries cannot be issued one by one; leave it out of a --scenario run")]
    TimesItself { spec: String, scenario: String },
    #[error("--scenario {scenario}: {source}")]
    Run {
        scenario: String,
        #[source]
        source: Box<ScenarioError>,
    },
}

/// Whether a variant's measurement came from the session timing itself (no sampling window
/// of the harness's own).
pub fn timed_itself(rounds: &[Measurement]) -> bool {
    rounds.iter().any(|m| m.sampling_window.is_none())
}

/// Runs `settings` on `session` (at the session's `batch`), after putting the measured
/// `inputs` back (the gate's other input sets ran last). The session must be warm: the
/// measurement before it warmed it up.
pub fn run_on_session(
    session: &mut dyn Session,
    spec: &str,
    settings: &ScenarioSettings,
    batch: usize,
    inputs: &[HostTensor],
    timed_itself: bool,
    progress: &mut dyn FnMut(RunProgress),
) -> Result<ScenarioResult, VariantScenarioError> {
    let scenario = settings.scenario().to_string();
    if timed_itself {
        return Err(VariantScenarioError::TimesItself {
            spec: spec.to_owned(),
            scenario,
        });
    }
    let run = |session: &mut dyn Session, progress: &mut dyn FnMut(RunProgress)| {
        session.set_inputs(inputs)?;
        crate::scenario::run(
            session,
            &settings.clone().with_batch(batch as u64),
            &SystemClock::default(),
            &mut |_| {},
            progress,
        )
    };
    run(session, progress).map_err(|source| VariantScenarioError::Run {
        scenario,
        source: Box::new(source),
    })
}

/// `result` with the scenario's outcome: its `scenario` set, or, when the scenario could not
/// run, the variant failed with the reason (its measurement is kept).
pub fn attach(
    mut result: VariantResult,
    outcome: Result<ScenarioResult, VariantScenarioError>,
) -> VariantResult {
    match outcome {
        Ok(s) => result.scenario = Some(s),
        Err(e) => {
            result.status = Status::Failed;
            result.error = Some(crate::error::one_line(&e.to_string()));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SessionInfo;
    use crate::scenario::{Scenario, ScenarioRequest};

    /// A session that counts its runs; the real clock times them (the assertions are on
    /// structure, never on timings).
    #[derive(Default)]
    struct Counting {
        runs: usize,
        inputs_set: usize,
    }

    impl Session for Counting {
        fn set_inputs(&mut self, _: &[HostTensor]) -> crate::error::Result<()> {
            self.inputs_set += 1;
            Ok(())
        }
        fn run(&mut self) -> crate::error::Result<()> {
            self.runs += 1;
            Ok(())
        }
        fn outputs(&mut self) -> crate::error::Result<Vec<HostTensor>> {
            Ok(vec![])
        }
        fn info(&self) -> SessionInfo {
            SessionInfo {
                engine_version: "0".into(),
                threads: None,
                device: "cpu".into(),
                precision: "f32".into(),
                details: Default::default(),
            }
        }
    }

    fn short(scenario: Scenario) -> ScenarioSettings {
        let mut r = ScenarioRequest::new(scenario);
        r.duration_s = Some(0.0);
        r.min_query_count = Some(16);
        if scenario == Scenario::Server {
            r.target_qps = Some(100_000.0);
        }
        r.settings().unwrap()
    }

    #[test]
    fn each_scenario_runs_on_the_session_with_the_measured_inputs() {
        for sc in Scenario::ALL {
            let mut s = Counting::default();
            let r = run_on_session(&mut s, "fake", &short(sc), 4, &[], false, &mut |_| {}).unwrap();
            assert_eq!(s.inputs_set, 1, "{sc}: inputs put back once");
            assert!(s.runs >= 1, "{sc}");
            let h = r.headline();
            assert!(h.value.is_some(), "{sc}: {h:?}");
            assert!(!h.compliant, "{sc}: a 0 s run is not compliant");
            let scenario = serde_json::to_value(&r).unwrap()["scenario"].clone();
            assert_eq!(scenario, sc.name());
        }
    }

    #[test]
    fn offline_and_multi_stream_count_the_sessions_batch() {
        let mut s = Counting::default();
        let r = run_on_session(
            &mut s,
            "fake",
            &short(Scenario::Offline),
            8,
            &[],
            false,
            &mut |_| {},
        )
        .unwrap();
        let ScenarioResult::Offline(o) = r else {
            panic!("offline")
        };
        assert_eq!(o.settings.batch, 8);
        assert_eq!(o.samples, 8 * s.runs as u64);
        let mut s = Counting::default();
        let r = run_on_session(
            &mut s,
            "fake",
            &short(Scenario::MultiStream),
            4,
            &[],
            false,
            &mut |_| {},
        )
        .unwrap();
        let ScenarioResult::MultiStream(m) = r else {
            panic!("multi-stream")
        };
        // 8 samples a query at batch 4: two runs a query.
        assert_eq!(s.runs, 2 * m.query_latencies_ms.len());
    }

    #[test]
    fn a_session_that_times_itself_is_refused_and_its_variant_fails() {
        let mut s = Counting::default();
        let e = run_on_session(
            &mut s,
            "torch:eager",
            &short(Scenario::SingleStream),
            1,
            &[],
            true,
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(s.runs, 0);
        let spec = crate::engine::EngineSpec::parse("torch:eager").unwrap();
        let mut ok = VariantResult::failed(&spec, String::new());
        ok.status = Status::Ok;
        ok.error = None;
        let r = attach(ok, Err(e));
        assert_eq!(r.status, Status::Failed);
        let why = r.error.unwrap();
        assert!(
            why.starts_with("--scenario single-stream: torch:eager times itself"),
            "{why}"
        );
        assert_eq!(why.lines().count(), 1);
        assert!(r.scenario.is_none());
    }
}
