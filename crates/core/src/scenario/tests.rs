//! The scenarios driven by a fake clock and a fake session: no test reads the real clock,
//! and every figure checked is computed here by hand from LoadGen's definitions.

use super::*;
use crate::engine::SessionInfo;
use crate::error::Result as CoreResult;
use crate::tensor::HostTensor;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// A fake clock advanced only by the fake session and by waits.
#[derive(Clone, Default)]
struct FakeClock(Rc<Cell<Duration>>);

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        self.0.get()
    }
}

impl Pacer for FakeClock {
    fn wait_until(&self, t: Duration) {
        if t > self.0.get() {
            self.0.set(t);
        }
    }
}

/// A session whose `i`-th run takes `duration(i, now)`, on the fake clock.
struct FakeSession<F: FnMut(usize, Duration) -> Duration> {
    clock: FakeClock,
    duration: F,
    runs: usize,
}

impl<F: FnMut(usize, Duration) -> Duration> Session for FakeSession<F> {
    fn set_inputs(&mut self, _: &[HostTensor]) -> CoreResult<()> {
        Ok(())
    }
    fn run(&mut self) -> CoreResult<()> {
        let now = self.clock.0.get();
        let d = (self.duration)(self.runs, now);
        self.clock.0.set(now + d);
        self.runs += 1;
        Ok(())
    }
    fn outputs(&mut self) -> CoreResult<Vec<HostTensor>> {
        Ok(vec![])
    }
    fn info(&self) -> SessionInfo {
        SessionInfo::default()
    }
}

fn session<F: FnMut(usize, Duration) -> Duration>(
    clock: &FakeClock,
    duration: F,
) -> FakeSession<F> {
    FakeSession {
        clock: clock.clone(),
        duration,
        runs: 0,
    }
}

fn ms(x: u64) -> Duration {
    Duration::from_millis(x)
}

#[test]
fn single_stream_percentile_and_early_stopping_by_hand() {
    // Query i takes (37 i mod 100) + 1 ms: the first 100 queries take 1..=100 ms, each once.
    let clock = FakeClock::default();
    let mut s = session(&clock, |i, _| ms((i as u64 * 37) % 100 + 1));
    let settings = SingleStreamSettings {
        min_duration_s: 1.0,
        ..Default::default()
    };
    let r = run_single_stream(&mut s, &settings, &clock, &mut |_| {}).unwrap();
    // The 100th query was issued after the other 99: 5050 - 64 ms (query 99 takes 64 ms),
    // past 1 s, so the run stops at LoadGen's 100 queries.
    assert_eq!(r.query_latencies_ms.len(), 100);
    assert_eq!(s.runs, 100);
    assert!((r.duration_s - 4.986).abs() < 1e-9, "{}", r.duration_s);
    // LoadGen's percentile: sorted[floor(100 * 0.9)] = sorted[90] = 91 ms.
    assert_eq!(r.percentile_ms, 91.0);
    assert_eq!(r.latency.p50_ms, 51.0);
    assert_eq!(r.latency.p99_ms, 100.0);
    // Early stopping at n = 100 (inference_rules.adoc appendix, d = 0, c = 0.99): h(3) + 3
    // = 97 <= 100 < h(4) + 4 = 113, so t = 3, the 2 highest are discarded: 98 ms.
    assert_eq!(r.early_stopping.discarded, Some(2));
    assert_eq!(r.early_stopping.min_queries, 64);
    assert_eq!(
        (r.metric_ms, r.metric_source),
        (98.0, MetricSource::EarlyStopping)
    );
    // The 99th percentile needs 662 queries.
    assert_eq!(
        (
            r.early_stopping_p99.estimate_ms,
            r.early_stopping_p99.min_queries
        ),
        (None, 662)
    );
    assert!((r.qps_with_overhead.unwrap() - 99.0 / 4.986).abs() < 1e-9);
    assert!((r.qps_without_overhead.unwrap() - 1e3 / 50.5).abs() < 1e-9);
    assert!(!r.validity.compliant);
    assert_eq!(
        r.validity.lines(),
        vec!["not a compliant run: ran 4.99s, LoadGen requires 600s (raise --scenario-duration)"]
    );
}

#[test]
fn single_stream_runs_until_a_query_is_issued_past_the_duration() {
    // 10 ms a query, 2 s: queries are issued at 0, 10, ... ms; the one issued at 2000 ms is
    // the last (issue_query_controller.cc checks after issuing), 201 in all.
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, _| ms(10));
    let settings = SingleStreamSettings {
        min_duration_s: 2.0,
        ..Default::default()
    };
    let r = run_single_stream(&mut s, &settings, &clock, &mut |_| {}).unwrap();
    assert_eq!((r.query_latencies_ms.len(), r.duration_s), (201, 2.0));
    assert_eq!(r.metric_ms, 10.0);
}

#[test]
fn too_few_queries_for_early_stopping_report_the_percentile_and_say_so() {
    let clock = FakeClock::default();
    let mut s = session(&clock, |i, _| ms(i as u64 % 7 + 1));
    let settings = SingleStreamSettings {
        min_duration_s: 0.0,
        min_query_count: 50,
        ..Default::default()
    };
    let r = run_single_stream(&mut s, &settings, &clock, &mut |_| {}).unwrap();
    assert_eq!(r.query_latencies_ms.len(), 50);
    assert_eq!(r.metric_source, MetricSource::Percentile);
    assert_eq!(r.metric_ms, r.percentile_ms);
    let lines = r.validity.lines();
    assert!(
        lines.contains(&"not a compliant run: 50 queries, LoadGen requires 100".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(
            &"not a compliant run: early stopping needs 64 queries, the run had 50".to_string()
        ),
        "{lines:?}"
    );
}

#[test]
fn a_run_as_long_as_loadgens_is_compliant() {
    let clock = FakeClock::default();
    let mut s = session(&clock, |i, _| ms(100 + (i as u64 % 3)));
    let r = run_single_stream(
        &mut s,
        &SingleStreamSettings::default(),
        &clock,
        &mut |_| {},
    )
    .unwrap();
    assert!(r.duration_s >= 600.0);
    assert!(r.validity.compliant, "{:?}", r.validity);
    assert!(r.validity.notes.is_empty());
    assert_eq!(r.metric_source, MetricSource::EarlyStopping);
    // A changed percentile is measured but not compliant.
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, _| ms(100));
    let settings = SingleStreamSettings {
        percentile: 0.95,
        ..Default::default()
    };
    let r = run_single_stream(&mut s, &settings, &clock, &mut |_| {}).unwrap();
    assert_eq!(
        r.validity.lines(),
        vec!["not a compliant run: the percentile is 0.95, LoadGen's is 0.9"]
    );
}

#[test]
fn multi_stream_query_latency_spans_its_samples() {
    // Every run of query q takes d(q) = (389 q mod 662) + 1 ms: a permutation of 1..=662.
    for batch in [1u64, 4, 3] {
        let runs_per_query = 8u64.div_ceil(batch);
        let clock = FakeClock::default();
        let mut s = session(&clock, |r, _| {
            let q = r as u64 / runs_per_query;
            ms((389 * q) % 662 + 1)
        });
        let settings = MultiStreamSettings {
            min_duration_s: 0.0,
            batch,
            ..Default::default()
        };
        let r = run_multi_stream(&mut s, &settings, &clock, &mut |_| {}).unwrap();
        assert_eq!(r.query_latencies_ms.len(), 662, "batch {batch}");
        assert_eq!(s.runs as u64, 662 * runs_per_query);
        let k = runs_per_query as f64;
        // sorted[floor(662 * 0.99)] = sorted[655]: the 656th smallest, 656 ms a run.
        assert_eq!(r.percentile_ms, 656.0 * k);
        // n = 662 = h(1) + 1: t = 1, nothing discarded, the estimate is the maximum.
        assert_eq!(r.early_stopping.discarded, Some(0));
        assert_eq!(
            (r.metric_ms, r.metric_source),
            (662.0 * k, MetricSource::EarlyStopping)
        );
        // The last query was issued after all the others: compliant once that is 600 s.
        let issued: f64 = r.query_latencies_ms[..661].iter().sum::<f64>() / 1e3;
        assert!((r.duration_s - issued).abs() < 1e-9);
        if issued >= 600.0 {
            assert!(r.validity.compliant, "{:?}", r.validity);
        } else {
            assert_eq!(
                r.validity.notes,
                vec![Note::ShortRun {
                    ran_s: r.duration_s,
                    required_s: 600.0
                }]
            );
        }
    }
}

#[test]
fn multi_stream_one_query_short_of_early_stopping() {
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, _| ms(2));
    let settings = MultiStreamSettings {
        min_duration_s: 0.0,
        min_query_count: 661,
        ..Default::default()
    };
    let r = run_multi_stream(&mut s, &settings, &clock, &mut |_| {}).unwrap();
    assert_eq!(r.query_latencies_ms[0], 16.0);
    assert_eq!(r.metric_source, MetricSource::Percentile);
    assert!(r.validity.notes.contains(&Note::EarlyStoppingUnmet {
        queries: 661,
        required: 662
    }));
    assert!(r.validity.notes.contains(&Note::FewQueries {
        queries: 661,
        required: 662
    }));
}

#[test]
fn offline_throughput_is_samples_over_time() {
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, _| ms(5));
    let settings = OfflineSettings {
        min_duration_s: 1.0,
        min_sample_count: 100,
        batch: 4,
    };
    let r = run_offline(&mut s, &settings, &clock, &mut |_| {}).unwrap();
    // 5 ms a batch of 4: 200 batches reach 1 s, 800 samples.
    assert_eq!(
        (r.batch_latencies_ms.len(), r.samples, r.duration_s),
        (200, 800, 1.0)
    );
    assert_eq!(r.samples_per_s, 800.0);
    assert_eq!(
        r.validity.lines(),
        vec![
            "not a compliant run: ran 1.00s, LoadGen requires 600s (raise --scenario-duration)",
            "not a compliant run: 800 samples, LoadGen requires 24576",
        ]
    );
    // The sample minimum keeps it going past the duration.
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, _| ms(5));
    let r = run_offline(
        &mut s,
        &OfflineSettings {
            min_duration_s: 0.0,
            min_sample_count: 10,
            batch: 4,
        },
        &clock,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(r.samples, 12);
}

#[test]
fn poisson_arrivals_have_the_right_mean_and_spread() {
    let settings = ServerSettings {
        target_qps: 50.0,
        min_duration_s: 400.0,
        seed: 7,
        ..Default::default()
    };
    let t = settings.schedule();
    assert_eq!(t[0], 0.0);
    // Scheduled while the last is under the duration: exactly one at or past it.
    let last = *t.last().unwrap();
    assert!(last >= 400.0 && t[t.len() - 2] < 400.0);
    let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // About 20,000 gaps: the mean's standard error is 1/sqrt(20000) = 0.7% of 20 ms; an
    // exponential's standard deviation equals its mean.
    assert!((mean - 0.02).abs() < 0.02 * 0.03, "mean gap {mean}");
    assert!(
        (var.sqrt() / mean - 1.0).abs() < 0.05,
        "cv {}",
        var.sqrt() / mean
    );
    // Memorylessness: as many gaps over the mean as e^-1 of them.
    let over = gaps.iter().filter(|&&g| g > 0.02).count() as f64 / n;
    assert!((over - (-1f64).exp()).abs() < 0.02, "{over}");
    // The same seed gives the same schedule, another seed another one; twice the rate is the
    // same draws at half the gaps.
    assert_eq!(settings.schedule(), t);
    assert_ne!(
        ServerSettings {
            seed: 8,
            ..settings.clone()
        }
        .schedule()[1],
        t[1]
    );
    let fast = ServerSettings {
        target_qps: 100.0,
        min_duration_s: 200.0,
        ..settings.clone()
    };
    let f = fast.schedule();
    assert!(f.iter().zip(&t).all(|(a, b)| (a - b / 2.0).abs() < 1e-9));
    // Too short a duration still schedules min_query_count.
    let few = ServerSettings {
        min_duration_s: 0.0,
        ..settings
    };
    assert_eq!(few.schedule().len(), 100);
}

#[test]
fn server_latency_counts_the_wait_behind_earlier_queries() {
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, _| ms(10));
    let settings = ServerSettings {
        target_qps: 40.0,
        latency_bound_ms: 25.0,
        min_duration_s: 60.0,
        seed: 3,
        ..Default::default()
    };
    let r = run_server(&mut s, &settings, &clock, false, &mut |_| {}).unwrap();
    // A single server in arrival order (Lindley's recursion), by hand from the schedule.
    let schedule = settings.schedule();
    let mut free = 0.0f64;
    let expected: Vec<f64> = schedule
        .iter()
        .map(|&a| {
            free = free.max(a) + 0.010;
            (free - a) * 1e3
        })
        .collect();
    assert_eq!(r.query_latencies_ms.len(), expected.len());
    assert_eq!(r.scheduled_queries as usize, expected.len());
    for (got, want) in r.query_latencies_ms.iter().zip(&expected) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
    // Some queries waited, none was faster than the session.
    assert!(r.latency.max_ms > 10.0 + 1e-9 && r.latency.min_ms >= 10.0 - 1e-9);
    let mut sorted = expected.clone();
    sorted.sort_by(f64::total_cmp);
    let p99 = sorted[(sorted.len() as f64 * 0.99) as usize];
    assert!((r.percentile_ms - p99).abs() < 1e-5);
    assert_eq!(r.bound_met, p99 <= 25.0);
    let over = expected.iter().filter(|&&l| l > 25.0).count() as u64;
    assert_eq!(r.early_stopping.overlatency, over);
    assert_eq!(
        r.early_stopping.required_queries,
        early_stopping::min_passing_queries(over, 0.99, 0.0, 0.99) + over
    );
    assert!((r.scheduled_qps.unwrap() - (expected.len() - 1) as f64 / r.scheduled_s).abs() < 1e-9);
    assert!(r
        .validity
        .notes
        .iter()
        .any(|n| matches!(n, Note::ShortRun { .. })));
}

#[test]
fn server_over_capacity_misses_the_bound_and_can_stop_early() {
    // 10 ms a query at 150 queries per second: the queue grows without end.
    let settings = ServerSettings {
        target_qps: 150.0,
        latency_bound_ms: 50.0,
        min_duration_s: 20.0,
        ..Default::default()
    };
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, _| ms(10));
    let full = run_server(&mut s, &settings, &clock, false, &mut |_| {}).unwrap();
    assert!(!full.bound_met && !full.stopped_early);
    assert!(full
        .validity
        .notes
        .iter()
        .any(|n| matches!(n, Note::LatencyBoundMissed { .. })));
    let line = &full.validity.lines()[0];
    assert!(
        line.starts_with("latency bound missed: the 99th percentile is "),
        "{line}"
    );
    assert!(
        line.ends_with(" ms, over the 50.0 ms bound (lower --target-qps)"),
        "{line}"
    );
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, _| ms(10));
    let short = run_server(&mut s, &settings, &clock, true, &mut |_| {}).unwrap();
    assert!(short.stopped_early && !short.bound_met);
    // Stopped at the first query the whole schedule's percentile could no longer absorb.
    let n = full.scheduled_queries as usize;
    let allowed = n - 1 - (n as f64 * 0.99) as usize;
    assert_eq!(
        short
            .query_latencies_ms
            .iter()
            .filter(|&&l| l > 50.0)
            .count(),
        allowed + 1
    );
    assert!(short.query_latencies_ms.len() < n);
}

#[test]
fn the_rate_search_converges_on_a_session_that_slows_with_load() {
    // Each run takes 5 ms plus 0.1 ms for every run started in the second before it: at λ
    // queries per second the session is busy λ (5 + 0.1 λ) ms a second, which reaches 1000
    // at λ = 78.1; latency grows with the rate well before that, from the queue.
    let recent: RefCell<Vec<Duration>> = RefCell::new(vec![]);
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, now| {
        let mut r = recent.borrow_mut();
        r.retain(|&t| now < t + Duration::from_secs(1));
        r.push(now);
        Duration::from_micros(5_000 + 100 * (r.len() as u64 - 1))
    });
    let server = ServerSettings {
        target_qps: 10.0,
        latency_bound_ms: 50.0,
        min_duration_s: 20.0,
        ..Default::default()
    };
    let mut tried = vec![];
    let found = find_peak_qps(
        &mut s,
        &server,
        &RateSearchSettings::default(),
        &clock,
        &mut |r| tried.push((r.settings.target_qps, r.bound_met, r.percentile_ms)),
        &mut |_| {},
    )
    .unwrap();
    assert!(found.complete, "{found:?}");
    let best = found.best_qps.unwrap();
    let fail = found.lowest_failing_qps.unwrap();
    assert!(
        (best * 10.0).floor() + 1.0 >= (fail * 10.0).floor(),
        "{best} {fail}"
    );
    assert!(best > 20.0 && best < 78.1, "{best}");
    let run = found.best.as_ref().unwrap();
    assert!(run.bound_met && run.percentile_ms <= 50.0);
    assert_eq!(run.settings.target_qps, best);
    // 10, 20, 40, 80: 80 is over capacity; every rate tried is reported, in order.
    assert_eq!(tried.len(), found.runs.len());
    assert_eq!(
        &tried.iter().map(|t| t.0).collect::<Vec<_>>()[..4],
        &[10.0, 20.0, 40.0, 80.0]
    );
    assert!(!tried[3].1);
    for (run, (qps, passed, p99)) in found.runs.iter().zip(&tried) {
        assert_eq!((run.target_qps, run.passed), (*qps, *passed));
        assert_eq!(*passed, *p99 <= 50.0);
    }
}

#[test]
fn bad_settings_are_one_line_naming_the_setting() {
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, _| ms(1));
    let e = run_server(
        &mut s,
        &ServerSettings {
            target_qps: 0.0,
            ..Default::default()
        },
        &clock,
        false,
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "--target-qps 0: give the arrival rate in queries per second, more than 0"
    );
    let e = run_offline(
        &mut s,
        &OfflineSettings {
            batch: 0,
            ..Default::default()
        },
        &clock,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("--batch 0: "), "{e}");
    let e = run_single_stream(
        &mut s,
        &SingleStreamSettings {
            min_duration_s: f64::NAN,
            ..Default::default()
        },
        &clock,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("--scenario-duration NaN: "),
        "{e}"
    );
    assert_eq!(s.runs, 0, "nothing runs on bad settings");
    assert_eq!("server".parse::<Scenario>().unwrap(), Scenario::Server);
    let e = "streaming".parse::<Scenario>().unwrap_err().to_string();
    assert_eq!(e, "--scenario streaming: unknown scenario; use single-stream, multi-stream, offline or server");
    for sc in Scenario::ALL {
        assert_eq!(sc.name().parse::<Scenario>().unwrap(), sc);
        assert_eq!(serde_json::to_value(sc).unwrap(), sc.name());
    }
}

#[test]
fn results_serialize_with_their_raw_latencies() {
    let clock = FakeClock::default();
    let mut s = session(&clock, |i, _| ms(i as u64 % 5 + 1));
    let r = run_single_stream(
        &mut s,
        &SingleStreamSettings {
            min_duration_s: 0.0,
            ..Default::default()
        },
        &clock,
        &mut |_| {},
    )
    .unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["query_latencies_ms"].as_array().unwrap().len(), 100);
    assert_eq!(v["metric_source"], "early_stopping");
    assert_eq!(v["validity"]["compliant"], false);
    assert_eq!(v["validity"]["notes"][0]["kind"], "short_run");
    assert_eq!(v["validity"]["notes"][0]["required_s"], 600.0);
    let back: SingleStreamResult = serde_json::from_value(v).unwrap();
    assert_eq!(back, r);
    // One query has no rate over its run: null, not NaN, so the document reads back.
    let one = SingleStreamSettings {
        min_duration_s: 0.0,
        min_query_count: 1,
        ..Default::default()
    };
    let r = run_single_stream(&mut s, &one, &clock, &mut |_| {}).unwrap();
    assert_eq!(r.qps_with_overhead, None);
    let text = serde_json::to_string(&r).unwrap();
    assert_eq!(
        serde_json::from_str::<SingleStreamResult>(&text).unwrap(),
        r
    );
}

#[test]
fn progress_comes_about_once_a_second_between_queries() {
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, _| ms(10));
    let mut seen = vec![];
    let settings = SingleStreamSettings {
        min_duration_s: 5.0,
        ..Default::default()
    };
    run_single_stream(&mut s, &settings, &clock, &mut |p| seen.push(p)).unwrap();
    // The query issued at 5 s is the last: its completion reports nothing.
    let at: Vec<(u64, f64)> = seen.iter().map(|p| (p.queries, p.elapsed_s)).collect();
    assert_eq!(
        at,
        vec![(100, 1.0), (200, 2.0), (300, 3.0), (400, 4.0), (500, 5.0)]
    );
    assert!(seen
        .iter()
        .all(|p| p.scenario == Scenario::SingleStream && p.min_duration_s == 5.0));
    // The server reports by completion time too.
    let clock = FakeClock::default();
    let mut s = session(&clock, |_, _| ms(1));
    let mut n = 0;
    let server = ServerSettings {
        target_qps: 100.0,
        min_duration_s: 10.0,
        ..Default::default()
    };
    let r = run_server(&mut s, &server, &clock, false, &mut |p| {
        assert_eq!(p.scenario, Scenario::Server);
        n += 1
    })
    .unwrap();
    assert_eq!(n, r.duration_s.floor() as usize);
}

#[test]
fn one_entry_point_runs_each_scenario_and_gives_its_headline() {
    let run_one = |settings: ScenarioSettings| {
        let clock = FakeClock::default();
        let mut s = session(&clock, |i, _| ms(i as u64 % 4 + 2));
        run(&mut s, &settings, &clock, &mut |_| {}, &mut |_| {}).unwrap()
    };
    let ss = run_one(ScenarioSettings::SingleStream(SingleStreamSettings {
        min_duration_s: 0.0,
        ..Default::default()
    }));
    let h = ss.headline();
    assert_eq!(h.metric, "90th percentile latency, early-stopping estimate");
    assert_eq!(
        (h.value, h.unit.clone(), h.compliant),
        (Some(5.0), "ms".to_string(), false)
    );
    assert_eq!(
        h.notes,
        vec!["not a compliant run: ran 0.345s, LoadGen requires 600s (raise --scenario-duration)"]
    );
    let v = serde_json::to_value(&ss).unwrap();
    assert_eq!(v["scenario"], "single-stream");
    assert_eq!(serde_json::from_value::<ScenarioResult>(v).unwrap(), ss);

    let off = run_one(ScenarioSettings::Offline(OfflineSettings {
        min_duration_s: 0.0,
        min_sample_count: 4,
        batch: 2,
    }));
    // Two batches of 2 samples, 2 ms and 3 ms: 4 samples in 5 ms.
    assert_eq!(off.headline().value, Some(800.0));
    assert_eq!(off.headline().unit, "samples/s");

    let server = ServerSettings {
        target_qps: 10.0,
        latency_bound_ms: 20.0,
        min_duration_s: 10.0,
        ..Default::default()
    };
    let one = run_one(ScenarioSettings::Server {
        server: server.clone(),
        search: None,
    });
    assert_eq!(
        one.headline().metric,
        "99th percentile latency at 10.0 queries/s"
    );
    let found = run_one(ScenarioSettings::Server {
        server: ServerSettings {
            latency_bound_ms: 1.0,
            ..server
        },
        search: Some(RateSearchSettings::default()),
    });
    // Every query takes at least 2 ms: nothing keeps a 1 ms bound.
    let h = found.headline();
    assert_eq!((h.value, h.compliant), (None, false));
    assert_eq!(
        h.notes,
        vec!["no rate kept the latency bound: raise --latency-bound-ms or lower --target-qps"]
    );
    let v = serde_json::to_value(&found).unwrap();
    assert_eq!(v["scenario"], "server-search");
}
