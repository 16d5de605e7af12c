//! edgebench-telemetry: what the device says while a model runs (power, energy counters,
//! clocks, temperature, utilization, memory, throttle reasons), sampled on a thread of its
//! own and summarized over the same window as the latency samples.
//!
//! Sources: NVIDIA GPUs through NVML ([`nvml`]), CPU packages through the Linux powercap
//! interface ([`rapl`]), CPU clocks through cpufreq ([`cpufreq`]), Jetson boards through their
//! INA3221 monitors and GPU devfreq ([`jetson`]), or through `tegrastats` where those monitors
//! cannot be read ([`tegrastats`]). A Jetson's power mode, jetson_clocks and clocks, which a
//! result must record, come from [`tegra_board`]. [`probe`] opens whatever the machine offers
//! and says why each missing one is missing; a figure nothing measured is `None` with that
//! reason, never zero. Depends on no other edgebench crate; never prints.

pub mod cpufreq;
pub mod energy;
pub mod jetson;
pub mod nvml;
pub mod rapl;
pub mod readings;
pub mod sampler;
pub mod tegra_board;
pub mod tegrastats;
pub mod throttle;

pub use energy::{Energy, Idle};
pub use sampler::{Recording, Telemetry, TelemetrySettings, Trace};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// What a channel measures. Energy channels are cumulative joules since the source was
/// opened, with counter wrap-around already undone by the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    PowerW,
    EnergyJ,
    ClockMhz,
    TemperatureC,
    UtilizationPct,
    MemoryUsedMib,
    /// A bit mask of NVML clock-event (throttle) reasons, see [`throttle`].
    ThrottleReasons,
}

/// One number a source reads at every sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// What it is, short: `board power`, `energy`, `sm clock`, `memory clock`, `temperature`.
    pub name: String,
    /// The device it belongs to: `gpu0`, `package-0`, `dram`, `VDD_IN`, `cpu`, `gpu`.
    pub device: String,
    pub quantity: Quantity,
    /// For power and energy: whether this device counts in the run's total. False for a
    /// part of another measured device (RAPL `core` inside its package, a Jetson rail
    /// inside the board's input rail), so nothing is counted twice.
    pub in_total: bool,
    /// The source that reads it: `nvml`, `rapl`, `cpufreq`, `ina3221`, `devfreq`.
    pub source: String,
}

/// Something that reads a fixed set of channels.
pub trait Source: Send {
    fn name(&self) -> &str;
    /// The channels every [`Source::read`] fills, fixed when the source is opened.
    fn channels(&self) -> &[Channel];
    /// Reads every channel once into `out` (as long as `channels()`); a channel that could
    /// not be read this time is `None`. A source may leave a channel that is slow to read
    /// (NVML's energy counter takes milliseconds) `None` here and read it in
    /// [`Source::read_full`] only.
    fn read(&mut self, out: &mut [Option<f64>]);
    /// Reads every channel, slow ones included. The sampler asks for this at the first and
    /// last reading of a recording (so both ends of any window are bracketed) and every
    /// [`FULL_READING_S`] in between.
    fn read_full(&mut self, out: &mut [Option<f64>]) {
        self.read(out)
    }
    /// Called on the sampler's thread when a recording starts, before its first reading: a
    /// source that runs a helper process (`tegrastats`) starts it here.
    fn start(&mut self) {}
    /// Called after a recording's last reading: a source that runs a helper process stops
    /// it here.
    fn stop(&mut self) {}
}

/// Seconds between full readings ([`Source::read_full`]) in a recording.
pub const FULL_READING_S: f64 = 0.25;

/// A source that is not there, and why (with what to do about it where something can be done).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unavailable {
    pub source: String,
    pub reason: String,
}

impl Unavailable {
    pub fn new(source: &str, reason: impl Into<String>) -> Unavailable {
        Unavailable {
            source: source.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Where to look.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The sysfs root (`/sys`); tests point it at a fixture tree.
    pub sysfs: PathBuf,
    /// Try NVML (off in tests that must not see the machine's GPU).
    pub nvml: bool,
    /// The file-system root where a Jetson's tools and release files are (`/`: `tegrastats`
    /// at `usr/bin/tegrastats` or on the `PATH`); tests point it at a fixture tree.
    pub root: PathBuf,
    /// Time between the lines `tegrastats` prints, when it is the power source.
    pub tegrastats_interval: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            sysfs: PathBuf::from("/sys"),
            nvml: true,
            root: PathBuf::from("/"),
            tegrastats_interval: Duration::from_millis(100),
        }
    }
}

/// The sources that opened and the ones that did not.
#[derive(Default)]
pub struct Probe {
    pub sources: Vec<Box<dyn Source>>,
    pub unavailable: Vec<Unavailable>,
}

/// Why tegrastats is not tried on a machine that is not a Jetson.
pub(crate) const TEGRASTATS_NOT_A_JETSON: &str =
    "not a Jetson board (no NVIDIA Jetson device-tree model, no /etc/nv_tegra_release)";

/// Opens every source the machine offers.
pub fn probe(opts: &ProbeOptions) -> Probe {
    let mut p = Probe::default();
    let mut add = |r: Result<Box<dyn Source>, Unavailable>| match r {
        Ok(s) => p.sources.push(s),
        Err(u) => p.unavailable.push(u),
    };
    if opts.nvml {
        add(nvml::open().map(|s| Box::new(s) as Box<dyn Source>));
    } else {
        add(Err(Unavailable::new("nvml", "not probed (turned off)")));
    }
    add(rapl::open(&opts.sysfs).map(|s| Box::new(s) as Box<dyn Source>));
    add(cpufreq::open(&opts.sysfs).map(|s| Box::new(s) as Box<dyn Source>));
    let jetson = jetson::open(&opts.sysfs);
    let rails_read = jetson
        .as_ref()
        .is_ok_and(|s| s.channels().iter().any(|c| c.quantity == Quantity::PowerW));
    add(jetson.map(|s| Box::new(s) as Box<dyn Source>));
    // tegrastats is the fallback for a Jetson whose INA3221 rails sysfs does not give.
    let tegrastats = if rails_read {
        Err(Unavailable::new(
            "tegrastats",
            "not needed: the INA3221 rails are read from sysfs",
        ))
    } else if !tegra_board::is_jetson(&opts.root) {
        Err(Unavailable::new("tegrastats", TEGRASTATS_NOT_A_JETSON))
    } else {
        tegrastats::open(&tegrastats::locate(&opts.root), opts.tegrastats_interval)
    };
    add(tegrastats.map(|s| Box::new(s) as Box<dyn Source>));
    p
}
