//! Each job's child leads a process group of its own, and the runner kills the whole group:
//! at the job's time limit (`measure.timeout_s`) and when the child ends leaving processes
//! behind. The stand-in child here starts a grandchild (`sleep 1000 &`) and then hangs or
//! exits; no process of its group may survive the job.

use edgebench_core::schema::{Status, ToolInfo};
use edgebench_study::lock::StudyLock;
use edgebench_study::runner::{self, RunOptions};
use edgebench_study::{config, plan};
use std::path::Path;

const TEXT: &str = r#"
baseline = "tract:reference"
variants = ["tract:optimized"]
batch = [1]
[measure]
timeout_s = 1
rounds = 1
[[model]]
source = "zoo:mobilenet_v3_small?classes=2"
"#;

use edgebench_core::testing::group_gone as gone;

/// Runs the two-job study with `then` as the end of the stand-in child's script; returns
/// the jobs' errors and their children's groups.
fn run_with_child(dir: &Path, then: &str) -> (Vec<String>, Vec<u32>) {
    use std::os::unix::fs::PermissionsExt;
    let pids = dir.join("pids");
    let exe = dir.join("child");
    std::fs::write(
        &exe,
        format!(
            "#!/bin/sh\necho $$ >> '{}'\nsleep 1000 &\n{then}\n",
            pids.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = config::parse(TEXT, "s.toml", dir).unwrap();
    let p = plan::resolve(&cfg).unwrap();
    let out = dir.join("study");
    let lock = StudyLock::acquire(&out, "study").unwrap();
    let opts = RunOptions {
        dir: out,
        resume: false,
        worker_exe: exe,
        worker_args: vec![],
        tool: ToolInfo {
            name: "edgebench".into(),
            version: "test".into(),
            git_commit: "test".into(),
        },
        telemetry: None,
        min_sampling_s: 0.0,
        shard: None,
        device: None,
    };
    let loaded = runner::run(&cfg, &p, &opts, &lock, &mut |_| {}).unwrap();
    assert_eq!(loaded.measurements.len(), 2);
    let errors = loaded
        .measurements
        .iter()
        .map(|m| {
            assert_ne!(m.result.status, Status::Ok);
            m.result.error.clone().unwrap_or_default()
        })
        .collect();
    let groups: Vec<u32> = std::fs::read_to_string(&pids)
        .expect("the stand-in child never ran")
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(groups.len(), 2, "one child per job");
    (errors, groups)
}

#[test]
fn a_child_past_the_time_limit_is_killed_with_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let (errors, groups) = run_with_child(dir.path(), "exec sleep 3600");
    for e in errors {
        assert!(e.contains("timed out after 1 s"), "{e}");
    }
    for g in groups {
        assert!(gone(g), "a process of group {g} outlived the time limit");
    }
}

#[test]
fn what_a_child_leaves_behind_is_killed_when_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    // The grandchild keeps the child's stdout open: the runner must not wait for it.
    let (errors, groups) = run_with_child(dir.path(), "echo 'worker failed' >&2; exit 3");
    assert!(errors[0].contains("worker failed"), "{}", errors[0]);
    for e in errors {
        assert!(!e.contains("timed out"), "{e}");
    }
    for g in groups {
        assert!(gone(g), "the grandchild in group {g} outlived its child");
    }
}
