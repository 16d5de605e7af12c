//! Interleaved rounds in the study: the plan (one job per variant per round, keys that resume),
//! the sampling limits of each round's child (its share of the time, the sensors' window with
//! room for the confidence rule, three samples for a slow variant after its first round), and
//! the presets.

use edgebench_core::engine::EngineSpec;
use edgebench_core::schema::study::{MeasureSettings, StudyConfig, StudyMeasurement, Task};
use edgebench_core::schema::{ModelInfo, Status, VariantResult};
use edgebench_study::config;
use edgebench_study::runner::{round_measure, MIN_ROUND_SAMPLES};
use edgebench_study::{plan, preset};
use std::path::Path;

const TEXT: &str = r#"
baseline = "tract:reference"
variants = ["tract:optimized"]
[measure]
rounds = 3
max_time_s = 3.0
timeout_s = 100
warmup_s = 0.5
min_warmup_runs = 2
[[model]]
source = "zoo:resnet18?classes=2"
"#;

fn cfg() -> StudyConfig {
    config::parse(TEXT, "s.toml", Path::new(".")).unwrap()
}

/// A first round that took `raw` samples, its child running `wall_s` in all.
fn first_round(raw: Vec<f64>, wall_s: f64) -> StudyMeasurement {
    let mut result = VariantResult::failed(
        &EngineSpec::parse("tract:reference").unwrap(),
        String::new(),
    );
    result.status = Status::Ok;
    result.error = None;
    result.samples = raw.len();
    result.raw_ms = raw;
    StudyMeasurement {
        schema_version: 1,
        key: "k".into(),
        model: ModelInfo::unloaded(
            "resnet18",
            "zoo:resnet18?classes=2",
            Some(Task::Classification),
        ),
        batch: 1,
        spec: "tract:reference".into(),
        is_baseline: true,
        is_reference: true,
        result,
        wall_s,
        finished_unix: 0.0,
        device: None,
    }
}

#[test]
fn rounds_interleave_the_variants_with_a_key_per_round() {
    let p = plan::resolve(&cfg()).unwrap();
    let order: Vec<(&str, usize)> = p.jobs.iter().map(|j| (j.spec.as_str(), j.round)).collect();
    assert_eq!(
        order,
        [
            ("tract:reference", 1),
            ("tract:optimized", 1),
            ("tract:reference", 2),
            ("tract:optimized", 2),
            ("tract:reference", 3),
            ("tract:optimized", 3),
        ]
    );
    // Round 1 keeps the key of a study measured in one round, so such a study resumes.
    let first = edgebench_core::schema::study::job_key(
        "resnet18",
        "zoo:resnet18?classes=2",
        1,
        "tract:reference",
    );
    assert_eq!(p.jobs[0].key, first);
    assert_eq!(p.jobs[2].key, format!("{first}|round=2"));
    assert_eq!(p.jobs[2].key_of_round(&p, 1), first);
    let mut keys: Vec<&str> = p.jobs.iter().map(|j| j.key.as_str()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), p.jobs.len());
}

#[test]
fn the_rounds_setting_is_checked() {
    let e = config::parse(
        "[measure]\nrounds = 0\n[[model]]\nsource = \"zoo:resnet18\"\n",
        "s.toml",
        Path::new("."),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("s.toml:2:") && e.contains("measure.rounds"),
        "{e}"
    );
    // A session line written before rounds existed measured one round.
    let mut v = serde_json::to_value(cfg().measure).unwrap();
    v.as_object_mut().unwrap().remove("rounds");
    let old: MeasureSettings = serde_json::from_value(v).unwrap();
    assert_eq!(old.rounds, 1);
}

#[test]
fn presets_measure_in_rounds() {
    assert_eq!(preset::paper(false).measure.rounds, 3);
    assert_eq!(preset::paper(true).measure.rounds, 2);
    assert_eq!(preset::paper_gpu(false).measure.rounds, 3);
    assert_eq!(preset::paper_gpu(true).measure.rounds, 2);
}

#[test]
fn each_round_samples_its_share_and_warms_up_in_full() {
    let c = cfg();
    for round in 1..=3 {
        let o = round_measure(&c, round, 0.0, None);
        assert_eq!(o.max_time_s, 1.0, "round {round}");
        // Every round is a fresh process: cold, so it warms up as the first did.
        assert_eq!(o.warmup_s, 0.5);
        assert_eq!(o.min_warmup_runs, 2);
        assert_eq!(o.min_time_s, 0.0);
    }
}

/// The committed GPU study sampled 2 s for a 2 s sensor window: the confidence rule could
/// never stop a variant before the limit.
#[test]
fn the_sensors_window_leaves_the_confidence_rule_room() {
    let gpu = preset::paper_gpu(false);
    let rounds = gpu.measure.rounds;
    let last = round_measure(&gpu, rounds, 2.0, None);
    assert_eq!(last.min_time_s, 2.0);
    assert!(last.max_time_s >= 2.0 * last.min_time_s, "{last:?}");
    // The window is taken once, in the last round; the others stop by confidence or limit.
    let first = round_measure(&gpu, 1, 2.0, None);
    assert_eq!(first.min_time_s, 0.0);
    assert!(first.max_time_s > 0.0);
}

#[test]
fn a_slow_first_round_gets_three_samples_in_each_later_round() {
    let c = cfg();
    // One 20 s sample; the child ran 45 s (25 s loading, preparing, the first run, warm-up).
    let slow = first_round(vec![20_000.0], 45.0);
    let o = round_measure(&c, 2, 0.0, Some(&slow));
    assert!(o.min_samples >= MIN_ROUND_SAMPLES);
    assert!(o.max_samples >= MIN_ROUND_SAMPLES);
    // Three samples need 2.5 x 20 s of limit (the limit is checked after each sample), but
    // the child has 100 s: 90% of it, less 25 s of overhead and one sample, leaves 45 s.
    assert!((o.max_time_s - 45.0).abs() < 1e-9, "{}", o.max_time_s);
    let roomy = StudyConfig {
        measure: MeasureSettings {
            timeout_s: 600.0,
            ..c.measure.clone()
        },
        ..c.clone()
    };
    let o = round_measure(&roomy, 3, 0.0, Some(&slow));
    assert!((o.max_time_s - 50.0).abs() < 1e-9, "{}", o.max_time_s);
    // A fast variant keeps its share.
    let fast = first_round(vec![5.0; 200], 3.0);
    assert_eq!(round_measure(&c, 2, 0.0, Some(&fast)).max_time_s, 1.0);
}
