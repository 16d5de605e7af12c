//! The pipeline end to end on a fake session: clip boundaries, stride arithmetic, paced
//! timing (within tolerance, never speed), drop policies, and every source kind. Tests that
//! need `ffmpeg` print a message and return when it is absent, or fail where
//! `EDGEBENCH_REQUIRE` lists ffmpeg.

use edgebench_core::engine::{Session, SessionInfo};
use edgebench_core::telemetry::energy::WindowKind;
use edgebench_core::telemetry::{Channel, Probe, Quantity, Telemetry};
use edgebench_core::tensor::{ConcreteSpec, DType, HostTensor, TensorData};
use edgebench_video::clip::{clip_count, clip_window, ModelPlan};
use edgebench_video::preprocess::{PreprocessConfig, Preprocessor, Resize, VIDEO_MEAN, VIDEO_STD};
use edgebench_video::queue::DropPolicy;
use edgebench_video::run::{run_stream, warm_up, RawRun, VideoRunOptions};
use edgebench_video::source::{open, synthetic_frame, FrameSource, OpenOptions, SourceSpec};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Records every input it is given; sleeps `delay` per run; class = clip's first value sign.
struct Fake {
    delay: Duration,
    seen: Arc<Mutex<Vec<Vec<f32>>>>,
    current: Vec<f32>,
}

impl Fake {
    fn new(delay_ms: u64) -> (Fake, Arc<Mutex<Vec<Vec<f32>>>>) {
        let seen = Arc::new(Mutex::new(vec![]));
        (
            Fake {
                delay: Duration::from_millis(delay_ms),
                seen: seen.clone(),
                current: vec![],
            },
            seen,
        )
    }
}

impl Session for Fake {
    fn set_inputs(&mut self, inputs: &[HostTensor]) -> edgebench_core::error::Result<()> {
        let TensorData::F32(v) = &inputs[0].data else {
            panic!("f32 expected")
        };
        self.current = v.clone();
        Ok(())
    }
    fn run(&mut self) -> edgebench_core::error::Result<()> {
        std::thread::sleep(self.delay);
        self.seen.lock().unwrap().push(self.current.clone());
        Ok(())
    }
    fn outputs(&mut self) -> edgebench_core::error::Result<Vec<HostTensor>> {
        let mean = self.current.iter().sum::<f32>() / self.current.len() as f32;
        Ok(vec![HostTensor {
            name: "logits".into(),
            shape: vec![1, 3],
            data: TensorData::F32(vec![mean, 0.0, -mean]),
        }])
    }
    fn info(&self) -> SessionInfo {
        SessionInfo::default()
    }
}

fn plan(t: usize, size: usize) -> ModelPlan {
    ModelPlan::from_inputs(&[ConcreteSpec {
        name: "input".into(),
        dtype: DType::F32,
        shape: vec![1, 3, t, size, size],
    }])
    .unwrap()
}

fn pre(size: usize) -> PreprocessConfig {
    PreprocessConfig {
        resize: Resize::default_for(true, size, size),
        crop_h: size,
        crop_w: size,
        mean: VIDEO_MEAN,
        std: VIDEO_STD,
    }
}

fn options(paced: bool, drop: DropPolicy, stride: usize) -> VideoRunOptions {
    VideoRunOptions {
        paced,
        drop,
        queue_depth: 1,
        stride,
        deadline_ms: 1000.0,
        warmup_runs: 1,
        labels: Some(vec!["a".into(), "b".into(), "c".into()]),
        telemetry: None,
    }
}

fn synthetic(w: u32, h: u32, fps: f64, frames: u64) -> Box<dyn FrameSource> {
    let spec = format!("synthetic:{w}x{h}@{fps}");
    open(
        &SourceSpec::parse(&spec).unwrap(),
        &spec,
        &OpenOptions {
            max_frames: Some(frames),
            ..Default::default()
        },
    )
    .unwrap()
}

fn run(
    session: &mut Fake,
    source: Box<dyn FrameSource>,
    t: usize,
    size: usize,
    opts: &VideoRunOptions,
) -> RawRun {
    let plan = plan(t, size);
    warm_up(session, &plan, opts).unwrap();
    session.seen.lock().unwrap().clear();
    run_stream(session, source, &pre(size), &plan, opts, &mut |_| {}).unwrap()
}

#[test]
fn clips_hold_exactly_their_frames() {
    let (t, stride, size, n) = (4usize, 3usize, 16usize, 20u64);
    let (mut fake, seen) = Fake::new(0);
    let raw = run(
        &mut fake,
        synthetic(40, 30, 200.0, n),
        t,
        size,
        &options(false, DropPolicy::Oldest, stride),
    );
    assert_eq!(raw.frames, n);
    assert!(raw.error.is_none(), "{:?}", raw.error);
    let clips = clip_count(n, t, stride);
    assert_eq!(clips, 6);
    assert_eq!(raw.predictions.len() as u64, clips);
    let p = Preprocessor::new(&pre(size), 40, 30, "s").unwrap();
    let plan = plan(t, size);
    let seen = seen.lock().unwrap();
    for (k, got) in seen.iter().enumerate() {
        let w = clip_window(k as u64, t, stride);
        let frames: Vec<Vec<f32>> = (w.first_frame..=w.last_frame)
            .map(|i| {
                let f = synthetic_frame(40, 30, i);
                let mut out = vec![0.0; p.output_len()];
                p.run(&f.rgb, &mut out);
                out
            })
            .collect();
        let TensorData::F32(expect) = plan.tensor(&frames).data else {
            unreachable!()
        };
        assert_eq!(got, &expect, "clip {k}");
        let pred = &raw.predictions[k];
        assert_eq!(
            (pred.first_frame, pred.last_frame),
            (w.first_frame, w.last_frame)
        );
        assert!(!pred.dropped);
        assert!(pred.label.is_some() && pred.score.is_some_and(|s| s > 0.0 && s <= 1.0));
        assert!((pred.start_s - w.first_frame as f64 / 200.0).abs() < 1e-9);
        assert!((pred.end_s - (w.last_frame + 1) as f64 / 200.0).abs() < 1e-9);
    }
    // Per-frame stages have one sample per frame, per-clip stages one per clip.
    assert_eq!(raw.decode_ms.len() as u64, n);
    assert_eq!(raw.preprocess_ms.len() as u64, n);
    assert_eq!(raw.assemble_ms.len() as u64, clips);
    for v in [
        &raw.inference_ms,
        &raw.queue_wait_ms,
        &raw.end_to_end_ms,
        &raw.postprocess_ms,
    ] {
        assert_eq!(v.len() as u64, clips);
    }
}

#[test]
fn stride_arithmetic_holds_end_to_end() {
    for (t, stride, n) in [
        (1usize, 1usize, 7u64),
        (4, 4, 17),
        (4, 2, 9),
        (3, 7, 30),
        (5, 1, 5),
        (5, 1, 4),
    ] {
        let (mut fake, _) = Fake::new(0);
        let raw = run(
            &mut fake,
            synthetic(20, 20, 500.0, n),
            t,
            8,
            &options(false, DropPolicy::Oldest, stride),
        );
        assert_eq!(
            raw.predictions.len() as u64,
            clip_count(n, t, stride),
            "t={t} stride={stride} n={n}"
        );
        for (k, p) in raw.predictions.iter().enumerate() {
            assert_eq!(p.clip, k as u64);
            assert_eq!(p.first_frame, k as u64 * stride as u64);
        }
    }
}

#[test]
fn paced_run_follows_the_source_clock() {
    // 30 frames at 50 fps: the last frame is due at 0.58 s.
    let (fps, n) = (50.0, 30u64);
    let (mut fake, _) = Fake::new(1);
    let raw = run(
        &mut fake,
        synthetic(32, 32, fps, n),
        2,
        16,
        &options(true, DropPolicy::Oldest, 2),
    );
    let last_due = (n - 1) as f64 / fps;
    // Never ahead of the source clock: frame i is not released before i / fps, so the run
    // cannot end before the last one is due. (No upper bound: how far behind a busy machine
    // falls is not what this tests; every frame's release lateness is recorded below.)
    assert!(raw.wall_s >= last_due, "wall {} < {last_due}", raw.wall_s);
    assert_eq!(raw.release_lateness_ms.len() as u64, n);
    assert!(raw.release_lateness_ms.iter().all(|&l| l >= 0.0));
    for p in &raw.predictions {
        assert!(p.at_s >= p.last_frame as f64 / fps, "{p:?}");
        if !p.dropped {
            assert!(p.latency_ms.is_some_and(|l| l >= 0.0));
            assert!(p.deadline_missed.is_some());
        }
    }
}

#[test]
fn unpaced_run_is_not_paced_and_drops_nothing() {
    let (mut fake, _) = Fake::new(2);
    let (fps, n) = (0.01, 12u64);
    let raw = run(
        &mut fake,
        synthetic(32, 32, fps, n),
        2,
        16,
        &options(false, DropPolicy::Oldest, 2),
    );
    // At 0.01 fps a paced run cannot end before its last frame is due, 1100 s in: half of
    // that is a bound only a paced (or hung) run can exceed, never a slow machine.
    let last_due = (n - 1) as f64 / fps;
    assert!(raw.wall_s < last_due / 2.0, "wall {}", raw.wall_s);
    assert!(raw.release_lateness_ms.is_empty());
    assert_eq!(raw.predictions.len(), 6);
    assert!(raw
        .predictions
        .iter()
        .all(|p| !p.dropped && p.deadline_missed.is_none()));
    assert!(raw.max_queue_len <= 1);
}

#[test]
fn slow_inference_drops_oldest_or_queues() {
    // A clip every 20 ms, inference 200 ms (each run sleeps at least that long, and the
    // source never releases frames early): ten times too slow, so drop-oldest must drop
    // and queue must not, however busy the machine.
    let clips = clip_count(20, 2, 2) as usize;
    let (mut fake, _) = Fake::new(200);
    let dropping = run(
        &mut fake,
        synthetic(32, 32, 100.0, 20),
        2,
        16,
        &options(true, DropPolicy::Oldest, 2),
    );
    let dropped = dropping.predictions.iter().filter(|p| p.dropped).count();
    assert_eq!(dropping.predictions.len(), clips);
    assert!(dropped > 0, "no clip dropped");
    assert!(dropping.max_queue_len <= 1);
    // Clip order is kept and dropped clips carry no label.
    assert!(dropping
        .predictions
        .windows(2)
        .all(|w| w[0].clip < w[1].clip));
    assert!(dropping
        .predictions
        .iter()
        .filter(|p| p.dropped)
        .all(|p| p.label.is_none() && p.latency_ms.is_none()));

    let (mut fake, _) = Fake::new(200);
    let queued = run(
        &mut fake,
        synthetic(32, 32, 100.0, 20),
        2,
        16,
        &options(true, DropPolicy::Queue, 2),
    );
    assert_eq!(
        queued.predictions.iter().filter(|p| !p.dropped).count(),
        clips
    );
    assert!(queued.max_queue_len > 1);
    // Latency grows as the queue builds up: the last clip waits for the nine before it
    // (at least 1.8 s of inference), while the clips arrived within 0.2 s of each other.
    let first = queued.end_to_end_ms[0];
    let last = *queued.end_to_end_ms.last().unwrap();
    assert!(last > first, "{first} -> {last}");
}

fn write_png(path: &Path, w: u32, h: u32, shade: u8) {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([shade, (x % 256) as u8, (y % 256) as u8])
    });
    img.save(path).unwrap();
}

#[test]
fn image_folders_are_read_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..6u8 {
        write_png(
            &dir.path().join(format!("frame_{i:03}.png")),
            24,
            20,
            i * 40,
        );
    }
    std::fs::write(dir.path().join("notes.txt"), "not a frame").unwrap();
    let spec = SourceSpec::parse(dir.path().to_str().unwrap()).unwrap();
    let mut s = open(&spec, "frames", &OpenOptions::default()).unwrap();
    assert_eq!(
        (s.info().width, s.info().height, s.info().fps),
        (24, 20, 30.0)
    );
    assert_eq!(s.info().declared_frames, Some(6));
    let mut shades = vec![];
    while let Some(f) = s.next_frame().unwrap() {
        assert_eq!(f.rgb.len(), 24 * 20 * 3);
        shades.push(f.rgb[0]);
    }
    assert_eq!(shades, [0, 40, 80, 120, 160, 200]);
}

#[test]
fn a_corrupt_image_ends_the_folder_run_with_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5u8 {
        write_png(&dir.path().join(format!("f{i}.png")), 24, 24, i);
    }
    std::fs::write(dir.path().join("f5.png"), b"\x89PNG garbage").unwrap();
    for i in 6..9u8 {
        write_png(&dir.path().join(format!("f{i}.png")), 24, 24, i);
    }
    let spec = SourceSpec::parse(dir.path().to_str().unwrap()).unwrap();
    let source = open(&spec, "frames", &OpenOptions::default()).unwrap();
    let (mut fake, _) = Fake::new(0);
    let raw = run(
        &mut fake,
        source,
        2,
        16,
        &options(false, DropPolicy::Oldest, 2),
    );
    assert_eq!(raw.frames, 5);
    assert!(raw.decoder_failed);
    let e = raw.error.unwrap();
    assert!(e.contains("f5.png") && e.contains("after 5 frames"), "{e}");
    assert_eq!(raw.predictions.len(), 2);
}

#[test]
fn folders_without_images_and_missing_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SourceSpec::parse(dir.path().to_str().unwrap()).unwrap();
    let e = open(&spec, "x", &OpenOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no PNG or JPEG"), "{e}");
    let e = SourceSpec::parse(dir.path().join("nope.mp4").to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.mp4") && e.contains("no such file"), "{e}");
}

fn have_ffmpeg() -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("ffprobe")
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        edgebench_core::testing::skip_or_fail(
            "ffmpeg",
            "ffmpeg or ffprobe is not on PATH (CI installs Debian's ffmpeg)",
        );
    }
    ok
}

fn testsrc(dir: &Path, name: &str, size: &str, rate: u32, seconds: u32) -> std::path::PathBuf {
    let p = dir.join(name);
    let st = Command::new("ffmpeg")
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

#[test]
fn ffmpeg_files_give_every_frame() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = testsrc(dir.path(), "a.mp4", "160x120", 10, 2);
    let spec = SourceSpec::parse(path.to_str().unwrap()).unwrap();
    let mut s = open(&spec, "a.mp4", &OpenOptions::default()).unwrap();
    let i = s.info().clone();
    assert_eq!(
        (i.width, i.height, i.fps, i.declared_frames),
        (160, 120, 10.0, Some(20))
    );
    assert!(i.decoder.starts_with("ffmpeg"));
    let mut n = 0;
    let mut first = None;
    while let Some(f) = s.next_frame().unwrap() {
        assert_eq!(f.index, n);
        assert_eq!(f.rgb.len(), 160 * 120 * 3);
        if n == 0 {
            first = Some(f.rgb.clone());
        } else if n == 10 {
            assert_ne!(first.as_ref(), Some(&f.rgb), "testsrc frames differ");
        }
        n += 1;
    }
    assert_eq!(n, 20);
    assert!(s.diagnostics().is_empty());

    // Limits: --max-frames and --duration.
    let mut s = open(
        &spec,
        "a.mp4",
        &OpenOptions {
            duration_s: Some(0.5),
            ..Default::default()
        },
    )
    .unwrap();
    let mut n = 0;
    while s.next_frame().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn ffmpeg_refuses_what_is_not_a_video() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let open_err = |p: &Path| {
        let spec = SourceSpec::parse(p.to_str().unwrap()).unwrap();
        open(&spec, "x", &OpenOptions::default())
            .err()
            .unwrap()
            .to_string()
    };
    let junk = dir.path().join("junk.mp4");
    std::fs::write(
        &junk,
        (0..5000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let e = open_err(&junk);
    assert!(e.contains("junk.mp4") && e.contains("not a video"), "{e}");

    let good = testsrc(dir.path(), "b.mp4", "160x120", 10, 2);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let e = open_err(&cut);
    assert!(e.contains("cut.mp4") && e.contains("truncated"), "{e}");

    let audio = dir.path().join("tone.wav");
    let st = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=0.5",
        ])
        .arg(&audio)
        .status()
        .unwrap();
    assert!(st.success());
    let e = open_err(&audio);
    assert!(
        e.contains("tone.wav") && e.contains("no video stream"),
        "{e}"
    );
}

/// A telemetry source whose energy counter rises at exactly `watts` of wall time since it
/// was opened: the energy of any window is `watts` x its length.
struct Steady {
    channels: Vec<Channel>,
    opened: Instant,
    watts: f64,
}

impl edgebench_core::telemetry::Source for Steady {
    fn name(&self) -> &str {
        "steady"
    }
    fn channels(&self) -> &[Channel] {
        &self.channels
    }
    fn read(&mut self, out: &mut [Option<f64>]) {
        out[0] = Some(self.watts * self.opened.elapsed().as_secs_f64());
    }
}

fn steady_telemetry(watts: f64) -> Arc<Telemetry> {
    let source = Steady {
        channels: vec![Channel {
            name: "energy".into(),
            device: "board".into(),
            quantity: Quantity::EnergyJ,
            in_total: true,
            source: "steady".into(),
        }],
        opened: Instant::now(),
        watts,
    };
    Arc::new(Telemetry::from_probe(
        Probe {
            sources: vec![Box::new(source)],
            unavailable: vec![],
        },
        Duration::from_millis(5),
    ))
}

#[test]
fn energy_per_clip_comes_from_the_run_window() {
    let (t, stride, size, n) = (4usize, 4usize, 16usize, 24u64);
    let mut opts = options(false, DropPolicy::Oldest, stride);
    opts.telemetry = Some(steady_telemetry(10.0));
    // Warm-up runs take 3 x 20 ms before the stream: a window that wrongly included them
    // would hold 0.6 J more than 10 W x the run's wall time.
    opts.warmup_runs = 3;
    let (mut fake, _) = Fake::new(20);
    let raw = run(&mut fake, synthetic(32, 32, 200.0, n), t, size, &opts);
    assert!(raw.error.is_none(), "{:?}", raw.error);
    let clips = clip_count(n, t, stride) as usize;
    assert_eq!(raw.inference_ms.len(), clips);
    let e = raw.energy.expect("telemetry was on");
    assert_eq!(e.window.kind, WindowKind::Pipeline);
    assert_eq!(e.window.inferences, clips);
    assert!((e.window.duration_s - raw.wall_s).abs() < 1e-6);
    let total = e.total.as_ref().expect("the steady source measures energy");
    // The counter is linear in time, so interpolating it at the window's ends is exact up
    // to the time a reading takes (it is stamped with the middle of its read).
    let tol = 10.0 * e.sampler.max_read_ms / 1e3 + 1e-6;
    assert!(
        (total.energy_j - 10.0 * raw.wall_s).abs() <= tol,
        "{} J over {} s",
        total.energy_j,
        raw.wall_s
    );
    assert!((total.avg_power_w - 10.0).abs() <= tol / raw.wall_s);
    assert!((total.energy_per_inference_j - total.energy_j / clips as f64).abs() < 1e-12);
    // FPS per watt counts the frames the predicted clips cover, per second of the same span.
    let labelled_fps = (clips * stride) as f64 / raw.wall_s;
    assert!((total.fps_per_w.unwrap() - labelled_fps / total.avg_power_w).abs() < 1e-9);
    assert_eq!(
        edgebench_video::energy::energy_per_frame_j(&e, clips * stride),
        Some(total.energy_j / (clips * stride) as f64)
    );
}

#[test]
fn a_run_that_ends_early_gets_the_energy_of_what_ran() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5u8 {
        write_png(&dir.path().join(format!("f{i}.png")), 24, 24, i);
    }
    std::fs::write(dir.path().join("f5.png"), b"\x89PNG garbage").unwrap();
    let spec = SourceSpec::parse(dir.path().to_str().unwrap()).unwrap();
    let source = open(&spec, "frames", &OpenOptions::default()).unwrap();
    let mut opts = options(false, DropPolicy::Oldest, 2);
    opts.telemetry = Some(steady_telemetry(5.0));
    let (mut fake, _) = Fake::new(0);
    let raw = run(&mut fake, source, 2, 16, &opts);
    assert!(raw.decoder_failed);
    assert_eq!(raw.predictions.len(), 2);
    let e = raw.energy.expect("energy of the frames that ran");
    assert_eq!(e.window.inferences, 2);
    let tol = 5.0 * e.sampler.max_read_ms / 1e3 + 1e-6;
    let total = e.total.expect("a total");
    assert!((total.energy_j - 5.0 * raw.wall_s).abs() <= tol);
}
