//! A study's child whose parent dies kills the process groups it started before it exits:
//! here a PyTorch worker (a fake Python that starts a grandchild and hangs on `load`) must
//! not outlive the `edgebench worker` child once the child's stdin, its parent's pipe, closes.

use edgebench_core::measure::MeasureOptions;
use edgebench_core::process::group_alive;
use edgebench_core::schema::study::Task;
use edgebench_study::worker::WorkerJob;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("edgebench")
}

/// Waits, generously (this is no timing check), for `cond`.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !cond() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

fn groups(dir: &Path, name: &str) -> Vec<u32> {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn a_child_whose_parent_dies_kills_the_pytorch_workers_group() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hello = serde_json::json!({
        "hello": "edgebench-worker", "protocol": 1, "python": "3.0", "executable": "fake",
        "byteorder": "little", "torch": "0.0-fake", "torchvision": "0.0-fake", "devices": ["cpu"]
    });
    // The probe answers and exits; the worker says hello, then hangs on its first request
    // with a grandchild, neither of which reads stdin.
    let py = d.join("python3");
    std::fs::write(
        &py,
        format!(
            "#!/bin/sh\ncase \"$*\" in *--probe*) f=probe;; *) f=worker;; esac\n\
             echo $$ >> '{dir}/'$f.pids\nsleep 1000 &\necho '{hello}'\nread line\n\
             [ $f = probe ] && exit 0\nexec sleep 3600\n",
            dir = d.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o755)).unwrap();
    let job = WorkerJob {
        label: "mobilenet_v3_small".into(),
        source: "zoo:mobilenet_v3_small?classes=2".into(),
        task: Task::Classification,
        shapes: vec![],
        batch: 1,
        spec: "torch:eager".into(),
        threads: None,
        seed: 1,
        measure: MeasureOptions::default(),
        target_fps: 30.0,
        clip_stride: None,
        gate_inputs: 1,
        result_path: d.join("result.json"),
        outputs_path: d.join("outputs.json"),
        telemetry: None,
    };
    let job_path = d.join("job.json");
    std::fs::write(&job_path, serde_json::to_vec(&job).unwrap()).unwrap();
    let mut child = Command::new(bin())
        .arg("worker")
        .arg("--job")
        .arg(&job_path)
        .env("EDGEBENCH_PYTHON", &py)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = eventually(|| {
        groups(d, "worker.pids").into_iter().any(group_alive) || child.try_wait().unwrap().is_some()
    });
    assert!(started, "the PyTorch worker never started");
    if let Some(st) = child.try_wait().unwrap() {
        let o = child.wait_with_output().unwrap();
        panic!(
            "the child ended before its parent died ({st}): {} {}",
            String::from_utf8_lossy(&o.stderr),
            std::fs::read_to_string(d.join("result.json")).unwrap_or_default()
        );
    }
    let workers = groups(d, "worker.pids");
    // The parent dies: its end of the child's stdin closes.
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "the child did not stop on its own");
    for g in workers {
        assert!(
            eventually(|| !group_alive(g)),
            "the PyTorch worker's group {g} outlived the study's child"
        );
    }
}
