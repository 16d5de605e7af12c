//! The worker runs in a process group of its own, and every way it is stopped (a time limit,
//! garbage on the protocol, a drop, its own death) stops the whole group: a Python worker may
//! start processes of its own (torch.compile's compile workers), which must not outlive it.
//! The fake workers here start a grandchild (`sleep 1000 &`) that keeps the worker's stdout
//! and stderr open. Runs without torch.

mod common;

use common::*;
use edgebench_core::process::group_alive;
use edgebench_torch::worker::{Timeouts, Worker};
use edgebench_torch::{TorchError, WorkerError};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

fn limits(secs: f64) -> Timeouts {
    let d = Duration::from_secs_f64(secs);
    Timeouts {
        hello: d,
        load: d,
        call: d,
        measure_slack: d,
        export: d,
    }
}

/// A fake worker that records its id (its group's id) in `dir/pid`, starts a grandchild,
/// says hello, reads one request, then does `behaviour`.
fn forking_worker(dir: &Path, behaviour: &str) -> std::path::PathBuf {
    let hello = json!({
        "hello": "edgebench-worker", "protocol": 1, "python": "3.0", "executable": "fake",
        "byteorder": "little", "torch": "0.0-fake", "devices": ["cpu"]
    });
    script(
        dir,
        "py",
        &format!(
            "{}\nsleep 1000 &\necho '{hello}'\nread line\n{behaviour}",
            write_pid(&dir.join("pid"))
        ),
    )
}

fn group_of(dir: &Path) -> u32 {
    std::fs::read_to_string(dir.join("pid"))
        .expect("the fake worker never ran")
        .trim()
        .parse()
        .unwrap()
}

use edgebench_core::testing::group_gone as gone;

#[test]
fn a_request_past_its_time_limit_kills_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let py = forking_worker(dir.path(), "exec sleep 3600");
    let mut w = Worker::start(&py, false, limits(60.0)).unwrap();
    let pgid = w.pid();
    assert_eq!(pgid, group_of(dir.path()));
    assert!(group_alive(pgid));
    let e = w
        .request("measure", json!({}), Duration::from_millis(1500))
        .unwrap_err();
    assert!(matches!(e, WorkerError::TimedOut { .. }), "{e:?}");
    assert!(
        gone(pgid),
        "a process of the worker's group outlived the time limit"
    );
}

#[test]
fn a_hello_past_its_time_limit_kills_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let py = script(
        dir.path(),
        "py",
        &format!(
            "{}; sleep 1000 & exec sleep 3600",
            write_pid(&dir.path().join("pid"))
        ),
    );
    let e = match Worker::start(&py, false, limits(1.0)) {
        Err(e) => e,
        Ok(_) => panic!("a hung worker started"),
    };
    assert!(
        matches!(e, TorchError::Worker(WorkerError::TimedOut { .. })),
        "{e:?}"
    );
    assert!(gone(group_of(dir.path())));
}

#[test]
fn garbage_on_the_protocol_kills_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let py = forking_worker(dir.path(), "echo 'not json'; exec sleep 3600");
    let mut w = Worker::start(&py, false, limits(60.0)).unwrap();
    let pgid = w.pid();
    let e = w
        .request("run", json!({}), Duration::from_secs(60))
        .unwrap_err();
    assert!(matches!(e, WorkerError::Garbage { .. }), "{e:?}");
    assert!(gone(pgid));
}

#[test]
fn dropping_a_worker_kills_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    // It answers the shutdown request by exiting; its grandchild would run on.
    let py = forking_worker(dir.path(), "exit 0");
    let w = Worker::start(&py, false, limits(60.0)).unwrap();
    let pgid = w.pid();
    drop(w);
    assert!(gone(pgid), "the worker's grandchild outlived the worker");

    // A worker that ignores the shutdown request is killed with its group.
    let dir = tempfile::tempdir().unwrap();
    let py = forking_worker(dir.path(), "exec sleep 3600");
    let w = Worker::start(&py, false, limits(60.0)).unwrap();
    let pgid = w.pid();
    drop(w);
    assert!(gone(pgid));
}

#[test]
fn a_worker_that_dies_is_reported_as_dead_though_its_grandchild_holds_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let py = forking_worker(dir.path(), "echo 'Killed' >&2; exit 137");
    let mut w = Worker::start(&py, false, limits(60.0)).unwrap();
    let pgid = w.pid();
    // The grandchild keeps stdout open; the worker's death must still end the wait, as a
    // crash with its exit code, not as a request that timed out.
    let e = w
        .request("run", json!({}), Duration::from_secs(600))
        .unwrap_err();
    assert!(matches!(e, WorkerError::Crashed { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("exit code 137"), "{msg}");
    assert!(msg.contains("Killed"), "{msg}");
    assert!(gone(pgid));
}
