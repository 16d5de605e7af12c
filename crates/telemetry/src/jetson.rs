//! NVIDIA Jetson boards: the INA3221 power monitors on their supply rails and the GPU clock
//! from devfreq.
//!
//! Two driver layouts exist. JetPack 4 (Nano, TX1, TX2, Xavier on L4T 32) has the
//! downstream `ina3221x` IIO driver: `rail_name_K` and `in_power{K}_input` in mW. JetPack 5
//! and 6 (Xavier, Orin) have the mainline `ina3221` hwmon driver: `in{K}_label`,
//! `in{K}_input` in mV and `curr{K}_input` in mA, and no power attribute.

use crate::rapl::{list_dir, read_label, SysfsFile};
use crate::{Channel, Quantity, Source, Unavailable};
use std::io;
use std::path::{Path, PathBuf};

/// The board's power rails and GPU clock.
pub struct JetsonSource {
    channels: Vec<Channel>,
    readers: Vec<Reader>,
}

enum Reader {
    /// JetPack 4: the driver computes the power, in mW.
    PowerMw(SysfsFile),
    /// JetPack 5/6: bus voltage in mV and current in mA.
    VoltsAmps { mv: SysfsFile, ma: SysfsFile },
    /// devfreq `cur_freq`, in Hz.
    FreqHz(SysfsFile),
}

impl Reader {
    fn read(&mut self) -> io::Result<f64> {
        match self {
            Reader::PowerMw(f) => Ok(f.read::<i64>()? as f64 / 1e3),
            Reader::VoltsAmps { mv, ma } => {
                let mv = mv.read::<i64>()?;
                let ma = ma.read::<i64>()?;
                Ok(mv as f64 * ma as f64 / 1e6)
            }
            Reader::FreqHz(f) => Ok(f.read::<u64>()? as f64 / 1e6),
        }
    }

    /// The file named in a reason when the first reading fails.
    fn path(&self) -> &Path {
        match self {
            Reader::PowerMw(f) | Reader::FreqHz(f) => f.path(),
            Reader::VoltsAmps { ma, .. } => ma.path(),
        }
    }
}

/// A rail as the monitor labels it.
struct Rail {
    label: String,
    /// The I2C device of its monitor (`6-0040`), to tell apart rails labelled alike.
    monitor: String,
    reader: Reader,
}

/// Opens the INA3221 rails and the GPU devfreq clock under the sysfs root `sysfs`.
pub fn open(sysfs: &Path) -> Result<JetsonSource, Unavailable> {
    let mut rails = jetpack4_rails(sysfs);
    rails.extend(jetpack5_rails(sysfs));
    let gpu = gpu_devfreq(sysfs);
    if rails.is_empty() && gpu.is_none() {
        return Err(Unavailable::new(
            "jetson",
            format!(
                "no INA3221 power monitor under {0}/bus/i2c/drivers/ina3221x or ina3221: not a Jetson board",
                sysfs.display()
            ),
        ));
    }

    let mut first_error: Option<(PathBuf, io::Error)> = None;
    let mut check = |reader: &mut Reader| match reader.read() {
        Ok(_) => true,
        Err(e) => {
            first_error.get_or_insert_with(|| (reader.path().to_path_buf(), e));
            false
        }
    };
    rails.retain_mut(|r| check(&mut r.reader));
    let gpu = gpu.and_then(|mut g| check(&mut g.reader).then_some(g));
    if rails.is_empty() && gpu.is_none() {
        let reason = match first_error {
            Some((path, e)) if e.kind() == io::ErrorKind::PermissionDenied => format!(
                "permission denied reading {}: run as root or make the INA3221 attributes readable",
                path.display()
            ),
            Some((path, e)) => format!("could not read {}: {e}", path.display()),
            None => "no readable INA3221 rail or GPU clock".to_owned(),
        };
        return Err(Unavailable::new("jetson", reason));
    }

    let is_input = |label: &str| is_input_rail(label);
    // The input rail feeds all others; without one the rails are separate supplies.
    let has_input = rails.iter().any(|r| is_input(&r.label));
    let mut channels = Vec::new();
    let mut readers = Vec::new();
    for (i, rail) in rails.iter().enumerate() {
        let repeated = rails
            .iter()
            .enumerate()
            .any(|(j, r)| j != i && r.label == rail.label);
        let device = if repeated {
            format!("{} ({})", rail.label, rail.monitor)
        } else {
            rail.label.clone()
        };
        channels.push(Channel {
            name: "power".into(),
            device,
            quantity: Quantity::PowerW,
            in_total: !has_input || is_input(&rail.label),
            source: "ina3221".into(),
        });
    }
    readers.extend(rails.into_iter().map(|r| r.reader));
    if let Some(gpu) = gpu {
        channels.push(Channel {
            name: "gpu clock".into(),
            device: "gpu".into(),
            quantity: Quantity::ClockMhz,
            in_total: false,
            source: "devfreq".into(),
        });
        readers.push(gpu.reader);
    }
    Ok(JetsonSource { channels, readers })
}

/// Whether a rail is the board's input rail, which feeds all others (`POM_5V_IN` on a Nano,
/// `VDD_IN` on Xavier NX, Orin NX and Orin Nano); AGX Xavier and AGX Orin have none, and their
/// rails are separate supplies.
pub(crate) fn is_input_rail(label: &str) -> bool {
    label.to_ascii_uppercase().ends_with("_IN")
}

/// `bus/i2c/drivers/ina3221x/*/iio:device*/rail_name_K` with `in_power{K}_input`.
fn jetpack4_rails(sysfs: &Path) -> Vec<Rail> {
    let mut rails = Vec::new();
    for (monitor, dev) in list_dir(&sysfs.join("bus/i2c/drivers/ina3221x")) {
        for (iio, iio_dir) in list_dir(&dev) {
            if !iio.starts_with("iio:device") {
                continue;
            }
            for (file, path) in list_dir(&iio_dir) {
                let Some(k) = file.strip_prefix("rail_name_") else {
                    continue;
                };
                let power = iio_dir.join(format!("in_power{k}_input"));
                if let (Some(label), true) = (read_label(&path), power.is_file()) {
                    rails.push(Rail {
                        label,
                        monitor: monitor.clone(),
                        reader: Reader::PowerMw(SysfsFile::new(power)),
                    });
                }
            }
        }
    }
    rails
}

/// `bus/i2c/drivers/ina3221/*/hwmon/hwmon*/in{K}_label` with `in{K}_input` and
/// `curr{K}_input`.
fn jetpack5_rails(sysfs: &Path) -> Vec<Rail> {
    let mut rails = Vec::new();
    for (monitor, dev) in list_dir(&sysfs.join("bus/i2c/drivers/ina3221")) {
        for (hwmon, hwmon_dir) in list_dir(&dev.join("hwmon")) {
            if !hwmon.starts_with("hwmon") {
                continue;
            }
            for (file, path) in list_dir(&hwmon_dir) {
                let Some(k) = file
                    .strip_prefix("in")
                    .and_then(|f| f.strip_suffix("_label"))
                else {
                    continue;
                };
                let Some(label) = read_label(&path) else {
                    continue;
                };
                // Unconnected channels are labelled NC; the driver's summation channel
                // ("sum of shunt voltages") is no rail of its own.
                if label.eq_ignore_ascii_case("NC") || label.to_ascii_lowercase().contains("sum") {
                    continue;
                }
                let mv = hwmon_dir.join(format!("in{k}_input"));
                let ma = hwmon_dir.join(format!("curr{k}_input"));
                if mv.is_file() && ma.is_file() {
                    rails.push(Rail {
                        label,
                        monitor: monitor.clone(),
                        reader: Reader::VoltsAmps {
                            mv: SysfsFile::new(mv),
                            ma: SysfsFile::new(ma),
                        },
                    });
                }
            }
        }
    }
    rails
}

struct Gpu {
    reader: Reader,
}

/// The first devfreq device that is a Jetson GPU: `57000000.gpu` (Nano), `17000000.gp10b`
/// (TX2), `17000000.gv11b` (Xavier), `17000000.ga10b` (Orin).
fn gpu_devfreq(sysfs: &Path) -> Option<Gpu> {
    list_dir(&sysfs.join("class/devfreq"))
        .into_iter()
        .filter(|(name, _)| is_gpu_name(name))
        .map(|(_, dir)| dir.join("cur_freq"))
        .find(|f| f.is_file())
        .map(|f| Gpu {
            reader: Reader::FreqHz(SysfsFile::new(f)),
        })
}

pub(crate) fn is_gpu_name(devfreq: &str) -> bool {
    let name = devfreq.to_ascii_lowercase();
    let node = name.rsplit('.').next().unwrap_or_default();
    // NVIDIA's integrated GPU cores are named g<family><two digits>b.
    let tegra_core = node.len() == 5
        && node.starts_with('g')
        && node.ends_with('b')
        && node.as_bytes()[2..4].iter().all(|b| b.is_ascii_digit());
    name.contains("gpu") || tegra_core
}

impl Source for JetsonSource {
    fn name(&self) -> &str {
        "jetson"
    }

    fn channels(&self) -> &[Channel] {
        &self.channels
    }

    fn read(&mut self, out: &mut [Option<f64>]) {
        for (reader, slot) in self.readers.iter_mut().zip(out.iter_mut()) {
            *slot = reader.read().ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// Jetson Nano on JetPack 4: one INA3221 at 6-0040 with three rails.
    fn nano(sys: &Path) -> PathBuf {
        let iio = sys.join("bus/i2c/drivers/ina3221x/6-0040/iio:device0");
        for (k, label, mw) in [
            (0, "POM_5V_IN", 4_875),
            (1, "POM_5V_GPU", 1_250),
            (2, "POM_5V_CPU", 980),
        ] {
            write(&iio.join(format!("rail_name_{k}")), &format!("{label}\n"));
            write(&iio.join(format!("in_power{k}_input")), &format!("{mw}\n"));
            write(&iio.join(format!("in_current{k}_input")), "1\n");
            write(&iio.join(format!("in_voltage{k}_input")), "5000\n");
        }
        write(
            &sys.join("class/devfreq/57000000.gpu/cur_freq"),
            "921600000\n",
        );
        write(&sys.join("class/devfreq/cpufreq-thing/cur_freq"), "1\n");
        iio
    }

    /// Orin Nano on JetPack 6: one INA3221 in the hwmon layout, channel 3 unconnected.
    fn orin(sys: &Path) -> PathBuf {
        let hw = sys.join("bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3");
        for (k, label, mv, ma) in [
            (1, "VDD_IN", 5_000, 1_400),
            (2, "VDD_CPU_GPU_CV", 4_992, 500),
            (3, "NC", 0, 0),
        ] {
            write(&hw.join(format!("in{k}_label")), &format!("{label}\n"));
            write(&hw.join(format!("in{k}_input")), &format!("{mv}\n"));
            write(&hw.join(format!("curr{k}_input")), &format!("{ma}\n"));
        }
        write(&hw.join("in7_label"), "sum of shunt voltages\n");
        write(&hw.join("in7_input"), "12\n");
        write(&hw.join("curr4_input"), "1900\n");
        write(
            &sys.join("class/devfreq/17000000.ga10b/cur_freq"),
            "624750000\n",
        );
        hw
    }

    fn read(src: &mut JetsonSource) -> Vec<Option<f64>> {
        let mut out = vec![Some(-1.0); src.channels().len()];
        src.read(&mut out);
        out
    }

    fn summary(src: &JetsonSource) -> Vec<(&str, &str, bool, &str)> {
        src.channels()
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.device.as_str(),
                    c.in_total,
                    c.source.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn jetpack4_nano_rails_and_gpu_clock() {
        let tmp = tempfile::tempdir().unwrap();
        let iio = nano(tmp.path());
        let mut src = open(tmp.path()).unwrap();
        assert_eq!(src.name(), "jetson");
        assert_eq!(
            summary(&src),
            [
                ("power", "POM_5V_IN", true, "ina3221"),
                ("power", "POM_5V_GPU", false, "ina3221"),
                ("power", "POM_5V_CPU", false, "ina3221"),
                ("gpu clock", "gpu", false, "devfreq"),
            ]
        );
        let q: Vec<_> = src.channels().iter().map(|c| c.quantity).collect();
        assert_eq!(
            q,
            [
                Quantity::PowerW,
                Quantity::PowerW,
                Quantity::PowerW,
                Quantity::ClockMhz
            ]
        );
        assert_eq!(
            read(&mut src),
            [Some(4.875), Some(1.25), Some(0.98), Some(921.6)]
        );

        // A rail that fails once is None for that reading only.
        write(&iio.join("in_power1_input"), "");
        write(&iio.join("in_power0_input"), "5100\n");
        assert_eq!(read(&mut src), [Some(5.1), None, Some(0.98), Some(921.6)]);
    }

    #[test]
    fn jetpack5_rails_are_volts_times_amps_and_skip_nc_and_sums() {
        let tmp = tempfile::tempdir().unwrap();
        orin(tmp.path());
        let mut src = open(tmp.path()).unwrap();
        assert_eq!(
            summary(&src),
            [
                ("power", "VDD_IN", true, "ina3221"),
                ("power", "VDD_CPU_GPU_CV", false, "ina3221"),
                ("gpu clock", "gpu", false, "devfreq"),
            ]
        );
        let v = read(&mut src);
        assert_eq!(v[0], Some(7.0));
        assert!((v[1].unwrap() - 2.496).abs() < 1e-12, "{v:?}");
        assert_eq!(v[2], Some(624.75));
    }

    #[test]
    fn without_an_input_rail_every_rail_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let hw = tmp
            .path()
            .join("bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1");
        for (k, label) in [(1, "VDD_GPU_SOC"), (2, "VDD_CPU_CV"), (3, "VIN_SYS_5V0")] {
            write(&hw.join(format!("in{k}_label")), label);
            write(&hw.join(format!("in{k}_input")), "5000");
            write(&hw.join(format!("curr{k}_input")), "100");
        }
        let src = open(tmp.path()).unwrap();
        assert!(src.channels().iter().all(|c| c.in_total));
        assert_eq!(src.channels().len(), 3);
    }

    #[test]
    fn rails_labelled_alike_on_two_monitors_stay_apart() {
        let tmp = tempfile::tempdir().unwrap();
        for monitor in ["1-0040", "1-0041"] {
            let hw = tmp
                .path()
                .join(format!("bus/i2c/drivers/ina3221/{monitor}/hwmon/hwmon0"));
            write(&hw.join("in1_label"), "VDD_SOC");
            write(&hw.join("in1_input"), "5000");
            write(&hw.join("curr1_input"), "100");
        }
        let src = open(tmp.path()).unwrap();
        let devices: Vec<_> = src.channels().iter().map(|c| c.device.as_str()).collect();
        assert_eq!(devices, ["VDD_SOC (1-0040)", "VDD_SOC (1-0041)"]);
    }

    #[test]
    fn not_a_jetson_is_unavailable_with_the_reason() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("class/devfreq/dmc/cur_freq"), "800000000");
        let err = open(tmp.path()).err().unwrap();
        assert_eq!(err.source, "jetson");
        assert!(
            err.reason.contains("no INA3221 power monitor"),
            "{}",
            err.reason
        );
        assert!(err.reason.contains("not a Jetson board"), "{}", err.reason);
    }

    #[test]
    fn gpu_names() {
        for name in [
            "57000000.gpu",
            "17000000.gv11b",
            "17000000.ga10b",
            "17000000.gp10b",
        ] {
            assert!(is_gpu_name(name), "{name}");
        }
        for name in ["dmc", "ff9a0000.npu", "13e00000.gb", "cpufreq-thing"] {
            assert!(!is_gpu_name(name), "{name}");
        }
    }
}
