//! Jetson power rails through `tegrastats`, for boards whose INA3221 monitors cannot be read
//! from sysfs (a driver layout [`crate::jetson`] does not know, or attributes only root may
//! read): every JetPack ships `/usr/bin/tegrastats`, which prints the rails once per interval.
//!
//! The grammar of a rail, as NVIDIA's tools print it and jetson-stats parses it
//! (`jtop/core/tegra_parse.py`, `WATTS`): a name, a space, then the current and the average
//! power in milliwatts separated by `/`, either bare (JetPack 4: `POM_5V_IN 3410/3410`) or with
//! the unit (JetPack 5/6: `VDD_IN 5079mW/5079mW`); JetPack 7 adds a third figure
//! (`VDD_GPU_SOC 5139mW/5139mW/5139mW`). Memory fields look alike but carry `MB`/`kB`
//! (`RAM 2257/30536MB`) and are no rail. Unconnected monitor channels print as `NC`.
//!
//! [`TegrastatsSource`] runs `tegrastats --interval MS` as a child process while a recording
//! runs (started by [`Source::start`], killed by [`Source::stop`] and on drop) and reports the
//! latest line's current power of each rail.

use crate::{Channel, Quantity, Source, Unavailable};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// One rail of one tegrastats line.
#[derive(Debug, Clone, PartialEq)]
pub struct Rail {
    pub name: String,
    /// The power when the line was printed, in milliwatts.
    pub current_mw: f64,
    /// tegrastats' own running average since it started, in milliwatts.
    pub average_mw: f64,
}

/// The power rails of one tegrastats line, in the order printed, unconnected (`NC`) channels
/// left out. A line without rails (a Jetson TX1, or a board whose monitors tegrastats cannot
/// read) gives none.
pub fn parse_rails(line: &str) -> Vec<Rail> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let mut rails = Vec::new();
    for pair in tokens.windows(2) {
        let (name, value) = (pair[0], pair[1]);
        if !is_rail_name(name) || name == "NC" {
            continue;
        }
        let Some(figures) = milliwatts(value) else {
            continue;
        };
        rails.push(Rail {
            name: name.to_owned(),
            current_mw: figures[0],
            average_mw: figures[1],
        });
    }
    rails
}

/// `POM_5V_IN`, `VDD_CPU_GPU_CV`, `GPU`, `SYS5V`: upper-case letters, digits and `_`,
/// starting with a letter.
fn is_rail_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `3410/3410`, `5079mW/5079mW` or `5139mW/5139mW/5139mW` -> the first two figures; all
/// figures carry the same unit (none or `mW`).
fn milliwatts(value: &str) -> Option<[f64; 2]> {
    let parts: Vec<&str> = value.split('/').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let unit = if parts[0].ends_with("mW") { "mW" } else { "" };
    let mut figures = [0.0; 2];
    for (i, part) in parts.iter().enumerate() {
        let digits = part.strip_suffix(unit)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        let v: f64 = digits.parse().ok()?;
        if i < 2 {
            figures[i] = v;
        }
    }
    Some(figures)
}

/// Where the tegrastats program is: `ROOT/usr/bin/tegrastats` (where JetPack installs it), or,
/// with the real root `/`, `tegrastats` on the `PATH`.
pub fn locate(root: &Path) -> PathBuf {
    let installed = root.join("usr/bin/tegrastats");
    if installed.is_file() || root != Path::new("/") {
        installed
    } else {
        PathBuf::from("tegrastats")
    }
}

/// What the reader thread saw, shared with the source.
#[derive(Default)]
struct Latest {
    /// The rails of the newest line that had any.
    rails: Vec<Rail>,
    /// When that line came.
    at: Option<Instant>,
    /// The rails of the first line (empty when it had none): they fix the channels.
    first: Option<Vec<Rail>>,
    /// The output ended (the child exited or was killed).
    ended: bool,
}

type Shared = Arc<(Mutex<Latest>, Condvar)>;

struct Running {
    child: Child,
    shared: Shared,
    reader: Option<JoinHandle<()>>,
}

impl Running {
    /// Waits until the first line came or the output ended, at most `wait`; returns the
    /// first line's rails.
    fn first_line(&self, wait: Duration) -> Option<Vec<Rail>> {
        let (lock, cond) = &*self.shared;
        let deadline = Instant::now() + wait;
        let mut latest = lock.lock().unwrap_or_else(|e| e.into_inner());
        while latest.first.is_none() && !latest.ended {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            latest = cond
                .wait_timeout(latest, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        latest.first.clone()
    }

    fn ended(&self) -> bool {
        let (lock, _) = &*self.shared;
        lock.lock().map(|l| l.ended).unwrap_or(true)
    }

    /// Kills the child and reaps it. The reader thread is left to end by itself at the end
    /// of the output, not waited for: a child that started processes of its own (a script)
    /// may leave them holding the pipe a while after it is killed.
    fn stop(mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self.reader.take());
        status
    }
}

fn spawn(program: &Path, interval: Duration) -> std::io::Result<Running> {
    let mut child = Command::new(program)
        .arg("--interval")
        .arg(interval.as_millis().max(1).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(std::io::Error::other("its output could not be captured"));
    };
    let shared: Shared = Arc::default();
    let reader = thread::Builder::new()
        .name("edgebench-tegrastats".into())
        .spawn({
            let shared = shared.clone();
            move || read_lines(stdout, &shared)
        })
        .ok();
    Ok(Running {
        child,
        shared,
        reader,
    })
}

/// The reader thread: keeps the rails of the newest line until the output ends.
fn read_lines(stdout: ChildStdout, shared: &Shared) {
    let (lock, cond) = &**shared;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let rails = parse_rails(&line);
        let mut latest = lock.lock().unwrap_or_else(|e| e.into_inner());
        if latest.first.is_none() {
            latest.first = Some(rails.clone());
        }
        if !rails.is_empty() {
            latest.rails = rails;
            latest.at = Some(Instant::now());
        }
        cond.notify_all();
    }
    let mut latest = lock.lock().unwrap_or_else(|e| e.into_inner());
    latest.ended = true;
    cond.notify_all();
}

/// The board's rails as tegrastats prints them: one power channel per rail, the input rail
/// (`*_IN`) counted in the total and the others as its parts, or every rail where there is
/// no input rail (AGX Xavier, AGX Orin), as [`crate::jetson`] does with the same monitors.
pub struct TegrastatsSource {
    program: PathBuf,
    interval: Duration,
    channels: Vec<Channel>,
    /// Per channel: the rail's name and its occurrence among rails of that name.
    keys: Vec<(String, usize)>,
    running: Option<Running>,
}

/// The longest wait for tegrastats' first line.
fn first_line_wait(interval: Duration) -> Duration {
    (interval * 3).max(Duration::from_secs(3))
}

/// Starts `program --interval MS` and waits for its first line: the rails it prints fix the
/// channels. A missing program, one that prints nothing, or a board whose tegrastats prints no
/// rails is [`Unavailable`] with the reason. The child keeps running, so that a reading right
/// after opening has a value, until [`Source::stop`] or drop.
pub fn open(program: &Path, interval: Duration) -> Result<TegrastatsSource, Unavailable> {
    let interval = interval.max(Duration::from_millis(1));
    let running = spawn(program, interval).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::NotFound {
            "not found; it comes with JetPack as /usr/bin/tegrastats".to_owned()
        } else {
            e.to_string()
        };
        Unavailable::new(
            "tegrastats",
            format!("could not run {}: {why}", program.display()),
        )
    })?;
    let wait = first_line_wait(interval);
    let first = running.first_line(wait);
    let Some(rails) = first.clone().filter(|r| !r.is_empty()) else {
        let ended = running.ended();
        let status = running.stop();
        let reason = match (first, status) {
            (Some(_), _) => format!(
                "{} prints no power rails on this board: its INA3221 monitors are not readable",
                program.display()
            ),
            (None, Some(status)) if !status.success() => format!(
                "{} --interval {} failed ({status}) before printing a line",
                program.display(),
                interval.as_millis()
            ),
            _ if ended => format!("{} ended without printing a line", program.display()),
            _ => format!(
                "{} printed no line within {:.0} s",
                program.display(),
                wait.as_secs_f64()
            ),
        };
        return Err(Unavailable::new("tegrastats", reason));
    };

    let has_input = rails.iter().any(|r| crate::jetson::is_input_rail(&r.name));
    let mut keys: Vec<(String, usize)> = Vec::new();
    let mut channels = Vec::new();
    for rail in &rails {
        let seen = keys.iter().filter(|(n, _)| *n == rail.name).count();
        let device = if seen == 0 {
            rail.name.clone()
        } else {
            format!("{} ({})", rail.name, seen + 1)
        };
        keys.push((rail.name.clone(), seen));
        channels.push(Channel {
            name: "power".into(),
            device,
            quantity: Quantity::PowerW,
            in_total: !has_input || crate::jetson::is_input_rail(&rail.name),
            source: "tegrastats".into(),
        });
    }
    Ok(TegrastatsSource {
        program: program.to_path_buf(),
        interval,
        channels,
        keys,
        running: Some(running),
    })
}

impl TegrastatsSource {
    /// Whether the child process runs now.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// A reading older than this means tegrastats stopped printing.
    fn stale_after(&self) -> Duration {
        self.interval * 3 + Duration::from_secs(1)
    }
}

impl Source for TegrastatsSource {
    fn name(&self) -> &str {
        "tegrastats"
    }

    fn channels(&self) -> &[Channel] {
        &self.channels
    }

    fn read(&mut self, out: &mut [Option<f64>]) {
        out.iter_mut().for_each(|v| *v = None);
        let Some(running) = &self.running else {
            return;
        };
        let (lock, _) = &*running.shared;
        let latest = lock.lock().unwrap_or_else(|e| e.into_inner());
        if latest.at.is_none_or(|at| at.elapsed() > self.stale_after()) {
            return;
        }
        for ((name, nth), slot) in self.keys.iter().zip(out.iter_mut()) {
            *slot = latest
                .rails
                .iter()
                .filter(|r| r.name == *name)
                .nth(*nth)
                .map(|r| r.current_mw / 1e3);
        }
    }

    /// Starts tegrastats again when a recording starts (it was stopped at the end of the
    /// previous one) and waits for its first line, so that the recording's first reading has
    /// a value.
    fn start(&mut self) {
        if self.running.as_ref().is_some_and(|r| !r.ended()) {
            return;
        }
        if let Some(old) = self.running.take() {
            old.stop();
        }
        if let Ok(running) = spawn(&self.program, self.interval) {
            running.first_line(first_line_wait(self.interval));
            self.running = Some(running);
        }
    }

    /// Kills tegrastats when the recording stops.
    fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop();
        }
    }
}

impl Drop for TegrastatsSource {
    fn drop(&mut self) {
        self.stop();
    }
}
