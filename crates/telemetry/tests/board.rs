//! The board state of a Jetson read from fixture trees (`tests/fixtures/boards`): a Nano in
//! MAXN with jetson_clocks on, a Nano in 5W with its clocks free, an AGX Orin in MAXN with
//! jetson_clocks off; the maximum-mode rule on real nvpmodel configurations.

use edgebench_telemetry::tegra_board::{
    max_modes, parse_conf, parse_query, BoardOptions, BoardState,
};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/boards")
        .join(name)
}

fn read(name: &str) -> BoardState {
    BoardState::read(&BoardOptions {
        root: fixture(name),
    })
    .unwrap_or_else(|| panic!("{name}: not taken for a Jetson"))
}

#[test]
fn nano_in_maxn_with_jetson_clocks_is_at_maximum_performance() {
    let b = read("nano-maxn-clocks");
    assert_eq!(b.model.as_deref(), Some("NVIDIA Jetson Nano Developer Kit"));
    assert_eq!(b.l4t.as_deref(), Some("R32.7.1"));
    let mode = b.power_mode.as_ref().unwrap();
    assert_eq!((mode.id, mode.name.as_str()), (0, "MAXN"));
    assert_eq!(mode.source, "nvpmodel -q");
    assert_eq!(mode.is_max, Some(true));
    assert_eq!(mode.default_id, Some(0));
    assert_eq!(b.jetson_clocks, Some(true));
    assert_eq!(b.cpus_online.as_deref(), Some("0-3"));
    assert_eq!(b.cpu.len(), 1, "{:?}", b.cpu);
    let cpu = &b.cpu[0];
    assert_eq!(cpu.cpus, "0-3");
    assert_eq!(cpu.governor.as_deref(), Some("schedutil"));
    assert_eq!(cpu.clock.cur_mhz, Some(1479.0));
    assert_eq!(cpu.clock.min_mhz, Some(1479.0));
    assert_eq!(cpu.clock.hw_max_mhz, Some(1479.0));
    assert_eq!(cpu.clock.locked, Some(true));
    let gpu = b.gpu.as_ref().unwrap();
    assert_eq!(
        (gpu.cur_mhz, gpu.max_mhz, gpu.hw_max_mhz, gpu.locked),
        (Some(921.6), Some(921.6), Some(921.6), Some(true))
    );
    let emc = b.emc.as_ref().unwrap();
    assert_eq!((emc.cur_mhz, emc.locked), (Some(1600.0), Some(true)));
    let fan = b.fan.as_ref().unwrap();
    assert_eq!((fan.pwm, fan.percent), (255, 100.0));
    assert_eq!(fan.path, "/sys/devices/pwm-fan/target_pwm");
    assert_eq!(b.max_performance, Some(true));
    assert_eq!(b.fix, None);
    assert_eq!(b.shortfall, None);
    assert!(b.notes.is_empty(), "{:?}", b.notes);
    assert_eq!(
        b.summary(),
        "NVIDIA Jetson Nano Developer Kit, L4T R32.7.1, power mode MAXN (0, maximum), \
         jetson_clocks on, CPU 0-3 at 1479 MHz, GPU 921.6 MHz, EMC 1600 MHz, fan 100%"
    );
}

#[test]
fn nano_in_5w_names_both_commands() {
    let b = read("nano-5w");
    let mode = b.power_mode.as_ref().unwrap();
    assert_eq!(
        (mode.id, mode.name.as_str(), mode.is_max),
        (1, "5W", Some(false))
    );
    assert_eq!(mode.max_modes.len(), 1);
    assert_eq!(
        (mode.max_modes[0].id, mode.max_modes[0].name.as_str()),
        (0, "MAXN")
    );
    assert_eq!(b.cpus_online.as_deref(), Some("0-1"));
    // Two CPUs online, capped at 918 MHz of the 1479 the hardware can.
    assert_eq!(b.cpu[0].cpus, "0-1");
    assert_eq!(b.cpu[0].clock.max_mhz, Some(918.0));
    assert_eq!(b.cpu[0].clock.hw_max_mhz, Some(1479.0));
    assert_eq!(b.cpu[0].clock.locked, Some(false));
    assert_eq!(b.gpu.as_ref().unwrap().locked, Some(false));
    assert_eq!(b.jetson_clocks, Some(false));
    assert_eq!(b.max_performance, Some(false));
    assert_eq!(
        b.fix.as_deref(),
        Some("sudo nvpmodel -m 0 && sudo jetson_clocks")
    );
    let short = b.shortfall.as_deref().unwrap();
    assert!(
        short.contains("power mode 5W (1), not the maximum MAXN (0)"),
        "{short}"
    );
    assert!(
        short.contains("jetson_clocks is off (CPU 0-1 102-918 MHz, GPU 76.8-640 MHz)"),
        "{short}"
    );
    // debugfs is not there (not root): the EMC clock is missing, and the note says why.
    assert!(b.emc.is_none());
    assert!(
        b.notes
            .iter()
            .any(|n| n.contains("EMC clock") && n.contains("root")),
        "{:?}",
        b.notes
    );
    assert_eq!(b.fan.as_ref().unwrap().pwm, 0);
}

#[test]
fn orin_in_maxn_with_free_clocks_needs_only_jetson_clocks() {
    let b = read("orin-agx");
    assert_eq!(b.l4t.as_deref(), Some("R35.2.1"));
    let mode = b.power_mode.as_ref().unwrap();
    assert_eq!(
        (mode.id, mode.name.as_str(), mode.is_max),
        (0, "MAXN", Some(true))
    );
    assert_eq!(mode.default_id, Some(2));
    let clusters: Vec<&str> = b.cpu.iter().map(|c| c.cpus.as_str()).collect();
    assert_eq!(clusters, ["0-3", "4-7", "8-11"]);
    assert!(b.cpu.iter().all(|c| c.clock.max_mhz == Some(2201.6)));
    let gpu = b.gpu.as_ref().unwrap();
    assert_eq!((gpu.cur_mhz, gpu.hw_max_mhz), (Some(306.0), Some(1300.5)));
    let emc = b.emc.as_ref().unwrap();
    assert_eq!(
        (emc.cur_mhz, emc.max_mhz, emc.locked),
        (Some(2133.0), Some(3199.0), Some(false))
    );
    let fan = b.fan.as_ref().unwrap();
    assert_eq!(
        (fan.pwm, fan.path.as_str()),
        (55, "/sys/class/hwmon/hwmon2/pwm1")
    );
    assert_eq!(b.jetson_clocks, Some(false));
    assert_eq!(b.max_performance, Some(false));
    assert_eq!(b.fix.as_deref(), Some("sudo jetson_clocks"));
    let short = b.shortfall.as_deref().unwrap();
    assert!(!short.contains("power mode"), "{short}");
    assert!(short.contains("EMC not locked"), "{short}");
}

#[test]
fn without_nvpmodel_the_mode_comes_from_its_status_file() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&fixture("nano-5w"), tmp.path());
    std::fs::remove_file(tmp.path().join("usr/sbin/nvpmodel")).unwrap();
    let b = read_at(tmp.path());
    let mode = b.power_mode.as_ref().unwrap();
    assert_eq!((mode.id, mode.name.as_str()), (1, "5W"));
    assert_eq!(mode.source, "/var/lib/nvpmodel/status");
    assert_eq!(
        b.fix.as_deref(),
        Some("sudo nvpmodel -m 0 && sudo jetson_clocks")
    );
}

#[test]
fn a_broken_nvpmodel_is_a_note_not_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&fixture("nano-maxn-clocks"), tmp.path());
    write_script(
        &tmp.path().join("usr/sbin/nvpmodel"),
        "echo 'NVPM ERROR: failed' >&2; exit 1",
    );
    std::fs::remove_file(tmp.path().join("var/lib/nvpmodel/status")).unwrap();
    let b = read_at(tmp.path());
    assert!(b.power_mode.is_none());
    assert!(
        b.notes
            .iter()
            .any(|n| n.contains("-q") && n.contains("exit")),
        "{:?}",
        b.notes
    );
    // jetson_clocks is known, the mode is not: no verdict either way.
    assert_eq!(b.jetson_clocks, Some(true));
    assert_eq!(b.max_performance, None);
    assert_eq!(b.fix, None);
}

#[test]
fn a_machine_that_is_not_a_jetson_has_no_board_state() {
    let tmp = tempfile::tempdir().unwrap();
    let cpu = tmp.path().join("sys/devices/system/cpu/cpu0/cpufreq");
    std::fs::create_dir_all(&cpu).unwrap();
    std::fs::write(cpu.join("scaling_cur_freq"), "2400000\n").unwrap();
    std::fs::create_dir_all(tmp.path().join("sys/firmware/devicetree/base")).unwrap();
    std::fs::write(
        tmp.path().join("sys/firmware/devicetree/base/model"),
        "Raspberry Pi 4 Model B Rev 1.4\0",
    )
    .unwrap();
    assert_eq!(
        BoardState::read(&BoardOptions {
            root: tmp.path().to_path_buf()
        }),
        None
    );
    // And the real machine these tests run on (x86_64 CI) is none either.
    if !Path::new("/etc/nv_tegra_release").exists() {
        assert_eq!(BoardState::read(&BoardOptions::default()), None);
    }
}

#[test]
fn maxn_is_the_maximum_where_the_configuration_has_it() {
    for (tree, modes) in [("nano-5w", 2), ("orin-agx", 4)] {
        let text = std::fs::read_to_string(fixture(tree).join("etc/nvpmodel.conf")).unwrap();
        let conf = parse_conf(&text);
        assert_eq!(conf.modes.len(), modes, "{tree}");
        let max: Vec<(u32, &str)> = max_modes(&conf)
            .into_iter()
            .map(|m| (m.id, m.name.as_str()))
            .collect();
        assert_eq!(max, [(0, "MAXN")], "{tree}");
    }
    let orin = parse_conf(
        &std::fs::read_to_string(fixture("orin-agx").join("etc/nvpmodel.conf")).unwrap(),
    );
    let m15 = &orin.modes[1];
    assert_eq!(
        (m15.id, m15.name.as_str(), m15.cores_online),
        (1, "MODE_15W", 4)
    );
    assert_eq!(m15.gated_tpcs, 5, "TPC_PG_MASK 248 gates five TPCs");
    assert!(m15
        .max_freq
        .contains(&("GPU".to_string(), Some(420_750_000))));
    assert!(orin.modes[0].max_freq.contains(&("EMC".to_string(), None)));
    assert_eq!(orin.default_id, Some(2));
}

/// Without a MAXN mode the rule falls back to limits. This configuration is made up to
/// test that rule (shaped like Xavier NX's, which has no MAXN and trades cores for clock):
/// 20W_6CORE and 20W_2CORE both keep limits no other mode exceeds; 15W_6CORE is exceeded by
/// 20W_6CORE everywhere.
#[test]
fn without_maxn_the_modes_no_other_exceeds_are_the_maximum() {
    let conf = parse_conf(
        "< POWER_MODEL ID=0 NAME=MODE_15W_6CORE >\n\
         CPU_ONLINE CORE_0 1\nCPU_ONLINE CORE_1 1\nCPU_ONLINE CORE_2 1\n\
         CPU_ONLINE CORE_3 1\nCPU_ONLINE CORE_4 1\nCPU_ONLINE CORE_5 1\n\
         CPU_DENVER_0 MAX_FREQ 1190400 # 1.19 GHz\nGPU MAX_FREQ 1109250000\nEMC MAX_FREQ 1600000000\n\n\
         < POWER_MODEL ID=6 NAME=MODE_20W_2CORE >\n\
         CPU_ONLINE CORE_0 1\nCPU_ONLINE CORE_1 1\nCPU_ONLINE CORE_2 0\n\
         CPU_ONLINE CORE_3 0\nCPU_ONLINE CORE_4 0\nCPU_ONLINE CORE_5 0\n\
         CPU_DENVER_0 MAX_FREQ 1907200\nGPU MAX_FREQ 1109250000\nEMC MAX_FREQ 1866000000\n\n\
         < POWER_MODEL ID=8 NAME=MODE_20W_6CORE >\n\
         CPU_ONLINE CORE_0 1\nCPU_ONLINE CORE_1 1\nCPU_ONLINE CORE_2 1\n\
         CPU_ONLINE CORE_3 1\nCPU_ONLINE CORE_4 1\nCPU_ONLINE CORE_5 1\n\
         CPU_DENVER_0 MAX_FREQ 1420800\nGPU MAX_FREQ 1109250000\nEMC MAX_FREQ 1866000000\n\n\
         < PM_CONFIG DEFAULT=8 >\n",
    );
    assert_eq!(conf.default_id, Some(8));
    let max: Vec<u32> = max_modes(&conf).into_iter().map(|m| m.id).collect();
    // Best first: most cores online.
    assert_eq!(max, [8, 6]);
}

#[test]
fn nvpmodel_query_output() {
    // As jetson-stats' emulator and NVIDIA's forum posts show it.
    assert_eq!(
        parse_query("NVPM WARN: fan mode is not set!\nNV Power Mode: MAXN\n0\n"),
        Some((0, "MAXN".to_string()))
    );
    assert_eq!(
        parse_query("NV Fan Mode:quiet\nNV Power Mode: MODE_15W_6CORE\n2\n"),
        Some((2, "MODE_15W_6CORE".to_string()))
    );
    assert_eq!(parse_query("NV Power Mode: MAXN\n"), None);
    assert_eq!(parse_query("nvpmodel: command not found\n"), None);
}

fn read_at(root: &Path) -> BoardState {
    BoardState::read(&BoardOptions {
        root: root.to_path_buf(),
    })
    .unwrap()
}

fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}
