//! `edgebench merge` (`edgebench_study::merge`): shards of one study on one device or many
//! joined into one study folder, and every bad input refused with its own error, before
//! anything is written: a folder that is not a study, shards of two studies, a missing shard,
//! a job measured twice on one device, shards planned or cut differently, an --out that holds
//! another study. The shard folders are written from the made-up study of
//! `edgebench_core::fixtures::known_answers`: four models, two variants, three rounds.

use edgebench_core::fixtures::known_answers;
use edgebench_core::schema::study::{Line, Loaded, Shard, StudyMeasurement, StudySession};
use edgebench_study::merge::{merge, MergeOptions};
use edgebench_study::results::{self, Appender};
use edgebench_study::{summary, Error};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn write(dir: &Path, sessions: &[StudySession], measurements: &[StudyMeasurement]) {
    std::fs::create_dir_all(dir).unwrap();
    let mut a = Appender::open(&dir.join(results::RESULTS_FILE), 0).unwrap();
    for s in sessions {
        a.append(&Line::Session(Box::new(s.clone()))).unwrap();
    }
    for m in measurements {
        a.append(&Line::Measurement(Box::new(m.clone()))).unwrap();
    }
}

/// The folder `study --shard` (or a plain study, `shard: None`) writes of `study` on `device`.
fn folder(
    root: &Path,
    name: &str,
    study: &Loaded,
    shard: Option<Shard>,
    device: Option<&str>,
) -> PathBuf {
    let dir = root.join(name);
    let mut session = study.sessions[0].clone();
    session.shard = shard;
    session.device = device.map(str::to_owned);
    let keys: BTreeSet<String> = match shard {
        Some(s) => s
            .jobs(&session.plan)
            .iter()
            .map(|j| j.key.clone())
            .collect(),
        None => session.plan.jobs.iter().map(|j| j.key.clone()).collect(),
    };
    let measurements: Vec<StudyMeasurement> = study
        .measurements
        .iter()
        .filter(|m| keys.contains(&m.key))
        .map(|m| StudyMeasurement {
            device: device.map(str::to_owned),
            ..m.clone()
        })
        .collect();
    write(&dir, &[session], &measurements);
    dir
}

fn shard(index: usize, count: usize) -> Option<Shard> {
    Some(Shard { index, count })
}

/// The three shards of the study on `device`, as folders `device-1` ... `device-3`.
fn three_shards(root: &Path, study: &Loaded, device: &str) -> Vec<PathBuf> {
    (1..=3)
        .map(|i| {
            folder(
                root,
                &format!("{device}-{i}"),
                study,
                shard(i, 3),
                Some(device),
            )
        })
        .collect()
}

fn cells(out: &Path) -> Vec<(String, String)> {
    let loaded = results::load(&out.join(results::RESULTS_FILE)).unwrap();
    let mut v: Vec<(String, String)> = loaded
        .measurements
        .iter()
        .map(|m| (m.device.clone().unwrap(), m.key.clone()))
        .collect();
    v.sort();
    v
}

fn plan_keys(study: &Loaded) -> Vec<String> {
    let mut v: Vec<String> = study.sessions[0]
        .plan
        .jobs
        .iter()
        .map(|j| j.key.clone())
        .collect();
    v.sort();
    v
}

#[test]
fn three_shards_merge_into_the_whole_study() {
    let root = tempfile::tempdir().unwrap();
    let study = known_answers();
    let dirs = three_shards(root.path(), &study, "orin");
    let out = root.path().join("merged");
    let r = merge(&dirs, &out, &MergeOptions::default()).unwrap();

    assert_eq!(r.study, study.sessions[0].config.name);
    assert_eq!(r.config_hash, study.sessions[0].config.hash());
    assert_eq!(r.devices.len(), 1);
    let d = &r.devices[0];
    assert_eq!(d.device, "orin");
    assert_eq!(d.shard_count, 3);
    assert_eq!(
        d.shards.iter().map(|s| s.index).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(d.missing_shards.is_empty() && d.missing.is_empty());
    assert_eq!(d.planned_jobs, study.sessions[0].plan.jobs.len());
    assert_eq!(d.measured_jobs, d.planned_jobs);

    // Every job of the plan once, on its device; the three sessions kept.
    let expected: Vec<(String, String)> = plan_keys(&study)
        .into_iter()
        .map(|k| ("orin".to_owned(), k))
        .collect();
    assert_eq!(cells(&out), expected);
    let merged = results::load(&out.join(results::RESULTS_FILE)).unwrap();
    assert_eq!(merged.sessions.len(), 3);
    assert_eq!(
        merged.sessions.iter().map(|s| s.shard).collect::<Vec<_>>(),
        [shard(1, 3), shard(2, 3), shard(3, 3)]
    );

    // The reports are the ones `edgebench report` rebuilds from the merged results.jsonl.
    for f in [
        "summary.json",
        "results.csv",
        "report.md",
        "report.html",
        "merge.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert_eq!(r.written.len(), 4);
    let (rebuilt, torn) = summary::rebuild(&out.join(results::RESULTS_FILE)).unwrap();
    assert!(!torn);
    assert_eq!(
        std::fs::read(out.join("summary.json")).unwrap(),
        serde_json::to_vec_pretty(&rebuilt).unwrap()
    );
    let record: edgebench_study::merge::MergeReport =
        serde_json::from_slice(&std::fs::read(out.join("merge.json")).unwrap()).unwrap();
    assert_eq!(record, r);

    // A merged folder is refused by `study --resume` (its shards are what to resume) and as
    // the input of another merge.
    let cfg = study.sessions[0].config.clone();
    let e = edgebench_study::runner::open_dir(&out, true, &cfg, None).unwrap_err();
    assert!(matches!(e, Error::MergedStudy { .. }), "{e}");
    assert!(e.to_string().contains("resume the shards"), "{e}");
    let e = merge(
        std::slice::from_ref(&out),
        &root.path().join("again"),
        &MergeOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::MergeOfMerge { .. }), "{e}");

    // Merging the same shards again over it is fine (a shard resumed since, say).
    merge(&dirs, &out, &MergeOptions::default()).unwrap();
    assert_eq!(cells(&out), expected);
}

#[test]
fn the_same_job_on_two_devices_is_two_rows() {
    let root = tempfile::tempdir().unwrap();
    let study = known_answers();
    let mut dirs = three_shards(root.path(), &study, "orin");
    // A plain study (one folder, no --shard) labelled with another device.
    dirs.push(folder(root.path(), "nano", &study, None, Some("nano")));
    let out = root.path().join("merged");
    let r = merge(&dirs, &out, &MergeOptions::default()).unwrap();
    let names: Vec<&str> = r.devices.iter().map(|d| d.device.as_str()).collect();
    assert_eq!(names, ["nano", "orin"]);
    assert_eq!(r.devices[0].shard_count, 1);
    let mut expected = vec![];
    for device in ["nano", "orin"] {
        for k in plan_keys(&study) {
            expected.push((device.to_owned(), k));
        }
    }
    assert_eq!(cells(&out), expected);
}

#[test]
fn a_missing_shard_is_an_error_naming_device_and_index_unless_allowed() {
    let root = tempfile::tempdir().unwrap();
    let study = known_answers();
    let dirs = three_shards(root.path(), &study, "orin");
    let given = [dirs[0].clone(), dirs[2].clone()];
    let out = root.path().join("merged");
    let e = merge(&given, &out, &MergeOptions::default()).unwrap_err();
    match &e {
        Error::MissingShards {
            device,
            missing,
            count,
        } => {
            assert_eq!(
                (device.as_str(), missing.as_slice(), *count),
                ("orin", &[2][..], 3)
            );
        }
        other => panic!("{other}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("orin") && text.contains("shard(s) 2 of 3"),
        "{text}"
    );
    assert!(text.contains("--allow-missing"), "{text}");
    assert!(!out.exists(), "nothing is written on a refused merge");

    let r = merge(
        &given,
        &out,
        &MergeOptions {
            allow_missing: true,
        },
    )
    .unwrap();
    let d = &r.devices[0];
    assert_eq!(d.missing_shards, [2]);
    let shard2: Vec<String> = Shard { index: 2, count: 3 }
        .jobs(&study.sessions[0].plan)
        .iter()
        .map(|j| j.key.clone())
        .collect();
    assert!(!shard2.is_empty());
    assert_eq!(d.missing, shard2);
    assert_eq!(d.measured_jobs + d.missing.len(), d.planned_jobs);
}

#[test]
fn a_job_measured_twice_on_one_device_names_both_folders() {
    let root = tempfile::tempdir().unwrap();
    let study = known_answers();
    let a = folder(root.path(), "first", &study, None, Some("orin"));
    let b = folder(root.path(), "second", &study, None, Some("orin"));
    let e = merge(
        &[a.clone(), b.clone()],
        &root.path().join("m"),
        &MergeOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::DuplicateJob { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&a.display().to_string()) && text.contains(&b.display().to_string()),
        "{text}"
    );
    assert!(
        text.contains("orin") && text.contains("measured twice"),
        "{text}"
    );

    // One shard given twice without a job in common (one copy measured nothing yet).
    let dirs = three_shards(root.path(), &study, "nano");
    let mut session = study.sessions[0].clone();
    session.shard = shard(2, 3);
    session.device = Some("nano".into());
    let empty = root.path().join("nano-2-empty");
    write(&empty, &[session], &[]);
    let given = [
        dirs[0].clone(),
        dirs[1].clone(),
        empty.clone(),
        dirs[2].clone(),
    ];
    let e = merge(&given, &root.path().join("m"), &MergeOptions::default()).unwrap_err();
    assert!(matches!(e, Error::DuplicateShard { .. }), "{e}");
    assert!(e.to_string().contains(&empty.display().to_string()), "{e}");

    // The same folder twice.
    let e = merge(
        &[a.clone(), a.clone()],
        &root.path().join("m"),
        &MergeOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("given twice"), "{e}");
    assert!(!root.path().join("m").exists());
}

#[test]
fn folders_that_are_not_studies_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let study = known_answers();
    let good = folder(root.path(), "good", &study, None, Some("orin"));
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let file = root.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let no_session = root.path().join("no-session");
    write(&no_session, &[], &study.measurements[..1]);
    let garbage = root.path().join("garbage");
    std::fs::create_dir_all(&garbage).unwrap();
    std::fs::write(garbage.join("results.jsonl"), "not json\n{}\n").unwrap();
    for (bad, why) in [
        (root.path().join("nowhere"), "does not exist"),
        (empty.clone(), "no results.jsonl"),
        (file.clone(), "it is a file"),
        (no_session.clone(), "no session line"),
    ] {
        let e = merge(
            &[good.clone(), bad.clone()],
            &root.path().join("m"),
            &MergeOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::NotAStudy { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains(&bad.display().to_string()) && text.contains(why),
            "{text}"
        );
    }
    let e = merge(&[garbage], &root.path().join("m"), &MergeOptions::default()).unwrap_err();
    assert!(matches!(e, Error::CorruptResults { .. }), "{e}");
    assert!(!root.path().join("m").exists());
    // Nothing was created in the folder that is not a study.
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[test]
fn shards_of_two_studies_or_of_two_plans_or_splits_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let study = known_answers();
    let dirs = three_shards(root.path(), &study, "orin");

    // Another config: another study.
    let mut other = study.clone();
    other.sessions[0].config.name = "another".into();
    let stranger = folder(root.path(), "stranger", &other, shard(2, 3), Some("orin"));
    let e = merge(
        &[dirs[0].clone(), stranger.clone(), dirs[2].clone()],
        &root.path().join("m"),
        &MergeOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::TwoStudies { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("another") && text.contains(&stranger.display().to_string()),
        "{text}"
    );

    // The same config planned otherwise on one device (another build's engines).
    let mut replanned = study.clone();
    replanned.sessions[0].plan.jobs.pop();
    let odd = folder(root.path(), "odd", &replanned, shard(2, 3), Some("orin"));
    let e = merge(
        &[dirs[0].clone(), odd, dirs[2].clone()],
        &root.path().join("m"),
        &MergeOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::PlanMismatch(_)), "{e}");
    // ... is fine on another device: each device has its own plan.
    let other_device = folder(root.path(), "odd-nano", &replanned, None, Some("nano"));
    let mut given = dirs.clone();
    given.push(other_device);
    merge(&given, &root.path().join("fine"), &MergeOptions::default()).unwrap();

    // Cut into another number of shards.
    let halves = folder(root.path(), "half", &study, shard(2, 2), Some("orin"));
    let e = merge(
        &[dirs[0].clone(), halves],
        &root.path().join("m"),
        &MergeOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::ShardCountMismatch(_)), "{e}");
    assert!(
        e.to_string().contains("1/3") && e.to_string().contains("2/2"),
        "{e}"
    );
    assert!(!root.path().join("m").exists());
}

#[test]
fn an_out_folder_with_another_study_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let study = known_answers();
    let dirs = three_shards(root.path(), &study, "orin");

    // A study that is not a merge.
    let plain = folder(root.path(), "plain", &study, None, None);
    let before = std::fs::read(plain.join("results.jsonl")).unwrap();
    let e = merge(&dirs, &plain, &MergeOptions::default()).unwrap_err();
    assert!(matches!(e, Error::OutHoldsStudy { .. }), "{e}");
    assert_eq!(std::fs::read(plain.join("results.jsonl")).unwrap(), before);

    // One of the shards.
    let e = merge(&dirs, &dirs[0], &MergeOptions::default()).unwrap_err();
    assert!(e.to_string().contains("being merged"), "{e}");

    // The merge of another study.
    let mut other = study.clone();
    other.sessions[0].config.name = "another".into();
    let theirs = folder(root.path(), "theirs", &other, None, Some("x"));
    let out = root.path().join("merged");
    merge(&[theirs], &out, &MergeOptions::default()).unwrap();
    let e = merge(&dirs, &out, &MergeOptions::default()).unwrap_err();
    assert!(e.to_string().contains("another study"), "{e}");
}

#[test]
fn a_shard_still_being_measured_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let study = known_answers();
    let dirs = three_shards(root.path(), &study, "orin");
    let _running = edgebench_study::lock::StudyLock::acquire(&dirs[1], "edgebench study").unwrap();
    let e = merge(&dirs, &root.path().join("m"), &MergeOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e}");
    assert!(e.to_string().contains("edgebench study"), "{e}");
}

#[test]
fn what_the_runner_keeps_is_what_the_file_reads_back() {
    // Latencies whose text serde_json's default parser may read back one unit in the last
    // place off: the appender hands back what `load` reads, not what it was given.
    let dir = tempfile::tempdir().unwrap();
    let study = known_answers();
    let path = dir.path().join("results.jsonl");
    let mut a = Appender::open(&path, 0).unwrap();
    let session = a.append_session(study.sessions[0].clone()).unwrap();
    let mut kept = vec![];
    let mut x = 0.1f64;
    for m in &study.measurements {
        let mut m = m.clone();
        m.result.raw_ms = (0..50)
            .map(|_| {
                x = (x * 7.123456789012345 + 0.987654321098765) % 97.0;
                x
            })
            .collect();
        m.wall_s = x / 3.0;
        kept.push(a.append_measurement(m).unwrap());
    }
    let file = results::load(&path).unwrap();
    assert_eq!(file.sessions, [session]);
    assert_eq!(file.measurements, kept);
}
