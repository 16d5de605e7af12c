//! The analysis of a made-up study whose answers are known: speed-ups, both averages, the
//! FLOPs trend, real time for images and clips, gate failures left out, and the energy
//! figures with the energy ratio over the baseline.

use edgebench_core::analysis::{analyse, trend};
use edgebench_core::engine::EngineSpec;
use edgebench_core::fixtures::{self, measured};
use edgebench_core::schema::study::{Line, Loaded, Row, StudyMeasurement, StudySummary, Task};
use edgebench_core::schema::{IntervalMethod, SpeedupWarning, Status, VariantResult, Verdict};
use edgebench_core::telemetry::energy::ThrottleVerdict;
use edgebench_study::results::{self, Appender};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// [`fixtures::known_answers`], without its last measurement when `skip_last`.
fn study(skip_last: bool) -> Loaded {
    let mut loaded = fixtures::known_answers();
    if skip_last {
        loaded.measurements.pop();
    }
    loaded
}

#[test]
fn known_study_gives_known_findings() {
    let s = analyse(&study(false)).unwrap();
    assert_eq!(s.baseline, "tract:reference");
    assert!(s.pending.is_empty());

    let row = |model: &str, spec: &str| {
        s.rows
            .iter()
            .find(|r| r.model == model && r.spec == spec)
            .unwrap()
    };
    let r = row("resnet18", "tract:optimized");
    let sp = r.speedup.as_ref().unwrap();
    assert!(close(sp.ratio, 2.0) && close(sp.percent, 100.0));
    assert!(close(r.median_ms.unwrap(), 5.0));

    // Classification: ratios 4, 2, 1 -> gains 300%, 100%, 0%: arithmetic mean 133.33%,
    // geometric mean of ratios cube root of 8 = 2.
    let avg = s
        .averages
        .iter()
        .find(|a| a.task == Some(Task::Classification))
        .unwrap();
    assert_eq!(avg.n, 3);
    assert!(close(avg.mean_percent.unwrap(), 400.0 / 3.0));
    assert!(close(avg.geomean_ratio.unwrap(), 2.0));
    // The action-recognition model failed the gate: nothing counts there.
    let avg = s
        .averages
        .iter()
        .find(|a| a.task == Some(Task::ActionRecognition))
        .unwrap();
    assert_eq!(avg.n, 0);
    assert_eq!(avg.mean_percent, None);
    assert_eq!(s.failures.len(), 1);
    assert_eq!(s.failures[0].model, "c3d_small");
    assert_eq!(s.failures[0].status, Status::GateFailed);
    assert!(!row("c3d_small", "tract:optimized").counted);
    assert!(row("c3d_small", "tract:optimized").speedup.is_none());

    // Trend over log10 FLOPs 8, 9, 10 and ratios 4, 2, 1: dx = -1 0 1, dy = 5/3 -1/3 -4/3,
    // sxy = -3, sxx = 2, syy = 42/9: Pearson -3 / sqrt(2 * 42 / 9), slope -1.5,
    // intercept 7/3 + 1.5 * 9; Spearman -1 (lower FLOPs, larger gains).
    let t = s
        .trends
        .iter()
        .find(|t| t.task == Some(Task::Classification))
        .unwrap();
    assert_eq!(t.n, 3);
    assert!(close(t.spearman.unwrap(), -1.0));
    assert!(close(
        t.pearson.unwrap(),
        -3.0 / (2.0 * 42.0 / 9.0f64).sqrt()
    ));
    assert!(close(t.slope.unwrap(), -1.5));
    assert!(close(t.intercept.unwrap(), 7.0 / 3.0 + 13.5));

    // Real time at 30 fps: a frame has 33.3 ms; a 16-frame clip at stride 16 has 533.3 ms.
    let rt = row("resnet18", "tract:reference")
        .realtime
        .as_ref()
        .unwrap();
    assert!(close(rt.deadline_ms, 1000.0 / 30.0) && rt.meets);
    let c = row("c3d_small", "tract:reference");
    let rt = c.realtime.as_ref().unwrap();
    assert_eq!(c.unit, "clips");
    assert!(close(c.required_per_s, 30.0 / 16.0));
    assert!(close(rt.deadline_ms, 16.0 / 30.0 * 1000.0));
    assert!(rt.meets && rt.miss_share == 0.0);
}

#[test]
fn an_outlier_model_is_named_as_an_exception() {
    let s = analyse(&study(false)).unwrap();
    let base = s.rows.iter().find(|r| !r.is_baseline).unwrap();
    // Nine models on the line ratio = 10 - log10(FLOPs), one far above it.
    let rows: Vec<_> = (0..10)
        .map(|i| {
            let mut r = base.clone();
            r.model = format!("m{i}");
            r.flops = Some(10f64.powi(6 + i % 5) as u64 * if i >= 5 { 3 } else { 1 });
            r
        })
        .collect();
    let pts: Vec<(&_, f64)> = rows
        .iter()
        .map(|r| {
            let lx = (r.flops.unwrap() as f64).log10();
            (
                r,
                if r.model == "m7" {
                    10.0 - lx + 5.0
                } else {
                    10.0 - lx
                },
            )
        })
        .collect();
    let t = trend("x", None, 1, &pts, 2.0);
    assert_eq!(t.exceptions, vec!["m7".to_string()]);
    assert!(t.spearman.unwrap() < 0.0);
}

#[test]
fn missing_measurements_are_pending() {
    // The last job is c3d_small's variant in round 3, after it failed the gate in rounds 1
    // and 2: a round after one that did not pass is never run, so it is not pending.
    let s = analyse(&study(true)).unwrap();
    assert!(s.pending.is_empty(), "{:?}", s.pending);
}

#[test]
fn results_file_round_trip_with_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.jsonl");
    let loaded = study(false);
    let mut a = Appender::open(&path, 0).unwrap();
    a.append(&Line::Session(Box::new(loaded.sessions[0].clone())))
        .unwrap();
    for m in &loaded.measurements {
        a.append(&Line::Measurement(Box::new(m.clone()))).unwrap();
    }
    drop(a);
    let back = results::load(&path).unwrap();
    // serde_json (without its `float_roundtrip` feature) may read a float back one unit in
    // the last place off (0.9523809523809523, a lag-1 autocorrelation here): compare with
    // what a write and a read give.
    let expected: Vec<StudyMeasurement> = loaded
        .measurements
        .iter()
        .map(|m| serde_json::from_str(&serde_json::to_string(m).unwrap()).unwrap())
        .collect();
    assert_eq!(back.measurements, expected);
    assert!(!back.torn);
    let full_len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(back.valid_len, full_len);

    // A write cut short by kill -9: half a line, no newline.
    let line = serde_json::to_string(&Line::Measurement(Box::new(loaded.measurements[0].clone())))
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&line.as_bytes()[..line.len() / 2]);
    std::fs::write(&path, &bytes).unwrap();
    let torn = results::load(&path).unwrap();
    assert!(torn.torn);
    assert_eq!(torn.measurements.len(), loaded.measurements.len());
    assert_eq!(torn.valid_len, full_len);

    // Appending cuts the torn part off first.
    let mut a = Appender::open(&path, torn.valid_len).unwrap();
    a.append(&Line::Measurement(Box::new(loaded.measurements[1].clone())))
        .unwrap();
    drop(a);
    let after = results::load(&path).unwrap();
    assert!(!after.torn);
    assert_eq!(after.measurements.len(), loaded.measurements.len() + 1);

    // A bad line in the middle is an error that names the line.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.insert_str(0, "{not json}\n");
    std::fs::write(&path, text).unwrap();
    let e = results::load(&path).unwrap_err().to_string();
    assert!(e.contains("line 1"), "{e}");
}

#[test]
fn energy_ratio_is_baseline_joules_over_the_variants() {
    let mut loaded = study(false);
    for m in &mut loaded.measurements {
        let j = match (m.model.label.as_str(), m.is_baseline) {
            // 4 J -> 1 J: ratio 4; 4 J -> 2 J: ratio 2 (throttled); vgg11's baseline has no
            // sensor: no ratio; c3d_small fails the gate: no ratio.
            ("mobilenet_v3_small", false) => Some(1.0),
            ("resnet18", false) => Some(2.0),
            ("vgg11", true) => None,
            _ => Some(4.0),
        };
        let throttled = m.model.label == "resnet18" && !m.is_baseline;
        let throttle = throttled.then_some("throttle reasons fired: gpu0: sw_power_cap");
        m.result.energy = Some(fixtures::energy(j, &["gpu0"], throttle));
    }
    let s = analyse(&loaded).unwrap();
    let row = |model: &str, spec: &str| {
        s.rows
            .iter()
            .find(|r| r.model == model && r.spec == spec)
            .unwrap()
    };
    let r = row("mobilenet_v3_small", "tract:optimized");
    assert!(close(r.energy_ratio.unwrap(), 4.0));
    let e = r.energy.as_ref().unwrap();
    assert!(close(e.energy_per_inference_j.unwrap(), 1.0));
    assert!(close(e.avg_power_w.unwrap(), 50.0));
    assert!(close(e.energy_per_inference_above_idle_j.unwrap(), 0.8));
    // The check: power x time per inference is 5% above the counter's.
    assert!(close(e.counter_j.unwrap(), 1.0));
    assert!(close(e.power_x_time_j.unwrap(), 1.05));
    assert!(close(e.check_gap_pct().unwrap(), 5.0));
    assert_eq!(e.check_devices, ["gpu0"]);
    assert!(!e.throttled());
    assert_eq!(r.energy_na, None);

    let r = row("resnet18", "tract:optimized");
    assert!(close(r.energy_ratio.unwrap(), 2.0));
    let e = r.energy.as_ref().unwrap();
    assert!(e.throttled());
    assert_eq!(e.throttle, ThrottleVerdict::Throttled);
    assert!(e.throttle_detail.contains("sw_power_cap"));

    // No sensor on the baseline: the reason, no figures, no ratio; never a zero.
    let b = row("vgg11", "tract:reference");
    assert_eq!(
        b.energy_na.as_deref(),
        Some("no power sensor: rapl: no /sys/class/powercap")
    );
    assert_eq!(b.energy.as_ref().unwrap().energy_per_inference_j, None);
    assert_eq!(row("vgg11", "tract:optimized").energy_ratio, None);
    assert_eq!(row("c3d_small", "tract:optimized").energy_ratio, None);
    assert_eq!(row("resnet18", "tract:reference").energy_ratio, None);

    // Classification: ratios 4 and 2 -> geometric mean sqrt(8), over 2 of the 3 models.
    let avg = s
        .averages
        .iter()
        .find(|a| a.task == Some(Task::Classification))
        .unwrap();
    assert_eq!(avg.n, 3);
    assert_eq!(avg.energy_n, 2);
    assert!(close(avg.energy_geomean_ratio.unwrap(), 8f64.sqrt()));
    assert_eq!(avg.energy_models, ["mobilenet_v3_small", "resnet18"]);
    let avg = s
        .averages
        .iter()
        .find(|a| a.task == Some(Task::ActionRecognition))
        .unwrap();
    assert_eq!((avg.energy_n, avg.energy_geomean_ratio), (0, None));
}

#[test]
fn energy_over_other_devices_gives_no_ratio_and_says_why() {
    let mut loaded = study(false);
    for m in &mut loaded.measurements {
        let devices: &[&str] = if m.is_baseline {
            &["gpu0", "package-0"]
        } else {
            &["gpu0"]
        };
        m.result.energy = Some(fixtures::energy(Some(2.0), devices, None));
    }
    // One variant without telemetry at all (in every round).
    let key = loaded.measurements[0].key.clone();
    for m in &mut loaded.measurements {
        if m.key.starts_with(&key) {
            m.result.energy = None;
        }
    }
    let s = analyse(&loaded).unwrap();
    let r = s
        .rows
        .iter()
        .find(|r| r.model == "resnet18" && !r.is_baseline)
        .unwrap();
    assert_eq!(r.energy_ratio, None);
    let notes = &r.energy.as_ref().unwrap().notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("baseline's energy counts gpu0, package-0")),
        "{notes:?}"
    );
    assert!(s.rows[0]
        .energy_na
        .as_deref()
        .unwrap()
        .starts_with("no telemetry was recorded"));
    assert!(s.rows[0].energy.is_none());
}

fn row<'a>(s: &'a StudySummary, model: &str, spec: &str) -> &'a Row {
    s.rows
        .iter()
        .find(|r| r.model == model && r.spec == spec)
        .unwrap()
}

/// The round (from 1) of a measurement, from its key.
fn round_of(m: &StudyMeasurement) -> usize {
    m.key
        .rsplit_once("|round=")
        .map_or(1, |(_, r)| r.parse().unwrap())
}

#[test]
fn each_variant_is_one_row_with_its_rounds_merged() {
    let mut loaded = study(false);
    // resnet18's baseline drifts between rounds: 10, 12 and 11 ms; the variant stays at 5 ms.
    for m in &mut loaded.measurements {
        if m.model.label == "resnet18" && m.is_baseline {
            let ms = [10.0, 12.0, 11.0][round_of(m) - 1];
            m.result = measured(&m.spec, vec![ms; 21]);
        }
    }
    let s = analyse(&loaded).unwrap();
    assert_eq!(
        s.rows.iter().filter(|r| r.model == "resnet18").count(),
        2,
        "one row per variant, not per round"
    );
    let b = row(&s, "resnet18", "tract:reference");
    assert_eq!(b.rounds, vec![21, 21, 21]);
    assert_eq!(b.samples, 63);
    assert!(close(b.median_ms.unwrap(), 11.0));
    let sp = row(&s, "resnet18", "tract:optimized")
        .speedup
        .as_ref()
        .unwrap();
    assert_eq!(sp.method, IntervalMethod::Rounds);
    assert_eq!(sp.round_ratios.len(), 3);
    // The geometric mean of the rounds' ratios 2, 2.4 and 2.2, with an interval across them.
    assert!(close(sp.ratio, (2.0f64 * 2.4 * 2.2).cbrt()), "{}", sp.ratio);
    let (lo, hi) = (sp.ci95_low.unwrap(), sp.ci95_high.unwrap());
    assert!(lo < sp.ratio && sp.ratio < hi, "[{lo}, {hi}]");
}

#[test]
fn a_failed_reference_leaves_nothing_of_its_model_verified() {
    let mut loaded = study(false);
    // resnet18's reference (its baseline) dies in round 2, after its first round's outputs
    // gated the variant; its round 3 is then not run.
    for m in &mut loaded.measurements {
        if m.model.label == "resnet18" && m.is_reference && round_of(m) == 2 {
            m.result = VariantResult::failed(
                &EngineSpec::parse(&m.spec).unwrap(),
                "the worker was killed by signal 9 without a result".into(),
            );
        }
    }
    loaded
        .measurements
        .retain(|m| !(m.model.label == "resnet18" && m.is_reference && round_of(m) == 3));
    let s = analyse(&loaded).unwrap();
    assert!(s.pending.is_empty(), "{:?}", s.pending);
    let r = row(&s, "resnet18", "tract:reference");
    assert_eq!(r.status, Status::Failed);
    assert!(r.note.as_deref().unwrap().contains("round 2 of 3"));
    let v = row(&s, "resnet18", "tract:optimized");
    assert_eq!(v.status, Status::Unverified);
    assert!(!v.counted);
    assert!(v.speedup.is_none());
    let note = v.note.as_deref().unwrap();
    assert!(
        note.contains("gate reference tract:reference failed") && note.contains("signal 9"),
        "{note}"
    );
    // Both are failures (the study exits 1), and neither counts in the averages.
    let failed: Vec<(&str, Status)> = s
        .failures
        .iter()
        .filter(|f| f.model == "resnet18")
        .map(|f| (f.spec.as_str(), f.status))
        .collect();
    assert_eq!(
        failed,
        [
            ("tract:reference", Status::Failed),
            ("tract:optimized", Status::Unverified)
        ]
    );
    let avg = s
        .averages
        .iter()
        .find(|a| a.task == Some(Task::Classification))
        .unwrap();
    assert_eq!(avg.n, 2);
    assert!(!avg.models.contains(&"resnet18".to_string()));
}

#[test]
fn a_variant_whose_comparison_never_ran_is_a_failure_not_ok() {
    let mut loaded = study(false);
    for m in &mut loaded.measurements {
        if m.model.label == "vgg11" && !m.is_reference {
            m.result.accuracy = None;
        }
    }
    let s = analyse(&loaded).unwrap();
    let v = row(&s, "vgg11", "tract:optimized");
    assert_eq!(v.status, Status::Unverified);
    assert!(!v.counted && v.speedup.is_none());
    assert!(v.note.as_deref().unwrap().starts_with("not verified"));
    assert!(s
        .failures
        .iter()
        .any(|f| f.model == "vgg11" && f.status == Status::Unverified));
}

#[test]
fn a_variant_that_fails_a_later_round_fails() {
    let mut loaded = study(false);
    for m in &mut loaded.measurements {
        if m.model.label == "mobilenet_v3_small" && !m.is_baseline && round_of(m) == 2 {
            m.result = VariantResult::failed(
                &EngineSpec::parse(&m.spec).unwrap(),
                "the worker exited with code 134 without a result".into(),
            );
        }
    }
    loaded
        .measurements
        .retain(|m| !(m.model.label == "mobilenet_v3_small" && !m.is_baseline && round_of(m) == 3));
    let s = analyse(&loaded).unwrap();
    let v = row(&s, "mobilenet_v3_small", "tract:optimized");
    assert_eq!(v.status, Status::Failed);
    assert!(!v.counted && v.speedup.is_none());
    assert!(v
        .note
        .as_deref()
        .unwrap()
        .starts_with("round 2 of 3: the worker exited with code 134"));
    assert!(s.pending.is_empty());
}

#[test]
fn a_baseline_with_too_few_samples_gives_no_interval() {
    let mut loaded = study(false);
    // One 10 ms sample per round: 3 in all, fewer than the config's minimum of 10.
    for m in &mut loaded.measurements {
        if m.model.label == "resnet18" && m.is_baseline {
            m.result = measured(&m.spec, vec![10.0]);
        }
    }
    let s = analyse(&loaded).unwrap();
    let sp = row(&s, "resnet18", "tract:optimized")
        .speedup
        .as_ref()
        .unwrap();
    assert!(close(sp.ratio, 2.0));
    assert_eq!((sp.ci95_low, sp.ci95_high), (None, None));
    assert_eq!(sp.verdict, Verdict::Undetermined);
    assert!(sp
        .warnings
        .iter()
        .any(|w| matches!(w, SpeedupWarning::FewSamples { samples: 3, .. })));
}

#[test]
fn an_interrupted_variant_says_how_many_rounds_it_has() {
    let mut loaded = study(false);
    let i = loaded
        .measurements
        .iter()
        .position(|m| m.model.label == "resnet18" && !m.is_baseline && round_of(m) == 3)
        .unwrap();
    let last = loaded.measurements.remove(i);
    let s = analyse(&loaded).unwrap();
    assert_eq!(s.pending, vec![last.key.clone()]);
    let r = row(&s, &last.model.label, &last.spec);
    assert_eq!(r.rounds.len(), 2);
    assert!(r
        .note
        .as_deref()
        .unwrap()
        .contains("2 of 3 rounds measured"));
}

#[test]
fn merged_variants_give_one_measurement_per_variant() {
    let loaded = study(false);
    let merged = edgebench_core::analysis::merged_variants(&loaded);
    // 4 models x 2 variants, each from its 3 rounds of 21 samples (c3d_small's variant failed
    // the gate: its first failing round stands for it).
    assert_eq!(merged.len(), 8);
    let r = merged
        .iter()
        .find(|m| m.model.label == "resnet18" && m.spec == "tract:optimized")
        .unwrap();
    assert_eq!(r.result.rounds, vec![21, 21, 21]);
    assert_eq!(r.result.raw_ms.len(), 63);
    assert!(!r.key.contains("|round="));
}

#[test]
fn compare_keys_a_fleets_variants_by_device() {
    // Both devices measured mobilenet_v3_small's baseline: compare must see two variants, one
    // per device, never the later of the two under one key.
    let fleet = fixtures::fleet();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(results::RESULTS_FILE);
    let mut a = Appender::open(&path, 0).unwrap();
    for s in &fleet.sessions {
        a.append(&Line::Session(Box::new(s.clone()))).unwrap();
    }
    for m in &fleet.measurements {
        a.append(&Line::Measurement(Box::new(m.clone()))).unwrap();
    }
    drop(a);
    let variants = edgebench_study::compare::load(dir.path()).unwrap();
    let devices = edgebench_core::analysis::fleet::devices(&fleet);
    assert_eq!(devices.len(), 2);
    let per_device: usize = devices
        .iter()
        .map(|d| {
            edgebench_core::analysis::merged_variants(&edgebench_core::analysis::fleet::of_device(
                &fleet, d,
            ))
            .len()
        })
        .sum();
    assert_eq!(variants.len(), per_device);
    for d in &devices {
        let n = variants
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{d}: mobilenet_v3_small · batch 1 · ")))
            .count();
        assert!(
            n > 0,
            "{d}: {:?}",
            variants.iter().map(|v| &v.0).collect::<Vec<_>>()
        );
    }
    let mut keys: Vec<&String> = variants.iter().map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), variants.len(), "a key given twice");
}
