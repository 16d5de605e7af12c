//! CPU clocks through cpufreq (`/sys/devices/system/cpu/cpuN/cpufreq/scaling_cur_freq`):
//! the mean over the CPUs, which shows a package slowing down, and the highest one, which
//! shows whether any core still boosts.

use crate::rapl::{list_dir, SysfsFile};
use crate::{Channel, Quantity, Source, Unavailable};
use std::io;
use std::path::Path;

/// The current clock of every CPU that cpufreq reports.
pub struct CpufreqSource {
    channels: Vec<Channel>,
    cpus: Vec<SysfsFile>,
}

/// Opens the clock of every CPU under the sysfs root `sysfs` whose `scaling_cur_freq`
/// can be read.
pub fn open(sysfs: &Path) -> Result<CpufreqSource, Unavailable> {
    let dir = sysfs.join("devices/system/cpu");
    let files: Vec<SysfsFile> = list_dir(&dir)
        .into_iter()
        .filter(|(name, _)| {
            name.strip_prefix("cpu")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|(_, path)| path.join("cpufreq/scaling_cur_freq"))
        .filter(|path| path.is_file())
        .map(SysfsFile::new)
        .collect();
    if files.is_empty() {
        return Err(Unavailable::new(
            "cpufreq",
            format!(
                "no cpufreq under {}: the kernel reports no CPU clock here (virtual machines often hide it)",
                dir.display()
            ),
        ));
    }

    let mut cpus = Vec::new();
    let mut first_error: Option<(String, io::Error)> = None;
    for mut file in files {
        match file.read::<u64>() {
            Ok(_) => cpus.push(file),
            Err(e) => {
                first_error.get_or_insert_with(|| (file.path().display().to_string(), e));
            }
        }
    }
    if cpus.is_empty() {
        let reason = match first_error {
            Some((path, e)) if e.kind() == io::ErrorKind::PermissionDenied => format!(
                "permission denied reading {path}: run as root or `sudo chmod a+r {}/cpu*/cpufreq/scaling_cur_freq`",
                dir.display()
            ),
            Some((path, e)) => format!("could not read {path}: {e}"),
            None => format!("no readable cpufreq clock under {}", dir.display()),
        };
        return Err(Unavailable::new("cpufreq", reason));
    }

    let channel = |name: &str| Channel {
        name: name.into(),
        device: "cpu".into(),
        quantity: Quantity::ClockMhz,
        in_total: false,
        source: "cpufreq".into(),
    };
    Ok(CpufreqSource {
        channels: vec![channel("mean clock"), channel("max clock")],
        cpus,
    })
}

impl Source for CpufreqSource {
    fn name(&self) -> &str {
        "cpufreq"
    }

    fn channels(&self) -> &[Channel] {
        &self.channels
    }

    fn read(&mut self, out: &mut [Option<f64>]) {
        let mut sum = 0.0;
        let mut n = 0usize;
        let mut max: Option<f64> = None;
        // A CPU that went offline drops out of this reading's mean instead of pulling it
        // down.
        for file in &mut self.cpus {
            if let Ok(khz) = file.read::<u64>() {
                let mhz = khz as f64 / 1000.0;
                sum += mhz;
                n += 1;
                max = Some(max.map_or(mhz, |m: f64| m.max(mhz)));
            }
        }
        let mean = (n > 0).then(|| sum / n as f64);
        for (slot, value) in out.iter_mut().zip([mean, max]) {
            *slot = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    fn cpu(sysfs: &Path, n: usize, khz: u64) -> PathBuf {
        let dir = sysfs.join(format!("devices/system/cpu/cpu{n}/cpufreq"));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("scaling_cur_freq");
        fs::write(&file, format!("{khz}\n")).unwrap();
        file
    }

    fn read(src: &mut CpufreqSource) -> Vec<Option<f64>> {
        let mut out = vec![Some(-1.0); src.channels().len()];
        src.read(&mut out);
        out
    }

    #[test]
    fn mean_and_max_clock_in_mhz() {
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path();
        cpu(sys, 0, 1_200_000);
        cpu(sys, 1, 3_600_000);
        let c10 = cpu(sys, 10, 2_400_000);
        // Not CPUs: no cpufreq, or not named cpuN.
        fs::create_dir_all(sys.join("devices/system/cpu/cpu2")).unwrap();
        fs::create_dir_all(sys.join("devices/system/cpu/cpufreq/policy0")).unwrap();
        fs::write(
            sys.join("devices/system/cpu/cpufreq/policy0/scaling_cur_freq"),
            "9999999\n",
        )
        .unwrap();

        let mut src = open(sys).unwrap();
        let names: Vec<_> = src.channels().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["mean clock", "max clock"]);
        assert!(src
            .channels()
            .iter()
            .all(|c| c.device == "cpu" && c.quantity == Quantity::ClockMhz && !c.in_total));
        assert_eq!(read(&mut src), [Some(2400.0), Some(3600.0)]);

        // A CPU that cannot be read leaves the mean, it does not count as 0 MHz.
        fs::write(&c10, "").unwrap();
        assert_eq!(read(&mut src), [Some(2400.0), Some(3600.0)]);
        fs::write(&c10, "4800000\n").unwrap();
        assert_eq!(read(&mut src), [Some(3200.0), Some(4800.0)]);
    }

    #[test]
    fn nothing_readable_reads_none() {
        let tmp = tempfile::tempdir().unwrap();
        let f = cpu(tmp.path(), 0, 1_000_000);
        let mut src = open(tmp.path()).unwrap();
        fs::write(&f, "x").unwrap();
        assert_eq!(read(&mut src), [None, None]);
    }

    #[test]
    fn no_cpufreq_is_unavailable_with_the_reason() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("devices/system/cpu/cpu0")).unwrap();
        let err = open(tmp.path()).err().unwrap();
        assert_eq!(err.source, "cpufreq");
        assert!(err.reason.starts_with("no cpufreq under"), "{}", err.reason);
        assert!(err.reason.contains("virtual machines"), "{}", err.reason);
    }

    #[test]
    fn permission_denied_names_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let f = cpu(tmp.path(), 0, 1_000_000);
        fs::set_permissions(&f, fs::Permissions::from_mode(0o000)).unwrap();
        if !crate::rapl::tests::permissions_bind(
            &f,
            "cpufreq::tests::permission_denied_names_the_file",
        ) {
            return;
        }
        let err = open(tmp.path()).err().unwrap();
        assert!(
            err.reason.contains("permission denied reading"),
            "{}",
            err.reason
        );
        assert!(
            err.reason.contains("cpu0/cpufreq/scaling_cur_freq"),
            "{}",
            err.reason
        );
    }
}
