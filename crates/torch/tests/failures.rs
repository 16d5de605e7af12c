//! The failure paths that must be reported, never crash edgebench: no Python, a Python
//! without torch, a torch without CUDA, and a worker that dies, hangs, or writes garbage.
//! Everything here runs without torch (fake Pythons and a fake torch package), except the
//! kill test, which needs the real worker.

mod common;

use common::*;
use edgebench_core::engine::{Availability, Engine, EngineSpec};
use edgebench_torch::worker::{Timeouts, Worker};
use edgebench_torch::{python, Torch, TorchError, WorkerError};
use serde_json::json;
use std::time::{Duration, Instant};

fn short(hello: f64) -> Timeouts {
    let d = Duration::from_secs_f64(hello);
    Timeouts {
        hello: d,
        load: d,
        call: d,
        measure_slack: d,
        export: d,
    }
}

#[test]
fn a_missing_python_names_the_flag_and_the_fix() {
    let e = python::discover_with(Some("/nonexistent/bin/python3".as_ref())).unwrap_err();
    assert!(matches!(e, TorchError::PythonNotFound { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("--python /nonexistent/bin/python3 does not exist"),
        "{msg}"
    );
    assert!(msg.contains("--python /usr/bin/python3"), "{msg}");
    let e = python::discover_with(Some("no-such-python-anywhere".as_ref()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not on PATH"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = python::discover_with(Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("is a directory"), "{e}");
    // The engine reports it as unavailable, with the fix.
    match Torch::with_python("/nonexistent/bin/python3").availability() {
        Availability::Unavailable { reason, fix } => {
            assert!(reason.contains("does not exist"), "{reason}");
            assert!(fix.contains("python3"), "{fix}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_python_without_torch_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let py = python_with_fake_torch(
        dir.path(),
        "raise ImportError(\"No module named 'torch'\")\n",
    );
    let info = python::discover_with(Some(&py)).unwrap();
    assert_eq!(info.hello.torch, None);
    let e = info.require_torch().unwrap_err().to_string();
    assert!(e.contains("cannot import torch"), "{e}");
    assert!(e.contains("No module named 'torch'"), "{e}");
    assert!(
        e.contains("apt-get install python3-torch python3-torchvision"),
        "{e}"
    );
    assert!(e.contains("pip install torch"), "{e}");
    let engine = Torch::with_python(&py);
    assert!(matches!(
        engine.availability(),
        Availability::Unavailable { .. }
    ));
    let spec = EngineSpec::parse("torch:eager,device=cuda").unwrap();
    let e = engine.validate(&spec).unwrap_err().to_string();
    assert!(e.contains("cannot import torch"), "{e}");
}

#[test]
fn device_cuda_on_a_torch_without_cuda_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let py = python_with_fake_torch(
        dir.path(),
        "__version__ = '9.9.9+cpu'\nclass cuda:\n    @staticmethod\n    def is_available():\n        return False\n",
    );
    let engine = Torch::with_python(&py);
    match engine.availability() {
        Availability::Available { version, devices } => {
            assert!(version.starts_with("9.9.9+cpu"), "{version}");
            assert_eq!(devices, vec!["cpu"]);
        }
        other => panic!("{other:?}"),
    }
    engine
        .validate(&EngineSpec::parse("torch:eager").unwrap())
        .unwrap();
    for spec in [
        "torch:eager,device=cuda",
        "torch:eager,device=cuda:0,dtype=fp16,cuda_graph",
    ] {
        let e = engine
            .validate(&EngineSpec::parse(spec).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no CUDA"), "{e}");
        assert!(
            e.contains("pip install torch") && e.contains("device=cpu"),
            "{e}"
        );
    }
    // torch.compile needs torch 2: this fake has no `compile`.
    let e = engine
        .validate(&EngineSpec::parse("torch:eager,compile").unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("torch.compile needs torch 2.0"), "{e}");
}

#[test]
fn garbage_at_start_up_is_reported_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("pid");
    let py = script(
        dir.path(),
        "py",
        &format!(
            "{}; echo 'Segmentation fault (core dumped)'; exec sleep 3600",
            write_pid(&pid)
        ),
    );
    let e = match Worker::start(&py, false, short(20.0)) {
        Err(e) => e,
        Ok(_) => panic!("a garbage worker started"),
    };
    let msg = e.to_string();
    assert!(msg.contains("not protocol JSON"), "{msg}");
    assert!(msg.contains("Segmentation fault (core dumped)"), "{msg}");
    // The sleeping process was killed, not waited for (that would take an hour).
    assert!(ended(&pid), "the garbage worker is still running");
}

#[test]
fn a_worker_that_hangs_is_stopped_at_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("pid");
    let py = script(
        dir.path(),
        "py",
        &format!(
            "{}; echo 'importing torch...' >&2; exec sleep 3600",
            write_pid(&pid)
        ),
    );
    let e = match Worker::start(&py, false, short(1.0)) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a hung worker started"),
    };
    // Stopped by its time limit (the reason says so) and killed. No bound on the elapsed
    // time: the worker hangs for an hour, so a limit that never fired would hang the test.
    assert!(ended(&pid), "the hung worker is still running");
    assert!(e.contains("did not answer `hello` within 1 s"), "{e}");
    assert!(e.contains("EDGEBENCH_WORKER_TIMEOUT"), "{e}");
    assert!(e.contains("worker stderr: importing torch..."), "{e}");
}

#[test]
fn a_worker_that_crashes_is_reported_with_its_status_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let py = script(
        dir.path(),
        "py",
        "echo 'Traceback (most recent call last):' >&2; echo 'ImportError: libcudnn.so.9: cannot open shared object file' >&2; exit 3",
    );
    let e = match Worker::start(&py, false, short(20.0)) {
        Err(TorchError::Worker(e @ WorkerError::Crashed { .. })) => e.to_string(),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("a crashed worker started"),
    };
    assert!(e.contains("died (exit code 3) during `hello`"), "{e}");
    assert!(
        e.contains("Traceback (most recent call last): | ImportError: libcudnn.so.9"),
        "{e}"
    );
}

/// A fake worker: its process id into `dir/pid`, a valid hello, then `behaviour` for the
/// first request.
fn fake_worker(dir: &std::path::Path, protocol: u32, behaviour: &str) -> std::path::PathBuf {
    let hello = json!({
        "hello": "edgebench-worker", "protocol": protocol, "python": "3.0", "executable": "fake",
        "byteorder": "little", "torch": "0.0-fake", "devices": ["cpu"]
    });
    script(
        dir,
        "py",
        &format!(
            "{}\necho '{hello}'\nread line\n{behaviour}",
            write_pid(&dir.join("pid"))
        ),
    )
}

#[test]
fn garbage_in_answer_to_a_request_stops_the_worker_and_later_requests_fail_fast() {
    let dir = tempfile::tempdir().unwrap();
    let py = fake_worker(dir.path(), 1, "echo 'oops: print() from a model'; sleep 30");
    let mut w = Worker::start(&py, false, short(20.0)).unwrap();
    assert_eq!(w.hello.torch.as_deref(), Some("0.0-fake"));
    let e = w
        .request("run", json!({}), Duration::from_secs(20))
        .unwrap_err();
    assert!(matches!(e, WorkerError::Garbage { .. }), "{e:?}");
    assert!(e.to_string().contains("oops: print() from a model"), "{e}");
    // The stopped worker's error again, at once: not after the request's time limit, which
    // is set so long that only waiting for it could take half of it.
    let start = Instant::now();
    let again = w
        .request("run", json!({}), Duration::from_secs(600))
        .unwrap_err();
    assert_eq!(again.to_string(), e.to_string());
    assert!(start.elapsed() < Duration::from_secs(300));
}

#[test]
fn a_worker_that_hangs_on_a_request_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("pid");
    let py = fake_worker(dir.path(), 1, "echo 'running forever' >&2; exec sleep 3600");
    let mut w = Worker::start(&py, false, short(20.0)).unwrap();
    let e = w
        .request("measure", json!({}), Duration::from_millis(1500))
        .unwrap_err()
        .to_string();
    // Timed out (the reason says so) and killed; the worker would run for an hour.
    assert!(ended(&pid), "the hung worker is still running");
    assert!(e.contains("did not answer `measure` within 2 s"), "{e}");
    assert!(e.contains("running forever"), "{e}");
}

#[test]
fn answers_for_another_request_and_other_protocols_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let py = fake_worker(dir.path(), 1, "echo '{\"id\": 77, \"ok\": true}'; sleep 30");
    let mut w = Worker::start(&py, false, short(20.0)).unwrap();
    let e = w
        .request("run", json!({}), Duration::from_secs(20))
        .unwrap_err();
    assert!(matches!(e, WorkerError::Protocol { .. }), "{e:?}");
    assert!(e.to_string().contains("request 77"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let py = fake_worker(dir.path(), 99, "sleep 30");
    let e = match Worker::start(&py, false, short(20.0)) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("protocol 99 accepted"),
    };
    assert!(e.contains("protocol 99"), "{e}");
}

#[test]
fn a_worker_killed_mid_session_is_reported_as_killed() {
    let Some(py) = torch_python("a_worker_killed_mid_session_is_reported_as_killed") else {
        return;
    };
    let mut w = Worker::start(&py, false, Timeouts::default()).unwrap();
    let ok = w
        .request(
            "ci",
            json!({"samples": [1.0, 2.0, 3.0]}),
            Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(ok["median"], json!(2.0));
    let status = std::process::Command::new("kill")
        .args(["-9", &w.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let e = w
        .request("ci", json!({"samples": [1.0]}), Duration::from_secs(60))
        .unwrap_err()
        .to_string();
    assert!(e.contains("killed by signal 9"), "{e}");
}
