//! The worker's measurement loop replays the Rust loop's unit tests with a fake clock
//! (python/tests/test_timing.py). Needs any python3, not torch.

#[test]
fn the_python_measurement_loop_follows_the_rust_rules() {
    let py = edgebench_torch::python::which("python3")
        .or_else(|| Some("/usr/bin/python3".into()).filter(|p: &std::path::PathBuf| p.exists()));
    let Some(py) = py else {
        return edgebench_core::testing::skip_or_fail(
            "python3",
            "the_python_measurement_loop_follows_the_rust_rules: no python3",
        );
    };
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/tests");
    let out = std::process::Command::new(py)
        .args(["-m", "unittest", "discover", "-s"])
        .arg(&tests)
        .args(["-p", "test_timing.py"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // unittest's summary: "Ran N tests in ...", then "OK" (or "OK (skipped=K)"); at least
    // one test ran, none was skipped, none failed.
    let ran: usize = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Ran "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `Ran N tests` line: {stderr}"));
    assert!(ran > 0, "{stderr}");
    assert_eq!(stderr.lines().last().map(str::trim), Some("OK"), "{stderr}");
}
