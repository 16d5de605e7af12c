//! NVIDIA GPUs through NVML (`libnvidia-ml.so.1`, loaded at run time by `nvml-wrapper`):
//! board power, the energy counter, clocks, temperature, utilization, memory and the
//! clock-event (throttle) reasons of every GPU the driver shows.
//!
//! GPUs are numbered in NVML's order (PCI bus order), which is CUDA's only when
//! `CUDA_DEVICE_ORDER=PCI_BUS_ID`; `CUDA_VISIBLE_DEVICES` does not hide any from NVML.

use crate::{Channel, Quantity, Source, Unavailable};
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{Device, Nvml};
use std::ffi::OsStr;

/// The library names tried in turn. Drivers install only the versioned name, which
/// `nvml-wrapper` 0.13 loads by default; the unversioned one exists where the CUDA
/// toolkit's development stub or a container runtime put it.
const LIBRARIES: &[&str] = &["libnvidia-ml.so.1", "libnvidia-ml.so"];

/// Every GPU's channels.
pub struct NvmlSource {
    // `Device` borrows `Nvml`, so devices are looked up by index at every reading (a
    // table lookup inside the driver library) rather than held.
    nvml: Nvml,
    channels: Vec<Channel>,
    gpus: Vec<Gpu>,
}

struct Gpu {
    index: u32,
    /// What each of this GPU's channels reads, in channel order.
    metrics: Vec<Metric>,
    /// The energy counter (mJ since the driver loaded) when the source was opened.
    energy_base_mj: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Power,
    Energy,
    SmClock,
    MemoryClock,
    Temperature,
    Utilization,
    MemoryUsed,
    ThrottleReasons,
}

impl Metric {
    const ALL: [Metric; 8] = [
        Metric::Power,
        Metric::Energy,
        Metric::SmClock,
        Metric::MemoryClock,
        Metric::Temperature,
        Metric::Utilization,
        Metric::MemoryUsed,
        Metric::ThrottleReasons,
    ];

    fn name(self) -> &'static str {
        match self {
            Metric::Power => "board power",
            Metric::Energy => "energy",
            Metric::SmClock => "sm clock",
            Metric::MemoryClock => "memory clock",
            Metric::Temperature => "temperature",
            Metric::Utilization => "utilization",
            Metric::MemoryUsed => "memory used",
            Metric::ThrottleReasons => "throttle reasons",
        }
    }

    fn quantity(self) -> Quantity {
        match self {
            Metric::Power => Quantity::PowerW,
            Metric::Energy => Quantity::EnergyJ,
            Metric::SmClock | Metric::MemoryClock => Quantity::ClockMhz,
            Metric::Temperature => Quantity::TemperatureC,
            Metric::Utilization => Quantity::UtilizationPct,
            Metric::MemoryUsed => Quantity::MemoryUsedMib,
            Metric::ThrottleReasons => Quantity::ThrottleReasons,
        }
    }

    /// The value in the channel's unit. Energy is the raw counter in mJ; the caller makes
    /// it joules since open.
    fn read(self, device: &Device<'_>) -> Result<f64, NvmlError> {
        Ok(match self {
            Metric::Power => f64::from(device.power_usage()?) / 1e3,
            Metric::Energy => device.total_energy_consumption()? as f64,
            Metric::SmClock => f64::from(device.clock_info(Clock::SM)?),
            Metric::MemoryClock => f64::from(device.clock_info(Clock::Memory)?),
            Metric::Temperature => f64::from(device.temperature(TemperatureSensor::Gpu)?),
            Metric::Utilization => f64::from(device.utilization_rates()?.gpu),
            Metric::MemoryUsed => device.memory_info()?.used as f64 / (1024.0 * 1024.0),
            // Every bit edgebench names (see crate::throttle) is a flag of nvml-wrapper's
            // ThrottleReasons, so none is lost to its truncation of unknown bits.
            Metric::ThrottleReasons => device.current_throttle_reasons()?.bits() as f64,
        })
    }
}

/// Starts NVML and opens every GPU it shows. A metric a GPU does not support (NVML says
/// `NotSupported` when the source opens: energy before Volta, power on some boards) is left
/// out rather than read as `None` forever.
pub fn open() -> Result<NvmlSource, Unavailable> {
    open_from(LIBRARIES)
}

fn open_from(libraries: &[&str]) -> Result<NvmlSource, Unavailable> {
    let nvml = init(libraries)?;
    let count = nvml
        .device_count()
        .map_err(|e| Unavailable::new("nvml", format!("NVML could not count the GPUs ({e})")))?;
    if count == 0 {
        return Err(Unavailable::new(
            "nvml",
            "the NVIDIA driver is loaded but shows no GPU",
        ));
    }

    let mut channels = Vec::new();
    let mut gpus = Vec::new();
    let mut first_error = None;
    for index in 0..count {
        let device = match nvml.device_by_index(index) {
            Ok(d) => d,
            Err(e) => {
                first_error.get_or_insert_with(|| format!("gpu{index}: {e}"));
                continue;
            }
        };
        let mut gpu = Gpu {
            index,
            metrics: Vec::new(),
            energy_base_mj: None,
        };
        for metric in Metric::ALL {
            match metric.read(&device) {
                Err(NvmlError::NotSupported) => continue,
                Ok(mj) if metric == Metric::Energy => gpu.energy_base_mj = Some(mj as u64),
                // Without a starting value there is nothing to count from.
                Err(_) if metric == Metric::Energy => continue,
                // Anything else may pass (a GPU busy resetting a counter).
                Ok(_) | Err(_) => {}
            }
            gpu.metrics.push(metric);
            channels.push(Channel {
                name: metric.name().into(),
                device: format!("gpu{index}"),
                quantity: metric.quantity(),
                in_total: matches!(metric, Metric::Power | Metric::Energy),
                source: "nvml".into(),
            });
        }
        gpus.push(gpu);
    }
    if gpus.is_empty() {
        return Err(Unavailable::new(
            "nvml",
            format!(
                "NVML shows {count} GPU(s) but none could be opened ({})",
                first_error.unwrap_or_default()
            ),
        ));
    }
    Ok(NvmlSource {
        nvml,
        channels,
        gpus,
    })
}

/// Loads the first library that loads and starts NVML. The reason names the library when
/// none loads (the usual case on a machine without the NVIDIA driver) and the driver when
/// the library loads but NVML does not start.
fn init(libraries: &[&str]) -> Result<Nvml, Unavailable> {
    let mut first: Option<(&str, NvmlError)> = None;
    for lib in libraries {
        match Nvml::builder().lib_path(OsStr::new(lib)).init() {
            Ok(nvml) => return Ok(nvml),
            // Another name can help only when this one was not found.
            Err(e @ NvmlError::LibloadingError(_)) => {
                first.get_or_insert((lib, e));
            }
            Err(e) => return Err(Unavailable::new("nvml", init_failure(lib, &e))),
        }
    }
    let reason = match first {
        Some((lib, e)) => init_failure(lib, &e),
        None => "no NVML library name to try".to_owned(),
    };
    Err(Unavailable::new("nvml", reason))
}

fn init_failure(lib: &str, e: &NvmlError) -> String {
    match e {
        NvmlError::LibloadingError(_) | NvmlError::FailedToLoadSymbol(_) => {
            format!("{lib} could not be loaded ({e}): no NVIDIA driver here")
        }
        NvmlError::DriverNotLoaded => format!(
            "{lib} loaded but the NVIDIA kernel driver is not running ({e}): load it (`sudo modprobe nvidia`) or reinstall the driver"
        ),
        NvmlError::NoPermission => format!(
            "{lib} loaded but NVML may not talk to the driver ({e}): check the permissions of /dev/nvidia*"
        ),
        _ => format!("{lib} loaded but NVML did not start ({e})"),
    }
}

impl NvmlSource {
    /// One line per GPU, `gpu0: NVIDIA H100 80GB HBM3`, for provenance.
    pub fn describe(&self) -> Vec<String> {
        self.gpus
            .iter()
            .map(|g| {
                let name = self
                    .nvml
                    .device_by_index(g.index)
                    .and_then(|d| d.name())
                    .unwrap_or_else(|e| format!("name unknown ({e})"));
                format!("gpu{}: {name}", g.index)
            })
            .collect()
    }
}

impl Source for NvmlSource {
    fn name(&self) -> &str {
        "nvml"
    }

    fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// Everything but the energy counter, which takes about 4 ms a call (measured on an H100
    /// with driver 580) against microseconds for the rest: it is read on full readings only.
    fn read(&mut self, out: &mut [Option<f64>]) {
        self.read_gpus(out, false)
    }

    fn read_full(&mut self, out: &mut [Option<f64>]) {
        self.read_gpus(out, true)
    }
}

impl NvmlSource {
    fn read_gpus(&mut self, out: &mut [Option<f64>], full: bool) {
        let mut slots = out.iter_mut();
        for gpu in &self.gpus {
            let device = self.nvml.device_by_index(gpu.index).ok();
            for (metric, slot) in gpu.metrics.iter().zip(slots.by_ref()) {
                let Some(device) = &device else {
                    *slot = None;
                    continue;
                };
                if *metric == Metric::Energy && !full {
                    *slot = None;
                    continue;
                }
                *slot = match metric.read(device) {
                    Ok(mj) if *metric == Metric::Energy => gpu
                        .energy_base_mj
                        .and_then(|base| (mj as u64).checked_sub(base))
                        .map(|d| d as f64 / 1e3),
                    Ok(v) => Some(v),
                    Err(_) => None,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_that_is_not_there_is_unavailable_naming_it() {
        let err = open_from(&["libedgebench-no-such-nvml.so.1"])
            .err()
            .unwrap();
        assert_eq!(err.source, "nvml");
        assert!(
            err.reason
                .starts_with("libedgebench-no-such-nvml.so.1 could not be loaded ("),
            "{}",
            err.reason
        );
        assert!(
            err.reason.ends_with("no NVIDIA driver here"),
            "{}",
            err.reason
        );
    }

    #[test]
    fn the_first_missing_library_is_the_one_named() {
        let err = open_from(&["libedgebench-a.so.1", "libedgebench-b.so"])
            .err()
            .unwrap();
        assert!(
            err.reason.starts_with("libedgebench-a.so.1 "),
            "{}",
            err.reason
        );
    }

    /// On a machine without the driver this is the "absent" path; on a GPU machine it
    /// checks that every GPU reads the channels it announced.
    #[test]
    fn open_never_panics_and_says_why() {
        match open() {
            Err(err) => {
                assert_eq!(err.source, "nvml");
                assert!(
                    err.reason.contains("libnvidia-ml") || err.reason.contains("GPU"),
                    "{}",
                    err.reason
                );
            }
            Ok(mut src) => {
                assert!(!src.channels().is_empty());
                assert!(src.channels().iter().any(|c| c.name == "sm clock"));
                let mut out = vec![None; src.channels().len()];
                src.read_full(&mut out);
                assert!(out.iter().any(Option::is_some), "{out:?}");
                for (c, v) in src.channels().iter().zip(&out) {
                    if c.quantity == Quantity::EnergyJ {
                        assert!(v.is_some_and(|j| j >= 0.0), "{c:?} {v:?}");
                    }
                }
                eprintln!("{:?}", src.describe());
                for (c, v) in src.channels().iter().zip(&out) {
                    eprintln!("{} {}: {v:?}", c.device, c.name);
                }
            }
        }
    }

    /// What each NVML call costs on this machine (run on a GPU machine with
    /// `--ignored --nocapture`); the sampler's period is chosen from these.
    #[test]
    #[ignore]
    fn read_cost_per_metric() {
        let Ok(src) = open() else {
            eprintln!("no NVML here: nothing to time");
            return;
        };
        for gpu in &src.gpus {
            let t = std::time::Instant::now();
            for _ in 0..50 {
                let _ = src.nvml.device_by_index(gpu.index);
            }
            eprintln!(
                "gpu{} device_by_index: {:.1} us",
                gpu.index,
                t.elapsed().as_secs_f64() / 50.0 * 1e6
            );
            let Ok(device) = src.nvml.device_by_index(gpu.index) else {
                continue;
            };
            for m in &gpu.metrics {
                let t = std::time::Instant::now();
                for _ in 0..50 {
                    let _ = m.read(&device);
                }
                eprintln!(
                    "gpu{} {}: {:.1} us",
                    gpu.index,
                    m.name(),
                    t.elapsed().as_secs_f64() / 50.0 * 1e6
                );
            }
        }
    }
}
