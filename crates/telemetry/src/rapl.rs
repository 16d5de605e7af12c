//! CPU package and DRAM energy through the Linux powercap interface
//! (`/sys/class/powercap/intel-rapl:N[:M]`, and any other powercap control type whose zones
//! have `name` and `energy_uj`).
//!
//! Each zone is one cumulative energy channel. The kernel's counter is in microjoules and
//! wraps at `max_energy_range_uj` (every few minutes on a busy server package), so the
//! source keeps the last raw value and undoes the wrap between two readings; a wrap is only
//! seen if the source is read at least once per wrap period, which any sampling period does.

use crate::{Channel, Quantity, Source, Unavailable};
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Energy of every readable powercap zone, cumulative since [`open`].
pub struct RaplSource {
    channels: Vec<Channel>,
    zones: Vec<Zone>,
}

struct Zone {
    energy: SysfsFile,
    /// The counter's wrap point; `None` when the kernel does not say (a wrap then gives
    /// `None` for that reading instead of a guess).
    max_range_uj: Option<u64>,
    last_raw_uj: u64,
    total_uj: u64,
}

/// What is known about a zone before its counter is read.
struct Candidate {
    dir: PathBuf,
    /// The zone's directory name, `intel-rapl:0:1`.
    dir_name: String,
    /// The zone's own name, `package-0`, `dram`, `core`.
    name: String,
    /// `intel-rapl` in `intel-rapl:0:1`.
    control: String,
    /// A zone of its control type, not a subzone inside one.
    top_level: bool,
    /// The parent zone's name for a subzone.
    parent: Option<String>,
}

/// Opens every powercap zone whose energy counter can be read, under the sysfs root
/// `sysfs` (`/sys`). Zones that cannot be read are left out as long as one can; when none
/// can, the reason names the file and the fix (the counters are root-only on current
/// kernels).
pub fn open(sysfs: &Path) -> Result<RaplSource, Unavailable> {
    let class = sysfs.join("class/powercap");
    if !class.is_dir() {
        return Err(Unavailable::new(
            "rapl",
            format!(
                "no {}: the kernel exposes no RAPL counters here (virtual machines usually hide them)",
                class.display()
            ),
        ));
    }
    let candidates = discover(&class);
    if candidates.is_empty() {
        return Err(Unavailable::new(
            "rapl",
            format!(
                "no powercap zone with an energy_uj counter under {}: this CPU or kernel has no RAPL driver loaded (try `sudo modprobe intel_rapl_msr`)",
                class.display()
            ),
        ));
    }

    let mut readable = Vec::new();
    let mut denied: Option<PathBuf> = None;
    let mut failed: Option<(PathBuf, io::Error)> = None;
    for c in candidates {
        let mut energy = SysfsFile::new(c.dir.join("energy_uj"));
        match energy.read::<u64>() {
            Ok(raw) => {
                let max_range_uj = fs::read_to_string(c.dir.join("max_energy_range_uj"))
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                let zone = Zone {
                    energy,
                    max_range_uj,
                    last_raw_uj: raw,
                    total_uj: 0,
                };
                readable.push((c, zone));
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                denied.get_or_insert_with(|| energy.path().to_path_buf());
            }
            Err(e) => {
                failed.get_or_insert_with(|| (energy.path().to_path_buf(), e));
            }
        }
    }
    if readable.is_empty() {
        let reason = match (denied, failed) {
            (Some(path), _) => format!(
                "permission denied reading {} (root-only since Linux 5.10): run as root or `sudo chmod a+r {}/*/energy_uj`",
                path.display(),
                class.display()
            ),
            (None, Some((path, e))) => format!("could not read {}: {e}", path.display()),
            (None, None) => format!("no readable RAPL zone under {}", class.display()),
        };
        return Err(Unavailable::new("rapl", reason));
    }

    let (candidates, zones): (Vec<Candidate>, Vec<Zone>) = readable.into_iter().unzip();
    Ok(RaplSource {
        channels: channels(&candidates),
        zones,
    })
}

/// The zones under `class`, the primary `intel-rapl` control type first so that a zone
/// another interface repeats (`intel-rapl-mmio:0` is `package-0` again) counts once.
fn discover(class: &Path) -> Vec<Candidate> {
    let mut dirs: Vec<(String, PathBuf)> = Vec::new();
    for (name, path) in list_dir(class) {
        // Real sysfs links subzones from the class directory too; a tree that only nests
        // them inside their zone is read the same way.
        let nested_prefix = format!("{name}:");
        for (sub, sub_path) in list_dir(&path) {
            if sub.starts_with(&nested_prefix) {
                dirs.push((sub, sub_path));
            }
        }
        dirs.push((name, path));
    }

    let mut seen = HashSet::new();
    let mut found: Vec<Candidate> = Vec::new();
    for (dir_name, dir) in dirs {
        if !dir.join("energy_uj").is_file() {
            continue;
        }
        if !seen.insert(fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone())) {
            continue;
        }
        let Some(name) = read_label(&dir.join("name")) else {
            continue;
        };
        let mut parts = dir_name.split(':');
        let control = parts.next().unwrap_or_default().to_owned();
        let top_level = parts.count() <= 1;
        found.push(Candidate {
            dir,
            dir_name,
            name,
            control,
            top_level,
            parent: None,
        });
    }

    for i in 0..found.len() {
        if found[i].top_level {
            continue;
        }
        let parent_dir = match found[i].dir_name.rsplit_once(':') {
            Some((p, _)) => p.to_owned(),
            None => continue,
        };
        let parent = found
            .iter()
            .find(|c| c.dir_name == parent_dir)
            .map(|c| c.name.clone())
            .or_else(|| read_label(&class.join(&parent_dir).join("name")));
        found[i].parent = parent;
    }

    found.sort_by_cached_key(|c| (c.control != "intel-rapl", natural_key(&c.dir_name)));
    found
}

/// One channel per zone, with names unique in the source and `in_total` set so that no
/// energy counts twice.
fn channels(zones: &[Candidate]) -> Vec<Channel> {
    let count = |name: &str| zones.iter().filter(|z| z.name == name).count();
    let mut devices: Vec<String> = zones
        .iter()
        .map(|z| match (&z.parent, z.top_level, count(&z.name) > 1) {
            (Some(parent), false, true) => format!("{} ({parent})", z.name),
            _ => z.name.clone(),
        })
        .collect();
    // What is still repeated (a zone another interface shows again) gets its directory.
    for i in 0..devices.len() {
        if devices[..i].contains(&devices[i]) {
            devices[i] = format!("{} ({})", zones[i].name, zones[i].dir_name);
        }
    }

    let mut counted_top: HashSet<&str> = HashSet::new();
    zones
        .iter()
        .zip(devices)
        .map(|(z, device)| {
            let in_total = if z.top_level {
                // psys is the whole SoC platform, packages included. A top-level name met
                // again is the same domain through another interface.
                z.name != "psys" && counted_top.insert(z.name.as_str())
            } else {
                // On servers DRAM is outside the package; core and uncore are inside it.
                z.name == "dram"
            };
            Channel {
                name: "energy".into(),
                device,
                quantity: Quantity::EnergyJ,
                in_total,
                source: "rapl".into(),
            }
        })
        .collect()
}

impl Source for RaplSource {
    fn name(&self) -> &str {
        "rapl"
    }

    fn channels(&self) -> &[Channel] {
        &self.channels
    }

    fn read(&mut self, out: &mut [Option<f64>]) {
        for (zone, slot) in self.zones.iter_mut().zip(out.iter_mut()) {
            *slot = match zone.energy.read::<u64>() {
                Ok(raw) => zone.advance(raw).map(|uj| uj as f64 / 1e6),
                Err(_) => None,
            };
        }
    }
}

impl Zone {
    /// Adds the energy since the last reading and returns the total in microjoules, or
    /// `None` when the counter went back with no known wrap point.
    fn advance(&mut self, raw: u64) -> Option<u64> {
        let delta = if raw >= self.last_raw_uj {
            Some(raw - self.last_raw_uj)
        } else {
            self.max_range_uj
                .filter(|&max| max >= self.last_raw_uj)
                .map(|max| max - self.last_raw_uj + raw)
        };
        self.last_raw_uj = raw;
        let delta = delta?;
        self.total_uj = self.total_uj.saturating_add(delta);
        Some(self.total_uj)
    }
}

/// A sysfs attribute kept open and read again from offset 0, which makes the kernel
/// produce a fresh value: one seek and one read per sample instead of a path lookup, open,
/// read and close, since the sampler runs beside the benchmark. Shared by the sysfs
/// readers of this crate.
pub(crate) struct SysfsFile {
    path: PathBuf,
    file: Option<File>,
}

impl SysfsFile {
    pub(crate) fn new(path: PathBuf) -> SysfsFile {
        SysfsFile { path, file: None }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the attribute and parses it (surrounding whitespace ignored). After an error
    /// the file is opened again on the next read, in case the attribute came back.
    pub(crate) fn read<T: FromStr>(&mut self) -> io::Result<T> {
        let result = self.read_raw().and_then(|text| {
            text.trim().parse::<T>().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("not a number: {:?}", text.trim()),
                )
            })
        });
        if result.is_err() {
            self.file = None;
        }
        result
    }

    fn read_raw(&mut self) -> io::Result<String> {
        let file = match self.file.take() {
            Some(mut f) => {
                f.seek(SeekFrom::Start(0))?;
                f
            }
            None => File::open(&self.path)?,
        };
        let file = self.file.insert(file);
        // Every attribute read here is one short number; a sysfs attribute comes whole in
        // one read.
        let mut buf = [0u8; 64];
        let n = file.read(&mut buf)?;
        String::from_utf8(buf[..n].to_vec())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not text"))
    }
}

/// The entries of `dir` (files and directories, links followed later), sorted so that
/// `cpu10` comes after `cpu9`; an unreadable directory has none.
pub(crate) fn list_dir(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect();
    out.sort_by_cached_key(|(name, _)| natural_key(name));
    out
}

/// A one-line text attribute (a zone or rail name), trimmed; `None` when missing or empty.
pub(crate) fn read_label(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A sort key that orders the digit runs of a name by value.
pub(crate) fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut n: u64 = 0;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(u64::from(d));
                chars.next();
            }
            key.push((std::mem::take(&mut text), n));
        } else {
            text.push(c);
            chars.next();
        }
    }
    if !text.is_empty() {
        key.push((text, 0));
    }
    key
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const MAX: u64 = 262_143_328_850;

    /// A zone laid out as the kernel does it: the directory in the device tree, a link to
    /// it in `class/powercap`.
    fn zone(sysfs: &Path, rel: &str, name: &str, energy_uj: u64) -> PathBuf {
        let dir = sysfs.join("devices/virtual/powercap/intel-rapl").join(rel);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("name"), format!("{name}\n")).unwrap();
        fs::write(dir.join("energy_uj"), format!("{energy_uj}\n")).unwrap();
        fs::write(dir.join("max_energy_range_uj"), format!("{MAX}\n")).unwrap();
        let class = sysfs.join("class/powercap");
        fs::create_dir_all(&class).unwrap();
        let leaf = dir.file_name().unwrap();
        std::os::unix::fs::symlink(&dir, class.join(leaf)).unwrap();
        dir
    }

    /// The control-type directory, which has no counter of its own.
    fn control_type(sysfs: &Path) {
        let dir = sysfs.join("devices/virtual/powercap/intel-rapl");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("enabled"), "1\n").unwrap();
        std::os::unix::fs::symlink(&dir, sysfs.join("class/powercap/intel-rapl")).unwrap();
    }

    fn read(src: &mut RaplSource) -> Vec<Option<f64>> {
        let mut out = vec![Some(-1.0); src.channels().len()];
        src.read(&mut out);
        out
    }

    fn devices(src: &RaplSource) -> Vec<(&str, bool)> {
        src.channels()
            .iter()
            .map(|c| (c.device.as_str(), c.in_total))
            .collect()
    }

    #[test]
    fn two_packages_with_subzones_are_named_uniquely_and_counted_once() {
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path();
        zone(sys, "intel-rapl:0", "package-0", 1_000);
        zone(sys, "intel-rapl:0/intel-rapl:0:0", "core", 10);
        zone(sys, "intel-rapl:0/intel-rapl:0:1", "dram", 20);
        zone(sys, "intel-rapl:1", "package-1", 2_000);
        zone(sys, "intel-rapl:1/intel-rapl:1:0", "dram", 30);
        zone(sys, "intel-rapl:2", "psys", 40);
        control_type(sys);

        let src = open(sys).unwrap();
        assert_eq!(
            devices(&src),
            [
                ("package-0", true),
                ("core", false),
                ("dram (package-0)", true),
                ("package-1", true),
                ("dram (package-1)", true),
                ("psys", false),
            ]
        );
        assert!(src
            .channels()
            .iter()
            .all(|c| c.quantity == Quantity::EnergyJ && c.source == "rapl"));
    }

    #[test]
    fn energy_is_cumulative_since_open_and_undoes_the_wrap() {
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path();
        let pkg = zone(sys, "intel-rapl:0", "package-0", MAX - 3_000_000);
        let core = zone(sys, "intel-rapl:0/intel-rapl:0:0", "core", 5_000_000);

        let mut src = open(sys).unwrap();
        assert_eq!(read(&mut src), [Some(0.0), Some(0.0)]);

        fs::write(pkg.join("energy_uj"), (MAX - 1_000_000).to_string()).unwrap();
        fs::write(core.join("energy_uj"), "6500000").unwrap();
        assert_eq!(read(&mut src), [Some(2.0), Some(1.5)]);

        // The package counter wraps: 1 J up to the wrap point, 4 J after it.
        fs::write(pkg.join("energy_uj"), "4000000").unwrap();
        assert_eq!(read(&mut src), [Some(7.0), Some(1.5)]);

        fs::write(pkg.join("energy_uj"), "4500000").unwrap();
        assert_eq!(read(&mut src)[0], Some(7.5));
    }

    #[test]
    fn a_counter_that_goes_back_with_no_wrap_point_reads_none_not_zero() {
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path();
        let pkg = zone(sys, "intel-rapl:0", "package-0", 9_000_000);
        fs::remove_file(pkg.join("max_energy_range_uj")).unwrap();
        let mut src = open(sys).unwrap();
        fs::write(pkg.join("energy_uj"), "1000000").unwrap();
        assert_eq!(read(&mut src), [None]);
        // Counting goes on from the new value.
        fs::write(pkg.join("energy_uj"), "3000000").unwrap();
        assert_eq!(read(&mut src), [Some(2.0)]);
    }

    #[test]
    fn a_failed_read_is_none_for_that_read_only() {
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path();
        let pkg = zone(sys, "intel-rapl:0", "package-0", 1_000_000);
        let mut src = open(sys).unwrap();
        fs::write(pkg.join("energy_uj"), "garbage").unwrap();
        assert_eq!(read(&mut src), [None]);
        fs::write(pkg.join("energy_uj"), "3000000").unwrap();
        assert_eq!(read(&mut src), [Some(2.0)]);
    }

    #[test]
    fn no_powercap_is_unavailable_with_the_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let err = open(tmp.path()).err().unwrap();
        assert_eq!(err.source, "rapl");
        assert!(err.reason.contains("class/powercap"), "{}", err.reason);
        assert!(err.reason.contains("virtual machines"), "{}", err.reason);
    }

    #[test]
    fn zones_without_a_counter_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path();
        zone(sys, "intel-rapl:0", "package-0", 1);
        let broken = zone(sys, "intel-rapl:1", "package-1", 1);
        fs::remove_file(broken.join("energy_uj")).unwrap();
        control_type(sys);
        let src = open(sys).unwrap();
        assert_eq!(devices(&src), [("package-0", true)]);

        let only_control = tempfile::tempdir().unwrap();
        fs::create_dir_all(only_control.path().join("class/powercap")).unwrap();
        control_type(only_control.path());
        let err = open(only_control.path()).err().unwrap();
        assert!(err.reason.contains("no powercap zone"), "{}", err.reason);
    }

    #[test]
    fn the_same_package_through_mmio_counts_once() {
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path();
        zone(sys, "intel-rapl:0", "package-0", 1);
        let mmio = sys.join("devices/virtual/powercap/intel-rapl-mmio/intel-rapl-mmio:0");
        fs::create_dir_all(&mmio).unwrap();
        fs::write(mmio.join("name"), "package-0\n").unwrap();
        fs::write(mmio.join("energy_uj"), "1\n").unwrap();
        std::os::unix::fs::symlink(&mmio, sys.join("class/powercap/intel-rapl-mmio:0")).unwrap();
        let src = open(sys).unwrap();
        assert_eq!(
            devices(&src),
            [
                ("package-0", true),
                ("package-0 (intel-rapl-mmio:0)", false)
            ]
        );
    }

    /// Whether the test runs where file permissions bind. As root they do not: the test then
    /// runs itself again as `nobody` (through util-linux's `setpriv`) and checks that run
    /// passed, so that CI, which runs as root, still exercises the denied path.
    pub(crate) fn permissions_bind(path: &Path, test: &str) -> bool {
        if fs::read(path).is_err() {
            return true;
        }
        let exe = std::env::current_exe().unwrap();
        let run = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe)
            .args(["--exact", test, "--test-threads=1"])
            .env("TMPDIR", "/tmp")
            .output();
        match run {
            // The harness started as nobody: its verdict counts.
            Ok(o) if String::from_utf8_lossy(&o.stdout).contains("running 1 test") => {
                let out = String::from_utf8_lossy(&o.stdout);
                assert!(
                    o.status.success() && out.contains("1 passed"),
                    "{test} as nobody: {out}{}",
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            Ok(o) => eprintln!(
                "skipped: {} is readable after chmod 000 (running as root) and the test could not run as nobody: {}",
                path.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!(
                "skipped: {} is readable after chmod 000 (running as root) and setpriv could not run ({e})",
                path.display()
            ),
        }
        false
    }

    #[test]
    fn permission_denied_names_the_file_and_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path();
        let pkg = zone(sys, "intel-rapl:0", "package-0", 1);
        let file = pkg.join("energy_uj");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o000)).unwrap();
        if !permissions_bind(
            &file,
            "rapl::tests::permission_denied_names_the_file_and_the_fix",
        ) {
            return;
        }
        let err = open(sys).err().unwrap();
        assert!(
            err.reason.contains("permission denied reading"),
            "{}",
            err.reason
        );
        assert!(err.reason.contains("energy_uj"), "{}", err.reason);
        assert!(err.reason.contains("chmod a+r"), "{}", err.reason);
    }

    #[test]
    fn readable_zones_are_used_when_others_are_denied() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path();
        let pkg = zone(sys, "intel-rapl:0", "package-0", 1);
        zone(sys, "intel-rapl:1", "package-1", 1);
        let file = pkg.join("energy_uj");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o000)).unwrap();
        if !permissions_bind(
            &file,
            "rapl::tests::readable_zones_are_used_when_others_are_denied",
        ) {
            return;
        }
        let src = open(sys).unwrap();
        assert_eq!(devices(&src), [("package-1", true)]);
    }

    #[test]
    fn natural_order_puts_ten_after_nine() {
        let mut names = ["cpu10", "cpu9", "cpu1", "intel-rapl:0:10", "intel-rapl:0:2"];
        names.sort_by_key(|s| natural_key(s));
        assert_eq!(
            names,
            ["cpu1", "cpu9", "cpu10", "intel-rapl:0:2", "intel-rapl:0:10"]
        );
    }
}
