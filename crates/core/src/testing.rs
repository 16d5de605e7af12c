//! For tests only: what a test does when something it needs is not installed here.
//!
//! On a developer's machine a test whose dependency is missing (PyTorch, ONNX Runtime,
//! OpenVINO, ffmpeg, ...) prints why and returns. Where the dependencies are installed on
//! purpose (CI), `EDGEBENCH_REQUIRE` lists them, and the same test fails instead, so that a
//! run cannot pass by skipping what it was meant to test:
//!
//! ```text
//! EDGEBENCH_REQUIRE=torch,ort,openvino,ffmpeg,chromium,python3 cargo test --release
//! ```
//!
//! ```
//! # fn have_ffmpeg() -> bool { true }
//! if !have_ffmpeg() {
//!     return edgebench_core::testing::skip_or_fail("ffmpeg", "ffmpeg is not on PATH");
//! }
//! ```

/// The environment variable that lists the required dependencies, separated by commas.
pub const REQUIRE_VAR: &str = "EDGEBENCH_REQUIRE";

/// The dependencies tests may skip on: a test names one of these.
pub const DEPENDENCIES: &[&str] = &[
    "torch",      // a python3 with torch (and torchvision)
    "python3",    // any python3
    "ort",        // ONNX Runtime's library
    "openvino",   // OpenVINO's library
    "ffmpeg",     // ffmpeg and ffprobe on PATH
    "chromium",   // headless Chromium
    "tract-cuda", // a CUDA GPU with its libraries
    "sensor",     // a power sensor (NVML, RAPL, INA3221)
];

/// Whether `dep` is listed in `EDGEBENCH_REQUIRE`. Panics on a name in the variable that no
/// test uses (a typo would otherwise require nothing).
pub fn required(dep: &str) -> bool {
    assert!(
        DEPENDENCIES.contains(&dep),
        "testing::required({dep:?}): not one of {DEPENDENCIES:?}"
    );
    let list = std::env::var(REQUIRE_VAR).unwrap_or_default();
    parse(&list)
        .unwrap_or_else(|e| panic!("{e}"))
        .contains(&dep)
}

/// Called where a test would return because `dep` is missing (`why` says what is missing):
/// panics when `EDGEBENCH_REQUIRE` lists `dep`, else prints `skipping: {why}` on stderr and
/// returns, for the test to return too.
pub fn skip_or_fail(dep: &str, why: impl std::fmt::Display) {
    if required(dep) {
        panic!("{dep} is required here ({REQUIRE_VAR} lists it) but {why}: install it or take it out of {REQUIRE_VAR}");
    }
    eprintln!("skipping: {why} (set {REQUIRE_VAR}={dep} to make this a failure)");
}

/// A name in `EDGEBENCH_REQUIRE` that is not one of [`DEPENDENCIES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{REQUIRE_VAR}={list}: `{name}` is not a dependency tests know; use some of {}", DEPENDENCIES.join(", "))]
pub struct UnknownDependency {
    /// The whole value.
    pub list: String,
    /// The name that is not known.
    pub name: String,
}

/// The names in a `EDGEBENCH_REQUIRE` value, each checked against [`DEPENDENCIES`].
fn parse(list: &str) -> Result<Vec<&str>, UnknownDependency> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            DEPENDENCIES
                .iter()
                .copied()
                .find(|d| *d == name)
                .ok_or_else(|| UnknownDependency {
                    list: list.to_owned(),
                    name: name.to_owned(),
                })
        })
        .collect()
}

/// Waits, generously (a minute: this is no timing check), for every process of the group
/// `pgid` to end; true when none is left. For tests of what `crate::process` kills.
pub fn group_gone(pgid: u32) -> bool {
    use crate::process::group_alive;
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(60);
    while group_alive(pgid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    !group_alive(pgid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_checked_name_by_name() {
        assert_eq!(parse("").unwrap(), Vec::<&str>::new());
        assert_eq!(parse("torch, ffmpeg,").unwrap(), ["torch", "ffmpeg"]);
        let e = parse("torch,onnxruntime").unwrap_err().to_string();
        assert!(e.contains("`onnxruntime`") && e.contains("ort"), "{e}");
    }

    #[test]
    fn a_required_dependency_fails_and_another_skips() {
        // The test binary runs tests on several threads: a child process gets its own
        // environment instead of changing this one's.
        if std::env::var("EDGEBENCH_TESTING_CHILD").is_ok() {
            skip_or_fail("ffmpeg", "ffmpeg is not on PATH");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let run = |require: &str| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "testing::tests::a_required_dependency_fails_and_another_skips",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("EDGEBENCH_TESTING_CHILD", "1")
                .env(REQUIRE_VAR, require)
                .output()
                .unwrap()
        };
        let o = run("torch,ffmpeg");
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{text}");
        assert!(text.contains("ffmpeg is required here"), "{text}");
        let o = run("torch");
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{text}");
        assert!(text.contains("skipping: ffmpeg is not on PATH"), "{text}");
    }
}
