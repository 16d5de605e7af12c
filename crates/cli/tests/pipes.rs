//! Closed pipes: a child that exits early must not take edgebench down with SIGPIPE, and a
//! reader that closes edgebench's own output early ends it quietly.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// A "python" that speaks the worker's hello (with a torch) and exits at once, as a worker
/// killed for lack of memory right after starting would: every request edgebench then
/// writes goes into a closed pipe.
fn vanishing_worker(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("python3");
    std::fs::write(
        &p,
        "#!/bin/sh\necho '{\"hello\":\"edgebench-worker\",\"protocol\":1,\"python\":\"3.11.7\",\"executable\":\"/stub/python3\",\"pid\":1,\"byteorder\":\"little\",\"torch\":\"2.11.0\",\"torchvision\":\"0.26.0\",\"onnx\":\"1.20.0\",\"cuda\":false,\"devices\":[\"cpu\"],\"compile\":true,\"cuda_graph\":true,\"inference_mode\":true}'\nexit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn a_worker_that_exits_early_does_not_kill_edgebench() {
    let dir = tempfile::tempdir().unwrap();
    let python = vanishing_worker(dir.path());
    for _ in 0..5 {
        let out = common::edgebench()
            .args(["engines", "--python"])
            .arg(&python)
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            None,
            "edgebench was killed by a signal: {:?}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.code().is_some());
        assert!(
            !out.stdout.is_empty(),
            "engines printed nothing: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_worker_that_exits_early_fails_only_its_variant() {
    let dir = tempfile::tempdir().unwrap();
    let python = vanishing_worker(dir.path());
    let out = common::edgebench()
        .args(["bench", "zoo:mobilenet_v3_small", "-e", "tract:optimized"])
        .args(["-e", "torch:eager", "--rounds", "1", "--json", "--python"])
        .arg(&python)
        .args(common::FAST)
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        None,
        "killed by a signal: {:?}",
        out.status
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Either the engine is refused up front (exit 2, one line) or the variant fails (exit 1)
    // with the other variant's result kept; never a silent death.
    match out.status.code() {
        Some(1) => {
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("no JSON on stdout ({e}); stderr: {stderr}"));
            let results = doc["results"].as_array().unwrap();
            assert!(results.iter().any(|r| r["spec"] == "tract:optimized"));
        }
        Some(2) => assert_eq!(stderr.trim().lines().count(), 1, "{stderr}"),
        other => panic!("unexpected exit {other:?}; stderr: {stderr}"),
    }
}

#[test]
fn a_reader_that_closes_early_ends_edgebench_quietly() {
    // The reader closes before edgebench has counted the model, so its first write of the
    // JSON document goes into a closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgebench"))
        .args(["inspect", "zoo:densenet121", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "status {status:?}, stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
