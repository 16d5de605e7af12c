//! `edgebench sensors`: one line per channel with its reading now, one per source that cannot
//! be read and why, and a Jetson's board state.

use edgebench_core::telemetry::readings::{Reading, Readings};
use edgebench_core::telemetry::{throttle, Quantity};

/// Every reading, as `edgebench sensors` prints it (each line ends in a newline).
pub fn text(doc: &Readings) -> String {
    let mut s = String::new();
    if doc.channels.is_empty() {
        s += "no sensor can be read here: energy and throttling will be n/a\n";
    }
    for r in &doc.channels {
        let c = &r.channel;
        let total = match (c.quantity, c.in_total) {
            (Quantity::PowerW | Quantity::EnergyJ, true) => ", counted in the total",
            (Quantity::PowerW | Quantity::EnergyJ, false) => ", part of another device",
            _ => "",
        };
        s += &format!(
            "{} {} ({}{total}): {}\n",
            c.device,
            c.name,
            c.source,
            value(r)
        );
    }
    for u in &doc.unavailable {
        s += &format!("{}: n/a: {}\n", u.source, u.reason);
    }
    if let Some(b) = &doc.board {
        s += &format!("board: {}\n", b.summary());
        if let (Some(short), Some(fix)) = (&b.shortfall, &b.fix) {
            s += &format!("board: not in its maximum-performance mode ({short}); run `{fix}` before benchmarking\n");
        }
        for note in &b.notes {
            s += &format!("board: n/a: {note}\n");
        }
    }
    s
}

/// A reading with its unit; a throttle mask with the reasons that slow the clocks.
fn value(r: &Reading) -> String {
    match (r.value, r.channel.quantity) {
        (None, _) => "n/a (this reading failed)".to_owned(),
        (Some(v), Quantity::PowerW) => format!("{v:.1} W"),
        (Some(_), Quantity::EnergyJ) => "counter".to_owned(),
        (Some(v), Quantity::ClockMhz) => format!("{v:.0} MHz"),
        (Some(v), Quantity::TemperatureC) => format!("{v:.0} °C"),
        (Some(v), Quantity::UtilizationPct) => format!("{v:.0}%"),
        (Some(v), Quantity::MemoryUsedMib) => format!("{v:.0} MiB"),
        (Some(v), Quantity::ThrottleReasons) => {
            let bits = v as u64;
            let slowing = throttle::slowing(bits);
            if slowing.is_empty() {
                format!("0x{bits:x} (none slowing)")
            } else {
                format!("0x{bits:x} ({})", slowing.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_core::telemetry::Unavailable;

    #[test]
    fn no_sensor_says_energy_is_na_and_why_each_source_is_missing() {
        let doc = Readings {
            channels: vec![],
            unavailable: vec![Unavailable {
                source: "nvml".into(),
                reason: "libnvidia-ml.so.1 not found".into(),
            }],
            board: None,
        };
        assert_eq!(
            text(&doc),
            "no sensor can be read here: energy and throttling will be n/a\nnvml: n/a: libnvidia-ml.so.1 not found\n"
        );
    }
}
