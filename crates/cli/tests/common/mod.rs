//! What the end-to-end tests share: the binary, fast measurement settings and model files.
// Each test crate uses its own part of this module.
#![allow(dead_code)]

use assert_cmd::Command;
use edgebench_core::testmodel::{tiny_cnn_bytes, TinyCnn};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The binary under test; a run that hangs (a loader stuck on a crafted graph) fails the test
/// after two minutes instead of hanging it.
pub fn edgebench() -> Command {
    let mut c = Command::cargo_bin("edgebench").expect("binary built");
    c.timeout(Duration::from_secs(120));
    c
}

/// Fast measurement settings: these tests check behaviour, never timings.
pub const FAST: &[&str] = &[
    "--warmup",
    "0",
    "--min-warmup-runs",
    "1",
    "--max-time",
    "0.2",
    "--min-samples",
    "3",
    "-q",
];

/// Writes `bytes` to `dir/name`.
pub fn write_model(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The tiny CNN of `core::testmodel` as `dir/tiny.onnx`.
pub fn tiny_model(dir: &Path) -> PathBuf {
    write_model(dir, "tiny.onnx", &tiny_cnn_bytes(&TinyCnn::default()))
}

/// Runs `cmd` and expects what every refusal of bad input gives: exit 2 and exactly one line
/// on stderr holding every needle. Returns the output for the caller's own checks (nothing on
/// stdout, no file written).
pub fn refused_with(cmd: &mut Command, needles: &[&str]) -> std::process::Output {
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let what = format!("{cmd:?}");
    assert_eq!(o.status.code(), Some(2), "{what}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
    for n in needles {
        assert!(err.contains(n), "{what}: `{n}` not in: {err}");
    }
    o
}
