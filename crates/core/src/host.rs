//! What machine a result came from.

use edgebench_telemetry::tegra_board::{BoardOptions, BoardState};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub cpu: String,
    pub physical_cores: Option<usize>,
    pub logical_cpus: usize,
    pub memory_bytes: u64,
    pub os: String,
    pub kernel: String,
    pub arch: String,
    /// A Jetson board's power mode, jetson_clocks, clocks and fan when the result was
    /// measured (`edgebench_telemetry::tegra_board`); absent on other machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<BoardState>,
    /// The machine's host name (what a fleet study names a device by default); absent in
    /// results recorded before fleets existed, or where it cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

impl HostInfo {
    /// Reads the host description; fields that cannot be read are "unknown", never an error.
    pub fn detect() -> HostInfo {
        HostInfo::detect_with(&BoardOptions::default())
    }

    /// [`HostInfo::detect`], with a Jetson's board state read under `board.root` (tests point
    /// it at a fixture tree).
    pub fn detect_with(board: &BoardOptions) -> HostInfo {
        use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};
        let refresh = RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram());
        let (cpu, logical, memory) = match System::new_with_specifics(refresh) {
            Ok(sys) => (
                sys.cpus()
                    .first()
                    .map(|c| c.brand().trim().to_owned())
                    .unwrap_or_default(),
                sys.cpus().len(),
                sys.total_memory(),
            ),
            Err(_) => (String::new(), 0, 0),
        };
        let unknown = |s: String| {
            if s.is_empty() {
                "unknown".to_owned()
            } else {
                s
            }
        };
        HostInfo {
            cpu: unknown(cpu),
            physical_cores: System::physical_core_count().ok(),
            logical_cpus: if logical > 0 {
                logical
            } else {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            },
            memory_bytes: memory,
            os: unknown(System::long_os_version().unwrap_or_default()),
            kernel: unknown(System::kernel_version().unwrap_or_default()),
            arch: std::env::consts::ARCH.to_owned(),
            board: BoardState::read(board),
            hostname: System::host_name().ok().filter(|h| !h.is_empty()),
        }
    }
}
