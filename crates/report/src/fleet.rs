//! The views of a fleet (a study whose measurements name more than one device, as
//! `edgebench merge` writes it): the devices side by side (each model's baseline and best
//! variant, latency and energy per inference, on each device), then each device's own report,
//! rendered from [`StudySummary::device_view`] by the same code as a study on one device.
//! Nothing is averaged across devices. The HTML page is `html`'s, the CSV `study_csv`'s.

use crate::energy::mj;
use crate::fmt::ms;
use crate::study_md::{body, escape, provenance, terminal_table, Provenance, METHOD};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use edgebench_core::schema::study::{CrossDevice, DeviceCell, DeviceSummary, StudySummary};

/// A model's name with its batch size when above 1.
pub(crate) fn model_name(c: &CrossDevice) -> String {
    if c.batch > 1 {
        format!("{} (batch {})", c.model, c.batch)
    } else {
        c.model.clone()
    }
}

/// The cells of one device's line of the cross-device table: baseline, its ms, best variant,
/// its ms, speed-up, baseline mJ, best mJ; `-` where there is nothing.
pub(crate) fn cells(c: &DeviceCell) -> [String; 7] {
    let dash = || "-".to_owned();
    [
        c.baseline.clone().unwrap_or_else(dash),
        c.baseline_ms.map_or_else(dash, ms),
        c.best.clone().unwrap_or_else(dash),
        c.best_ms.map_or_else(dash, ms),
        c.best_speedup.map_or_else(dash, |x| format!("{x:.2}x")),
        c.baseline_energy_j.map_or_else(dash, mj),
        c.best_energy_j.map_or_else(dash, mj),
    ]
}

/// Headers of [`cells`].
pub(crate) const HEADERS: [&str; 7] = [
    "Baseline",
    "Baseline ms",
    "Best variant",
    "Best ms",
    "Speed-up",
    "Baseline mJ/inference",
    "Best mJ/inference",
];

/// What the cross-device view shows, in a sentence.
pub(crate) const ABOUT: &str = "Each device analysed on its own: its baseline's median latency, its fastest variant that passed the accuracy gate (and its speed-up over that device's baseline), and energy per inference where the device measured it. Nothing is averaged across devices. A dash: not measured on that device, no variant counted, or no power sensor (the device's section says which).";

/// The hosts of a device in a few words: each host's CPU and host name.
pub(crate) fn hosts_line(d: &DeviceSummary) -> String {
    d.hosts
        .iter()
        .map(|h| match &h.hostname {
            Some(n) => format!("{n}: {}", h.cpu),
            None => h.cpu.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The shards measured on a device: `1/2, 2/2`, or `not sharded`.
pub(crate) fn shards_line(d: &DeviceSummary) -> String {
    if d.shards.is_empty() {
        "not sharded".into()
    } else {
        d.shards
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Variants of a device that count (ran and passed the gate), of those measured.
fn counted(d: &DeviceSummary) -> String {
    let candidates = || d.rows.iter().filter(|r| !r.is_baseline);
    format!(
        "{} of {}",
        candidates().filter(|r| r.counted).count(),
        candidates().count()
    )
}

/// `report.md` of a fleet.
pub fn markdown(s: &StudySummary) -> String {
    let mut o = format!("# edgebench study: {}\n\n", escape(&s.name));
    o.push_str(&format!(
        "- Fleet: {} devices ({}), each analysed on its own\n",
        s.devices.len(),
        s.devices
            .iter()
            .map(|d| format!("`{}`", escape(&d.device)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    o.push_str(&provenance(s, Provenance::Fleet));
    if !s.pending.is_empty() {
        o.push_str(&format!(
            "\n**Incomplete:** {} cells of the study's plan are not measured ({}); each device's section lists them (`edgebench study --shard I/N --resume` on the shard's folder measures them, then merge again).\n",
            s.pending.len(),
            s.devices
                .iter()
                .filter(|d| !d.pending.is_empty())
                .map(|d| format!("`{}`: {}", escape(&d.device), d.pending.len()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    o.push_str("\n## Devices\n\n| Device | Hosts | Shards | Sessions | Variants counted | Missing cells |\n| --- | --- | --- | ---: | ---: | ---: |\n");
    for d in &s.devices {
        o.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            escape(&d.device),
            escape(&hosts_line(d)),
            shards_line(d),
            d.sessions,
            counted(d),
            d.pending.len()
        ));
    }

    o.push_str("\n## Across devices\n\n");
    o.push_str(ABOUT);
    o.push_str("\n\n| Model | Device | ");
    o.push_str(&HEADERS.join(" | "));
    o.push_str(" |\n| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |\n");
    for c in &s.cross_device {
        for d in &c.devices {
            let [b, bms, best, best_ms, x, bmj, best_mj] = cells(d);
            o.push_str(&format!(
                "| {} | `{}` | `{}` | {bms} | `{}` | {best_ms} | {x} | {bmj} | {best_mj} |\n",
                escape(&model_name(c)),
                escape(&d.device),
                escape(&b),
                escape(&best),
            ));
        }
    }

    for d in &s.devices {
        let v = s.device_view(d);
        o.push_str(&format!("\n## Device: `{}`\n\n", escape(&d.device)));
        o.push_str(&format!("- Shards: {}\n", shards_line(d)));
        o.push_str(&provenance(&v, Provenance::Device));
        if !d.pending.is_empty() {
            o.push_str(&format!(
                "\n**Missing cells:** {} of the plan's jobs are not measured on this device:\n\n",
                d.pending.len()
            ));
            for k in &d.pending {
                // Not in a table: a `|` needs no escape.
                o.push_str(&format!("- {}\n", escape(k).replace("\\|", "|")));
            }
        }
        body(&mut o, &v, "###");
    }
    o.push_str(METHOD);
    o
}

/// The terminal table of a fleet: each device's table under its name, then the devices side
/// by side.
pub fn terminal(s: &StudySummary) -> String {
    let mut out = String::new();
    for d in &s.devices {
        out.push_str(&format!(
            "device {} ({}; shards: {}):\n",
            d.device,
            hosts_line(d),
            shards_line(d)
        ));
        out.push_str(&terminal_table(&s.device_view(d)));
        if !d.pending.is_empty() {
            out.push_str(&format!(
                "missing on {}: {} job(s) of the plan\n",
                d.device,
                d.pending.len()
            ));
        }
        out.push('\n');
    }
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec!["model", "device"];
    header.extend(HEADERS);
    t.set_header(header);
    for c in &s.cross_device {
        for d in &c.devices {
            let right = |x: String| Cell::new(x).set_alignment(CellAlignment::Right);
            let [b, bms, best, best_ms, x, bmj, best_mj] = cells(d);
            t.add_row(vec![
                Cell::new(model_name(c)),
                Cell::new(&d.device),
                Cell::new(b),
                right(bms),
                Cell::new(best),
                right(best_ms),
                right(x),
                right(bmj),
                right(best_mj),
            ]);
        }
    }
    out.push_str(&format!(
        "across devices (each device on its own; nothing averaged across them):\n{t}\n"
    ));
    out
}
