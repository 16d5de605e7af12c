//! Energy cells shared by the bench views (terminal table, Markdown, CSV): power, energy per
//! inference, FPS per watt and the throttle verdict of a variant's telemetry. A figure that
//! nothing measured is `n/a` in a table, an empty cell in CSV, and the reason is said once
//! under the table; never a zero.

use crate::fmt::sig;
use edgebench_core::schema::{Status, VariantResult};
use edgebench_core::telemetry::energy::{Energy, ThrottleVerdict};

/// Headers of the energy columns in the terminal and Markdown tables. Energy per inference
/// is always in millijoules, whatever its size, so that a column reads one unit.
pub const HEADERS: [&str; 5] = [
    "power W",
    "mJ/inference",
    "above idle mJ",
    "FPS/W",
    "throttle",
];

/// Why a variant that ran has no telemetry at all.
pub const NO_TELEMETRY: &str = "no telemetry was recorded (--no-telemetry)";

/// Joules as millijoules, about three significant digits.
pub fn mj(j: f64) -> String {
    sig(j * 1e3)
}

/// The throttle verdict for a table, marked when the device slowed down.
pub fn throttle_cell(v: ThrottleVerdict) -> String {
    if throttled(v) {
        format!("⚠ {v}")
    } else {
        v.to_string()
    }
}

/// The device slowed down while the samples were taken.
pub fn throttled(v: ThrottleVerdict) -> bool {
    v.slowed()
}

/// The verdict as in the JSON (`clocks_dropped`), for CSV.
pub fn throttle_key(v: ThrottleVerdict) -> &'static str {
    match v {
        ThrottleVerdict::Ok => "ok",
        ThrottleVerdict::Throttled => "throttled",
        ThrottleVerdict::ClocksDropped => "clocks_dropped",
        ThrottleVerdict::Unknown => "unknown",
    }
}

/// The cells under [`HEADERS`]: `-` without telemetry (its reason is under the table),
/// `n/a` for what the telemetry could not measure.
pub fn cells(e: Option<&Energy>) -> Vec<String> {
    let Some(e) = e else {
        return vec!["-".to_owned(); HEADERS.len()];
    };
    let na = || "n/a".to_owned();
    let throttle = throttle_cell(e.throttle.verdict);
    match &e.total {
        None => vec![na(), na(), na(), na(), throttle],
        Some(t) => vec![
            sig(t.avg_power_w),
            mj(t.energy_per_inference_j),
            t.energy_per_inference_above_idle_j.map_or_else(na, mj),
            t.fps_per_w.map_or_else(na, sig),
            throttle,
        ],
    }
}

/// Why a variant has no energy per inference, or `None` when it has one (or did not run:
/// its error says why).
pub fn na_reason(r: &VariantResult) -> Option<String> {
    match &r.energy {
        Some(e) if e.total.is_none() => Some(
            e.total_na
                .clone()
                .unwrap_or_else(|| "no power total in the telemetry".to_owned()),
        ),
        Some(_) => None,
        None if r.status == Status::Failed => None,
        None => Some(NO_TELEMETRY.to_owned()),
    }
}

/// Lines for under a table: each reason for `n/a` once (naming the variants when they differ),
/// and the telemetry's caveats per variant.
pub fn notes(results: &[VariantResult]) -> Vec<String> {
    let mut reasons: Vec<(String, Vec<&str>)> = vec![];
    for r in results {
        if let Some(why) = na_reason(r) {
            match reasons.iter_mut().find(|(w, _)| *w == why) {
                Some((_, specs)) => specs.push(&r.spec),
                None => reasons.push((why, vec![&r.spec])),
            }
        }
    }
    let ran = results
        .iter()
        .filter(|r| r.status != Status::Failed)
        .count();
    let mut out = vec![];
    for (why, specs) in &reasons {
        if specs.len() >= ran {
            out.push(format!("energy: n/a: {why}"));
        } else {
            out.push(format!("energy: n/a for {}: {why}", specs.join(", ")));
        }
    }
    for r in results {
        let Some(e) = &r.energy else { continue };
        if let Some(t) = &e.total {
            if t.idle_power_w.is_none() {
                out.push(format!(
                    "{}: energy above idle: n/a: idle power was not measured (--idle-time 0)",
                    r.spec
                ));
            }
        }
        for n in &e.notes {
            out.push(format!("{}: energy: {n}", r.spec));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Telemetry summaries built by hand for the views' tests.

    use edgebench_core::telemetry::energy::{
        DevicePower, Energy, EnergyMethod, SamplerCost, Throttle, ThrottleVerdict, Totals,
        WindowInfo, WindowKind,
    };

    fn base(inferences: usize) -> Energy {
        Energy {
            window: WindowInfo {
                kind: WindowKind::Sampling,
                duration_s: 2.0,
                inferences,
                samples: 40,
            },
            devices: vec![],
            total: None,
            total_na: None,
            clocks: vec![],
            throttle: Throttle {
                verdict: ThrottleVerdict::Ok,
                reasons: vec![],
                detail: "no throttle reason fired (gpu0 sm clock 1980-1980 MHz)".into(),
            },
            unavailable: vec![],
            sampler: SamplerCost {
                period_ms: 50.0,
                readings: 60,
                mean_read_ms: 0.2,
                max_read_ms: 0.5,
                busy_pct: 0.4,
            },
            notes: vec![],
            work_unmeasured: None,
        }
    }

    /// A GPU at `watts` for 2 s over `inferences` inferences, its counter reading `counter_j`
    /// and its sampled power giving `watts` x 2 s; idle 60 W; 50 items/s.
    pub fn measured(watts: f64, counter_j: f64, inferences: usize) -> Energy {
        let mut e = base(inferences);
        let n = inferences as f64;
        e.devices = vec![DevicePower {
            device: "gpu0".into(),
            source: "nvml".into(),
            in_total: true,
            avg_power_w: Some(watts),
            peak_power_w: Some(watts * 1.2),
            energy_j: Some(counter_j),
            method: Some(EnergyMethod::Counter),
            power_x_time_j: Some(watts * 2.0),
            idle_power_w: Some(60.0),
            temperature_max_c: Some(60.0),
            utilization_mean_pct: Some(90.0),
            memory_used_max_mib: Some(1000.0),
        }];
        let avg = counter_j / 2.0;
        e.total = Some(Totals {
            devices: vec!["gpu0".into()],
            avg_power_w: avg,
            peak_power_w: Some(watts * 1.2),
            energy_j: counter_j,
            energy_per_inference_j: counter_j / n,
            inferences_per_j: n / counter_j,
            fps_per_w: Some(50.0 / avg),
            idle_power_w: Some(60.0),
            energy_per_inference_above_idle_j: Some((counter_j - 120.0) / n),
            grid_gco2_per_kwh: Some(400.0),
            co2_g_per_1000_inferences: Some(counter_j / n * 1000.0 / 3.6e6 * 400.0),
        });
        e
    }

    /// No power sensor: only the reason.
    pub fn no_sensor(why: &str) -> Energy {
        let mut e = base(100);
        e.total_na = Some(why.into());
        e.throttle = Throttle {
            verdict: ThrottleVerdict::Unknown,
            reasons: vec![],
            detail: "no throttle reasons or clocks to judge by".into(),
        };
        e
    }

    /// [`measured`], throttled by the power cap.
    pub fn throttled(watts: f64, counter_j: f64, inferences: usize) -> Energy {
        let mut e = measured(watts, counter_j, inferences);
        e.throttle = Throttle {
            verdict: ThrottleVerdict::Throttled,
            reasons: vec!["gpu0: sw_power_cap".into()],
            detail:
                "throttle reasons fired: gpu0: sw_power_cap; clocks gpu0 sm clock 1410-1980 MHz"
                    .into(),
        };
        e
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{measured, no_sensor};
    use super::*;

    #[test]
    fn cells_of_a_measured_variant_are_in_the_headers_units() {
        // 400 J over 100 inferences: 4 J = 4000 mJ each; (400 - 60 W x 2 s) / 100 = 2.8 J
        // above idle; 200 W average, 50 items/s: 0.25 FPS/W.
        let c = cells(Some(&measured(190.0, 400.0, 100)));
        assert_eq!(c, ["200", "4000", "2800", "0.250", "ok"]);
    }

    #[test]
    fn without_a_sensor_cells_are_na_never_zero() {
        let c = cells(Some(&no_sensor(
            "no power sensor: rapl: no /sys/class/powercap",
        )));
        assert_eq!(c, ["n/a", "n/a", "n/a", "n/a", "unknown"]);
        assert!(c.iter().all(|c| !c.starts_with('0')));
        assert_eq!(cells(None), ["-"; 5]);
    }

    #[test]
    fn throttled_is_marked() {
        let c = cells(Some(&super::fixtures::throttled(190.0, 400.0, 100)));
        assert_eq!(c[4], "⚠ throttled");
        assert_eq!(
            throttle_key(ThrottleVerdict::ClocksDropped),
            "clocks_dropped"
        );
    }
}
