//! tegrastats as the power source of a Jetson whose INA3221 rails sysfs does not give: the
//! rail grammar on real lines of a Nano, a Xavier NX and an AGX Orin (`tests/fixtures/
//! tegrastats`), and the source driving a stand-in `tegrastats` (`tests/fixtures/boards/
//! orin-agx/usr/bin/tegrastats`, which takes `--interval MS` and prints the Orin lines) as a
//! child process that a recording starts and stops.

use edgebench_telemetry::energy::{self, Window, WindowKind};
use edgebench_telemetry::tegrastats::{self, parse_rails, Rail};
use edgebench_telemetry::{probe, Probe, ProbeOptions, Quantity, Source, Telemetry};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The lines of a fixture file, comments left out.
fn lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(fixtures().join("tegrastats").join(name))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn summary(rails: &[Rail]) -> Vec<(&str, f64, f64)> {
    rails
        .iter()
        .map(|r| (r.name.as_str(), r.current_mw, r.average_mw))
        .collect()
}

#[test]
fn nano_rails_without_a_unit() {
    let l = lines("nano.txt");
    assert_eq!(
        summary(&parse_rails(&l[0])),
        [
            ("POM_5V_IN", 933.0, 933.0),
            ("POM_5V_GPU", 0.0, 0.0),
            ("POM_5V_CPU", 84.0, 84.0)
        ]
    );
    // The root-only fields (IRAM, EMC and GPU clocks) change nothing.
    assert_eq!(parse_rails(&l[1])[2].average_mw, 105.0);
}

#[test]
fn xavier_nx_rails_in_milliwatts() {
    let l = lines("xavier_nx.txt");
    assert_eq!(
        summary(&parse_rails(&l[0])),
        [
            ("VDD_IN", 5079.0, 5079.0),
            ("VDD_CPU_GPU_CV", 696.0, 696.0),
            ("VDD_SOC", 1104.0, 1104.0)
        ]
    );
}

#[test]
fn orin_rails_skip_unconnected_channels_and_take_three_figures() {
    let l = lines("orin.txt");
    assert_eq!(
        summary(&parse_rails(&l[0])),
        [
            ("VDD_GPU_SOC", 2390.0, 2390.0),
            ("VDD_CPU_CV", 796.0, 796.0),
            ("VIN_SYS_5V0", 3522.0, 3522.0),
            ("VDDQ_VDD2_1V8AO", 301.0, 301.0)
        ]
    );
    assert_eq!(
        summary(&parse_rails(&l[1])),
        [
            ("VDD_GPU_SOC", 5139.0, 5139.0),
            ("VDD_CPU_CV", 3268.0, 3268.0),
            ("VIN_SYS_5V0", 5500.0, 5500.0)
        ]
    );
}

#[test]
fn memory_and_clock_fields_are_not_rails() {
    for line in [
        "RAM 2257/30536MB (lfb 5392x4MB) SWAP 0/15268MB (cached 0MB)",
        "IRAM 0/252kB(lfb 252kB) EMC_FREQ 3%@204 GR3D_FREQ 12%@[1300,1300] APE 25",
        "cpu@52.968C/52.968C soc2@48.406C/48.406C",
        // Mixed units are no rail tegrastats prints.
        "VDD_IN 5079mW/5079",
        "VDD_IN 5079W/5079W",
    ] {
        assert!(
            parse_rails(line).is_empty(),
            "{line}: {:?}",
            parse_rails(line)
        );
    }
}

fn orin_tegrastats() -> PathBuf {
    fixtures().join("boards/orin-agx/usr/bin/tegrastats")
}

fn read(src: &mut dyn Source) -> Vec<Option<f64>> {
    let mut out = vec![Some(-1.0); src.channels().len()];
    src.read(&mut out);
    out
}

/// Waits until the process is gone (killed and reaped).
fn gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn pid_of(file: &Path) -> u32 {
    std::fs::read_to_string(file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn the_source_runs_tegrastats_while_recording_and_kills_it_after() {
    // A copy of the stand-in with a `tegrastats.pid` beside it, where it writes its process id.
    let tmp = tempfile::tempdir().unwrap();
    let bin = orin_tegrastats().parent().unwrap().to_path_buf();
    for f in ["tegrastats", "tegrastats.lines"] {
        std::fs::copy(bin.join(f), tmp.path().join(f)).unwrap();
    }
    let pidfile = tmp.path().join("tegrastats.pid");
    std::fs::write(&pidfile, "").unwrap();
    let mut src =
        tegrastats::open(&tmp.path().join("tegrastats"), Duration::from_millis(20)).unwrap();
    assert_eq!(src.name(), "tegrastats");
    let channels: Vec<(&str, bool, Quantity, &str)> = src
        .channels()
        .iter()
        .map(|c| (c.device.as_str(), c.in_total, c.quantity, c.source.as_str()))
        .collect();
    // AGX Orin has no input rail: its rails are separate supplies, all counted.
    assert_eq!(
        channels,
        [
            ("VDD_GPU_SOC", true, Quantity::PowerW, "tegrastats"),
            ("VDD_CPU_CV", true, Quantity::PowerW, "tegrastats"),
            ("VIN_SYS_5V0", true, Quantity::PowerW, "tegrastats"),
            ("VDDQ_VDD2_1V8AO", true, Quantity::PowerW, "tegrastats"),
        ]
    );
    // Right after opening, the first line's current power, in watts.
    assert!(src.is_running());
    let first = read(&mut src);
    assert_eq!(first[0], Some(2.39), "{first:?}");
    assert_eq!(first[2], Some(3.522), "{first:?}");
    // The second fixture line (JetPack 7, no VDDQ rail) comes next: its rails update, the
    // missing one reads None.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut later = first.clone();
    while later[0] == first[0] && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        later = read(&mut src);
    }
    assert_eq!(later, [Some(5.139), Some(3.268), Some(5.5), None]);

    let pid = pid_of(&pidfile);
    src.stop();
    assert!(!src.is_running());
    assert!(gone(pid), "tegrastats ({pid}) still runs after stop");
    assert_eq!(read(&mut src), [None, None, None, None]);

    // The next recording starts it again, and has a reading at once.
    src.start();
    assert!(src.is_running());
    assert!(read(&mut src)[0].is_some());
    let pid = pid_of(&pidfile);
    drop(src);
    assert!(gone(pid), "tegrastats ({pid}) still runs after drop");
}

#[test]
fn a_recording_starts_and_stops_tegrastats() {
    let src = tegrastats::open(&orin_tegrastats(), Duration::from_millis(20)).unwrap();
    let t = Telemetry::from_probe(
        Probe {
            sources: vec![Box::new(src)],
            unavailable: vec![],
        },
        Duration::from_millis(10),
    );
    assert!(t.has_power());
    let rec = t.start();
    let begin = Instant::now();
    std::thread::sleep(Duration::from_millis(150));
    let end = Instant::now();
    let trace = rec.stop();
    // The rails make a board total, which covers work on the GPU and on the CPU alike.
    let window = Window {
        kind: WindowKind::Sampling,
        begin,
        end,
        inferences: 10,
        throughput_per_s: None,
    };
    let mut e = energy::summarize(&trace, &window, None, None, &[]);
    let total = e.total.as_ref().expect("a power total");
    // The rails both fixture lines print are in the total. VDDQ_VDD2_1V8AO is printed by the
    // JetPack 5 line only (the lines alternate), so whether it has a reading at both ends of
    // the window depends on where the window falls: it may be in the total or not.
    for rail in ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"] {
        assert!(
            total.devices.iter().any(|d| d == rail),
            "{rail}: {:?}",
            total.devices
        );
    }
    assert!(
        total
            .devices
            .iter()
            .all(|d| d.starts_with("VDD") || d.starts_with("VIN")),
        "{:?}",
        total.devices
    );
    assert!(
        total.avg_power_w > 7.0 && total.avg_power_w < 14.0,
        "{}",
        total.avg_power_w
    );
    e.check_coverage("gpu");
    e.check_coverage("cpu");
    assert_eq!(e.work_unmeasured, None, "{:?}", e.notes);
    assert!(trace.samples.len() >= 3, "{}", trace.samples.len());
    // The first reading of the recording already has the rails.
    let first = &trace.samples[0].values;
    assert!(first[..3].iter().all(Option::is_some), "{first:?}");
    let watts: Vec<f64> = trace.samples.iter().filter_map(|s| s.values[0]).collect();
    assert!(watts.iter().all(|w| *w == 2.39 || *w == 5.139), "{watts:?}");
}

#[test]
fn a_missing_tegrastats_is_unavailable_with_the_reason() {
    let err = tegrastats::open(
        Path::new("/nonexistent/usr/bin/tegrastats"),
        Duration::from_millis(100),
    )
    .err()
    .unwrap();
    assert_eq!(err.source, "tegrastats");
    assert!(
        err.reason
            .contains("could not run /nonexistent/usr/bin/tegrastats"),
        "{}",
        err.reason
    );
    assert!(err.reason.contains("JetPack"), "{}", err.reason);
}

fn script(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("tegrastats");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_tegrastats_without_rails_or_lines_is_unavailable_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    // A Jetson TX1 prints no rails (rbonghi/jetson_stats tests/tegrastats, "TX1").
    let tx1 = script(
        tmp.path(),
        "while :; do echo 'RAM 385/3984MB (lfb 779x4MB) CPU [3%@204,1%@204,0%@204,2%@204] AO@31C CPU@25C GPU@22C PLL@21.5C Tdiode@28.75C PMIC@100C Tboard@29C thermal@23.5C'; sleep 0.05; done",
    );
    let err = tegrastats::open(&tx1, Duration::from_millis(50))
        .err()
        .unwrap();
    assert!(
        err.reason.contains("prints no power rails"),
        "{}",
        err.reason
    );

    let refuses = script(tmp.path(), "echo 'Unknown option' >&2; exit 1");
    let err = tegrastats::open(&refuses, Duration::from_millis(50))
        .err()
        .unwrap();
    assert!(
        err.reason.contains("failed") || err.reason.contains("ended"),
        "{}",
        err.reason
    );
}

/// A tree like `orin-agx` but without its INA3221 sysfs entries, standing for a board whose
/// rails sysfs does not give: the probe falls back to tegrastats. With readable rails
/// (`nano-maxn-clocks`) it does not, and a machine that is not a Jetson says so.
#[test]
fn the_probe_uses_tegrastats_only_where_the_rails_are_not_readable() {
    let opts = |tree: &str| ProbeOptions {
        sysfs: fixtures().join("boards").join(tree).join("sys"),
        nvml: false,
        root: fixtures().join("boards").join(tree),
        tegrastats_interval: Duration::from_millis(20),
    };
    let p = probe(&opts("orin-agx"));
    let sources: Vec<&str> = p.sources.iter().map(|s| s.name()).collect();
    assert!(sources.contains(&"tegrastats"), "{sources:?}");
    // The GPU clock still comes from devfreq.
    assert!(sources.contains(&"jetson"), "{sources:?}");
    assert!(!p.unavailable.iter().any(|u| u.source == "tegrastats"));

    let p = probe(&opts("nano-maxn-clocks"));
    assert!(!p.sources.iter().any(|s| s.name() == "tegrastats"));
    let why = p
        .unavailable
        .iter()
        .find(|u| u.source == "tegrastats")
        .unwrap();
    assert!(why.reason.contains("not needed"), "{}", why.reason);

    let tmp = tempfile::tempdir().unwrap();
    let p = probe(&ProbeOptions {
        sysfs: tmp.path().join("sys"),
        nvml: false,
        root: tmp.path().to_path_buf(),
        tegrastats_interval: Duration::from_millis(20),
    });
    let why = p
        .unavailable
        .iter()
        .find(|u| u.source == "tegrastats")
        .unwrap();
    assert!(why.reason.contains("not a Jetson"), "{}", why.reason);
}
