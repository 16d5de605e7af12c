//! Summaries of a [`Trace`] over a window: power, energy per inference, idle, CO2, clocks
//! and the throttle verdict. Every figure that nothing measured is `None`, and the summary
//! says why; nothing is ever reported as zero for want of a counter.

use crate::sampler::{Sample, Trace};
use crate::{Channel, Quantity, Unavailable};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Power with nothing running, measured before the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Idle {
    pub duration_s: f64,
    pub devices: Vec<IdleDevice>,
    /// Sum over the devices that count in the total.
    pub total_w: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleDevice {
    pub device: String,
    pub source: String,
    pub in_total: bool,
    pub power_w: f64,
}

/// Which part of a run the window covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// edgebench's sampling phase: exactly the timed runs.
    Sampling,
    /// The sampling phase of an engine that times itself (a worker process, trtexec), placed
    /// from the sampling time it reports.
    EngineSampling,
    /// The whole measurement of a self-timing engine, warm-up included (it reported no
    /// sampling time).
    WholeMeasurement,
    /// A whole pipeline run (`edgebench video`): decoding, preprocessing and inference.
    Pipeline,
}

/// The window to summarize and what happened in it.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub kind: WindowKind,
    pub begin: Instant,
    pub end: Instant,
    /// Inferences (engine calls) run inside the window.
    pub inferences: usize,
    /// Items per second at the median latency, for FPS per watt.
    pub throughput_per_s: Option<f64>,
}

/// Telemetry of one measured variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Energy {
    pub window: WindowInfo,
    /// One entry per device that reads power or energy.
    pub devices: Vec<DevicePower>,
    /// The run's totals over the devices that count; `None` when no device measured power,
    /// and then `total_na` says why.
    pub total: Option<Totals>,
    pub total_na: Option<String>,
    pub clocks: Vec<ClockStats>,
    pub throttle: Throttle,
    /// Sources that could not be read at all, with the reason.
    pub unavailable: Vec<Unavailable>,
    pub sampler: SamplerCost,
    /// Caveats about these numbers (a window too short for the sensors, idle above load).
    pub notes: Vec<String>,
    /// Set when the device that did the work has no sensor among the ones summed (a CPU
    /// engine on a machine whose only sensor is the GPU's): the total is then other
    /// devices' power while it ran, not the work's energy.
    #[serde(default)]
    pub work_unmeasured: Option<String>,
}

impl Energy {
    /// Records whether the sensors summed cover `work_device` (a session's device: `cpu`,
    /// `cuda:0`, `gpu`...), and says so in the notes when they do not.
    pub fn check_coverage(&mut self, work_device: &str) {
        let Some(total) = &self.total else {
            return;
        };
        let d = work_device.to_ascii_lowercase();
        let covering: &[&str] = if d.starts_with("cpu") {
            &["rapl", "ina3221", "tegrastats"]
        } else if d.starts_with("cuda") || d.starts_with("gpu") {
            &["nvml", "ina3221", "tegrastats"]
        } else {
            return;
        };
        let covered = self
            .devices
            .iter()
            .any(|x| x.in_total && x.energy_j.is_some() && covering.contains(&x.source.as_str()));
        if covered {
            return;
        }
        let missing: Vec<String> = self
            .unavailable
            .iter()
            .filter(|u| {
                covering.contains(&u.source.as_str())
                    || (u.source == "jetson" && covering.contains(&"ina3221"))
            })
            .map(|u| format!("{}: {}", u.source, u.reason))
            .collect();
        let why = format!(
            "the work ran on {work_device}, which no sensor here measures{}: the total is {}'s power while it ran, not the work's energy",
            if missing.is_empty() {
                String::new()
            } else {
                format!(" ({})", missing.join("; "))
            },
            total.devices.join(" + ")
        );
        self.notes.push(why.clone());
        self.work_unmeasured = Some(why);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowInfo {
    pub kind: WindowKind,
    pub duration_s: f64,
    pub inferences: usize,
    /// Samples that fell inside the window.
    pub samples: usize,
}

/// How a device's energy was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnergyMethod {
    /// The device's own energy counter (NVML total energy, RAPL), read at both ends.
    Counter,
    /// Power samples integrated over time (trapezoids).
    PowerSamples,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevicePower {
    pub device: String,
    pub source: String,
    pub in_total: bool,
    /// From the energy counter where the device has one, else from the power readings.
    pub avg_power_w: Option<f64>,
    /// The highest of the power readings and the counter's increments between readings.
    pub peak_power_w: Option<f64>,
    pub energy_j: Option<f64>,
    pub method: Option<EnergyMethod>,
    /// Average sampled power times the window: a rough independent check of a counter.
    pub power_x_time_j: Option<f64>,
    pub idle_power_w: Option<f64>,
    pub temperature_max_c: Option<f64>,
    pub utilization_mean_pct: Option<f64>,
    pub memory_used_max_mib: Option<f64>,
}

/// Totals over the devices that count (`in_total`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// The devices summed.
    pub devices: Vec<String>,
    pub avg_power_w: f64,
    /// Highest sum of the devices' power at one sample (absent for counter-only devices).
    pub peak_power_w: Option<f64>,
    pub energy_j: f64,
    pub energy_per_inference_j: f64,
    pub inferences_per_j: f64,
    /// Items per second (at the median latency) per watt of average power.
    pub fps_per_w: Option<f64>,
    /// Idle power of the same devices, measured before the run.
    pub idle_power_w: Option<f64>,
    /// Energy per inference with the idle power subtracted: what the work itself cost.
    pub energy_per_inference_above_idle_j: Option<f64>,
    pub grid_gco2_per_kwh: Option<f64>,
    /// Estimated grams of CO2 per 1000 inferences at the given grid intensity.
    pub co2_g_per_1000_inferences: Option<f64>,
}

/// One clock over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClockStats {
    pub device: String,
    pub name: String,
    pub min_mhz: f64,
    pub max_mhz: f64,
    pub mean_mhz: f64,
    /// Means of the first and last thirds of the window: a fall between them is throttling.
    pub first_third_mhz: Option<f64>,
    pub last_third_mhz: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThrottleVerdict {
    /// Throttle reasons were readable and none fired; clocks held.
    Ok,
    /// The device said it slowed down (NVML throttle reasons).
    Throttled,
    /// A clock fell by more than [`CLOCK_DROP`] from the first to the last third of the window.
    ClocksDropped,
    /// Nothing to judge by (no throttle reasons, no clocks).
    Unknown,
}

impl ThrottleVerdict {
    /// The device slowed down while the samples were taken: its numbers are low.
    pub fn slowed(self) -> bool {
        matches!(
            self,
            ThrottleVerdict::Throttled | ThrottleVerdict::ClocksDropped
        )
    }
}

impl std::fmt::Display for ThrottleVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ThrottleVerdict::Ok => "ok",
            ThrottleVerdict::Throttled => "throttled",
            ThrottleVerdict::ClocksDropped => "clocks dropped",
            ThrottleVerdict::Unknown => "unknown",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throttle {
    pub verdict: ThrottleVerdict,
    /// Throttle reasons that fired, as `device: reason`.
    pub reasons: Vec<String>,
    /// The numbers behind the verdict, in words.
    pub detail: String,
}

/// The sampler's own cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplerCost {
    pub period_ms: f64,
    /// Readings over the whole recording.
    pub readings: usize,
    pub mean_read_ms: f64,
    pub max_read_ms: f64,
    /// Share of one core the sampler kept busy: mean read time / period.
    pub busy_pct: f64,
}

/// A clock falling by more than this share between the window's first and last thirds
/// counts as throttling.
pub const CLOCK_DROP: f64 = 0.10;

/// Mean utilization (%) from which a device counts as busy, so that falling clocks mean
/// throttling rather than an idle device slowing down.
pub const BUSY_PCT: f64 = 50.0;

/// Idle power from a recording made with nothing running.
pub fn idle(trace: &Trace, begin: Instant, end: Instant) -> Option<Idle> {
    let (a, b) = (trace.at(begin), trace.at(end));
    let devices: Vec<IdleDevice> = power_devices(&trace.channels)
        .into_iter()
        .filter_map(|d| {
            let power_w = device_energy(trace, &d, a, b)?.1;
            Some(IdleDevice {
                device: d.device,
                source: d.source,
                in_total: d.in_total,
                power_w,
            })
        })
        .collect();
    if devices.is_empty() {
        return None;
    }
    Some(Idle {
        duration_s: b - a,
        total_w: devices
            .iter()
            .filter(|d| d.in_total)
            .map(|d| d.power_w)
            .sum(),
        devices,
    })
}

/// Summarizes `trace` over `window`.
pub fn summarize(
    trace: &Trace,
    window: &Window,
    idle: Option<&Idle>,
    grid_gco2_per_kwh: Option<f64>,
    unavailable: &[Unavailable],
) -> Energy {
    let (a, b) = (trace.at(window.begin), trace.at(window.end));
    let duration_s = (b - a).max(0.0);
    let inside: Vec<&Sample> = trace
        .samples
        .iter()
        .filter(|s| s.t_s >= a && s.t_s <= b)
        .collect();
    // Clocks, throttle reasons, temperature and the like are judged on the readings in the
    // window and the one on each side of it, so that a window shorter than the period still
    // has readings (the sampler always takes one before and one after).
    let before = trace.samples.iter().rev().find(|s| s.t_s < a);
    let after = trace.samples.iter().find(|s| s.t_s > b);
    let around: Vec<&Sample> = before
        .into_iter()
        .chain(inside.iter().copied())
        .chain(after)
        .collect();
    let fix = match window.kind {
        WindowKind::Pipeline => "run longer (--duration or --max-frames)",
        _ => "raise --energy-min-time",
    };
    let mut notes = vec![];

    let mut devices = vec![];
    for d in power_devices(&trace.channels) {
        let (energy, avg, method) = match device_energy(trace, &d, a, b) {
            Some((e, p, m)) => (Some(e), Some(p), Some(m)),
            None => (None, None, None),
        };
        let power_avg = d.power.and_then(|c| average(trace, c, a, b));
        let stat = |q: Quantity, f: fn(&[f64]) -> f64| {
            channel_index(&trace.channels, &d.device, q, None)
                .and_then(|c| stats_over(&around, c, f))
        };
        devices.push(DevicePower {
            idle_power_w: idle.and_then(|i| {
                i.devices
                    .iter()
                    .find(|x| x.device == d.device && x.source == d.source)
                    .map(|x| x.power_w)
            }),
            peak_power_w: peak_power(trace, &inside, &d, a, b),
            power_x_time_j: power_avg.map(|p| p * duration_s),
            avg_power_w: avg.or(power_avg),
            energy_j: energy,
            method,
            temperature_max_c: stat(Quantity::TemperatureC, max),
            utilization_mean_pct: stat(Quantity::UtilizationPct, mean),
            memory_used_max_mib: stat(Quantity::MemoryUsedMib, max),
            device: d.device,
            source: d.source,
            in_total: d.in_total,
        });
    }

    let counted: Vec<&DevicePower> = devices
        .iter()
        .filter(|d| d.in_total && d.energy_j.is_some())
        .collect();
    let (total, total_na) = if window.inferences == 0 {
        (None, Some("no inference ran in the window".to_owned()))
    } else if duration_s <= 0.0 {
        (None, Some("the window is empty".to_owned()))
    } else if counted.is_empty() {
        (None, Some(no_power_reason(&devices, unavailable)))
    } else {
        let energy_j: f64 = counted.iter().filter_map(|d| d.energy_j).sum();
        let avg_power_w = energy_j / duration_s;
        let n = window.inferences as f64;
        let idle_power_w = idle.map(|_| counted.iter().filter_map(|d| d.idle_power_w).sum::<f64>());
        let above = idle_power_w.and_then(|p| {
            let e = energy_j - p * duration_s;
            if e > 0.0 {
                Some(e / n)
            } else {
                notes.push(format!(
                    "idle power ({p:.1} W) is not below the run's average ({avg_power_w:.1} W): no energy above idle to report; the sensor may average over a longer time than the window: {fix}"
                ));
                None
            }
        });
        let names: Vec<String> = counted.iter().map(|d| d.device.clone()).collect();
        // One device: its own peak, which counts the counter's short intervals too; several:
        // the highest sum of their power readings at one time.
        let peak_power_w = match counted.as_slice() {
            [one] => one.peak_power_w,
            _ => summed_peak(trace, &inside, &names),
        };
        let energy_per_inference_j = energy_j / n;
        (
            Some(Totals {
                devices: names,
                avg_power_w,
                peak_power_w,
                energy_j,
                energy_per_inference_j,
                inferences_per_j: n / energy_j,
                fps_per_w: window.throughput_per_s.map(|t| t / avg_power_w),
                idle_power_w,
                energy_per_inference_above_idle_j: above,
                grid_gco2_per_kwh,
                co2_g_per_1000_inferences: grid_gco2_per_kwh
                    .map(|g| energy_per_inference_j * 1000.0 / 3.6e6 * g),
            }),
            None,
        )
    };
    if !devices.is_empty() && duration_s < 2.0 * trace.period_s {
        notes.push(format!(
            "the window ({:.0} ms) is shorter than two sampling periods ({:.0} ms): energy is rough; {fix}",
            duration_s * 1e3,
            trace.period_s * 1e3
        ));
    }

    let clocks = clock_stats(&trace.channels, &around);
    let throttle = throttle(&trace.channels, &around, &clocks);
    let reads = &trace.read_s;
    let mean_read = if reads.is_empty() {
        0.0
    } else {
        reads.iter().sum::<f64>() / reads.len() as f64
    };
    Energy {
        window: WindowInfo {
            kind: window.kind,
            duration_s,
            inferences: window.inferences,
            samples: inside.len(),
        },
        devices,
        total,
        total_na,
        clocks,
        throttle,
        unavailable: unavailable.to_vec(),
        work_unmeasured: None,
        sampler: SamplerCost {
            period_ms: trace.period_s * 1e3,
            readings: reads.len(),
            mean_read_ms: mean_read * 1e3,
            max_read_ms: reads.iter().cloned().fold(0.0, f64::max) * 1e3,
            busy_pct: mean_read / trace.period_s * 100.0,
        },
        notes,
    }
}

/// Why there is no power total, naming what is missing.
fn no_power_reason(devices: &[DevicePower], unavailable: &[Unavailable]) -> String {
    if !devices.is_empty() {
        return "the power sensors gave no readings in the window".to_owned();
    }
    let power_sources = ["nvml", "rapl", "jetson", "tegrastats"];
    let why: Vec<String> = unavailable
        .iter()
        .filter(|u| power_sources.contains(&u.source.as_str()))
        // tegrastats off a Jetson says nothing the `jetson` entry does not.
        .filter(|u| !(u.source == "tegrastats" && u.reason == crate::TEGRASTATS_NOT_A_JETSON))
        .map(|u| format!("{}: {}", u.source, u.reason))
        .collect();
    if why.is_empty() {
        "no power sensor on this machine".to_owned()
    } else {
        format!("no power sensor: {}", why.join("; "))
    }
}

/// A device with power and/or energy channels.
struct PowerDevice {
    device: String,
    source: String,
    in_total: bool,
    power: Option<usize>,
    energy: Option<usize>,
}

fn power_devices(channels: &[Channel]) -> Vec<PowerDevice> {
    let mut out: Vec<PowerDevice> = vec![];
    for (i, c) in channels.iter().enumerate() {
        let slot = match c.quantity {
            Quantity::PowerW | Quantity::EnergyJ => {
                match out
                    .iter_mut()
                    .position(|d| d.device == c.device && d.source == c.source)
                {
                    Some(p) => &mut out[p],
                    None => {
                        out.push(PowerDevice {
                            device: c.device.clone(),
                            source: c.source.clone(),
                            in_total: c.in_total,
                            power: None,
                            energy: None,
                        });
                        out.last_mut().expect("just pushed")
                    }
                }
            }
            _ => continue,
        };
        if c.quantity == Quantity::PowerW {
            slot.power.get_or_insert(i);
        } else {
            slot.energy.get_or_insert(i);
        }
    }
    out
}

/// Energy (J), average power (W) and how, over [a, b]: the counter where there is one,
/// else the integral of the power samples.
fn device_energy(
    trace: &Trace,
    d: &PowerDevice,
    a: f64,
    b: f64,
) -> Option<(f64, f64, EnergyMethod)> {
    let span = b - a;
    if span <= 0.0 {
        return None;
    }
    if let Some(c) = d.energy {
        if let (Some(e0), Some(e1)) = (interpolate(trace, c, a), interpolate(trace, c, b)) {
            let e = (e1 - e0).max(0.0);
            return Some((e, e / span, EnergyMethod::Counter));
        }
    }
    let c = d.power?;
    let p = average(trace, c, a, b)?;
    Some((p * span, p, EnergyMethod::PowerSamples))
}

/// The channel's value at `t`, linear between the readings around it.
fn interpolate(trace: &Trace, c: usize, t: f64) -> Option<f64> {
    let pts = points(trace, c);
    let after = pts.iter().position(|&(ts, _)| ts >= t)?;
    let (t1, v1) = pts[after];
    if after == 0 {
        // No reading before `t`: only an exact hit (within a microsecond) will do.
        return ((t1 - t).abs() < 1e-6).then_some(v1);
    }
    let (t0, v0) = pts[after - 1];
    if t1 <= t0 {
        return Some(v1);
    }
    Some(v0 + (v1 - v0) * (t - t0) / (t1 - t0))
}

/// Time-weighted average of a channel over [a, b] (trapezoids between readings, with the
/// ends interpolated); `None` without readings on both sides of the window.
fn average(trace: &Trace, c: usize, a: f64, b: f64) -> Option<f64> {
    let va = interpolate(trace, c, a)?;
    let vb = interpolate(trace, c, b)?;
    let mut pts = vec![(a, va)];
    pts.extend(
        points(trace, c)
            .into_iter()
            .filter(|&(t, _)| t > a && t < b),
    );
    pts.push((b, vb));
    let area: f64 = pts
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum();
    (b > a).then(|| area / (b - a))
}

fn points(trace: &Trace, c: usize) -> Vec<(f64, f64)> {
    trace
        .samples
        .iter()
        .filter_map(|s| s.values.get(c).copied().flatten().map(|v| (s.t_s, v)))
        .collect()
}

/// The highest power seen: the sensor's power readings, and the counter's increments
/// between consecutive readings in the window (a sensor that averages over a second reads
/// below the counter's short-interval power, so a peak from it alone can fall under the
/// counter's average).
fn peak_power(trace: &Trace, inside: &[&Sample], d: &PowerDevice, a: f64, b: f64) -> Option<f64> {
    let sampled = d.power.and_then(|c| peak(trace, inside, c, a, b));
    let from_counter = d.energy.and_then(|c| {
        let pts: Vec<(f64, f64)> = points(trace, c)
            .into_iter()
            .filter(|&(t, _)| t >= a && t <= b)
            .collect();
        pts.windows(2)
            .filter(|w| w[1].0 > w[0].0)
            .map(|w| (w[1].1 - w[0].1) / (w[1].0 - w[0].0))
            .reduce(f64::max)
    });
    match (sampled, from_counter) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn peak(trace: &Trace, inside: &[&Sample], c: usize, a: f64, b: f64) -> Option<f64> {
    let ends = [interpolate(trace, c, a), interpolate(trace, c, b)];
    inside
        .iter()
        .filter_map(|s| s.values.get(c).copied().flatten())
        .chain(ends.into_iter().flatten())
        .reduce(f64::max)
}

/// Highest sum of the named devices' power at one reading.
fn summed_peak(trace: &Trace, inside: &[&Sample], devices: &[String]) -> Option<f64> {
    let idx: Vec<usize> = devices
        .iter()
        .map(|d| channel_index(&trace.channels, d, Quantity::PowerW, None))
        .collect::<Option<_>>()?;
    inside
        .iter()
        .filter_map(|s| {
            idx.iter()
                .map(|&i| s.values.get(i).copied().flatten())
                .sum::<Option<f64>>()
        })
        .reduce(f64::max)
}

fn channel_index(
    channels: &[Channel],
    device: &str,
    q: Quantity,
    name: Option<&str>,
) -> Option<usize> {
    channels
        .iter()
        .position(|c| c.device == device && c.quantity == q && name.is_none_or(|n| c.name == n))
}

fn stats_over(inside: &[&Sample], c: usize, f: fn(&[f64]) -> f64) -> Option<f64> {
    let v: Vec<f64> = inside
        .iter()
        .filter_map(|s| s.values.get(c).copied().flatten())
        .collect();
    (!v.is_empty()).then(|| f(&v))
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn max(v: &[f64]) -> f64 {
    v.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
}

fn min(v: &[f64]) -> f64 {
    v.iter().cloned().fold(f64::INFINITY, f64::min)
}

fn clock_stats(channels: &[Channel], inside: &[&Sample]) -> Vec<ClockStats> {
    channels
        .iter()
        .enumerate()
        .filter(|(_, c)| c.quantity == Quantity::ClockMhz)
        .filter_map(|(i, c)| {
            let v: Vec<f64> = inside
                .iter()
                .filter_map(|s| s.values.get(i).copied().flatten())
                .collect();
            if v.is_empty() {
                return None;
            }
            let third = v.len() / 3;
            Some(ClockStats {
                device: c.device.clone(),
                name: c.name.clone(),
                min_mhz: min(&v),
                max_mhz: max(&v),
                mean_mhz: mean(&v),
                first_third_mhz: (third > 0).then(|| mean(&v[..third])),
                last_third_mhz: (third > 0).then(|| mean(&v[v.len() - third..])),
            })
        })
        .collect()
}

fn throttle(channels: &[Channel], inside: &[&Sample], clocks: &[ClockStats]) -> Throttle {
    let mut reasons = vec![];
    let mut readable = false;
    for (i, c) in channels.iter().enumerate() {
        if c.quantity != Quantity::ThrottleReasons {
            continue;
        }
        let bits = inside
            .iter()
            .filter_map(|s| s.values.get(i).copied().flatten())
            .fold(None, |acc: Option<u64>, v| {
                Some(acc.unwrap_or(0) | v as u64)
            });
        if let Some(bits) = bits {
            readable = true;
            reasons.extend(
                crate::throttle::slowing(bits)
                    .into_iter()
                    .map(|r| format!("{}: {r}", c.device)),
            );
        }
    }
    // A clock that falls while its device idles is power management, not throttling: only a
    // device that was busy (or that reports no utilization) is judged by its clocks.
    let busy = |device: &str| {
        channel_index(channels, device, Quantity::UtilizationPct, None)
            .and_then(|c| stats_over(inside, c, mean))
            .is_none_or(|u| u >= BUSY_PCT)
    };
    let drops: Vec<String> = clocks
        .iter()
        .filter(|k| busy(&k.device))
        .filter_map(|k| {
            let (first, last) = (k.first_third_mhz?, k.last_third_mhz?);
            (last < first * (1.0 - CLOCK_DROP)).then(|| {
                format!(
                    "{} {} fell from {first:.0} MHz to {last:.0} MHz (first to last third of the window)",
                    k.device, k.name
                )
            })
        })
        .collect();
    let clock_words: Vec<String> = clocks
        .iter()
        .map(|k| {
            format!(
                "{} {} {:.0}-{:.0} MHz",
                k.device, k.name, k.min_mhz, k.max_mhz
            )
        })
        .collect();
    if !reasons.is_empty() {
        let mut detail = format!("throttle reasons fired: {}", reasons.join(", "));
        if !clock_words.is_empty() {
            detail += &format!("; clocks {}", clock_words.join(", "));
        }
        Throttle {
            verdict: ThrottleVerdict::Throttled,
            reasons,
            detail,
        }
    } else if !drops.is_empty() {
        Throttle {
            verdict: ThrottleVerdict::ClocksDropped,
            reasons,
            detail: drops.join("; "),
        }
    } else if readable || clocks.iter().any(|k| k.first_third_mhz.is_some()) {
        let mut detail = if readable {
            "no throttle reason fired".to_owned()
        } else {
            "no throttle reasons on this device; clocks held".to_owned()
        };
        if !clock_words.is_empty() {
            detail += &format!(" ({})", clock_words.join(", "));
        }
        Throttle {
            verdict: ThrottleVerdict::Ok,
            reasons,
            detail,
        }
    } else {
        Throttle {
            verdict: ThrottleVerdict::Unknown,
            reasons,
            detail: if clocks.is_empty() {
                "no throttle reasons or clocks to judge by".to_owned()
            } else {
                "too few clock readings in the window to judge".to_owned()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ch(name: &str, device: &str, q: Quantity, source: &str) -> Channel {
        Channel {
            name: name.into(),
            device: device.into(),
            quantity: q,
            in_total: true,
            source: source.into(),
        }
    }

    /// A trace with readings every 100 ms for 2 s: gpu0 power 100 W rising to 200 W at
    /// t = 1 s, its energy counter consistent with that, and an SM clock.
    fn trace(clock: impl Fn(f64) -> f64, bits: u64) -> Trace {
        let channels = vec![
            ch("board power", "gpu0", Quantity::PowerW, "nvml"),
            ch("energy", "gpu0", Quantity::EnergyJ, "nvml"),
            ch("sm clock", "gpu0", Quantity::ClockMhz, "nvml"),
            ch(
                "throttle reasons",
                "gpu0",
                Quantity::ThrottleReasons,
                "nvml",
            ),
            ch("package power", "package-0", Quantity::PowerW, "rapl"),
        ];
        let samples = (0..=20)
            .map(|i| {
                let t = i as f64 * 0.1;
                let p = if t < 1.0 { 100.0 } else { 200.0 };
                let e = if t < 1.0 {
                    100.0 * t
                } else {
                    100.0 + 200.0 * (t - 1.0)
                };
                Sample {
                    t_s: t,
                    values: vec![
                        Some(p),
                        Some(e),
                        Some(clock(t)),
                        Some(bits as f64),
                        Some(10.0),
                    ],
                }
            })
            .collect();
        Trace {
            channels,
            origin: Instant::now(),
            period_s: 0.1,
            samples,
            read_s: vec![0.0002; 21],
        }
    }

    fn window(tr: &Trace, a: f64, b: f64, n: usize) -> Window {
        Window {
            kind: WindowKind::Sampling,
            begin: tr.origin + Duration::from_secs_f64(a),
            end: tr.origin + Duration::from_secs_f64(b),
            inferences: n,
            throughput_per_s: Some(50.0),
        }
    }

    #[test]
    fn counter_energy_over_a_window_and_per_inference() {
        let tr = trace(|_| 1980.0, 0x1);
        let e = summarize(&tr, &window(&tr, 1.0, 2.0, 100), None, Some(400.0), &[]);
        let gpu = &e.devices[0];
        assert_eq!(gpu.method, Some(EnergyMethod::Counter));
        assert!((gpu.energy_j.unwrap() - 200.0).abs() < 1e-9);
        assert!((gpu.avg_power_w.unwrap() - 200.0).abs() < 1e-9);
        let cpu = &e.devices[1];
        assert_eq!(cpu.method, Some(EnergyMethod::PowerSamples));
        assert!((cpu.energy_j.unwrap() - 10.0).abs() < 1e-9);
        let t = e.total.unwrap();
        assert!((t.energy_j - 210.0).abs() < 1e-9);
        assert!((t.energy_per_inference_j - 2.1).abs() < 1e-9);
        assert!((t.inferences_per_j - 100.0 / 210.0).abs() < 1e-12);
        assert!((t.fps_per_w.unwrap() - 50.0 / 210.0).abs() < 1e-12);
        // 2.1 J per inference is 2100 J per 1000 = 0.000583 kWh; at 400 g/kWh, 0.2333 g.
        assert!((t.co2_g_per_1000_inferences.unwrap() - 2100.0 / 3.6e6 * 400.0).abs() < 1e-12);
        assert_eq!(e.throttle.verdict, ThrottleVerdict::Ok);
        assert_eq!(e.window.samples, 11);
    }

    #[test]
    fn window_ends_between_readings_are_interpolated() {
        let tr = trace(|_| 1980.0, 0);
        // 0.95 .. 1.05: the counter reads 95 J at 0.95 (inside the 100 W part) and
        // 100 + 200 * 0.05 = 110 J at 1.05.
        let e = summarize(&tr, &window(&tr, 0.95, 1.05, 1), None, None, &[]);
        assert!((e.devices[0].energy_j.unwrap() - 15.0).abs() < 1e-9);
        // Power readings are points: between 0.9 s (100 W) and 1.0 s (200 W) the trapezoids
        // ramp, so average power x time over-counts the step: 0.05 * (150 + 200) / 2 +
        // 0.05 * 200 = 18.75 J. This is the gap between a counter and sampled power.
        assert!((e.devices[0].power_x_time_j.unwrap() - 18.75).abs() < 1e-9);
    }

    #[test]
    fn idle_is_subtracted_and_never_negative() {
        let tr = trace(|_| 1980.0, 0);
        let idle = idle(&tr, tr.origin, tr.origin + Duration::from_secs_f64(0.5)).unwrap();
        assert!((idle.total_w - 110.0).abs() < 1e-9);
        let e = summarize(&tr, &window(&tr, 1.0, 2.0, 10), Some(&idle), None, &[]);
        let t = e.total.as_ref().unwrap();
        assert_eq!(t.idle_power_w, Some(110.0));
        assert!(
            (t.energy_per_inference_above_idle_j.unwrap() - (210.0 - 110.0) / 10.0).abs() < 1e-9
        );
        // A window at idle: no energy above idle, said in a note rather than a zero.
        let e = summarize(&tr, &window(&tr, 0.0, 0.5, 10), Some(&idle), None, &[]);
        assert_eq!(e.total.unwrap().energy_per_inference_above_idle_j, None);
        assert!(e.notes.iter().any(|n| n.contains("idle power")));
    }

    #[test]
    fn throttle_reasons_and_clock_drops_are_flagged() {
        let tr = trace(|_| 1980.0, 0x4 | 0x1);
        let e = summarize(&tr, &window(&tr, 0.0, 2.0, 10), None, None, &[]);
        assert_eq!(e.throttle.verdict, ThrottleVerdict::Throttled);
        assert_eq!(e.throttle.reasons, ["gpu0: sw_power_cap"]);

        let tr = trace(|t| if t < 1.0 { 1980.0 } else { 1400.0 }, 0);
        let e = summarize(&tr, &window(&tr, 0.0, 2.0, 10), None, None, &[]);
        assert_eq!(e.throttle.verdict, ThrottleVerdict::ClocksDropped);
        assert!(
            e.throttle.detail.contains("1980 MHz to 1400 MHz"),
            "{}",
            e.throttle.detail
        );
    }

    #[test]
    fn an_idle_gpu_slowing_its_clocks_is_not_throttling() {
        let mut tr = trace(|t| if t < 1.0 { 1980.0 } else { 700.0 }, 0x1);
        tr.channels
            .push(ch("utilization", "gpu0", Quantity::UtilizationPct, "nvml"));
        for s in &mut tr.samples {
            s.values.push(Some(3.0));
        }
        let e = summarize(&tr, &window(&tr, 0.0, 2.0, 10), None, None, &[]);
        assert_eq!(
            e.throttle.verdict,
            ThrottleVerdict::Ok,
            "{}",
            e.throttle.detail
        );
        // Busy, the same fall is throttling.
        for s in &mut tr.samples {
            *s.values.last_mut().unwrap() = Some(90.0);
        }
        let e = summarize(&tr, &window(&tr, 0.0, 2.0, 10), None, None, &[]);
        assert_eq!(e.throttle.verdict, ThrottleVerdict::ClocksDropped);
    }

    #[test]
    fn peak_is_never_below_the_counters_average() {
        // The power sensor lags (it still reads 100 W after the step to 200 W).
        let mut tr = trace(|_| 1980.0, 0);
        for s in &mut tr.samples {
            s.values[0] = Some(100.0);
        }
        let e = summarize(&tr, &window(&tr, 0.0, 2.0, 10), None, None, &[]);
        let gpu = &e.devices[0];
        assert!((gpu.avg_power_w.unwrap() - 150.0).abs() < 1e-9);
        assert!((gpu.peak_power_w.unwrap() - 200.0).abs() < 1e-9);
        // The package (10 W) counts too: the total's peak is the highest sum of readings.
        let t = e.total.unwrap();
        assert!((t.peak_power_w.unwrap() - 110.0).abs() < 1e-9);
    }

    #[test]
    fn work_on_a_device_without_a_sensor_is_said() {
        let tr = trace(|_| 1980.0, 0);
        let un = [Unavailable::new("rapl", "no /sys/class/powercap")];
        let mut e = summarize(&tr, &window(&tr, 1.0, 2.0, 10), None, None, &un);
        e.check_coverage("cuda:0");
        assert!(e.work_unmeasured.is_none());
        // Package power here comes from a source named rapl: a CPU engine is covered.
        e.check_coverage("cpu");
        assert!(e.work_unmeasured.is_none());
        let mut e = summarize(&tr, &window(&tr, 1.0, 2.0, 10), None, None, &un);
        e.devices.retain(|d| d.source == "nvml");
        e.check_coverage("cpu");
        let why = e.work_unmeasured.as_deref().unwrap();
        assert!(
            why.contains("ran on cpu") && why.contains("rapl: no /sys/class/powercap"),
            "{why}"
        );
        assert!(e.notes.iter().any(|n| n == why));
    }

    #[test]
    fn without_power_sources_the_total_is_na_with_the_reason() {
        let tr = Trace {
            channels: vec![],
            origin: Instant::now(),
            period_s: 0.05,
            samples: vec![],
            read_s: vec![],
        };
        let un = [Unavailable::new("rapl", "no /sys/class/powercap")];
        let e = summarize(&tr, &window(&tr, 0.0, 1.0, 10), None, None, &un);
        assert!(e.total.is_none());
        assert_eq!(
            e.total_na.as_deref(),
            Some("no power sensor: rapl: no /sys/class/powercap")
        );
        assert_eq!(e.throttle.verdict, ThrottleVerdict::Unknown);
        assert!(e.devices.is_empty());
    }
}
