//! `study --shard I/N`: the partition of a plan (stable, complete, disjoint, a model at a
//! batch size whole in one shard), and the runner measuring only its shard, recording the
//! shard and the device, and resuming only the same shard. The runner's children here are a
//! stand-in that exits at once: each job is recorded as failed, which is all these tests need
//! (which jobs ran, and what was recorded with them).

use edgebench_core::schema::study::{Job, Plan, PlannedModel, Shard, Task};
use edgebench_core::schema::Status;
use edgebench_study::lock::StudyLock;
use edgebench_study::runner::{self, Event, RunOptions};
use edgebench_study::{config, plan, Error};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// A plan of `models` models at `batches` batch sizes, `variants` variants and `rounds`
/// rounds each, in the planner's order (per model and batch: round by round, the reference
/// first).
fn made_up_plan(
    models: &[(String, String)],
    batches: &[usize],
    variants: usize,
    rounds: usize,
) -> Plan {
    let specs: Vec<String> = (0..=variants).map(|v| format!("tract:v{v}")).collect();
    let planned: Vec<PlannedModel> = models
        .iter()
        .map(|(label, source)| PlannedModel {
            label: label.clone(),
            source: source.clone(),
            task: Task::Classification,
            shapes: vec![],
            known_macs: None,
            baseline: specs[0].clone(),
            reference: specs[0].clone(),
            baseline_note: None,
        })
        .collect();
    let mut jobs = vec![];
    for (mi, m) in planned.iter().enumerate() {
        for &batch in batches {
            for round in 1..=rounds {
                for (si, spec) in specs.iter().enumerate() {
                    jobs.push(Job {
                        key: edgebench_core::schema::study::round_key(
                            &m.label, &m.source, batch, spec, round,
                        ),
                        model: mi,
                        batch,
                        spec: spec.clone(),
                        is_baseline: si == 0,
                        is_reference: si == 0,
                        round,
                    });
                }
            }
        }
    }
    Plan {
        baseline: specs[0].clone(),
        baseline_note: String::new(),
        reference: specs[0].clone(),
        variants: specs[1..].to_vec(),
        notes: vec![],
        engines: vec![],
        models: planned,
        jobs,
    }
}

fn keys(jobs: &[&Job]) -> Vec<String> {
    jobs.iter().map(|j| j.key.clone()).collect()
}

fn plans() -> impl Strategy<Value = Plan> {
    (
        prop::collection::btree_set("[a-z]{1,6}", 1..8),
        prop::collection::btree_set(1usize..9, 1..4),
        0usize..4,
        1usize..4,
    )
        .prop_map(|(labels, batches, variants, rounds)| {
            let models: Vec<(String, String)> = labels
                .into_iter()
                .map(|l| (l.clone(), format!("zoo:{l}?classes=2")))
                .collect();
            let batches: Vec<usize> = batches.into_iter().collect();
            made_up_plan(&models, &batches, variants, rounds)
        })
}

proptest! {
    /// Every job is in exactly one shard; each model at each batch size (reference,
    /// baseline, variants, every round) is whole in one shard; each shard keeps plan order;
    /// the units are dealt out evenly.
    #[test]
    fn the_shards_are_complete_disjoint_and_keep_a_model_and_batch_together(
        plan in plans(),
        count in 1usize..7,
    ) {
        let mut owner: HashMap<String, usize> = HashMap::new();
        let mut unit_shard: HashMap<String, usize> = HashMap::new();
        let mut units_per_shard = vec![0usize; count];
        for index in 1..=count {
            let shard = Shard { index, count };
            let jobs = shard.jobs(&plan);
            // Plan order.
            let positions: Vec<usize> = jobs
                .iter()
                .map(|j| plan.jobs.iter().position(|p| p.key == j.key).unwrap())
                .collect();
            prop_assert!(positions.windows(2).all(|w| w[0] < w[1]));
            let mut units = BTreeSet::new();
            for j in jobs {
                prop_assert!(shard.contains(&plan, j));
                prop_assert!(owner.insert(j.key.clone(), index).is_none(), "{} in two shards", j.key);
                let unit = Shard::unit_key(&plan, j);
                let first = *unit_shard.entry(unit.clone()).or_insert(index);
                prop_assert_eq!(first, index, "unit {} split", unit);
                units.insert(unit);
            }
            units_per_shard[index - 1] = units.len();
        }
        prop_assert_eq!(owner.len(), plan.jobs.len());
        let (least, most) = (
            *units_per_shard.iter().min().unwrap(),
            *units_per_shard.iter().max().unwrap(),
        );
        prop_assert!(most - least <= 1, "uneven: {:?}", units_per_shard);
    }

    /// The partition follows from the jobs' keys alone: the same plan made on another
    /// machine, with its models and jobs in another order, is cut the same way.
    #[test]
    fn the_partition_does_not_depend_on_the_plan_order(
        plan in plans(),
        count in 1usize..7,
        seed in any::<u64>(),
    ) {
        let mut other = plan.clone();
        // Reverse the models (renumbering the jobs' model indexes) and rotate the jobs.
        let n = other.models.len();
        other.models.reverse();
        for j in &mut other.jobs {
            j.model = n - 1 - j.model;
        }
        let len = other.jobs.len();
        other.jobs.rotate_left(seed as usize % len);
        for index in 1..=count {
            let shard = Shard { index, count };
            let a: BTreeSet<String> = keys(&shard.jobs(&plan)).into_iter().collect();
            let b: BTreeSet<String> = keys(&shard.jobs(&other)).into_iter().collect();
            prop_assert_eq!(a, b);
        }
    }
}

#[test]
fn shards_parse_as_i_of_n_and_print_back() {
    let s: Shard = "2/3".parse().unwrap();
    assert_eq!(s, Shard { index: 2, count: 3 });
    assert_eq!(s.to_string(), "2/3");
    assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
    for bad in ["0/3", "4/3", "1/0", "3", "a/b", "", "1/2/3", "-1/2"] {
        let e = bad.parse::<Shard>().unwrap_err().to_string();
        assert!(e.contains("I/N"), "{bad}: {e}");
    }
}

#[test]
fn the_partition_is_the_same_on_every_call() {
    let models: Vec<(String, String)> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|l| (l.to_string(), format!("zoo:{l}")))
        .collect();
    let plan = made_up_plan(&models, &[1, 4], 2, 3);
    // 5 models x 2 batch sizes = 10 units, dealt out in key order over 3 shards: 4, 3, 3
    // (shard 1 gets the 1st, 4th, 7th and 10th).
    let units = |s: usize| {
        Shard { index: s, count: 3 }
            .jobs(&plan)
            .iter()
            .map(|j| Shard::unit_key(&plan, j))
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        units(1).into_iter().collect::<Vec<_>>(),
        [
            "a|zoo:a|batch=1",
            "b|zoo:b|batch=4",
            "d|zoo:d|batch=1",
            "e|zoo:e|batch=4"
        ]
    );
    assert_eq!(units(2).len(), 3);
    assert_eq!(units(3).len(), 3);
    assert_eq!(plan.hash(), made_up_plan(&models, &[1, 4], 2, 3).hash());
    assert_ne!(plan.hash(), made_up_plan(&models, &[1], 2, 3).hash());
}

// ---- the runner ----

/// Three models at one batch size, two variants, one round: three units of two jobs.
const TEXT: &str = r#"
name = "shards"
baseline = "tract:reference"
variants = ["tract:optimized"]
batch = [1]
[measure]
timeout_s = 30
rounds = 1
[[model]]
source = "zoo:mobilenet_v3_small?classes=2"
[[model]]
source = "zoo:squeezenet1_1?classes=2"
[[model]]
source = "zoo:resnet18?classes=2"
"#;

struct Study {
    cfg: edgebench_core::schema::study::StudyConfig,
    plan: Plan,
    child: PathBuf,
}

fn study(dir: &Path) -> Study {
    use std::os::unix::fs::PermissionsExt;
    let child = dir.join("child");
    std::fs::write(
        &child,
        "#!/bin/sh\necho 'stand-in: no result' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&child, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = config::parse(TEXT, "s.toml", dir).unwrap();
    let plan = plan::resolve(&cfg).unwrap();
    Study { cfg, plan, child }
}

fn options(
    s: &Study,
    dir: &Path,
    resume: bool,
    shard: Option<Shard>,
    device: Option<&str>,
) -> RunOptions {
    RunOptions {
        dir: dir.to_owned(),
        resume,
        worker_exe: s.child.clone(),
        worker_args: vec![],
        tool: edgebench_core::fixtures::tool(),
        telemetry: None,
        min_sampling_s: 0.0,
        shard,
        device: device.map(str::to_owned),
    }
}

/// Runs the study into `dir`; returns what results.jsonl holds and the `Start` event's totals.
fn run(
    s: &Study,
    dir: &Path,
    resume: bool,
    shard: Option<Shard>,
    device: Option<&str>,
) -> Result<(edgebench_core::schema::study::Loaded, (usize, usize)), Error> {
    let lock = StudyLock::acquire(dir, "test")?;
    let mut start = (usize::MAX, usize::MAX);
    let loaded = runner::run(
        &s.cfg,
        &s.plan,
        &options(s, dir, resume, shard, device),
        &lock,
        &mut |ev| {
            if let Event::Start {
                total,
                already_done,
                ..
            } = ev
            {
                start = (total, already_done);
            }
        },
    )?;
    Ok((loaded, start))
}

#[test]
fn a_shard_runs_only_its_jobs_and_records_shard_and_device() {
    let dir = tempfile::tempdir().unwrap();
    let s = study(dir.path());
    assert_eq!(s.plan.jobs.len(), 6);
    let shard = Shard { index: 2, count: 3 };
    let out = dir.path().join("shard-2");
    let (loaded, (total, done)) = run(&s, &out, false, Some(shard), Some("orin")).unwrap();
    let mine = keys(&shard.jobs(&s.plan));
    assert_eq!(mine.len(), 2);
    assert_eq!((total, done), (2, 0));
    let measured: Vec<String> = loaded.measurements.iter().map(|m| m.key.clone()).collect();
    assert_eq!(measured, mine);
    for m in &loaded.measurements {
        assert_eq!(m.device.as_deref(), Some("orin"));
        assert_eq!(
            m.result.status,
            Status::Failed,
            "the stand-in child gives no result"
        );
    }
    let session = &loaded.sessions[0];
    assert_eq!(session.shard, Some(shard));
    assert_eq!(session.device.as_deref(), Some("orin"));
    assert_eq!(
        session.plan, s.plan,
        "a shard's session holds the whole plan"
    );
    // What the runner hands back is what the file holds.
    let file = edgebench_study::results::load(&out.join("results.jsonl")).unwrap();
    assert_eq!(file.sessions, loaded.sessions);
    assert_eq!(file.measurements, loaded.measurements);
}

#[test]
fn a_shard_without_a_label_is_named_after_the_host_and_a_plain_study_names_no_device() {
    let dir = tempfile::tempdir().unwrap();
    let s = study(dir.path());
    let (sharded, _) = run(
        &s,
        &dir.path().join("a"),
        false,
        Some(Shard { index: 1, count: 3 }),
        None,
    )
    .unwrap();
    let host = edgebench_core::host::HostInfo::detect()
        .hostname
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(sharded.sessions[0].device.as_deref(), Some(host.as_str()));
    assert!(sharded
        .measurements
        .iter()
        .all(|m| m.device.as_deref() == Some(host.as_str())));

    let (plain, (total, _)) = run(&s, &dir.path().join("b"), false, None, None).unwrap();
    assert_eq!(total, 6);
    assert_eq!(plain.measurements.len(), 6);
    assert_eq!(plain.sessions[0].shard, None);
    assert_eq!(plain.sessions[0].device, None);
    assert!(plain.measurements.iter().all(|m| m.device.is_none()));
    // A plain study's lines carry no shard or device at all (files stay as they were).
    let text = std::fs::read_to_string(dir.path().join("b/results.jsonl")).unwrap();
    assert!(!text.contains("\"shard\"") && !text.contains("\"device\""));

    let (labelled, _) = run(&s, &dir.path().join("c"), false, None, Some("rack-3")).unwrap();
    assert_eq!(labelled.sessions[0].shard, None);
    assert!(labelled
        .measurements
        .iter()
        .all(|m| m.device.as_deref() == Some("rack-3")));
}

#[test]
fn resume_carries_on_the_same_shard_and_refuses_another() {
    let dir = tempfile::tempdir().unwrap();
    let s = study(dir.path());
    let out = dir.path().join("shard-1");
    let one = Shard { index: 1, count: 3 };
    // A folder with no results yet and --resume (a requeued Slurm task): it just starts.
    let (first, (total, done)) = run(&s, &out, true, Some(one), Some("x")).unwrap();
    assert_eq!((total, done), (2, 0));
    assert_eq!(first.measurements.len(), 2);
    assert!(!first.sessions[0].resumed);

    for (shard, found) in [
        (Some(Shard { index: 2, count: 3 }), "shard 2/3"),
        (Some(Shard { index: 1, count: 2 }), "shard 1/2"),
        (None, "the whole plan"),
    ] {
        let len = std::fs::metadata(out.join("results.jsonl")).unwrap().len();
        let e = run(&s, &out, true, shard, Some("x")).unwrap_err();
        assert!(matches!(e, Error::OtherShard { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("holds shard 1/3") && text.contains(found),
            "{text}"
        );
        assert!(text.contains("--shard 1/3"), "{text}");
        assert_eq!(
            std::fs::metadata(out.join("results.jsonl")).unwrap().len(),
            len
        );
    }

    // The same shard: nothing left to run, one more session line.
    let (again, (total, done)) = run(&s, &out, true, Some(one), Some("x")).unwrap();
    assert_eq!((total, done), (2, 2));
    assert_eq!(again.measurements.len(), 2);
    assert_eq!(again.sessions.len(), 2);
    assert!(again.sessions[1].resumed);
    assert_eq!(again.sessions[1].shard, Some(one));

    // A plain study resumed as a shard is refused too.
    let plain = dir.path().join("plain");
    run(&s, &plain, false, None, None).unwrap();
    let e = run(&s, &plain, true, Some(one), None).unwrap_err();
    assert!(e.to_string().contains("holds the whole plan"), "{e}");
    assert!(e.to_string().contains("no --shard"), "{e}");
}

#[test]
fn a_shard_with_no_jobs_still_writes_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let s = study(dir.path());
    // Three units, five shards: shards 4 and 5 are empty.
    let shard = Shard { index: 5, count: 5 };
    assert!(shard.jobs(&s.plan).is_empty());
    let out = dir.path().join("shard-5");
    let (loaded, (total, done)) = run(&s, &out, false, Some(shard), Some("x")).unwrap();
    assert_eq!((total, done), (0, 0));
    assert!(loaded.measurements.is_empty());
    let file = edgebench_study::results::load(&out.join("results.jsonl")).unwrap();
    assert_eq!(file.sessions.len(), 1);
    assert_eq!(file.sessions[0].shard, Some(shard));
}
