//! ffmpeg and ffprobe run in process groups of their own, and neither they nor anything they
//! start outlive the source: stand-ins on PATH start a grandchild (`sleep 1000 &`, which
//! keeps their stdout open) and then `exec` the real tool. Its own test binary: it changes
//! PATH for the whole process. Needs ffmpeg (a failure where `EDGEBENCH_REQUIRE` lists it).

use edgebench_core::process::group_alive;
use edgebench_video::source::{open, OpenOptions, SourceSpec};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn find(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// `dir/NAME`: records its id (its group's id) in `dir/NAME.pids`, starts a grandchild, then
/// becomes `real`.
fn stand_in(dir: &Path, name: &str, real: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\necho $$ >> '{pids}'\nsleep 1000 &\nexec '{real}' \"$@\"\n",
            pids = dir.join(format!("{name}.pids")).display(),
            real = real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn groups(dir: &Path, name: &str) -> Vec<u32> {
    std::fs::read_to_string(dir.join(format!("{name}.pids")))
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

use edgebench_core::testing::group_gone as gone;

#[test]
fn ffmpeg_and_ffprobe_leave_no_process_behind() {
    let (Some(ffmpeg), Some(ffprobe)) = (find("ffmpeg"), find("ffprobe")) else {
        edgebench_core::testing::skip_or_fail(
            "ffmpeg",
            "ffmpeg or ffprobe is not on PATH (CI installs Debian's ffmpeg)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    let st = Command::new(&ffmpeg)
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=64x48:rate=10:duration=2")
        .args(["-pix_fmt", "yuv420p"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(st.success());
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    stand_in(&bin, "ffmpeg", &ffmpeg);
    stand_in(&bin, "ffprobe", &ffprobe);
    // The stand-ins first; the rest of PATH for `sleep`.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.clone()];
    dirs.extend(std::env::split_paths(&path));
    std::env::set_var("PATH", std::env::join_paths(dirs).unwrap());
    let spec = SourceSpec::parse(clip.to_str().unwrap()).unwrap();

    // Read to the end: the grandchild still holds ffmpeg's stdout when ffmpeg exits, and the
    // stream must end all the same (on a thread, so a regression fails instead of hanging).
    let (tx, rx) = std::sync::mpsc::channel();
    let s = spec.clone();
    std::thread::spawn(move || {
        let mut src = open(&s, "clip.mp4", &OpenOptions::default()).unwrap();
        let mut n = 0;
        while src.next_frame().unwrap().is_some() {
            n += 1;
        }
        let _ = tx.send(n);
    });
    let frames = rx
        .recv_timeout(Duration::from_secs(300))
        .expect("the stream never ended: ffmpeg's grandchild holds its stdout");
    assert_eq!(frames, 20);

    // Stopped after one frame: dropping the source kills ffmpeg's group.
    let mut src = open(&spec, "clip.mp4", &OpenOptions::default()).unwrap();
    assert!(src.next_frame().unwrap().is_some());
    // The decoding ffmpeg is blocked on its full pipe: its group is alive.
    assert!(
        groups(&bin, "ffmpeg").into_iter().any(group_alive),
        "ffmpeg ended before the test could stop it"
    );
    drop(src);

    // Every ffprobe, `ffmpeg -version` and decoding ffmpeg, with its grandchild, is gone.
    let (probes, ffmpegs) = (groups(&bin, "ffprobe"), groups(&bin, "ffmpeg"));
    assert_eq!(probes.len(), 2);
    // Each open runs `ffmpeg -version` and a decoding ffmpeg.
    assert_eq!(ffmpegs.len(), 4);
    for g in probes.into_iter().chain(ffmpegs) {
        assert!(gone(g), "a process of group {g} outlived its source");
    }
}
