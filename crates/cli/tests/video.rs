//! `edgebench video` end to end: results on synthetic sources, video files and image models;
//! every bad input fails with one line and exit 2 and writes nothing; a decoder that dies
//! mid-stream leaves the results so far. Tests that need ffmpeg print a message and return
//! when it is absent; the "ffmpeg missing" path runs everywhere.

use assert_cmd::Command;
use edgebench_video::clip::clip_count;
use edgebench_video::testclip::{tiny_clip_model, tiny_image_model, tiny_vector_model};
use std::path::{Path, PathBuf};

fn edgebench() -> Command {
    Command::cargo_bin("edgebench").expect("binary built")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A clip model 1x3x4x16x16 with 3 classes.
fn clip_model(dir: &Path) -> PathBuf {
    write(dir, "clip.onnx", &tiny_clip_model(4, 16, 16, 3))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn have_ffmpeg() -> bool {
    let ok = std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        edgebench_core::testing::skip_or_fail(
            "ffmpeg",
            "ffmpeg is not on PATH (CI installs Debian's ffmpeg)",
        );
    }
    ok
}

fn testsrc(dir: &Path, name: &str, size: &str, rate: u32, seconds: u32) -> PathBuf {
    let p = dir.join(name);
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc=size={size}:rate={rate}:duration={seconds}"
        ))
        .args(["-pix_fmt", "yuv420p"])
        .arg(&p)
        .status()
        .unwrap();
    assert!(st.success());
    p
}

/// Runs `video` with exports into a temp dir; expects exit 2, one stderr line holding every
/// needle, nothing on stdout and no file written.
fn fails_cleanly(args: &[&str], needles: &[&str], path_env: Option<&Path>) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let preds = dir.path().join("preds.jsonl");
    let mut cmd = edgebench();
    cmd.arg("video")
        .args(args)
        .arg("--export-json")
        .arg(&json)
        .arg("--predictions")
        .arg(&preds)
        .arg("-q");
    if let Some(p) = path_env {
        cmd.env("PATH", p);
    }
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "args {args:?}: stderr {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(stderr.starts_with("edgebench: error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "`{n}` not in: {stderr}");
    }
    assert!(
        !json.exists() && !preds.exists(),
        "an export was written on error"
    );
    assert!(
        o.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let o = edgebench()
        .arg("video")
        .args(args)
        .args(["--json", "-q"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "args {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("stdout is pure JSON")
}

#[test]
fn paced_synthetic_run_reports_every_stage_and_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let labels = write(dir.path(), "labels.txt", b"walk\nrun\nwave\n");
    let preds = dir.path().join("p.jsonl");
    let csv = dir.path().join("stages.csv");
    let j = run_json(&[
        s(&model),
        "--input",
        "synthetic:64x48@50",
        "--paced",
        "--duration",
        "1",
        "--labels",
        s(&labels),
        "--predictions",
        s(&preds),
        "--export-csv",
        s(&csv),
    ]);
    assert_eq!(j["kind"], "video");
    assert_eq!(j["schema_version"], edgebench_core::SCHEMA_VERSION);
    assert_eq!(j["frames"], 50);
    assert_eq!(j["complete"], true);
    let clips = clip_count(50, 4, 4);
    assert_eq!(j["clips"], clips);
    assert_eq!(j["settings"]["stride"], 4);
    assert_eq!(j["settings"]["clip"]["layout"], "ncthw");
    assert_eq!(j["settings"]["preprocess"]["resize"]["exact"]["height"], 18);
    assert_eq!(j["source"]["fps_origin"], "spec");
    let stages: Vec<&str> = j["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "decode",
            "preprocess",
            "assemble",
            "queue_wait",
            "transfer",
            "inference",
            "postprocess",
            "end_to_end"
        ]
    );
    assert_eq!(j["stages"][0]["count"], 50);
    assert_eq!(j["stages"][0]["raw_ms"].as_array().unwrap().len(), 50);
    let paced = &j["paced"];
    assert!((paced["deadline_ms"].as_f64().unwrap() - 80.0).abs() < 1e-9);
    assert!(paced["deadline_misses"].as_u64().is_some());
    assert!(paced["jitter_ms"].as_f64().is_some());
    assert_eq!(j["verdict"]["basis"], "paced");
    assert!(j["verdict"]["keeps_up"].is_boolean());
    assert!(j["throughput"]["model_only_fps"].as_f64().unwrap() > 0.0);

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&preds)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, clips);
    for (k, l) in lines.iter().enumerate() {
        assert_eq!(l["clip"], k);
        assert_eq!(l["first_frame"], 4 * k);
        assert_eq!(l["last_frame"], 4 * k + 3);
        if l["dropped"] == false {
            assert!(["walk", "run", "wave"].contains(&l["label"].as_str().unwrap()));
            assert!(l["latency_ms"].as_f64().is_some());
        }
    }
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv.lines().count(), 9, "{csv}");
    assert!(csv.starts_with("model,engine,source,paced,stage,"), "{csv}");
    assert!(csv.contains(",end to end,clip,"), "{csv}");
}

#[test]
fn the_table_names_stages_latency_misses_and_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let o = edgebench()
        .args([
            "video",
            s(&model),
            "--input",
            "synthetic:64x48@100",
            "--paced",
        ])
        .args(["--max-frames", "40", "--stride", "2", "-q"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "decode",
        "preprocess",
        "inference",
        "postprocess",
        "queue wait",
        "end to end (last frame released -> label)",
        "deadline 20.0 ms",
        "verdict: ",
        "clips of 4 frames every 2",
    ] {
        assert!(out.contains(needle), "`{needle}` not in:\n{out}");
    }
}

#[test]
fn fail_if_slow_exits_1_when_the_deadline_is_missed() {
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let o = edgebench()
        .args([
            "video",
            s(&model),
            "--input",
            "synthetic:32x32@100",
            "--paced",
        ])
        .args([
            "--max-frames",
            "12",
            "--deadline",
            "0.000001",
            "--fail-if-slow",
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("verdict: does not keep up"));
}

#[test]
fn image_models_run_frame_by_frame() {
    let dir = tempfile::tempdir().unwrap();
    let model = write(dir.path(), "img.onnx", &tiny_image_model(32, 32, 5));
    let j = run_json(&[
        s(&model),
        "--input",
        "synthetic:64x48@30",
        "--max-frames",
        "7",
    ]);
    assert_eq!(j["frames"], 7);
    assert_eq!(j["clips"], 7);
    assert_eq!(j["settings"]["clip"]["layout"], "nchw");
    assert_eq!(j["settings"]["stride"], 1);
    assert_eq!(j["settings"]["preprocess"]["resize"]["short_side"], 37);
    assert!((j["settings"]["preprocess"]["mean"][0].as_f64().unwrap() - 0.485).abs() < 1e-6);
    assert_eq!(j["verdict"]["basis"], "throughput");
    assert!(j["paced"].is_null());
}

#[test]
fn video_files_decode_with_ffmpeg() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let video = testsrc(dir.path(), "t.mp4", "160x120", 10, 2);
    let j = run_json(&[s(&model), "--input", s(&video), "--stride", "2"]);
    assert_eq!(j["frames"], 20);
    assert_eq!(j["clips"], clip_count(20, 4, 2));
    assert_eq!(j["dropped"], 0);
    assert_eq!(j["source"]["kind"], "file");
    assert_eq!(j["source"]["fps"], 10.0);
    assert_eq!(j["source"]["codec"], "h264");
    assert!(j["source"]["decoder"]
        .as_str()
        .unwrap()
        .starts_with("ffmpeg"));
    for w in j["warnings"].as_array().unwrap() {
        assert!(
            !["decoder_messages", "fewer_frames_than_declared"]
                .contains(&w["kind"].as_str().unwrap()),
            "{w}"
        );
    }

    // Paced at the file's own 10 fps: 20 frames take at least 1.9 s of source time.
    let j = run_json(&[
        s(&model),
        "--input",
        s(&video),
        "--paced",
        "--max-frames",
        "8",
    ]);
    assert_eq!(j["frames"], 8);
    assert!(j["throughput"]["wall_s"].as_f64().unwrap() >= 0.7);
}

#[test]
fn image_folders_made_by_ffmpeg_work() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    let st = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=10:duration=1",
        ])
        .arg(frames.join("f_%03d.png"))
        .status()
        .unwrap();
    assert!(st.success());
    let model = clip_model(dir.path());
    let j = run_json(&[s(&model), "--input", s(&frames), "--fps", "25"]);
    assert_eq!(j["frames"], 10);
    assert_eq!(j["source"]["kind"], "folder");
    assert_eq!(j["source"]["fps_origin"], "flag");
    assert_eq!(j["clips"], clip_count(10, 4, 4));
}

#[test]
fn bad_inputs_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let m = s(&model);
    let missing = dir.path().join("missing.mp4");
    fails_cleanly(
        &[m, "--input", s(&missing)],
        &["missing.mp4", "no such file"],
        None,
    );
    fails_cleanly(
        &[m, "--input", "synthetic:64x48"],
        &["synthetic:WxH@FPS"],
        None,
    );
    fails_cleanly(
        &[m, "--input", "synthetic:8x8@30"],
        &["8x8", "smaller than the model's 16x16 crop"],
        None,
    );
    fails_cleanly(
        &[m, "--input", "synthetic:64x48@30", "--max-frames", "3"],
        &["3 frames, fewer than the 4 one clip"],
        None,
    );
    let vector = write(dir.path(), "vec.onnx", &tiny_vector_model(10, 3));
    fails_cleanly(
        &[s(&vector), "--input", "synthetic:64x48@30"],
        &["model input `input` has shape 1x10", "clip input"],
        None,
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fails_cleanly(&[m, "--input", s(&empty)], &["no PNG or JPEG"], None);
    let labels = write(dir.path(), "two.txt", b"a\nb\n");
    fails_cleanly(
        &[m, "--input", "synthetic:64x48@30", "--labels", s(&labels)],
        &["--labels has 2 labels", "3 class scores"],
        None,
    );
    fails_cleanly(
        &[
            m,
            "--input",
            "synthetic:64x48@30",
            "--labels",
            "/no/labels.txt",
        ],
        &["--labels /no/labels.txt", "no such file"],
        None,
    );
    fails_cleanly(
        &[m, "--input", "synthetic:64x48@30", "--resize", "8x8"],
        &["--resize", "smaller than the model's 16x16 crop"],
        None,
    );
    fails_cleanly(
        &[m, "--input", "synthetic:64x48@30", "--std", "1,0,1"],
        &["--std 1,0,1"],
        None,
    );
    fails_cleanly(
        &[m, "--input", "synthetic:64x48@30", "--fps", "0"],
        &["--fps 0: must be a positive number"],
        None,
    );
    fails_cleanly(
        &[m, "--input", "synthetic:64x48@30", "--engine", "tract:fast"],
        &["tract:fast"],
        None,
    );
}

#[test]
fn missing_ffmpeg_is_one_line_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let video = write(dir.path(), "v.mp4", b"not checked: ffprobe is missing");
    let empty_path = dir.path().join("no-bin");
    std::fs::create_dir(&empty_path).unwrap();
    fails_cleanly(
        &[s(&model), "--input", s(&video)],
        &["`ffprobe` was not found on PATH", "apt-get install ffmpeg"],
        Some(&empty_path),
    );
}

#[test]
fn corrupt_truncated_and_empty_videos_fail_with_one_line() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let m = s(&model);
    let junk = write(
        dir.path(),
        "junk.mp4",
        &(0..4000u32)
            .map(|i| (i * 31 % 253) as u8)
            .collect::<Vec<_>>(),
    );
    fails_cleanly(
        &[m, "--input", s(&junk)],
        &["junk.mp4", "not a video"],
        None,
    );
    let good = testsrc(dir.path(), "g.mp4", "160x120", 10, 2);
    let bytes = std::fs::read(&good).unwrap();
    let cut = write(dir.path(), "cut.mp4", &bytes[..bytes.len() / 2]);
    fails_cleanly(&[m, "--input", s(&cut)], &["cut.mp4", "truncated"], None);
    let zero = write(
        dir.path(),
        "zero.y4m",
        b"YUV4MPEG2 W160 H120 F10:1 Ip A1:1 C420jpeg\n",
    );
    fails_cleanly(&[m, "--input", s(&zero)], &["zero.y4m", "no frames"], None);
    let small = testsrc(dir.path(), "small.mp4", "12x10", 10, 1);
    fails_cleanly(
        &[m, "--input", s(&small)],
        &["small.mp4", "12x10", "16x16 crop"],
        None,
    );
}

/// A PATH holding the real ffprobe and an `ffmpeg` that passes 7 frames and a half, then
/// fails like a crashing decoder.
fn dying_ffmpeg(dir: &Path, frame_bytes: usize) -> Option<PathBuf> {
    let which = |name: &str| {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
        })
    };
    let (ffmpeg, ffprobe) = (which("ffmpeg")?, which("ffprobe")?);
    let head = which("head")?;
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\n\"{}\" \"$@\" | \"{}\" -c {}\necho 'simulated decoder crash' >&2\nexit 1\n",
        ffmpeg.display(),
        head.display(),
        frame_bytes * 7 + frame_bytes / 2
    );
    let f = bin.join("ffmpeg");
    std::fs::write(&f, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(ffprobe, bin.join("ffprobe")).unwrap();
    Some(bin)
}

#[test]
fn a_decoder_dying_mid_stream_keeps_the_results_so_far() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let video = testsrc(dir.path(), "v.mp4", "160x120", 10, 2);
    let bin = dying_ffmpeg(dir.path(), 160 * 120 * 3)
        .expect("ffmpeg and ffprobe were found above; `head` comes with coreutils");
    let json = dir.path().join("out.json");
    let preds = dir.path().join("p.jsonl");
    let csv = dir.path().join("s.csv");
    let o = edgebench()
        .env("PATH", &bin)
        .args([
            "video",
            s(&model),
            "--input",
            s(&video),
            "--stride",
            "2",
            "-q",
        ])
        .arg("--export-json")
        .arg(&json)
        .arg("--predictions")
        .arg(&preds)
        .arg("--export-csv")
        .arg(&csv)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for needle in [
        "the decoder stopped after 7 frames",
        "in the middle of frame 7",
        "simulated decoder crash",
        "out.json",
    ] {
        assert!(stderr.contains(needle), "`{needle}` not in {stderr}");
    }
    assert!(String::from_utf8_lossy(&o.stdout).contains("verdict:"));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(j["complete"], false);
    assert_eq!(j["frames"], 7);
    assert!(j["error"].as_str().unwrap().contains("frame 7"));
    assert_eq!(j["clips"], clip_count(7, 4, 2));
    let lines = std::fs::read_to_string(&preds).unwrap();
    assert_eq!(lines.lines().count() as u64, clip_count(7, 4, 2));
    let csv = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let complete = header.iter().position(|c| *c == "complete").unwrap();
    for row in csv.lines().skip(1) {
        assert_eq!(row.split(',').nth(complete), Some("false"), "{row}");
    }
    // The energy covers what ran before the decoder died.
    assert_eq!(j["energy"]["window"]["kind"], "pipeline");
    assert_eq!(j["energy"]["window"]["inferences"], j["predicted"]);
}

#[test]
fn a_zoo_video_model_runs_paced_with_torchvision_defaults() {
    // ae3d is the zoo's fastest clip model (tens of ms per clip); r3d_18 takes about a second
    // per clip on one core, too slow for a test.
    let j = run_json(&[
        "zoo:ae3d",
        "--input",
        "synthetic:160x120@30",
        "--paced",
        "--max-frames",
        "48",
    ]);
    assert_eq!(
        j["settings"]["clip"]["shape"],
        serde_json::json!([1, 3, 16, 112, 112])
    );
    assert_eq!(j["settings"]["stride"], 16);
    assert_eq!(
        j["settings"]["preprocess"]["resize"],
        serde_json::json!({"exact": {"height": 128, "width": 171}})
    );
    assert!((j["settings"]["preprocess"]["std"][2].as_f64().unwrap() - 0.216989).abs() < 1e-6);
    assert_eq!(j["frames"], 48);
    assert_eq!(j["clips"], 3);
    // Threads default to the physical cores, as in `bench`, and what ran is recorded.
    assert!(j["settings"]["threads"].as_u64().unwrap() >= 1);
    assert_eq!(j["session"]["threads"], j["settings"]["threads"]);
    assert!(j["paced"]["deadline_ms"].as_f64().unwrap() > 533.0);
}

/// Whether this machine has a power sensor edgebench reads (an NVIDIA driver, RAPL, a
/// Jetson's INA3221). The development machine has none.
fn has_power_sensor() -> bool {
    [
        "/proc/driver/nvidia",
        "/sys/class/powercap",
        "/sys/bus/i2c/drivers/ina3221x",
        "/sys/bus/i2c/drivers/ina3221",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

#[test]
fn energy_covers_the_run_and_is_na_with_the_reason_without_sensors() {
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let json = dir.path().join("run.json");
    let csv = dir.path().join("stages.csv");
    let o = edgebench()
        .args(["video", s(&model), "--input", "synthetic:64x48@50"])
        .args(["--max-frames", "40", "--idle-time", "0.1", "-q"])
        .arg("--export-json")
        .arg(&json)
        .arg("--export-csv")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let e = &j["energy"];
    assert!(e.is_object(), "energy missing: {e}");
    assert_eq!(e["window"]["kind"], "pipeline");
    assert_eq!(e["window"]["inferences"], j["predicted"]);
    assert_eq!(j["predicted"], clip_count(40, 4, 4));
    assert!(e["throttle"]["verdict"].is_string());
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("energy over the whole run ("), "{table}");
    assert!(table.contains("throttle: "), "{table}");
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(
        csv.lines().next().unwrap().ends_with(
            ",complete,avg_power_w,idle_power_w,energy_per_clip_j,energy_per_clip_above_idle_j,energy_per_frame_j,fps_per_w,energy_na,throttle"
        ),
        "{csv}"
    );
    if has_power_sensor() {
        // Exactly one of a total and a reason for its absence.
        assert_ne!(e["total"].is_null(), e["total_na"].is_null(), "{e}");
        return;
    }
    // No sensor: n/a with the reason, never a zero.
    assert!(e["total"].is_null(), "{e}");
    assert!(j["energy_per_frame_j"].is_null());
    let na = e["total_na"].as_str().unwrap();
    assert!(na.starts_with("no power sensor"), "{na}");
    assert!(na.contains("rapl: "), "{na}");
    assert!(table.contains(&format!(": n/a ({na})")), "{table}");
    assert!(!table.contains(" W average"), "{table}");
    assert!(csv.contains(na), "{csv}");
}

#[test]
fn no_telemetry_leaves_energy_null() {
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let j = run_json(&[
        s(&model),
        "--input",
        "synthetic:64x48@50",
        "--max-frames",
        "8",
        "--no-telemetry",
    ]);
    assert!(
        j.get("energy").is_some_and(|e| e.is_null()),
        "{}",
        j["energy"]
    );
    assert!(j["energy_per_frame_j"].is_null());
    let o = edgebench()
        .args(["video", s(&model), "--input", "synthetic:64x48@50"])
        .args(["--max-frames", "8", "--no-telemetry", "-q"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("energy: not measured (--no-telemetry)"));
}

#[test]
fn bad_telemetry_flags_fail_with_one_line_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let m = s(&model);
    fails_cleanly(
        &[m, "--input", "synthetic:64x48@30", "--grid-gco2-per-kwh=-1"],
        &["--grid-gco2-per-kwh -1", "non-negative"],
        None,
    );
    fails_cleanly(
        &[
            m,
            "--input",
            "synthetic:64x48@30",
            "--telemetry-period",
            "0",
        ],
        &["--telemetry-period 0", "positive"],
        None,
    );
}

#[test]
fn older_video_documents_without_energy_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let mut j = run_json(&[
        s(&model),
        "--input",
        "synthetic:64x48@50",
        "--max-frames",
        "8",
    ]);
    let doc = j.as_object_mut().unwrap();
    doc.remove("energy");
    doc.remove("energy_per_frame_j");
    let r: edgebench_video::report::VideoReport = serde_json::from_value(j).unwrap();
    assert!(r.energy.is_none());
}

#[test]
fn energy_min_time_is_said_not_to_apply() {
    let dir = tempfile::tempdir().unwrap();
    let model = clip_model(dir.path());
    let o = edgebench()
        .args(["video", s(&model), "--input", "synthetic:64x48@50"])
        .args([
            "--max-frames",
            "8",
            "--energy-min-time",
            "10",
            "--json",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("--energy-min-time does not apply to video"),
        "{stderr}"
    );
    serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("stdout stays pure JSON");
}
