//! `edgebench slurm`: the scripts it writes, its submission through a stand-in `sbatch` (the
//! real Slurm runs in tests/slurm/check.sh), and every bad input refused with one line, exit 2
//! and no files.

mod common;

use common::{edgebench, refused_with};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A two-model study config (nothing here measures it).
fn config(dir: &Path) -> PathBuf {
    let p = dir.join("study.toml");
    std::fs::write(
        &p,
        r#"name = "fleet test"
baseline = "tract:reference"
variants = ["tract:optimized"]
batch = [1, 2]
[[model]]
source = "zoo:squeezenet1_1?classes=2"
[[model]]
source = "zoo:mobilenet_v3_small?classes=2"
"#,
    )
    .unwrap();
    p
}

/// A folder with stand-ins for `sbatch` and `scancel` that log their arguments to `calls.log`.
/// `sbatch` answers `101;lab`, `102;lab`, ... as `sbatch --parsable` does, or fails like a
/// refused partition when its arguments contain `$FAIL_ON`.
fn fake_slurm(dir: &Path) -> PathBuf {
    let bin = dir.join("fake-slurm");
    std::fs::create_dir_all(&bin).unwrap();
    let sbatch = r#"#!/bin/bash
here="$(dirname "$0")"
echo "sbatch $*" >> "$here/calls.log"
if [[ -n "${FAIL_ON:-}" && "$*" == *"$FAIL_ON"* ]]; then
    echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2
    exit 1
fi
n=$(cat "$here/next" 2>/dev/null || echo 101)
echo $((n + 1)) > "$here/next"
echo "$n;lab"
"#;
    let scancel = "#!/bin/bash\necho \"scancel $*\" >> \"$(dirname \"$0\")/calls.log\"\n";
    for (name, text) in [("sbatch", sbatch), ("scancel", scancel)] {
        let p = bin.join(name);
        std::fs::write(&p, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn calls(bin: &Path) -> Vec<String> {
    std::fs::read_to_string(bin.join("calls.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn writes_one_array_per_device_and_a_merge_with_absolute_paths() {
    let dir = tempfile::tempdir().unwrap();
    config(dir.path());
    let out = edgebench()
        .current_dir(dir.path())
        .args([
            "slurm",
            "--config",
            "study.toml",
            "--shards",
            "4",
            "--max-parallel",
            "2",
        ])
        .args(["--partition", "cpu", "--gres", "gpu:1", "--out", "fleet"])
        .args([
            "--device",
            "orin=partition:jetson,gres:gpu:1",
            "--device",
            "h100=constraint:h100",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let root = dir.path().canonicalize().unwrap();
    let fleet = root.join("fleet");
    let slurm = fleet.join("slurm");
    let orin = std::fs::read_to_string(slurm.join("orin.sbatch")).unwrap();
    let h100 = std::fs::read_to_string(slurm.join("h100.sbatch")).unwrap();
    let merge = std::fs::read_to_string(slurm.join("merge.sbatch")).unwrap();
    assert!(slurm.join("logs").is_dir());
    let bin = assert_cmd::cargo::cargo_bin("edgebench");
    for text in [&orin, &h100] {
        assert!(text.contains("#SBATCH --array=1-4%2\n"), "{text}");
        assert!(
            text.contains("#SBATCH --requeue\n#SBATCH --open-mode=append\n#SBATCH --exclusive\n")
        );
        assert!(text.contains(&format!("--config '{}'", root.join("study.toml").display())));
        assert!(
            text.contains(&format!("'{}' study", bin.display())),
            "{text}"
        );
        assert!(text.contains("--shard \"$shard/4\""));
    }
    assert!(orin.contains("#SBATCH --partition=\"jetson\"\n#SBATCH --gres=\"gpu:1\"\n"));
    assert!(orin.contains(&format!(
        "--out '{}/shard-'\"$shard\"",
        fleet.join("orin").display()
    )));
    assert!(h100.contains(
        "#SBATCH --partition=\"cpu\"\n#SBATCH --constraint=\"h100\"\n#SBATCH --gres=\"gpu:1\"\n"
    ));
    for i in 1..=4 {
        for d in ["orin", "h100"] {
            let shard = fleet.join(d).join(format!("shard-{i}"));
            assert!(merge.contains(&format!("'{}'", shard.display())), "{merge}");
        }
    }
    assert!(merge.contains(&format!("--out '{}'", fleet.join("merged").display())));
    assert!(merge.contains("#SBATCH --partition=\"cpu\"\n") && !merge.contains("gres"));
    // Without --submit: what was written and how to submit it by hand.
    assert!(stdout.contains("device orin, shards 1-4"), "{stdout}");
    assert!(stdout.contains("a1=$(sbatch --parsable"), "{stdout}");
    assert!(
        stdout.contains("sbatch --dependency=afterok:${a1%%;*}:${a2%%;*} "),
        "{stdout}"
    );
    // Nothing measured, no shard folders yet.
    assert!(!fleet.join("orin").exists());
}

#[test]
fn submit_sends_the_arrays_then_the_merge_after_all_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let bin = fake_slurm(dir.path());
    let out = edgebench()
        .env("PATH", path_with(&bin))
        .args(["slurm", "--config"])
        .arg(&cfg)
        .args([
            "--shards",
            "2",
            "--device",
            "a",
            "--device",
            "b=partition:p2",
            "--submit",
            "--json",
        ])
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("--json prints one JSON document");
    let sub = &doc["submitted"];
    assert_eq!(sub["arrays"][0]["device"], "a");
    assert_eq!(sub["arrays"][0]["job_id"], "101");
    assert_eq!(sub["arrays"][1]["job_id"], "102");
    assert_eq!(sub["merge"], "103");
    assert_eq!(sub["cluster"], "lab");
    assert_eq!(
        doc["arrays"][1]["shard_dirs"][1],
        dir.path().join("out/b/shard-2").to_str().unwrap()
    );
    let slurm = dir.path().join("out/slurm");
    assert_eq!(
        calls(&bin),
        vec![
            format!("sbatch --parsable {}", slurm.join("a.sbatch").display()),
            format!("sbatch --parsable {}", slurm.join("b.sbatch").display()),
            format!(
                "sbatch --parsable --dependency=afterok:101:102 {}",
                slurm.join("merge.sbatch").display()
            ),
        ]
    );
    // The text form names the ids.
    let out = edgebench()
        .env("PATH", path_with(&bin))
        .args(["slurm", "--config"])
        .arg(&cfg)
        .args(["--shards", "1", "--submit", "--out"])
        .arg(dir.path().join("out2"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("submitted device slurm: job array 104 (tasks 1-1)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("submitted the merge: job 105, once every task of 104 has succeeded"),
        "{stdout}"
    );
}

#[test]
fn a_refused_submission_cancels_what_was_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let bin = fake_slurm(dir.path());
    let out = edgebench()
        .env("PATH", path_with(&bin))
        .env("FAIL_ON", "b.sbatch")
        .args(["slurm", "--config"])
        .arg(&cfg)
        .args([
            "--shards",
            "2",
            "--device",
            "a",
            "--device",
            "b=partition:nope",
            "--submit",
        ])
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("Invalid partition name specified"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cancelled the job arrays already submitted: 101"),
        "{stderr}"
    );
    assert_eq!(calls(&bin).last().map(String::as_str), Some("scancel 101"));
    assert!(out.stdout.is_empty());
}

#[test]
fn submit_without_sbatch_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let empty = dir.path().join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let out = edgebench()
        .env("PATH", &empty)
        .args(["slurm", "--config"])
        .arg(&cfg)
        .args(["--shards", "2", "--submit", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("sbatch not found") && stderr.contains("leave out --submit"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn bad_input_is_one_line_exit_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let cfg = cfg.to_str().unwrap();
    let out_dir = dir.path().join("out");
    let out_arg = out_dir.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--config", "/nonexistent/study.toml", "--shards", "2"],
            "--config /nonexistent/study.toml: no such file",
        ),
        (&["--config", cfg, "--shards", "0"], "--shards 0: "),
        // Two models at two batch sizes: four units.
        (
            &["--config", cfg, "--shards", "5"],
            "use --shards 4 or fewer",
        ),
        (
            &["--config", cfg, "--shards", "2", "--max-parallel", "0"],
            "--max-parallel 0: ",
        ),
        (
            &["--config", cfg, "--shards", "2", "--device", "orin=jetson"],
            "`jetson` has no KEY:VALUE",
        ),
        (
            &["--config", cfg, "--shards", "2", "--device", "a b"],
            "has ` `",
        ),
        (
            &[
                "--config", cfg, "--shards", "2", "--device", "a", "--device", "a",
            ],
            "named twice",
        ),
        (
            &[
                "--config",
                cfg,
                "--shards",
                "2",
                "--edgebench",
                "/nonexistent/edgebench",
            ],
            "--edgebench /nonexistent/edgebench: no such file",
        ),
        (
            &[
                "--config",
                cfg,
                "--shards",
                "2",
                "--device",
                "orin=partition:jetson,edgebench:/nonexistent/aarch64/edgebench",
            ],
            "--device orin: edgebench:/nonexistent/aarch64/edgebench: no such file",
        ),
    ];
    for (args, expected) in cases {
        let out = refused_with(
            edgebench()
                .arg("slurm")
                .args(*args)
                .args(["--out", out_arg]),
            &[expected],
        );
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
        assert!(!out_dir.exists(), "{args:?} wrote {}", out_dir.display());
    }
    // A broken config is the config's own error, located by line.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "name = \"x\"\nvariants = []\n").unwrap();
    let out = edgebench()
        .args(["slurm", "--shards", "1", "--out", out_arg, "--config"])
        .arg(&broken)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("broken.toml:2"), "{stderr}");
    assert!(!out_dir.exists());
}

#[test]
fn an_out_folder_that_cannot_be_written_is_an_io_failure() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let out = edgebench()
        .args([
            "slurm",
            "--shards",
            "2",
            "--out",
            "/proc/edgebench-cannot-write",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("/proc/edgebench-cannot-write/slurm/logs"),
        "{stderr}"
    );
}
