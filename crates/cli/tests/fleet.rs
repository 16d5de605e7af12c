//! A fleet end to end: `edgebench study --shard I/N --device LABEL` on tiny models, the shards
//! merged with `edgebench merge`, and `edgebench report` on the merged folder. The unsharded
//! study's job list (`--dry-run`) is exactly the union of the shards' lists; the merged
//! `results.jsonl` holds exactly the plan's jobs on the device that ran every shard, and
//! exactly one shard's jobs on the device that ran one.

mod common;

use common::{edgebench, write_model};
use edgebench_core::testmodel::{tiny_cnn_bytes, TinyCnn};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Four tiny CNNs (four units: a model at a batch size), tract unoptimized against
/// optimized, one round, sampling for a fraction of a second.
fn config(dir: &Path) -> PathBuf {
    let mut text = String::from(
        r#"name = "fleet"
baseline = "tract:reference"
variants = ["tract:optimized"]
batch = [1]
[measure]
warmup_s = 0.0
min_warmup_runs = 1
min_samples = 3
max_time_s = 0.1
timeout_s = 120
gate_inputs = 1
rounds = 1
"#,
    );
    for seed in 1..=4u64 {
        let name = format!("tiny{seed}.onnx");
        write_model(
            dir,
            &name,
            &tiny_cnn_bytes(&TinyCnn {
                seed,
                ..TinyCnn::default()
            }),
        );
        text.push_str(&format!("[[model]]\nsource = \"{name}\"\n"));
    }
    let path = dir.join("fleet.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `edgebench study --config CFG ARGS...`, quiet, without telemetry; its stdout.
fn study(cfg: &Path, args: &[&str], out: &Path) -> String {
    let a = edgebench()
        .timeout(Duration::from_secs(600))
        .args(["study", "--quiet", "--no-telemetry", "--config"])
        .arg(cfg)
        .args(args)
        .arg("--out")
        .arg(out)
        .assert();
    let o = a.get_output();
    assert!(
        o.status.success(),
        "study {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn job_list(cfg: &Path, args: &[&str], dir: &Path) -> BTreeSet<String> {
    let mut a = vec!["--dry-run"];
    a.extend_from_slice(args);
    study(cfg, &a, &dir.join("dry"))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn measurements(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "measurement")
        .collect()
}

/// The job keys measured on `device`.
fn on(device: &str, ms: &[Value]) -> Vec<String> {
    let mut keys: Vec<String> = ms
        .iter()
        .filter(|m| m["device"] == device)
        .map(|m| m["key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    keys
}

#[test]
fn three_shards_on_two_devices_merge_into_one_study() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());

    // The unsharded plan, and the shards' parts of it: disjoint, and together all of it.
    let all = job_list(&cfg, &[], dir.path());
    assert_eq!(all.len(), 8, "{all:?}");
    let parts: Vec<BTreeSet<String>> = (1..=3)
        .map(|i| job_list(&cfg, &["--shard", &format!("{i}/3")], dir.path()))
        .collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(!p.is_empty(), "shard {} is empty", i + 1);
        for q in &parts[i + 1..] {
            assert!(p.is_disjoint(q));
        }
    }
    let union: BTreeSet<String> = parts.iter().flatten().cloned().collect();
    assert_eq!(union, all);
    assert!(!dir.path().join("dry").exists(), "a dry run writes nothing");

    // Device "alpha" runs every shard; device "beta" runs shard 2 only.
    let shard_dir = |device: &str, i: usize| dir.path().join(device).join(format!("shard-{i}"));
    for i in 1..=3 {
        study(
            &cfg,
            &[
                "--shard",
                &format!("{i}/3"),
                "--device",
                "alpha",
                "--resume",
            ],
            &shard_dir("alpha", i),
        );
    }
    study(
        &cfg,
        &["--shard", "2/3", "--device", "beta"],
        &shard_dir("beta", 2),
    );

    // Resuming a shard folder as another shard is one line, exit 2.
    let a = edgebench()
        .args(["study", "--quiet", "--no-telemetry", "--config"])
        .arg(&cfg)
        .args(["--shard", "3/3", "--device", "alpha", "--resume", "--out"])
        .arg(shard_dir("alpha", 1))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("holds shard 1/3") && err.contains("--shard 1/3"),
        "{err}"
    );

    let out = dir.path().join("merged");
    let mut dirs: Vec<PathBuf> = (1..=3).map(|i| shard_dir("alpha", i)).collect();
    dirs.push(shard_dir("beta", 2));

    // Beta's shards 1 and 3 are missing: refused, naming the device and the shards.
    let a = edgebench()
        .arg("merge")
        .args(&dirs)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("beta") && err.contains("shard(s) 1, 3 of 3"),
        "{err}"
    );
    assert!(!out.join("results.jsonl").exists());

    let a = edgebench()
        .arg("merge")
        .args(&dirs)
        .args(["--allow-missing", "--json", "--out"])
        .arg(&out)
        .assert()
        .success();
    let record: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    let devices = record["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0]["device"], "alpha");
    assert_eq!(devices[0]["missing"].as_array().unwrap().len(), 0);
    assert_eq!(devices[1]["device"], "beta");
    assert_eq!(devices[1]["missing_shards"], serde_json::json!([1, 3]));
    let beta_missing: BTreeSet<String> = devices[1]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let not_shard_2: BTreeSet<String> = all.difference(&parts[1]).cloned().collect();
    assert_eq!(beta_missing, not_shard_2);

    // Exactly the plan's jobs on alpha, exactly shard 2's on beta, nothing else.
    let ms = measurements(&out);
    assert_eq!(on("alpha", &ms), all.iter().cloned().collect::<Vec<_>>());
    assert_eq!(
        on("beta", &ms),
        parts[1].iter().cloned().collect::<Vec<_>>()
    );
    assert_eq!(ms.len(), all.len() + parts[1].len());
    for f in [
        "summary.json",
        "results.csv",
        "report.md",
        "report.html",
        "merge.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }

    // The text form lists the missing cells per device.
    let a = edgebench()
        .arg("merge")
        .args(&dirs)
        .args(["--allow-missing", "--out"])
        .arg(&out)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert!(
        text.contains("alpha: shard(s) 1, 2, 3 of 3, 8 of 8 jobs measured"),
        "{text}"
    );
    assert!(text.contains("beta: shard(s) 2 of 3"), "{text}");
    assert!(text.contains("shard(s) 1, 3 missing"), "{text}");
    for k in &not_shard_2 {
        assert!(text.contains(k.as_str()), "{k} not listed: {text}");
    }

    // The merged folder is a study folder for `report`, which rebuilds the same summary.
    let summary = std::fs::read(out.join("summary.json")).unwrap();
    std::fs::remove_file(out.join("report.html")).unwrap();
    edgebench().arg("report").arg(&out).assert().success();
    assert!(out.join("report.html").is_file());
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), summary);

    // ... and not one `study --resume` adds to.
    let a = edgebench()
        .args(["study", "--quiet", "--no-telemetry", "--resume", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("merged study") && err.contains("resume the shards"),
        "{err}"
    );
}

#[test]
fn bad_shards_and_labels_are_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    for (args, needle) in [
        (vec!["--shard", "4/3"], "I/N"),
        (vec!["--shard", "0/3"], "I/N"),
        (vec!["--shard", "two"], "I/N"),
        (vec!["--device", " "], "--device"),
    ] {
        let a = edgebench()
            .args(["study", "--dry-run", "--config"])
            .arg(&cfg)
            .args(&args)
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // A merge of a folder that is not a study.
    let a = edgebench()
        .arg("merge")
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("m"))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("not a study folder"), "{err}");
}

#[test]
fn more_shards_than_models_leaves_empty_shards_that_still_merge() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    // Four units over five shards: shard 5 has no jobs, and says so.
    let empty = dir.path().join("s5");
    let a = edgebench()
        .args(["study", "--no-telemetry", "--quiet", "--config"])
        .arg(&cfg)
        .args(["--shard", "5/5", "--device", "x", "--out"])
        .arg(&empty)
        .assert()
        .success();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("shard 5/5: no jobs"), "{err}");
    assert!(empty.join("results.jsonl").is_file());
    assert!(measurements(&empty).is_empty());
}
