//! The two ends of a `bench` or `pipeline` run around [`super::run_variants`]: the result
//! document before anything runs ([`BenchReport::begin`]), and after the last round the
//! gate, the speed-ups, the host's warnings and what went wrong ([`conclude`]).

use super::{finish, BenchOptions, VariantRun};
use crate::engine::EngineSpec;
use crate::gate::ToleranceOverride;
use crate::host::HostInfo;
use crate::schema::{BenchReport, ModelInfo, Settings, Status, ToolInfo};

impl BenchReport {
    /// The document before any variant has run: provenance, the model and every setting
    /// (`reference`: the reference spec as given, if any).
    pub fn begin(
        tool: ToolInfo,
        model: ModelInfo,
        specs: &[EngineSpec],
        opts: &BenchOptions,
        gate_enforced: bool,
        reference: Option<String>,
    ) -> BenchReport {
        BenchReport {
            schema_version: crate::SCHEMA_VERSION,
            tool,
            host: HostInfo::detect(),
            model,
            settings: Settings {
                engines: specs.iter().map(|s| s.to_string()).collect(),
                batch: opts.batch,
                threads: opts.threads,
                seed: opts.seed,
                target_fps: opts.target_fps,
                measure: opts.measure.clone(),
                rounds: opts.rounds,
                gate_input_sets: opts.gate_input_sets,
                gate_enforced,
                reference,
            },
            results: vec![],
        }
    }
}

/// No variant could run at all: the first one's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct NothingRan {
    pub reason: String,
}

/// A finished run: the whole document, and what makes it a failure.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: BenchReport,
    /// Why nothing could be verified (the reference did not run), if so.
    pub unverified: Option<String>,
}

impl Outcome {
    /// What failed, one line each, in this order: each variant that failed to run, the
    /// reference that did not run, and a failed accuracy gate when the run enforces it
    /// (`settings.gate_enforced`). Empty when the run succeeded.
    pub fn problems(&self) -> Vec<String> {
        let results = &self.report.results;
        let mut out: Vec<String> = results
            .iter()
            .filter(|r| r.status == Status::Failed)
            .map(|r| {
                format!(
                    "{} failed to run: {}",
                    r.spec,
                    r.error.as_deref().unwrap_or("no reason given")
                )
            })
            .collect();
        out.extend(self.unverified.clone());
        if self.report.settings.gate_enforced
            && results.iter().any(|r| r.status == Status::GateFailed)
        {
            out.push("the accuracy gate failed for at least one variant (its speed-up is not counted); --no-gate reports without failing".into());
        }
        out
    }
}

/// Applies the accuracy gate against variant `reference` and the speed-ups over the first
/// ([`finish`]), puts the results into `report` with the host's warnings, and returns it;
/// [`NothingRan`] when every variant failed (with the first one's reason).
pub fn conclude(
    mut runs: Vec<VariantRun>,
    reference: usize,
    overrides: &ToleranceOverride,
    mut report: BenchReport,
) -> Result<Outcome, NothingRan> {
    let (min_samples, seed) = (report.settings.measure.min_samples, report.settings.seed);
    let unverified = finish(&mut runs, reference, overrides, min_samples, seed);
    report.results = runs.into_iter().map(|r| r.result).collect();
    // A Jetson below its maximum performance: every variant's numbers say so.
    report.add_host_warnings();
    let all_failed = report.results.iter().all(|r| r.status == Status::Failed);
    if let Some(reason) = report.results.first().and_then(|r| r.error.clone()) {
        if all_failed {
            return Err(NothingRan { reason });
        }
    }
    Ok(Outcome { report, unverified })
}

/// Leaves out of `runs` the variants from index `from` on that failed only because their
/// engine cannot run on this machine (a GPU provider without a GPU): `pipeline` picks every
/// variant by default and names these once instead of failing. Returns the runs kept and
/// the specs left out.
pub fn leave_out_unavailable(runs: Vec<VariantRun>, from: usize) -> (Vec<VariantRun>, Vec<String>) {
    let mut kept = vec![];
    let mut left_out = vec![];
    for (i, r) in runs.into_iter().enumerate() {
        let unavailable = i >= from
            && r.result.status == Status::Failed
            && r.result.error.as_deref().is_some_and(|e| {
                e.starts_with(&format!("engine {} is not available", r.result.spec))
            });
        if unavailable {
            left_out.push(r.result.spec.clone());
        } else {
            kept.push(r);
        }
    }
    (kept, left_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::MeasureOptions;
    use crate::schema::VariantResult;

    fn run(spec: &str, status: Status, error: Option<&str>) -> VariantRun {
        let spec = EngineSpec::parse(spec).unwrap();
        let mut result = VariantResult::failed(&spec, error.unwrap_or_default().into());
        result.status = status;
        result.error = error.map(str::to_owned);
        VariantRun {
            result,
            outputs: vec![],
        }
    }

    fn report(gate_enforced: bool) -> BenchReport {
        let opts = BenchOptions {
            inputs: vec![],
            batch: 1,
            threads: Some(1),
            seed: 7,
            measure: MeasureOptions::default(),
            rounds: 1,
            target_fps: 30.0,
            gate_input_sets: 1,
            telemetry: None,
            scenario: None,
        };
        let model = ModelInfo::unloaded("m", "m.onnx", None);
        let specs = [EngineSpec::parse("tract:reference").unwrap()];
        BenchReport::begin(
            ToolInfo {
                name: "edgebench".into(),
                version: "0".into(),
                git_commit: "x".into(),
            },
            model,
            &specs,
            &opts,
            gate_enforced,
            None,
        )
    }

    #[test]
    fn the_document_carries_every_setting() {
        let r = report(true);
        assert_eq!(r.settings.engines, ["tract:reference"]);
        assert_eq!((r.settings.seed, r.settings.threads), (7, Some(1)));
        assert!(r.settings.gate_enforced && r.results.is_empty());
        assert_eq!(r.schema_version, crate::SCHEMA_VERSION);
    }

    #[test]
    fn a_run_where_nothing_ran_is_an_error_with_the_first_reason() {
        let runs = vec![
            run("tract:reference", Status::Failed, Some("first reason")),
            run("tract:optimized", Status::Failed, Some("second")),
        ];
        let e = conclude(runs, 0, &ToleranceOverride::default(), report(true)).unwrap_err();
        assert_eq!(e.to_string(), "first reason");
    }

    #[test]
    fn problems_name_failed_variants_then_the_reference_then_the_gate() {
        let runs = vec![
            run("tract:reference", Status::Failed, Some("it broke")),
            run("tract:optimized", Status::Ok, None),
        ];
        let out = conclude(runs, 0, &ToleranceOverride::default(), report(true)).unwrap();
        let p = out.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0], "tract:reference failed to run: it broke");
        assert!(p[1].starts_with("the reference variant tract:reference did not run"));
        assert_eq!(out.report.results[1].status, Status::Unverified);

        let mut gate = report(true);
        gate.results = vec![run("tract:optimized", Status::GateFailed, None).result];
        let gated = Outcome {
            report: gate.clone(),
            unverified: None,
        };
        assert!(gated.problems()[0].starts_with("the accuracy gate failed"));
        gate.settings.gate_enforced = false;
        let not_enforced = Outcome {
            report: gate,
            unverified: None,
        };
        assert!(not_enforced.problems().is_empty());
    }

    #[test]
    fn only_unavailable_variants_after_the_first_ones_are_left_out() {
        let runs = vec![
            run(
                "tract:reference",
                Status::Failed,
                Some("engine tract:reference is not available: x"),
            ),
            run(
                "ort:cuda",
                Status::Failed,
                Some("engine ort:cuda is not available: no GPU; install one"),
            ),
            run("ort:cpu", Status::Failed, Some("it crashed")),
        ];
        let (kept, left_out) = leave_out_unavailable(runs, 1);
        assert_eq!(left_out, ["ort:cuda"]);
        let kept: Vec<&str> = kept.iter().map(|r| r.result.spec.as_str()).collect();
        assert_eq!(kept, ["tract:reference", "ort:cpu"]);
    }
}
