//! Frame sources: a video file decoded by an `ffmpeg` subprocess that pipes raw RGB frames
//! (portable across distributions, unlike linking one FFmpeg version), a folder of PNG/JPEG
//! images, or a generated moving pattern. Every source yields packed RGB24 frames in order.

use crate::error::{Result, VideoError};
use edgebench_core::process::{self, GroupChild, Limits};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

/// Seconds a synthetic source runs when neither `max_frames` nor `duration_s` is given.
pub const SYNTHETIC_DEFAULT_S: f64 = 10.0;
/// Frame rate of an image folder when none is given.
pub const FOLDER_DEFAULT_FPS: f64 = 30.0;

/// One decoded frame, packed RGB24, row-major.
#[derive(Debug, Clone)]
pub struct Frame {
    /// 0-based position in the stream.
    pub index: u64,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// What `--input` names.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    File(PathBuf),
    Folder(PathBuf),
    Synthetic { width: u32, height: u32, fps: f64 },
}

impl SourceSpec {
    /// Parses `synthetic:WxH@FPS`, or a path that must exist (a folder is an image folder).
    pub fn parse(s: &str) -> Result<SourceSpec> {
        if let Some(rest) = s.strip_prefix("synthetic:") {
            let bad = |reason: &str| VideoError::BadSource {
                spec: s.to_owned(),
                reason: reason.to_owned(),
            };
            let (dims, fps) = rest
                .split_once('@')
                .ok_or_else(|| bad("no `@FPS` after the frame size"))?;
            let (w, h) = dims
                .split_once(['x', 'X'])
                .ok_or_else(|| bad("the frame size must be WIDTHxHEIGHT"))?;
            let dim = |v: &str| {
                v.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| (1..=8192).contains(&n))
                    .ok_or_else(|| bad("width and height must be integers from 1 to 8192"))
            };
            let (width, height) = (dim(w)?, dim(h)?);
            let fps = fps
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f > 0.0 && *f <= 1000.0)
                .ok_or_else(|| bad("FPS must be a number above 0 and at most 1000"))?;
            return Ok(SourceSpec::Synthetic { width, height, fps });
        }
        if s.trim().is_empty() {
            return Err(VideoError::BadSource {
                spec: s.to_owned(),
                reason: "empty".into(),
            });
        }
        let path = PathBuf::from(s);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => Ok(SourceSpec::Folder(path)),
            Ok(_) => Ok(SourceSpec::File(path)),
            Err(_) => Err(VideoError::NotFound { path }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameSourceKind {
    File,
    Folder,
    Synthetic,
}

/// Where the frame rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FpsOrigin {
    /// The container's average frame rate.
    Container,
    /// The `synthetic:WxH@FPS` spec.
    Spec,
    /// `--fps`.
    Flag,
    /// The image-folder default, [`FOLDER_DEFAULT_FPS`].
    Default,
}

/// What is known about a source before its first frame is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// `--input` as given.
    pub input: String,
    pub kind: FrameSourceKind,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub fps_origin: FpsOrigin,
    /// Frames the container (or folder) declares; `None` when it does not say.
    pub declared_frames: Option<u64>,
    /// The most frames that will be read (`--max-frames`, `--duration`).
    pub frame_limit: Option<u64>,
    pub codec: Option<String>,
    /// The decoder that ran: `ffmpeg 5.1.9`, `image 0.25`, `synthetic`.
    pub decoder: String,
}

/// Limits and overrides for [`open`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenOptions {
    /// Overrides the source's frame rate.
    pub fps: Option<f64>,
    pub max_frames: Option<u64>,
    pub duration_s: Option<f64>,
}

impl OpenOptions {
    fn limit(&self, fps: f64, default_s: Option<f64>) -> Option<u64> {
        let by_time = self
            .duration_s
            .or(if self.max_frames.is_none() {
                default_s
            } else {
                None
            })
            .map(|d| ((d * fps).round() as u64).max(1));
        match (self.max_frames, by_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A stream of frames. `next_frame` returns `Ok(None)` at the end of the stream and an error
/// when decoding fails part-way (the frames before it remain valid).
pub trait FrameSource: Send {
    fn info(&self) -> &SourceInfo;
    fn next_frame(&mut self) -> Result<Option<Frame>>;
    /// Messages the decoder printed without failing (a truncated file often ends this way).
    fn diagnostics(&self) -> Vec<String> {
        vec![]
    }
}

/// Opens a source: probes a file with `ffprobe` and starts `ffmpeg`, lists an image folder
/// and decodes its first image, or sets up the generator.
pub fn open(spec: &SourceSpec, input: &str, opts: &OpenOptions) -> Result<Box<dyn FrameSource>> {
    match spec {
        SourceSpec::Synthetic { width, height, fps } => {
            let (fps, fps_origin) = match opts.fps {
                Some(f) => (f, FpsOrigin::Flag),
                None => (*fps, FpsOrigin::Spec),
            };
            let limit = opts.limit(fps, Some(SYNTHETIC_DEFAULT_S));
            Ok(Box::new(Synthetic {
                info: SourceInfo {
                    input: input.to_owned(),
                    kind: FrameSourceKind::Synthetic,
                    width: *width,
                    height: *height,
                    fps,
                    fps_origin,
                    declared_frames: limit,
                    frame_limit: limit,
                    codec: None,
                    decoder: "synthetic".into(),
                },
                next: 0,
            }))
        }
        SourceSpec::Folder(dir) => Ok(Box::new(ImageFolder::open(dir, input, opts)?)),
        SourceSpec::File(path) => Ok(Box::new(Ffmpeg::open(path, input, opts)?)),
    }
}

// ---------------------------------------------------------------------------------------
// Synthetic

/// A deterministic moving pattern: a drifting colour gradient with a bright square crossing
/// the frame, so consecutive frames differ the way video does.
struct Synthetic {
    info: SourceInfo,
    next: u64,
}

/// Frame `index` of the synthetic pattern.
pub fn synthetic_frame(width: u32, height: u32, index: u64) -> Frame {
    let (w, h) = (width as usize, height as usize);
    let mut rgb = vec![0u8; w * h * 3];
    let shift = (index * 4) as usize;
    let side = (h.min(w) / 4).max(1);
    let span = w.saturating_sub(side).max(1);
    let sx = (index as usize * 8) % span;
    let sy = h.saturating_sub(side) / 2;
    for y in 0..h {
        let row = &mut rgb[y * w * 3..(y + 1) * w * 3];
        for x in 0..w {
            let p = &mut row[x * 3..x * 3 + 3];
            if (sx..sx + side).contains(&x) && (sy..sy + side).contains(&y) {
                p.copy_from_slice(&[250, 250, 250]);
            } else {
                p[0] = ((x + shift) & 0xff) as u8;
                p[1] = ((y * 2 + shift / 2) & 0xff) as u8;
                p[2] = (((x ^ y) + index as usize * 3) & 0xff) as u8;
            }
        }
    }
    Frame {
        index,
        width,
        height,
        rgb,
    }
}

impl FrameSource for Synthetic {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>> {
        if self.info.frame_limit.is_some_and(|l| self.next >= l) {
            return Ok(None);
        }
        let f = synthetic_frame(self.info.width, self.info.height, self.next);
        self.next += 1;
        Ok(Some(f))
    }
}

// ---------------------------------------------------------------------------------------
// Image folder

struct ImageFolder {
    info: SourceInfo,
    files: Vec<PathBuf>,
    first: Option<Frame>,
    next: u64,
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        .unwrap_or(false)
}

impl ImageFolder {
    fn open(dir: &Path, input: &str, opts: &OpenOptions) -> Result<ImageFolder> {
        let entries = std::fs::read_dir(dir).map_err(|e| VideoError::BadSource {
            spec: input.to_owned(),
            reason: format!("cannot list the folder: {e}"),
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(VideoError::EmptyFolder {
                path: dir.to_owned(),
            });
        }
        let first = decode_image(input, &files[0], 0)?;
        let (fps, fps_origin) = match opts.fps {
            Some(f) => (f, FpsOrigin::Flag),
            None => (FOLDER_DEFAULT_FPS, FpsOrigin::Default),
        };
        let limit = opts.limit(fps, None);
        Ok(ImageFolder {
            info: SourceInfo {
                input: input.to_owned(),
                kind: FrameSourceKind::Folder,
                width: first.width,
                height: first.height,
                fps,
                fps_origin,
                declared_frames: Some(files.len() as u64),
                frame_limit: limit,
                codec: None,
                decoder: "image 0.25 (png, jpeg)".into(),
            },
            files,
            first: Some(first),
            next: 0,
        })
    }
}

fn decode_image(input: &str, path: &Path, index: u64) -> Result<Frame> {
    let bad = |reason: String| VideoError::BadImage {
        source_name: input.to_owned(),
        path: path.to_owned(),
        reason,
    };
    let img = image::ImageReader::open(path)
        .map_err(|e| bad(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| bad(e.to_string()))?
        .decode()
        .map_err(|e| bad(e.to_string()))?
        .into_rgb8();
    Ok(Frame {
        index,
        width: img.width(),
        height: img.height(),
        rgb: img.into_raw(),
    })
}

impl FrameSource for ImageFolder {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>> {
        let i = self.next;
        if self.info.frame_limit.is_some_and(|l| i >= l) || i as usize >= self.files.len() {
            return Ok(None);
        }
        self.next += 1;
        if let Some(f) = self.first.take() {
            return Ok(Some(f));
        }
        let input = self.info.input.clone();
        decode_image(&input, &self.files[i as usize], i)
            .map(Some)
            .map_err(|e| VideoError::DecoderDied {
                source_name: input,
                frames: i,
                reason: e.to_string(),
            })
    }
}

// ---------------------------------------------------------------------------------------
// ffmpeg

/// ffmpeg decoding into a pipe. It leads its own process group (a wrapper script or a
/// build that forks leaves no process behind), which is killed when the source is dropped.
struct Ffmpeg {
    info: SourceInfo,
    child: GroupChild,
    stdout: ChildStdout,
    stderr: Option<JoinHandle<String>>,
    stderr_text: Option<String>,
    frame_bytes: usize,
    next: u64,
    done: bool,
}

fn spawn_error(program: &str, e: std::io::Error) -> VideoError {
    if e.kind() == std::io::ErrorKind::NotFound {
        VideoError::FfmpegMissing {
            program: program.to_owned(),
        }
    } else {
        VideoError::FfmpegFailed {
            program: program.to_owned(),
            reason: e.to_string(),
        }
    }
}

/// The meaningful lines of ffmpeg's stderr, without the `[demuxer @ 0x...]` prefixes, on
/// one line.
fn tidy_stderr(s: &str) -> String {
    let mut lines: Vec<String> = vec![];
    for l in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let l = match l.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            Some((_, rest)) => rest.trim().to_owned(),
            None => l.to_owned(),
        };
        if !lines.contains(&l) {
            lines.push(l);
        }
    }
    let mut out = lines.join("; ");
    if out.len() > 300 {
        let mut cut = 300;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

fn parse_rate(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/').unwrap_or((s, "1"));
    let (n, d) = (n.parse::<f64>().ok()?, d.parse::<f64>().ok()?);
    (n > 0.0 && d > 0.0)
        .then(|| n / d)
        .filter(|f| f.is_finite())
}

/// How long ffprobe may take to read a file's header before it is killed with its group.
const FFPROBE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `ffmpeg -version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long ffmpeg may take to exit once its output has ended.
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// `ffmpeg version 5.1.9-0+deb12u1 ...` -> `ffmpeg 5.1.9-0+deb12u1`.
fn ffmpeg_version() -> String {
    process::run(
        Command::new("ffmpeg").arg("-version"),
        Limits::with_timeout(VERSION_TIMEOUT),
    )
    .ok()
    .filter(|o| !o.timed_out())
    .and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(2).map(|v| format!("ffmpeg {v}")))
    })
    .unwrap_or_else(|| "ffmpeg".into())
}

impl Ffmpeg {
    fn open(path: &Path, input: &str, opts: &OpenOptions) -> Result<Ffmpeg> {
        let mut probe = Command::new("ffprobe");
        probe
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height,avg_frame_rate,r_frame_rate,nb_frames,codec_name",
                "-of",
                "json",
            ])
            .arg(path);
        let probe = process::run(&mut probe, Limits::with_timeout(FFPROBE_TIMEOUT))
            .map_err(|e| spawn_error("ffprobe", e))?;
        let Some(status) = probe.status else {
            return Err(VideoError::NotAVideo {
                path: path.to_owned(),
                reason: format!(
                    "ffprobe did not finish within {} s and was stopped",
                    FFPROBE_TIMEOUT.as_secs()
                ),
            });
        };
        let stderr = String::from_utf8_lossy(&probe.stderr);
        if !status.success() {
            let reason = tidy_stderr(&stderr);
            return Err(VideoError::NotAVideo {
                path: path.to_owned(),
                reason: if reason.is_empty() {
                    format!("ffprobe exited with {status}")
                } else {
                    reason
                },
            });
        }
        let json: serde_json::Value =
            serde_json::from_slice(&probe.stdout).map_err(|e| VideoError::NotAVideo {
                path: path.to_owned(),
                reason: format!("unreadable ffprobe output: {e}"),
            })?;
        let stream = json.get("streams").and_then(|s| s.get(0)).ok_or_else(|| {
            VideoError::NoVideoStream {
                path: path.to_owned(),
            }
        })?;
        let dim = |k: &str| {
            stream
                .get(k)
                .and_then(|v| v.as_u64())
                .filter(|&n| n > 0 && n <= 16384)
                .map(|n| n as u32)
        };
        let (Some(width), Some(height)) = (dim("width"), dim("height")) else {
            return Err(VideoError::NoVideoStream {
                path: path.to_owned(),
            });
        };
        let rate = |k: &str| stream.get(k).and_then(|v| v.as_str()).and_then(parse_rate);
        let (fps, fps_origin) = match opts.fps {
            Some(f) => (f, FpsOrigin::Flag),
            None => (
                rate("avg_frame_rate")
                    .or_else(|| rate("r_frame_rate"))
                    .filter(|&f| f <= 1000.0)
                    .ok_or_else(|| VideoError::UnknownFrameRate {
                        path: path.to_owned(),
                    })?,
                FpsOrigin::Container,
            ),
        };
        let declared_frames = stream
            .get("nb_frames")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|&n| n > 0);
        let codec = stream
            .get("codec_name")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let limit = opts.limit(fps, None);

        let mut cmd = Command::new("ffmpeg");
        cmd.args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-noautorotate",
            "-i",
        ])
        .arg(path);
        if let Some(n) = limit {
            cmd.args(["-frames:v", &n.to_string()]);
        }
        cmd.args([
            "-an", "-sn", "-dn", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = process::spawn_in_group(&mut cmd).map_err(|e| spawn_error("ffmpeg", e))?;
        let (Some(stdout), Some(mut err)) = (child.take_stdout(), child.take_stderr()) else {
            // Dropping the child kills its group.
            return Err(VideoError::FfmpegFailed {
                program: "ffmpeg".into(),
                reason: "no pipe to read frames from".into(),
            });
        };
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Ok(Ffmpeg {
            info: SourceInfo {
                input: input.to_owned(),
                kind: FrameSourceKind::File,
                width,
                height,
                fps,
                fps_origin,
                declared_frames,
                frame_limit: limit,
                codec,
                decoder: ffmpeg_version(),
            },
            child,
            stdout,
            stderr: Some(stderr),
            stderr_text: None,
            // Saturating: a crafted file may declare any size; the run's memory check refuses
            // frames this large before the first one is read.
            frame_bytes: (width as usize)
                .saturating_mul(height as usize)
                .saturating_mul(3),
            next: 0,
            done: false,
        })
    }

    fn collect_stderr(&mut self) -> String {
        if let Some(h) = self.stderr.take() {
            self.stderr_text = Some(h.join().unwrap_or_default());
        }
        self.stderr_text.clone().unwrap_or_default()
    }

    /// Waits for ffmpeg to exit after its output ended, so its exit status and last
    /// messages can be reported; kills it and its group if it lingers.
    fn reap(&mut self) -> std::io::Result<std::process::ExitStatus> {
        match self.child.wait_timeout(Some(EXIT_GRACE))? {
            Some(st) => Ok(st),
            None => self.child.kill(),
        }
    }

    fn died(&mut self, what: String) -> VideoError {
        self.done = true;
        let status = self.reap();
        let stderr = tidy_stderr(&self.collect_stderr());
        let mut reason = what;
        if let Ok(st) = status {
            if !st.success() {
                reason = format!("{reason} (ffmpeg exited with {st})");
            }
        }
        if !stderr.is_empty() {
            reason = format!("{reason}: {stderr}");
        }
        VideoError::DecoderDied {
            source_name: self.info.input.clone(),
            frames: self.next,
            reason,
        }
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl FrameSource for Ffmpeg {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>> {
        if self.done || self.info.frame_limit.is_some_and(|l| self.next >= l) {
            return Ok(None);
        }
        let mut rgb = vec![0u8; self.frame_bytes];
        let n = match read_full(&mut self.stdout, &mut rgb) {
            Ok(n) => n,
            Err(e) => return Err(self.died(format!("reading frames failed: {e}"))),
        };
        if n == 0 {
            let status = self.reap();
            let ok = matches!(&status, Ok(s) if s.success());
            if !ok {
                return Err(self.died("ffmpeg failed".into()));
            }
            self.done = true;
            self.collect_stderr();
            return Ok(None);
        }
        if n < self.frame_bytes {
            let frame = self.next;
            return Err(self.died(format!(
                "the stream ended in the middle of frame {frame} ({n} of {} bytes)",
                self.frame_bytes
            )));
        }
        let f = Frame {
            index: self.next,
            width: self.info.width,
            height: self.info.height,
            rgb,
        };
        self.next += 1;
        Ok(Some(f))
    }

    fn diagnostics(&self) -> Vec<String> {
        match &self.stderr_text {
            Some(s) if !tidy_stderr(s).is_empty() => vec![tidy_stderr(s)],
            _ => vec![],
        }
    }
}

impl Drop for Ffmpeg {
    fn drop(&mut self) {
        // Stopping early (a frame limit, an inference error) must not leave ffmpeg, or
        // anything it started, running.
        let _ = self.child.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_synthetic_specs() {
        assert_eq!(
            SourceSpec::parse("synthetic:320x240@30").unwrap(),
            SourceSpec::Synthetic {
                width: 320,
                height: 240,
                fps: 30.0
            }
        );
        assert_eq!(
            SourceSpec::parse("synthetic:64X48@29.97").unwrap(),
            SourceSpec::Synthetic {
                width: 64,
                height: 48,
                fps: 29.97
            }
        );
        for bad in [
            "synthetic:320x240",
            "synthetic:320@30",
            "synthetic:0x240@30",
            "synthetic:320x240@0",
            "synthetic:320x240@-5",
            "synthetic:axb@30",
            "synthetic:320x240@nan",
        ] {
            let e = SourceSpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("synthetic:WxH@FPS"), "{e}");
        }
    }

    #[test]
    fn missing_path_names_it() {
        let e = SourceSpec::parse("/no/such/video.mp4")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/no/such/video.mp4") && e.contains("no such file"),
            "{e}"
        );
    }

    #[test]
    fn limits_combine() {
        let o = OpenOptions {
            fps: None,
            max_frames: Some(50),
            duration_s: Some(1.0),
        };
        assert_eq!(o.limit(30.0, None), Some(30));
        let o = OpenOptions {
            max_frames: Some(20),
            ..Default::default()
        };
        assert_eq!(o.limit(30.0, Some(10.0)), Some(20));
        assert_eq!(OpenOptions::default().limit(30.0, Some(10.0)), Some(300));
        assert_eq!(OpenOptions::default().limit(30.0, None), None);
    }

    #[test]
    fn synthetic_frames_move_and_stop() {
        let mut s = open(
            &SourceSpec::parse("synthetic:32x24@10").unwrap(),
            "synthetic:32x24@10",
            &OpenOptions {
                max_frames: Some(3),
                ..Default::default()
            },
        )
        .unwrap();
        let a = s.next_frame().unwrap().unwrap();
        let b = s.next_frame().unwrap().unwrap();
        assert_eq!(a.rgb.len(), 32 * 24 * 3);
        assert_ne!(a.rgb, b.rgb);
        assert_eq!(b.index, 1);
        assert!(s.next_frame().unwrap().is_some());
        assert!(s.next_frame().unwrap().is_none());
        assert_eq!(synthetic_frame(32, 24, 1).rgb, b.rgb);
    }

    #[test]
    fn tidies_ffmpeg_messages() {
        let s = "[mov,mp4 @ 0x55] moov atom not found\nx.mp4: Invalid data found\n[mov,mp4 @ 0x56] moov atom not found\n";
        assert_eq!(
            tidy_stderr(s),
            "moov atom not found; x.mp4: Invalid data found"
        );
        assert_eq!(
            parse_rate("30000/1001").map(|f| (f * 100.0).round()),
            Some(2997.0)
        );
        assert_eq!(parse_rate("0/0"), None);
    }
}
