//! `--scenario NAME` and its settings, named after MLPerf LoadGen's (`docs/scenarios.md`).
//! The checks are `edgebench_core::scenario::ScenarioRequest`'s, shared with the study's
//! `[scenario]` table.

use clap::Args;
use edgebench_core::scenario::{Scenario, ScenarioError, ScenarioRequest, ScenarioSettings};

#[derive(Debug, Clone, Default, Args)]
pub struct ScenarioArgs {
    /// After measuring, run each variant under an MLPerf scenario with LoadGen's rules:
    /// single-stream, multi-stream, offline or server (docs/scenarios.md).
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// Server: queries per second of the Poisson arrivals (with --find-peak, the first rate
    /// tried); LoadGen's server_target_qps.
    #[arg(long, value_name = "Q", allow_negative_numbers = true)]
    pub target_qps: Option<f64>,
    /// Server: the bound of the 99th-percentile latency (LoadGen's default 100 ms;
    /// mlperf.conf sets 10 to 130 ms per benchmark).
    #[arg(long, value_name = "MS", allow_negative_numbers = true)]
    pub latency_bound_ms: Option<f64>,
    /// Seconds each scenario runs at least (LoadGen's min_duration: 600, what a compliant run
    /// needs).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub scenario_duration: Option<f64>,
    /// Fewest queries (offline: samples) a scenario issues (LoadGen's min_query_count: 100,
    /// multi-stream 662, offline 24576).
    #[arg(long, value_name = "N")]
    pub min_query_count: Option<u64>,
    /// Multi-stream: samples per query (LoadGen's 8).
    #[arg(long, value_name = "N")]
    pub samples_per_query: Option<u64>,
    /// Server: search the highest rate whose 99th percentile stays within the bound
    /// (LoadGen's FindPeakPerformance mode), starting at --target-qps.
    #[arg(long)]
    pub find_peak: bool,
}

impl ScenarioArgs {
    /// The scenario asked for, checked (`None` without `--scenario`); a setting given
    /// without `--scenario` is refused.
    pub fn settings(&self) -> Result<Option<ScenarioSettings>, ScenarioError> {
        let Some(name) = &self.scenario else {
            let given = [
                ("--target-qps", self.target_qps.is_some()),
                ("--latency-bound-ms", self.latency_bound_ms.is_some()),
                ("--scenario-duration", self.scenario_duration.is_some()),
                ("--min-query-count", self.min_query_count.is_some()),
                ("--samples-per-query", self.samples_per_query.is_some()),
                ("--find-peak", self.find_peak),
            ];
            return match given.into_iter().find(|(_, g)| *g) {
                Some((flag, _)) => Err(ScenarioError::NoScenario { flag }),
                None => Ok(None),
            };
        };
        let request = ScenarioRequest {
            target_qps: self.target_qps,
            latency_bound_ms: self.latency_bound_ms,
            duration_s: self.scenario_duration,
            min_query_count: self.min_query_count,
            samples_per_query: self.samples_per_query,
            find_peak: self.find_peak,
            ..ScenarioRequest::new(name.parse::<Scenario>()?)
        };
        request.settings().map(Some)
    }
}
