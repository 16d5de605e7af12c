//! `edgebench roofline` end to end with tract and small roof models (the hidden --matmul-n and
//! --elements), each run with its own cache folder: what it prints, what it caches, that a
//! second run reads the cache and --refresh measures again, and every bad input refused in one
//! line with exit 2 and nothing cached. Structure only, never timings.

mod common;

use common::{edgebench, refused_with};
use serde_json::Value;
use std::path::Path;

const SMALL: &[&str] = &["--matmul-n", "64", "--elements", "4096"];

fn roofline(cache: &Path, extra: &[&str]) -> std::process::Output {
    edgebench()
        .env("EDGEBENCH_CACHE_DIR", cache)
        .arg("roofline")
        .args(SMALL)
        .args(extra)
        .output()
        .unwrap()
}

fn json(cache: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let o = roofline(cache, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn cached_files(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("roofline"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn measures_caches_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let first = json(dir.path(), &["-e", "tract:optimized", "--threads", "1"]);
    assert_eq!(first.len(), 1);
    let r = &first[0];
    assert_eq!(r["spec"], "tract:optimized");
    assert_eq!(r["cached"], false);
    let roofs = &r["roofs"];
    assert_eq!(roofs["key"]["spec"], "tract:optimized");
    assert_eq!(roofs["key"]["threads"], 1);
    assert_eq!(roofs["precision"], "f32");
    assert_eq!(roofs["sizes"]["matmul_n"], 64);
    // the compute roof's model does 2 n³ FLOPs over 3 n² floats; the bandwidth roof's moves
    // 3 x 4096 floats
    assert_eq!(roofs["compute"]["flops"], 2 * 64 * 64 * 64);
    assert_eq!(roofs["compute"]["bytes"], 3 * 64 * 64 * 4);
    assert_eq!(roofs["bandwidth"]["bytes"], 3 * 4096 * 4);
    assert!(roofs["roofs"]["compute_flops_per_s"].as_f64().unwrap() > 0.0);
    assert!(roofs["roofs"]["bandwidth_bytes_per_s"].as_f64().unwrap() > 0.0);
    let path = r["path"].as_str().unwrap();
    assert!(
        Path::new(path).starts_with(dir.path().join("roofline")),
        "{path}"
    );
    assert_eq!(cached_files(dir.path()), 1);

    // the same spec again: from the cache, the same figures
    let second = json(dir.path(), &["-e", "tract:optimized", "--threads", "1"]);
    assert_eq!(second[0]["cached"], true);
    assert_eq!(second[0]["roofs"], first[0]["roofs"]);

    // --refresh measures again, into the same file
    let third = json(
        dir.path(),
        &["-e", "tract:optimized", "--threads", "1", "--refresh"],
    );
    assert_eq!(third[0]["cached"], false);
    assert_eq!(third[0]["path"], first[0]["path"]);
    assert_eq!(cached_files(dir.path()), 1);

    // another thread count is another roof
    let two = json(dir.path(), &["-e", "tract:optimized", "--threads", "2"]);
    assert_eq!(two[0]["cached"], false);
    assert_eq!(cached_files(dir.path()), 2);
}

#[test]
fn text_output_names_the_roofs() {
    let dir = tempfile::tempdir().unwrap();
    let o = roofline(dir.path(), &["-e", "tract:optimized", "--threads", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "tract:optimized",
        "compute GFLOP/s",
        "bandwidth GB/s",
        "measured now",
        "MatMul 64x64 x 64x64 f32",
    ] {
        assert!(out.contains(needle), "`{needle}` not in:\n{out}");
    }
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("measuring the compute roof of tract:optimized"),
        "{err}"
    );
    assert!(
        err.contains("measuring the bandwidth roof of tract:optimized"),
        "{err}"
    );
}

#[test]
fn bad_input_is_refused_in_one_line_with_nothing_cached() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], needles: &[&str]| {
        let mut cmd = edgebench();
        cmd.env("EDGEBENCH_CACHE_DIR", dir.path())
            .arg("roofline")
            .args(SMALL)
            .args(args);
        let o = refused_with(&mut cmd, needles);
        assert!(o.stdout.is_empty(), "{args:?}");
        assert_eq!(cached_files(dir.path()), 0, "{args:?}");
    };
    run(&["-e", "nosuch"], &["nosuch", "unknown engine"]);
    run(
        &["-e", "tract:bogus"],
        &["unknown variant `bogus`", "optimized"],
    );
    run(&["-e", "tract:optimized,frobnicate=1"], &["unknown option"]);
    run(&["-e", ":"], &["--engine"]);
    // an engine that cannot run here: checked before anything is measured, even after a
    // valid spec
    run(
        &[
            "-e",
            "tract:optimized",
            "-e",
            "ort:all",
            "--ort-lib",
            "/nonexistent/libonnxruntime.so",
        ],
        &["ort:all", "not available"],
    );
    // clap's own refusals (several lines of usage): exit 2, nothing cached
    for args in [
        &["--matmul-n", "0"][..],
        &["--elements", "0"],
        &["--threads", "0"],
        &["--elements", "many"],
    ] {
        let o = edgebench()
            .env("EDGEBENCH_CACHE_DIR", dir.path())
            .arg("roofline")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty());
        assert_eq!(cached_files(dir.path()), 0);
    }
}
