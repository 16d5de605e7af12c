//! The state of a Jetson board that decides how fast it runs: its nvpmodel power mode, whether
//! jetson_clocks pinned its clocks, the CPU, GPU and memory (EMC) clocks and the fan. A
//! benchmark on a Jetson means little without it.
//!
//! Everything is read from files under a root (`/` on the board; tests point it at fixture
//! trees), the way NVIDIA's `jetson_clocks --show` reads them (the script, JetPack 5):
//!
//! - CPU: `sys/devices/system/cpu/cpuN/cpufreq/scaling_{min,max,cur}_freq` (kHz),
//!   `cpuinfo_max_freq`, `scaling_governor`, and `cpuN/online`.
//! - GPU: the devfreq device of the integrated GPU, `sys/class/devfreq/<57000000.gpu |
//!   17000000.gv11b | 17000000.ga10b | 17000000.gpu>/{min,max,cur}_freq` (Hz) and
//!   `available_frequencies`.
//! - EMC: `sys/kernel/debug/bpmp/debug/clk/emc/{rate,min_rate,max_rate,mrq_rate_locked}` with
//!   the nvpmodel cap `sys/kernel/nvpmodel_emc_cap/emc_iso_cap` (Xavier, Orin, TX2), or
//!   `sys/kernel/debug/clk/override.emc/{clk_rate,clk_state}` with
//!   `sys/kernel/debug/tegra_bwmgr/emc_{min,max}_rate` (Nano, TX1). debugfs is readable by
//!   root only: without root the EMC clock is missing, with a note saying so.
//! - Fan: `sys/devices/pwm-fan/target_pwm` (Nano, JetPack 4), `sys/kernel/debug/tegra_fan/
//!   target_pwm` (TX1, TX2), or the `pwm1` of the hwmon named `pwmfan`/`pwm-fan`
//!   (`sys/class/hwmon/hwmon*`, JetPack 5/6), 0 to 255.
//! - Power mode: `nvpmodel -q` (`NV Power Mode: NAME` then the mode's id on the next line;
//!   `ROOT/usr/sbin/nvpmodel`, or `nvpmodel` on the `PATH` with the real root), else the
//!   mode id nvpmodel keeps in `var/lib/nvpmodel/status` (`pmode:0001 ...`); the modes from
//!   `etc/nvpmodel.conf`.
//!
//! Two rules decide whether the board runs at its maximum performance, both stated on
//! [`max_modes`] and [`BoardState::read`].

use crate::rapl::list_dir;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where to look.
#[derive(Debug, Clone)]
pub struct BoardOptions {
    /// The file-system root: `/` on the board, a fixture tree in tests. sysfs is `ROOT/sys`.
    pub root: PathBuf,
}

impl Default for BoardOptions {
    fn default() -> Self {
        BoardOptions {
            root: PathBuf::from("/"),
        }
    }
}

/// The board's state when a result was measured. Every part that could not be read is `None`
/// with the reason in `notes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardState {
    /// The device-tree model: `NVIDIA Jetson Nano Developer Kit`.
    pub model: Option<String>,
    /// The L4T release from `/etc/nv_tegra_release`: `R32.7.1`.
    pub l4t: Option<String>,
    pub power_mode: Option<PowerMode>,
    /// Whether jetson_clocks pinned the clocks (see [`BoardState::read`] for the rule).
    pub jetson_clocks: Option<bool>,
    /// The CPUs' online list as the kernel prints it (`0-3`, `0-1`).
    pub cpus_online: Option<String>,
    /// One entry per CPU cluster (CPUs sharing one clock).
    pub cpu: Vec<CpuCluster>,
    pub gpu: Option<BoardClock>,
    pub emc: Option<BoardClock>,
    pub fan: Option<Fan>,
    /// The power mode is a maximum-performance one and jetson_clocks is on; `None` when
    /// neither could be told.
    pub max_performance: Option<bool>,
    /// The commands that bring the board to its maximum performance, when it is not there:
    /// `sudo nvpmodel -m 0 && sudo jetson_clocks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// What falls short, in words, when it is not there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortfall: Option<String>,
    /// What could not be read, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The nvpmodel power mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerMode {
    pub id: u32,
    pub name: String,
    /// Where it was read: `nvpmodel -q` or `/var/lib/nvpmodel/status`.
    pub source: String,
    /// The modes of `/etc/nvpmodel.conf` that [`max_modes`] calls maximum performance.
    pub max_modes: Vec<ModeRef>,
    /// `PM_CONFIG DEFAULT` of the configuration.
    pub default_id: Option<u32>,
    /// Whether this mode is one of `max_modes`; `None` without a configuration.
    pub is_max: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeRef {
    pub id: u32,
    pub name: String,
}

/// A clock and its limits, in MHz.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardClock {
    pub cur_mhz: Option<f64>,
    /// The lower and upper limit the governor works within now.
    pub min_mhz: Option<f64>,
    pub max_mhz: Option<f64>,
    /// The hardware's highest clock (`cpuinfo_max_freq`, the last of the GPU's available
    /// frequencies, the EMC's `max_rate`).
    pub hw_max_mhz: Option<f64>,
    /// Pinned: the lower limit equals the upper one (CPU, GPU), or the EMC rate is locked.
    pub locked: Option<bool>,
}

/// CPUs sharing one clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuCluster {
    /// `0-3`, `4-7`.
    pub cpus: String,
    pub governor: Option<String>,
    pub clock: BoardClock,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fan {
    /// PWM duty, 0 to 255.
    pub pwm: u32,
    pub percent: f64,
    pub path: String,
}

/// One `< POWER_MODEL ID=n NAME=X >` section of `nvpmodel.conf`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfMode {
    pub id: u32,
    pub name: String,
    /// CPU cores the mode keeps online (`CPU_ONLINE CORE_k 1`), of those it names.
    pub cores_online: usize,
    /// Each clock's `MAX_FREQ`, by clock name (`CPU_A57`, `GPU`, `EMC`, ...); `None` is no
    /// cap (`-1`, or `0`, which nvpmodel writes for "no limit" to the EMC cap).
    pub max_freq: Vec<(String, Option<u64>)>,
    /// GPU TPCs the mode power-gates (bits set in `TPC_POWER_GATING TPC_PG_MASK`).
    pub gated_tpcs: u32,
}

/// A parsed `nvpmodel.conf`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NvpmodelConf {
    pub modes: Vec<ConfMode>,
    /// `< PM_CONFIG DEFAULT=n >`.
    pub default_id: Option<u32>,
}

/// `< KEY A=1 B=2 >` -> `(KEY, [(A, 1), (B, 2)])`.
fn section(line: &str) -> Option<(&str, Vec<(&str, &str)>)> {
    let inner = line.trim().strip_prefix('<')?.strip_suffix('>')?;
    let mut words = inner.split_whitespace();
    let key = words.next()?;
    let attrs = words.filter_map(|w| w.split_once('=')).collect();
    Some((key, attrs))
}

/// Parses nvpmodel's configuration file (`/etc/nvpmodel.conf`). Lines of a mode are
/// `PARAM ARG VALUE` (`CPU_ONLINE CORE_0 1`, `GPU MAX_FREQ -1`); `#` starts a comment.
pub fn parse_conf(text: &str) -> NvpmodelConf {
    let mut conf = NvpmodelConf::default();
    let mut in_mode = false;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        if let Some((key, attrs)) = section(line) {
            let attr = |name: &str| attrs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
            in_mode = false;
            match key {
                "POWER_MODEL" => {
                    if let (Some(id), Some(name)) =
                        (attr("ID").and_then(|v| v.parse().ok()), attr("NAME"))
                    {
                        conf.modes.push(ConfMode {
                            id,
                            name: name.to_owned(),
                            cores_online: 0,
                            max_freq: vec![],
                            gated_tpcs: 0,
                        });
                        in_mode = true;
                    }
                }
                "PM_CONFIG" => conf.default_id = attr("DEFAULT").and_then(|v| v.parse().ok()),
                _ => {}
            }
            continue;
        }
        let Some(mode) = conf.modes.last_mut().filter(|_| in_mode) else {
            continue;
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let [param, arg, value] = words[..] else {
            continue;
        };
        match (param, arg) {
            ("CPU_ONLINE", _) if value == "1" => mode.cores_online += 1,
            ("TPC_POWER_GATING", "TPC_PG_MASK") => {
                mode.gated_tpcs = value.parse::<u64>().map_or(0, |m| m.count_ones());
            }
            (clock, "MAX_FREQ") => {
                let cap = value
                    .parse::<i64>()
                    .ok()
                    .filter(|v| *v > 0)
                    .map(|v| v as u64);
                mode.max_freq.push((clock.to_owned(), cap));
            }
            _ => {}
        }
    }
    conf
}

/// The modes of a configuration that count as maximum performance. The rule:
///
/// 1. A mode named `MAXN` or `MAXN_...` (`MAXN_SUPER`): NVIDIA's name for the mode that
///    "releases all constraints" (the comment above it in `nvpmodel_t210_jetson-nano.conf`).
///    When the configuration has any, those are the maximum modes.
/// 2. Without one (Xavier NX, the first Orin Nano releases): the modes whose limits no other
///    mode exceeds. Mode A exceeds mode B when A keeps at least as many cores online, caps
///    every clock at least as high (no cap is highest), gates at most as many GPU TPCs, and
///    is better in at least one of these. Modes that trade one limit against another (more
///    cores at a lower clock) are all maximum.
///
/// Returned best first: most cores online, then the lowest id (that is the mode a warning
/// suggests).
pub fn max_modes(conf: &NvpmodelConf) -> Vec<&ConfMode> {
    let maxn: Vec<&ConfMode> = conf
        .modes
        .iter()
        .filter(|m| {
            let n = m.name.to_ascii_uppercase();
            n == "MAXN" || n.starts_with("MAXN_")
        })
        .collect();
    let candidates: Vec<&ConfMode> = if maxn.is_empty() {
        conf.modes.iter().collect()
    } else {
        maxn
    };
    let mut best: Vec<&ConfMode> = candidates
        .iter()
        .copied()
        .filter(|m| !candidates.iter().any(|other| exceeds(other, m)))
        .collect();
    best.sort_by_key(|m| (std::cmp::Reverse(m.cores_online), m.id));
    best
}

/// Whether mode `a`'s limits exceed mode `b`'s (see [`max_modes`]).
fn exceeds(a: &ConfMode, b: &ConfMode) -> bool {
    // A cap as a comparable number: no cap is the highest.
    let cap = |m: &ConfMode, clock: &str| -> u64 {
        m.max_freq
            .iter()
            .find(|(c, _)| c == clock)
            .map_or(u64::MAX, |(_, v)| v.unwrap_or(u64::MAX))
    };
    let mut clocks: Vec<&str> = a.max_freq.iter().map(|(c, _)| c.as_str()).collect();
    clocks.extend(b.max_freq.iter().map(|(c, _)| c.as_str()));
    let mut at_least = a.cores_online >= b.cores_online && a.gated_tpcs <= b.gated_tpcs;
    let mut better = a.cores_online > b.cores_online || a.gated_tpcs < b.gated_tpcs;
    for c in clocks {
        at_least &= cap(a, c) >= cap(b, c);
        better |= cap(a, c) > cap(b, c);
    }
    at_least && better
}

/// Parses `nvpmodel -q`: `NV Power Mode: NAME` then the mode's id alone on the next line
/// (other lines, such as `NVPM WARN: fan mode is not set!` or `NV Fan Mode:quiet`, may come
/// before).
pub fn parse_query(output: &str) -> Option<(u32, String)> {
    let lines: Vec<&str> = output.lines().map(str::trim).collect();
    let at = lines.iter().position(|l| l.starts_with("NV Power Mode:"))?;
    let name = lines[at].trim_start_matches("NV Power Mode:").trim();
    let id = lines.get(at + 1)?.parse().ok()?;
    (!name.is_empty()).then(|| (id, name.to_owned()))
}

/// `pmode:0001 fmode:quiet` (nvpmodel's `/var/lib/nvpmodel/status`) -> 1.
fn parse_status(text: &str) -> Option<u32> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("pmode:"))
        .and_then(|v| v.parse().ok())
}

/// `# R32 (release), REVISION: 7.1, GCID: ...` -> `R32.7.1`.
fn parse_l4t(text: &str) -> Option<String> {
    let line = text.lines().next()?.trim_start_matches('#').trim();
    let major = line.split_whitespace().next()?;
    let revision = line
        .split(',')
        .find_map(|p| p.trim().strip_prefix("REVISION:"))?
        .trim();
    (major.starts_with('R') && !revision.is_empty()).then(|| format!("{major}.{revision}"))
}

fn read_text(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!text.is_empty()).then(|| text.to_owned())
}

fn read_num(path: &Path) -> Option<u64> {
    read_text(path)?.parse().ok()
}

/// Whether the tree under `root` is a Jetson: an NVIDIA Jetson device-tree model or Tegra
/// compatible string, or L4T's release file.
pub fn is_jetson(root: &Path) -> bool {
    let sys = root.join("sys/firmware/devicetree/base");
    let model =
        read_text(&sys.join("model")).or_else(|| read_text(&root.join("proc/device-tree/model")));
    let compatible = fs::read(sys.join("compatible"))
        .map(|b| String::from_utf8_lossy(&b).to_ascii_lowercase())
        .unwrap_or_default();
    model.is_some_and(|m| m.contains("Jetson"))
        || compatible.contains("nvidia,tegra")
        || root.join("etc/nv_tegra_release").is_file()
}

/// Why a board tool (`nvpmodel -q`) gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// It could not be started, or waiting for it failed.
    #[error("{0}")]
    Start(#[source] std::io::Error),
    /// It exited with a failure.
    #[error("exited with {0}")]
    Exited(std::process::ExitStatus),
    /// It did not exit within the limit and was killed.
    #[error("no answer within {} s", .0.as_secs())]
    TimedOut(Duration),
}

/// Runs `program ARGS` for at most `limit`, returning its standard output when it exits
/// successfully.
fn run_tool(program: &Path, args: &[&str], limit: Duration) -> Result<String, ToolError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(ToolError::Start)?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                if let Some(mut s) = child.stdout.take() {
                    let _ = s.read_to_string(&mut out);
                }
                return if status.success() {
                    Ok(out)
                } else {
                    Err(ToolError::Exited(status))
                };
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ToolError::TimedOut(limit));
            }
            Err(e) => return Err(ToolError::Start(e)),
        }
    }
}

/// `ROOT/usr/sbin/nvpmodel` where JetPack installs it, or `nvpmodel` on the `PATH` with the
/// real root.
fn nvpmodel_program(root: &Path) -> Option<PathBuf> {
    let installed = root.join("usr/sbin/nvpmodel");
    if installed.is_file() {
        Some(installed)
    } else if root == Path::new("/") {
        Some(PathBuf::from("nvpmodel"))
    } else {
        None
    }
}

impl BoardState {
    /// Reads the board's state under `opts.root`; `None` on a machine that is not a Jetson
    /// (never an error: a part that cannot be read is `None`, with a note).
    ///
    /// jetson_clocks is taken as on when every online CPU's `scaling_min_freq` equals its
    /// `scaling_max_freq`, the GPU's devfreq `min_freq` equals its `max_freq`, and the EMC
    /// rate is locked (`mrq_rate_locked` or `override.emc/clk_state` 1) where the EMC can be
    /// read: exactly what the script writes when it runs (and what jetson-stats checks), read
    /// back without root. It is off when any of these says otherwise, and `None` when neither
    /// the CPU nor the GPU limits can be read.
    ///
    /// The board is at its maximum performance when its power mode is one of [`max_modes`]
    /// and jetson_clocks is on.
    pub fn read(opts: &BoardOptions) -> Option<BoardState> {
        let root = &opts.root;
        if !is_jetson(root) {
            return None;
        }
        let sys = root.join("sys");
        let mut notes = vec![];
        let model = read_text(&sys.join("firmware/devicetree/base/model"))
            .or_else(|| read_text(&root.join("proc/device-tree/model")));
        let l4t = read_text(&root.join("etc/nv_tegra_release")).and_then(|t| parse_l4t(&t));
        let power_mode = power_mode(root, &mut notes);
        let cpus_online = read_text(&sys.join("devices/system/cpu/online"));
        let cpu = cpu_clusters(&sys);
        if cpu.is_empty() {
            notes.push(format!(
                "CPU clocks: no cpufreq under {}",
                sys.join("devices/system/cpu").display()
            ));
        }
        let gpu = gpu_clock(&sys);
        if gpu.is_none() {
            notes.push(format!(
                "GPU clock: no GPU devfreq under {}",
                sys.join("class/devfreq").display()
            ));
        }
        let emc = emc_clock(&sys);
        if emc.is_none() {
            notes.push(
                "EMC clock: /sys/kernel/debug is readable by root only; run as root to record it"
                    .into(),
            );
        }
        let fan = fan(&sys);

        let mut locks: Vec<bool> = cpu.iter().filter_map(|c| c.clock.locked).collect();
        locks.extend(gpu.as_ref().and_then(|g| g.locked));
        let jetson_clocks = (!locks.is_empty()).then(|| {
            locks.iter().all(|l| *l) && emc.as_ref().and_then(|e| e.locked).unwrap_or(true)
        });

        let mut state = BoardState {
            model,
            l4t,
            power_mode,
            jetson_clocks,
            cpus_online,
            cpu,
            gpu,
            emc,
            fan,
            max_performance: None,
            fix: None,
            shortfall: None,
            notes,
        };
        state.judge();
        Some(state)
    }

    /// Fills `max_performance`, `fix` and `shortfall` from the power mode and jetson_clocks.
    fn judge(&mut self) {
        let mode_max = self.power_mode.as_ref().and_then(|m| m.is_max);
        let mut fix = vec![];
        let mut short = vec![];
        if let (Some(false), Some(mode)) = (mode_max, &self.power_mode) {
            if let Some(best) = mode.max_modes.first() {
                fix.push(format!("sudo nvpmodel -m {}", best.id));
                short.push(format!(
                    "power mode {} ({}), not the maximum {} ({})",
                    mode.name, mode.id, best.name, best.id
                ));
            }
        }
        if self.jetson_clocks == Some(false) {
            fix.push("sudo jetson_clocks".into());
            short.push(format!("jetson_clocks is off ({})", self.unlocked()));
        }
        self.max_performance = match (mode_max, self.jetson_clocks) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        };
        if !fix.is_empty() {
            self.fix = Some(fix.join(" && "));
            self.shortfall = Some(short.join("; "));
        }
    }

    /// The clocks that are not pinned, in words: `CPU 0-3 102-1479 MHz, GPU 76.8-921.6 MHz`.
    fn unlocked(&self) -> String {
        let range = |c: &BoardClock| match (c.min_mhz, c.max_mhz) {
            (Some(lo), Some(hi)) => format!("{}-{} MHz", mhz(lo), mhz(hi)),
            _ => "not pinned".into(),
        };
        let mut parts: Vec<String> = self
            .cpu
            .iter()
            .filter(|c| c.clock.locked == Some(false))
            .map(|c| format!("CPU {} {}", c.cpus, range(&c.clock)))
            .collect();
        if let Some(g) = self.gpu.as_ref().filter(|g| g.locked == Some(false)) {
            parts.push(format!("GPU {}", range(g)));
        }
        if self.emc.as_ref().is_some_and(|e| e.locked == Some(false)) {
            parts.push("EMC not locked".into());
        }
        if parts.is_empty() {
            "clocks not pinned".into()
        } else {
            parts.join(", ")
        }
    }

    /// One line for a report's host section: `NVIDIA Jetson Nano Developer Kit, L4T R32.7.1,
    /// power mode MAXN (0, maximum), jetson_clocks on, CPU 0-3 at 1479 MHz, GPU 921.6 MHz,
    /// EMC 1600 MHz, fan 100%`.
    pub fn summary(&self) -> String {
        let mut parts = vec![];
        parts.push(self.model.clone().unwrap_or_else(|| "NVIDIA Jetson".into()));
        if let Some(l4t) = &self.l4t {
            parts.push(format!("L4T {l4t}"));
        }
        match &self.power_mode {
            Some(m) => parts.push(format!(
                "power mode {} ({}{})",
                m.name,
                m.id,
                match m.is_max {
                    Some(true) => ", maximum",
                    Some(false) => ", not the maximum",
                    None => "",
                }
            )),
            None => parts.push("power mode unknown".into()),
        }
        parts.push(match self.jetson_clocks {
            Some(true) => "jetson_clocks on".into(),
            Some(false) => "jetson_clocks off".into(),
            None => "jetson_clocks unknown".into(),
        });
        for c in &self.cpu {
            if let Some(cur) = c.clock.cur_mhz {
                parts.push(format!("CPU {} at {} MHz", c.cpus, mhz(cur)));
            }
        }
        for (name, clock) in [("GPU", &self.gpu), ("EMC", &self.emc)] {
            if let Some(cur) = clock.as_ref().and_then(|c| c.cur_mhz) {
                parts.push(format!("{name} {} MHz", mhz(cur)));
            }
        }
        if let Some(f) = &self.fan {
            parts.push(format!("fan {:.0}%", f.percent));
        }
        parts.join(", ")
    }
}

/// `921.6`, `1479`.
fn mhz(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

fn power_mode(root: &Path, notes: &mut Vec<String>) -> Option<PowerMode> {
    let conf_path = root.join("etc/nvpmodel.conf");
    let conf = fs::read_to_string(&conf_path).ok().map(|t| parse_conf(&t));
    if conf.is_none() {
        notes.push(format!(
            "power mode: no {}: the maximum mode cannot be told",
            conf_path.display()
        ));
    }
    let mut current = None;
    match nvpmodel_program(root) {
        Some(program) => match run_tool(&program, &["-q"], Duration::from_secs(5)) {
            Ok(out) => match parse_query(&out) {
                Some((id, name)) => current = Some((id, name, "nvpmodel -q".to_owned())),
                None => notes.push(format!(
                    "power mode: `{} -q` printed no `NV Power Mode:` line",
                    program.display()
                )),
            },
            Err(e) => notes.push(format!("power mode: `{} -q`: {e}", program.display())),
        },
        None => notes.push("power mode: no nvpmodel under usr/sbin".into()),
    }
    if current.is_none() {
        let status = root.join("var/lib/nvpmodel/status");
        if let Some(id) = read_text(&status).and_then(|t| parse_status(&t)) {
            let name = conf
                .as_ref()
                .and_then(|c| c.modes.iter().find(|m| m.id == id))
                .map_or_else(|| format!("mode {id}"), |m| m.name.clone());
            current = Some((id, name, "/var/lib/nvpmodel/status".to_owned()));
        }
    }
    let (id, name, source) = current?;
    let max: Vec<ModeRef> = conf
        .as_ref()
        .map(|c| {
            max_modes(c)
                .into_iter()
                .map(|m| ModeRef {
                    id: m.id,
                    name: m.name.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let is_max = (!max.is_empty()).then(|| max.iter().any(|m| m.id == id));
    Some(PowerMode {
        id,
        name,
        source,
        max_modes: max,
        default_id: conf.and_then(|c| c.default_id),
        is_max,
    })
}

/// `cpu0`, `cpu11`, not `cpufreq` or `cpuidle`.
fn cpu_dirs(sys: &Path) -> Vec<(usize, PathBuf)> {
    list_dir(&sys.join("devices/system/cpu"))
        .into_iter()
        .filter_map(|(name, path)| Some((name.strip_prefix("cpu")?.parse().ok()?, path)))
        .collect()
}

/// `[0, 1, 2, 3]` -> `0-3`; `[0, 1, 4]` -> `0-1,4`.
fn cpu_list(cpus: &[usize]) -> String {
    let mut parts: Vec<String> = vec![];
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// The online CPUs grouped by the clock they share (`cpufreq/related_cpus`, else each CPU
/// alone), in kHz -> MHz.
fn cpu_clusters(sys: &Path) -> Vec<CpuCluster> {
    let khz = |p: PathBuf| read_num(&p).map(|v| v as f64 / 1e3);
    let mut clusters: Vec<(String, Vec<usize>, CpuCluster)> = vec![];
    for (n, dir) in cpu_dirs(sys) {
        // cpu0 often has no `online` file: it cannot be taken offline.
        if read_num(&dir.join("online")) == Some(0) {
            continue;
        }
        let freq = dir.join("cpufreq");
        if !freq.is_dir() {
            continue;
        }
        let related = read_text(&freq.join("related_cpus")).unwrap_or_else(|| n.to_string());
        if let Some((_, members, _)) = clusters.iter_mut().find(|(r, _, _)| *r == related) {
            members.push(n);
            continue;
        }
        let min = khz(freq.join("scaling_min_freq"));
        let max = khz(freq.join("scaling_max_freq"));
        let clock = BoardClock {
            cur_mhz: khz(freq.join("scaling_cur_freq")),
            min_mhz: min,
            max_mhz: max,
            hw_max_mhz: khz(freq.join("cpuinfo_max_freq")),
            locked: min.zip(max).map(|(lo, hi)| lo == hi),
        };
        let cluster = CpuCluster {
            cpus: String::new(),
            governor: read_text(&freq.join("scaling_governor")),
            clock,
        };
        clusters.push((related, vec![n], cluster));
    }
    clusters
        .into_iter()
        .map(|(_, members, mut c)| {
            c.cpus = cpu_list(&members);
            c
        })
        .collect()
}

/// The integrated GPU's devfreq device, in Hz -> MHz.
fn gpu_clock(sys: &Path) -> Option<BoardClock> {
    let dir = list_dir(&sys.join("class/devfreq"))
        .into_iter()
        .filter(|(name, _)| crate::jetson::is_gpu_name(name))
        .map(|(_, dir)| dir)
        .find(|dir| dir.join("cur_freq").is_file())?;
    let hz = |f: &str| read_num(&dir.join(f)).map(|v| v as f64 / 1e6);
    let (min, max) = (hz("min_freq"), hz("max_freq"));
    let hw_max = read_text(&dir.join("available_frequencies")).and_then(|t| {
        t.split_whitespace()
            .filter_map(|v| v.parse::<u64>().ok())
            .max()
            .map(|v| v as f64 / 1e6)
    });
    Some(BoardClock {
        cur_mhz: hz("cur_freq"),
        min_mhz: min,
        max_mhz: max,
        hw_max_mhz: hw_max,
        locked: min.zip(max).map(|(lo, hi)| lo == hi),
    })
}

/// The memory clock from debugfs (root only), in Hz -> MHz; see the module documentation for
/// the two layouts.
fn emc_clock(sys: &Path) -> Option<BoardClock> {
    let debug = sys.join("kernel/debug");
    let hz = |p: PathBuf| read_num(&p).map(|v| v as f64 / 1e6);
    let bpmp = debug.join("bpmp/debug/clk/emc");
    if let Some(cur) = hz(bpmp.join("rate")) {
        let mut max = hz(bpmp.join("max_rate"));
        let hw_max = max;
        // The nvpmodel cap applies when it is set and below the hardware's maximum, as
        // jetson_clocks reads it.
        if let Some(cap) = hz(sys.join("kernel/nvpmodel_emc_cap/emc_iso_cap")) {
            if cap > 0.0 && max.is_none_or(|m| cap < m) {
                max = Some(cap);
            }
        }
        return Some(BoardClock {
            cur_mhz: Some(cur),
            min_mhz: hz(bpmp.join("min_rate")),
            max_mhz: max,
            hw_max_mhz: hw_max,
            locked: read_num(&bpmp.join("mrq_rate_locked")).map(|v| v == 1),
        });
    }
    let over = debug.join("clk/override.emc");
    let cur = hz(over.join("clk_rate")).or_else(|| hz(debug.join("clk/emc/clk_rate")))?;
    let max = hz(debug.join("tegra_bwmgr/emc_max_rate"));
    Some(BoardClock {
        cur_mhz: Some(cur),
        min_mhz: hz(debug.join("tegra_bwmgr/emc_min_rate")),
        max_mhz: max,
        hw_max_mhz: max,
        locked: read_num(&over.join("clk_state")).map(|v| v == 1),
    })
}

fn fan(sys: &Path) -> Option<Fan> {
    // JetPack 4's pwm-fan driver (Nano, Xavier), the older debugfs node jetson_clocks
    // used (TX1, TX2; root only), then JetPack 5/6's hwmon.
    let mut candidates = vec![
        sys.join("devices/pwm-fan/target_pwm"),
        sys.join("kernel/debug/tegra_fan/target_pwm"),
    ];
    for (_, dir) in list_dir(&sys.join("class/hwmon")) {
        let name = read_text(&dir.join("name")).unwrap_or_default();
        if name == "pwmfan" || name == "pwm-fan" || name == "pwm_fan" {
            candidates.push(dir.join("pwm1"));
        }
    }
    candidates.into_iter().find_map(|p| {
        let pwm = read_num(&p)? as u32;
        Some(Fan {
            pwm,
            percent: f64::from(pwm.min(255)) * 100.0 / 255.0,
            path: Path::new("/sys")
                .join(p.strip_prefix(sys).unwrap_or(&p))
                .display()
                .to_string(),
        })
    })
}
