//! NVML's clock-event ("throttle") reasons: which ones mean a slowed-down GPU.

/// Bit, name, and whether it slows a benchmark down. Values from `nvml.h`
/// (`nvmlClocksEventReason*`, formerly `nvmlClocksThrottleReason*`).
pub const REASONS: &[(u64, &str, bool)] = &[
    (0x1, "gpu_idle", false),
    (0x2, "applications_clocks_setting", false),
    (0x4, "sw_power_cap", true),
    (0x8, "hw_slowdown", true),
    (0x10, "sync_boost", true),
    (0x20, "sw_thermal_slowdown", true),
    (0x40, "hw_thermal_slowdown", true),
    (0x80, "hw_power_brake_slowdown", true),
    (0x100, "display_clock_setting", false),
];

/// The reasons in `bits` that slow the GPU down (idle, clocks set by the user and the
/// display clock do not count).
pub fn slowing(bits: u64) -> Vec<&'static str> {
    REASONS
        .iter()
        .filter(|(bit, _, slows)| *slows && bits & bit != 0)
        .map(|(_, name, _)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_user_clocks_are_not_throttling() {
        assert!(slowing(0x1 | 0x2 | 0x100).is_empty());
        assert_eq!(
            slowing(0x4 | 0x40 | 0x1),
            ["sw_power_cap", "hw_thermal_slowdown"]
        );
    }
}
