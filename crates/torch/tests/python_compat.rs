//! The worker's compatibility layer and its own model definitions, unit-tested in Python on
//! the torch edgebench finds (python/tests/test_compat.py): torch 1.8's fallbacks give what
//! the newer APIs give. Skipped (with a message) where no Python with torch is found.

mod common;

#[test]
fn the_worker_s_compatibility_layer_passes_its_python_tests() {
    let Some(py) = common::torch_python("the_worker_s_compatibility_layer_passes_its_python_tests")
    else {
        return;
    };
    let out = std::process::Command::new(&py)
        .args(["-m", "unittest", "discover", "-s"])
        .arg(common::python_tests_dir())
        .args(["-p", "test_compat.py"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // "Ran N tests in ...", then "OK": every test ran (none skipped), none failed.
    let ran: usize = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Ran "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `Ran N tests` line: {stderr}"));
    assert!(ran >= 6, "{stderr}");
    assert_eq!(stderr.lines().last().map(str::trim), Some("OK"), "{stderr}");
}
