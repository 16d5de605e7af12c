//! The MLPerf scenarios of `edgebench_core::scenario` on a real session (tract, the tiny CNN)
//! and the system clock: every scenario runs end to end, waits for the server's arrivals,
//! and reports a short run as not compliant. Nothing here asserts how fast anything is.

use edgebench_core::engine::{Engine, EngineSpec, PrepareOptions, Session};
use edgebench_core::inputs::random_inputs;
use edgebench_core::measure::SystemClock;
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::scenario::{self, MetricSource, Note};
use edgebench_core::testmodel::{tiny_cnn_bytes, TinyCnn};

fn tract_session() -> Box<dyn Session> {
    let model = Model::from_bytes("tiny", tiny_cnn_bytes(&TinyCnn::default())).unwrap();
    let specs = model.resolve_inputs(&ShapeRequest::default()).unwrap();
    let opts = PrepareOptions {
        inputs: specs.clone(),
        threads: Some(1),
    };
    let mut s = edgebench_engines::tract::Tract
        .prepare(
            &model,
            &EngineSpec::parse("tract:optimized").unwrap(),
            &opts,
        )
        .unwrap();
    s.set_inputs(&random_inputs(&specs, 1).unwrap()).unwrap();
    s.run().unwrap();
    s
}

fn is_short_run(n: &Note) -> bool {
    matches!(n, Note::ShortRun { required_s, .. } if *required_s == 600.0)
}

#[test]
fn every_scenario_runs_on_a_real_session() {
    let clock = SystemClock::default();
    let mut s = tract_session();

    let ss = scenario::run_single_stream(
        s.as_mut(),
        &scenario::SingleStreamSettings {
            min_duration_s: 0.2,
            ..Default::default()
        },
        &clock,
        &mut |_| {},
    )
    .unwrap();
    assert!(ss.query_latencies_ms.len() >= 100);
    assert!(ss.duration_s >= 0.2);
    assert!(ss.query_latencies_ms.iter().all(|&l| l > 0.0));
    assert_eq!(ss.metric_source, MetricSource::EarlyStopping);
    assert!(ss.metric_ms >= ss.percentile_ms);
    assert!(!ss.validity.compliant && is_short_run(&ss.validity.notes[0]));

    let ms = scenario::run_multi_stream(
        s.as_mut(),
        &scenario::MultiStreamSettings {
            min_duration_s: 0.0,
            ..Default::default()
        },
        &clock,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(ms.query_latencies_ms.len(), 662);
    assert!(ms.early_stopping.met());

    let off = scenario::run_offline(
        s.as_mut(),
        &scenario::OfflineSettings {
            min_duration_s: 0.2,
            min_sample_count: 64,
            batch: 1,
        },
        &clock,
        &mut |_| {},
    )
    .unwrap();
    assert!(off.samples >= 64 && off.duration_s >= 0.2);
    assert_eq!(off.samples, off.batch_latencies_ms.len() as u64);
    assert!(off.validity.notes.iter().any(is_short_run));

    // 50 queries a second for half a second: the session is far faster, so it idles and the
    // pacer must wait for every arrival; the run cannot end before the last one.
    let server = scenario::ServerSettings {
        target_qps: 50.0,
        latency_bound_ms: 1000.0,
        min_duration_s: 0.5,
        min_query_count: 10,
        ..Default::default()
    };
    let sv = scenario::run_server(s.as_mut(), &server, &clock, false, &mut |_| {}).unwrap();
    assert_eq!(sv.query_latencies_ms.len() as u64, sv.scheduled_queries);
    assert!(sv.scheduled_s >= 0.5);
    assert!(
        sv.duration_s >= sv.scheduled_s,
        "{} < {}",
        sv.duration_s,
        sv.scheduled_s
    );
    assert!(sv.validity.notes.iter().any(is_short_run));
}
