//! For tests only: the stand-in for trtexec (`crates/engines/tests/standin/trtexec.py`,
//! written from NVIDIA/TensorRT's samples/common for 8.2 to 11.x) behind a `trtexec` script
//! of its own, for the engine's tests and the binary's. No TensorRT exists on the machines this
//! was written on: this is what the engine is verified against.

use edgebench_core::testing::skip_or_fail;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python the stand-in runs on: it needs `onnx` and `numpy` (CI installs python3-onnx).
pub const PYTHON: &str = "/usr/bin/python3";

/// The stand-in script, in this crate's source tree.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standin/trtexec.py")
}

/// Whether the stand-in can run here; otherwise skips (or fails where `python3` is in
/// `EDGEBENCH_REQUIRE`, as in CI).
pub fn available() -> bool {
    let ok = Command::new(PYTHON)
        .args(["-c", "import onnx, numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip_or_fail(
            "python3",
            format!(
                "{PYTHON} with the onnx and numpy packages is missing (the trtexec stand-in needs them)"
            ),
        );
    }
    ok
}

/// A `trtexec` in its own folder under `root` that runs the stand-in as TensorRT `version`
/// on the GPU named `gpu`, logging every command line to `calls.log` next to it; `extra`:
/// more shell lines before it starts (e.g. `export TRTEXEC_STANDIN_HANG=1`).
pub fn trtexec(root: &Path, version: &str, gpu: &str, extra: &str) -> PathBuf {
    let dir = root.join(format!("trt-{version}-{}", gpu.replace(' ', "_")));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("trtexec");
    let text = format!(
        "#!/bin/sh\nexport TRTEXEC_STANDIN_VERSION={version}\nexport TRTEXEC_STANDIN_GPU='{gpu}'\nexport TRTEXEC_STANDIN_LOG='{log}'\n{extra}\nexec {PYTHON} '{s}' \"$@\"\n",
        log = dir.join("calls.log").display(),
        s = script().display(),
    );
    std::fs::write(&p, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}
