//! The roofline's views (`edgebench_core::roofline`): what `edgebench roofline` prints (a
//! table, or JSON), and a study's roofline section, a log-log chart (each engine's two roofs
//! as lines, results as points) and a table, in HTML and Markdown. Roofs come from the cache
//! that `edgebench roofline` fills; nothing here measures them.

use crate::fmt::{si, sig};
use crate::html::{esc, Heads};
use crate::study_md::escape;
use crate::svg::{tick_label, LogAxis, Stroke, Svg, PALETTE};
use edgebench_core::roofline::{place, Placement, RoofCache, RoofEntry, RoofReport, RooflineError};
use edgebench_core::schema::study::{Row, StudySummary};
use edgebench_core::schema::BenchReport;
use std::fmt::Write;

/// One spec's roofs or why there are none, as `core::roofline::run` returns them.
pub type RoofOutcome = (String, Result<RoofReport, RooflineError>);

/// `edgebench roofline`'s table: one line per spec that has roofs (failures go to stderr).
pub fn roofs_text(outcomes: &[RoofOutcome]) -> String {
    let mut rows = vec![[
        "variant".to_string(),
        "engine".into(),
        "precision".into(),
        "threads".into(),
        "compute GFLOP/s".into(),
        "bandwidth GB/s".into(),
        "ridge FLOP/B".into(),
        "roofs".into(),
    ]];
    for (spec, r) in outcomes {
        let Ok(r) = r else { continue };
        let e = &r.entry;
        rows.push([
            spec.clone(),
            e.key.engine_version.clone(),
            e.precision.clone(),
            e.key.threads.to_string(),
            sig(e.roofs.compute_flops_per_s / 1e9),
            sig(e.roofs.bandwidth_bytes_per_s / 1e9),
            sig(e.roofs.ridge()),
            if r.cached { "cached" } else { "measured now" }.into(),
        ]);
    }
    let mut o = String::new();
    if rows.len() > 1 {
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (v, w))| {
                    if (4..=6).contains(&c) {
                        format!("{v:>w$}")
                    } else {
                        format!("{v:<w$}")
                    }
                })
                .collect();
            let _ = writeln!(o, "{}", cells.join("  ").trim_end());
        }
    }
    if let Some((_, Ok(r))) = outcomes.iter().find(|(_, r)| r.is_ok()) {
        let e = &r.entry;
        let _ = writeln!(
            o,
            "\nhost: {} ({} logical CPUs); compute roof: {}; bandwidth roof: {}\ncache: {}",
            e.key.cpu,
            e.key.logical_cpus,
            e.compute.model,
            e.bandwidth.model,
            r.path
                .parent()
                .map_or(String::new(), |p| p.display().to_string()),
        );
    }
    o
}

/// `edgebench roofline --json`: an array, one object per spec, `{spec, cached, path, roofs}`
/// or `{spec, error}`.
pub fn roofs_json(outcomes: &[RoofOutcome]) -> serde_json::Value {
    outcomes
        .iter()
        .map(|(spec, r)| match r {
            Ok(r) => serde_json::json!({
                "spec": spec,
                "cached": r.cached,
                "path": r.path,
                "roofs": r.entry,
            }),
            Err(e) => serde_json::json!({ "spec": spec, "error": e.to_string() }),
        })
        .collect()
}

/// The cached roofs of a study's variants, each looked up by the study's hosts, the variant's
/// spec, its engine version and the study's threads; the first host that has them wins.
pub fn study_roofs(s: &StudySummary, cache: &RoofCache) -> Vec<RoofEntry> {
    let mut out: Vec<RoofEntry> = vec![];
    for r in &s.rows {
        let Some(version) = &r.engine_version else {
            continue;
        };
        if out
            .iter()
            .any(|e| e.key.spec == r.spec && &e.key.engine_version == version)
        {
            continue;
        }
        if let Some(e) = s
            .hosts
            .iter()
            .find_map(|h| cache.lookup(h, &r.spec, version, s.config.threads))
        {
            out.push(e);
        }
    }
    out
}

/// The cached roofs of a bench run's variants, each looked up by the run's host, the spec,
/// the engine version and the threads its session recorded.
pub fn bench_roofs(r: &BenchReport, cache: &RoofCache) -> Vec<RoofEntry> {
    r.results
        .iter()
        .filter_map(|v| {
            let info = v.session.as_ref()?;
            cache.lookup(&r.host, &v.spec, &info.engine_version, info.threads)
        })
        .collect()
}

/// [`bench_text`] with the roofs of [`bench_roofs`] from the user's cache: what `bench` and
/// `pipeline` print under their table.
pub fn bench_roofline(r: &BenchReport) -> String {
    bench_text(r, &bench_roofs(r, &RoofCache::default()))
}

/// A bench run's roofline under its table: each measured variant's achieved GFLOP/s and its
/// percentage of the compute roof where `roofs` has its variant, else the command that
/// caches them. Empty when the run has no FLOPs count.
pub fn bench_text(r: &BenchReport, roofs: &[RoofEntry]) -> String {
    let mut o = String::new();
    let Some(flops) = r.model.flops.filter(|f| *f > 0) else {
        return o;
    };
    let _ = match r.model.bytes_moved {
        Some(b) => writeln!(
            o,
            "\nroofline ({} FLOPs and {}B moved per inference; docs/roofline.md):",
            si(flops as f64),
            si(b as f64)
        ),
        None => writeln!(
            o,
            "\nroofline ({} FLOPs per inference; % of the compute roof, a lower bound of the % of the attainable roof; docs/roofline.md):",
            si(flops as f64)
        ),
    };
    let width = r.results.iter().map(|v| v.spec.len()).max().unwrap_or(0);
    for v in &r.results {
        let Some(median) = v.latency_ms.as_ref().map(|l| l.median) else {
            continue;
        };
        let version = v.session.as_ref().map(|i| i.engine_version.as_str());
        let entry = roofs
            .iter()
            .find(|e| e.key.spec == v.spec && Some(e.key.engine_version.as_str()) == version);
        let bytes = r.model.bytes_moved;
        let at = entry.and_then(|e| Some((e, place(flops, bytes, median, &e.roofs)?)));
        let line = match at {
            Some((_, p)) if p.intensity.is_some() => format!(
                "{} GFLOP/s at {} FLOP/byte, {}% of the attainable roof ({} GFLOP/s, {})",
                sig(p.achieved_flops_per_s / 1e9),
                p.intensity.map_or("-".into(), sig),
                sig(p.percent_of_roof),
                sig(p.attainable_flops_per_s / 1e9),
                p.bound.map_or("-".into(), |b| b.to_string())
            ),
            Some((e, p)) => format!(
                "{} GFLOP/s, {}% of the compute roof ({} GFLOP/s)",
                sig(p.achieved_flops_per_s / 1e9),
                sig(p.percent_of_roof),
                sig(e.roofs.compute_flops_per_s / 1e9)
            ),
            None => format!(
                "{} GFLOP/s; {}",
                edgebench_core::roofline::achieved_flops_per_s(flops, median)
                    .map_or("-".into(), |f| sig(f / 1e9)),
                if can_have_roofs(&v.spec) {
                    format!(
                        "no roofs cached for it on this host: run `{}`",
                        how_to_get(&v.spec)
                    )
                } else {
                    "no roofs: they are measured on ONNX models, which the PyTorch engine does not run".into()
                }
            ),
        };
        let _ = writeln!(o, "  {:<width$}  {line}", v.spec);
    }
    o
}

/// One result under its roofs.
struct Placed<'a> {
    row: &'a Row,
    entry: &'a RoofEntry,
    at: Placement,
}

fn roof_of<'a>(roofs: &'a [RoofEntry], r: &Row) -> Option<&'a RoofEntry> {
    roofs
        .iter()
        .find(|e| e.key.spec == r.spec && Some(&e.key.engine_version) == r.engine_version.as_ref())
}

/// The rows that did work: measured, with a FLOPs count.
fn measured(s: &StudySummary) -> impl Iterator<Item = &Row> {
    s.rows
        .iter()
        .filter(|r| r.median_ms.is_some() && r.flops.is_some_and(|f| f > 0))
}

fn placed<'a>(s: &'a StudySummary, roofs: &'a [RoofEntry]) -> Vec<Placed<'a>> {
    measured(s)
        .filter_map(|row| {
            let entry = roof_of(roofs, row)?;
            // Rows that do not record the bytes their model moves (schema 1) are placed under
            // the compute roof: a lower bound of the percentage of the attainable roof.
            let at = place(row.flops?, row.bytes_moved, row.median_ms?, &entry.roofs)?;
            Some(Placed { row, entry, at })
        })
        .collect()
}

/// The variants measured without cached roofs, each with the command that caches them.
fn missing(s: &StudySummary, roofs: &[RoofEntry]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for r in measured(s) {
        if roof_of(roofs, r).is_none() && can_have_roofs(&r.spec) && !out.contains(&r.spec) {
            out.push(r.spec.clone());
        }
    }
    out
}

/// Whether `edgebench roofline` can measure a spec's roofs: its roof models are ONNX files,
/// which the PyTorch engine does not run (it needs the PyTorch model behind a file).
fn can_have_roofs(spec: &str) -> bool {
    !spec.starts_with("torch:")
}

fn how_to_get(spec: &str) -> String {
    format!("edgebench roofline -e {spec}")
}

/// A point of a roofline chart: a result at its intensity and achieved FLOP/s.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPoint {
    pub label: String,
    /// The variant, whose roofs' colour it takes.
    pub spec: String,
    pub intensity: f64,
    pub flops_per_s: f64,
}

/// A log-log roofline chart: x the arithmetic intensity (FLOP/byte), y FLOP/s; each
/// variant's bandwidth roof a sloped line up to its ridge and its compute roof a flat line
/// from there; the points coloured as their variant's roofs.
pub fn chart(roofs: &[RoofEntry], points: &[ChartPoint]) -> String {
    let (w, h, left, right, top, bottom) = (900.0, 420.0, 80.0, 880.0, 20.0, 360.0);
    let colour = |spec: &str| {
        let i = roofs.iter().position(|e| e.key.spec == spec).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    };
    let xs = roofs
        .iter()
        .map(|e| e.roofs.ridge())
        .chain(points.iter().map(|p| p.intensity))
        .flat_map(|v| [v / 10.0, v * 10.0]);
    let x = LogAxis::covering(xs, left, right);
    let ys = roofs
        .iter()
        .flat_map(|e| {
            [
                e.roofs.compute_flops_per_s * 2.0,
                e.roofs.bandwidth_bytes_per_s * x.lo,
            ]
        })
        .chain(points.iter().map(|p| p.flops_per_s))
        .map(|v| v / 1e9);
    let y = LogAxis::covering(ys, bottom, top);
    let mut svg = Svg::new(w, h, "roofline");
    crate::html::axis_x_log_with(
        &mut svg,
        &x,
        top,
        bottom,
        "arithmetic intensity (FLOP/byte, log scale)",
        tick_label,
    );
    for t in y.ticks() {
        let py = y.map(t);
        svg.line((left, py), (right, py), Stroke::solid("#eee", 1.0));
        svg.text(left - 6.0, py + 4.0, &tick_label(t), "end", 10.0, "#555");
    }
    svg.vtext(18.0, (top + bottom) / 2.0, "GFLOP/s (log scale)", 11.0);
    for e in roofs {
        let c = colour(&e.key.spec);
        let r = &e.roofs;
        let ridge = r.ridge().clamp(x.lo, x.hi);
        let at = |i: f64| (x.map(i), y.map(r.attainable(i) / 1e9));
        svg.line(at(x.lo), at(ridge), Stroke::dashed(c, 1.5));
        svg.line(at(ridge), at(x.hi), Stroke::solid(c, 1.5));
        let (lx, ly) = at(x.hi);
        svg.text(
            lx - 4.0,
            ly - 5.0,
            &format!(
                "{}: {} GFLOP/s, {} GB/s",
                e.key.spec,
                sig(r.compute_flops_per_s / 1e9),
                sig(r.bandwidth_bytes_per_s / 1e9)
            ),
            "end",
            9.0,
            c,
        );
    }
    for p in points {
        let title = format!(
            "{} · {}: {} GFLOP/s at {} FLOP/byte",
            p.label,
            p.spec,
            sig(p.flops_per_s / 1e9),
            sig(p.intensity)
        );
        svg.circle(
            x.map(p.intensity),
            y.map(p.flops_per_s / 1e9),
            4.0,
            colour(&p.spec),
            &title,
        );
    }
    svg.finish()
}

/// The roofs' table cells of one variant: spec, engine, precision, compute, bandwidth, ridge.
fn roof_cells(e: &RoofEntry) -> [String; 6] {
    [
        e.key.spec.clone(),
        e.key.engine_version.clone(),
        e.precision.clone(),
        sig(e.roofs.compute_flops_per_s / 1e9),
        sig(e.roofs.bandwidth_bytes_per_s / 1e9),
        sig(e.roofs.ridge()),
    ]
}

fn placed_cells(p: &Placed) -> [String; 8] {
    [
        p.row.model.clone(),
        p.row.batch.to_string(),
        p.row.spec.clone(),
        si(p.row.flops.unwrap_or(0) as f64),
        sig(p.at.achieved_flops_per_s / 1e9),
        p.at.intensity.map_or("-".into(), sig),
        format!(
            "{}{}%",
            if p.at.intensity.is_none() { "≥ " } else { "" },
            sig(p.at.percent_of_roof)
        ),
        p.at.bound.map_or("-".into(), |b| b.to_string()),
    ]
}

const INTRO: &str = "Achieved FLOP/s is the model's FLOPs per inference over its median latency; the roofs are each variant's own, measured through the same engine, precision and threads on this host by `edgebench roofline` (compute: a large matrix product; bandwidth: a large elementwise Add). Each row's arithmetic intensity is its FLOPs over the bytes its model moves (weights read once, every activation written once and read once); rows that do not record those bytes (written before schema 2's `bytes_moved`) are placed under the compute roof, a lower bound of the percentage of the attainable roof (marked ≥), with no intensity or bound. See docs/roofline.md.";

/// The study's roofline section in HTML: the roofs, the chart, the table; where roofs are
/// missing, the command that caches them.
pub(crate) fn html_section(o: &mut String, s: &StudySummary, roofs: &[RoofEntry], hd: &Heads) {
    if measured(s).next().is_none() {
        return;
    }
    o.push_str(&hd.section("roofline", "Roofline"));
    // INTRO's `code` spans as <code>: the odd pieces between backticks.
    let intro: String = INTRO
        .split('`')
        .enumerate()
        .map(|(i, t)| match i % 2 {
            1 => format!("<code>{}</code>", esc(t)),
            _ => esc(t),
        })
        .collect();
    let _ = writeln!(o, "<p>{intro}</p>");
    for spec in missing(s, roofs) {
        let _ = writeln!(
            o,
            "<p class=\"warn\">No roofs cached for {} on this study's host: run <code>{}</code> there, then <code>edgebench report</code> on the study's folder.</p>",
            esc(&spec),
            esc(&how_to_get(&spec))
        );
    }
    if roofs.is_empty() {
        return;
    }
    o.push_str("<table><thead><tr><th>Variant</th><th>Engine</th><th>Precision</th><th>Compute roof GFLOP/s</th><th>Bandwidth roof GB/s</th><th>Ridge FLOP/byte</th></tr></thead><tbody>\n");
    for e in roofs {
        let c = roof_cells(e).map(|c| esc(&c));
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            c[0], c[1], c[2], c[3], c[4], c[5]
        );
    }
    o.push_str("</tbody></table>\n");
    let placed = placed(s, roofs);
    let points: Vec<ChartPoint> = placed
        .iter()
        .filter_map(|p| {
            Some(ChartPoint {
                label: p.row.model.clone(),
                spec: p.entry.key.spec.clone(),
                intensity: p.at.intensity?,
                flops_per_s: p.at.achieved_flops_per_s,
            })
        })
        .collect();
    let _ = writeln!(o, "<div class=\"chart\">{}</div>", chart(roofs, &points));
    o.push_str("<table><thead><tr><th>Model</th><th>Batch</th><th>Variant</th><th>FLOPs</th><th>GFLOP/s</th><th>FLOP/byte</th><th>% of roof</th><th>Bound</th></tr></thead><tbody>\n");
    for p in &placed {
        let c = placed_cells(p).map(|c| esc(&c));
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
        );
    }
    o.push_str("</tbody></table>\n");
}

/// The study's roofline section in Markdown, headed `h`.
pub fn markdown_section(s: &StudySummary, roofs: &[RoofEntry], h: &str) -> String {
    let mut o = String::new();
    if measured(s).next().is_none() {
        return o;
    }
    let _ = writeln!(o, "\n{h} Roofline\n\n{INTRO}\n");
    for spec in missing(s, roofs) {
        let _ = writeln!(
            o,
            "No roofs cached for {} on this study's host: run `{}` there, then `edgebench report` on the study's folder.\n",
            escape(&spec),
            how_to_get(&spec)
        );
    }
    if roofs.is_empty() {
        return o;
    }
    o.push_str("| Variant | Engine | Precision | Compute roof GFLOP/s | Bandwidth roof GB/s | Ridge FLOP/byte |\n| --- | --- | --- | ---: | ---: | ---: |\n");
    for e in roofs {
        let _ = writeln!(o, "| {} |", roof_cells(e).map(|c| escape(&c)).join(" | "));
    }
    o.push_str("\n| Model | Batch | Variant | FLOPs | GFLOP/s | FLOP/byte | % of roof | Bound |\n| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |\n");
    for p in placed(s, roofs) {
        let _ = writeln!(
            o,
            "| {} |",
            placed_cells(&p).map(|c| escape(&c)).join(" | ")
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_core::analysis::analyse;
    use edgebench_core::fixtures;
    use edgebench_core::roofline::{RoofKey, RoofRun, RoofSizes, Roofs, ROOF_SCHEMA_VERSION};

    fn entry(s: &StudySummary, spec: &str, compute: f64, bandwidth: f64) -> RoofEntry {
        roof(&s.hosts[0], spec, "1.0", 4, compute, bandwidth)
    }

    fn roof(
        host: &edgebench_core::host::HostInfo,
        spec: &str,
        version: &str,
        threads: usize,
        compute: f64,
        bandwidth: f64,
    ) -> RoofEntry {
        let run = |flops: u64, bytes: u64| RoofRun {
            model: "made up".into(),
            flops,
            bytes,
            median_ms: 1.0,
            ci95_low_ms: 1.0,
            ci95_high_ms: 1.0,
            samples: 5,
        };
        RoofEntry {
            schema_version: ROOF_SCHEMA_VERSION,
            key: RoofKey::new(host, spec, version, threads),
            precision: "f32".into(),
            device: "cpu".into(),
            devices: vec!["cpu".into()],
            roofs: Roofs {
                compute_flops_per_s: compute,
                bandwidth_bytes_per_s: bandwidth,
            },
            compute: run(16, 12),
            bandwidth: run(1, 12),
            sizes: RoofSizes::default(),
            measured_unix: 0.0,
        }
    }

    /// The fixtures' study, every row's engine at version 1.0 (the fixtures record none).
    fn known() -> StudySummary {
        let mut s = analyse(&fixtures::known_answers()).unwrap();
        for r in &mut s.rows {
            r.engine_version = Some("1.0".into());
        }
        s
    }

    #[test]
    fn markdown_with_roofs() {
        let s = known();
        let specs: Vec<String> = s.variants.clone();
        let roofs: Vec<RoofEntry> = std::iter::once(s.baseline.clone())
            .chain(specs)
            .enumerate()
            .map(|(i, spec)| entry(&s, &spec, 100e9 * (i + 1) as f64, 20e9))
            .collect();
        insta::assert_snapshot!("roofline_md_cached", markdown_section(&s, &roofs, "##"));
    }

    #[test]
    fn pytorch_variants_are_never_sent_to_the_roofline_command() {
        assert!(!can_have_roofs(
            "torch:eager,device=cuda,dtype=fp16,cuda_graph"
        ));
        assert!(can_have_roofs("ort:all"));
        assert!(can_have_roofs("tract-cuda:f32"));
    }

    #[test]
    fn markdown_without_roofs_says_how_to_get_them() {
        let s = known();
        let md = markdown_section(&s, &[], "##");
        assert!(md.contains(&format!("`edgebench roofline -e {}`", s.baseline)));
        insta::assert_snapshot!("roofline_md_missing", md);
    }

    #[test]
    fn html_section_with_roofs() {
        let s = known();
        let roofs = vec![entry(&s, &s.baseline, 50e9, 10e9)];
        let mut o = String::new();
        html_section(&mut o, &s, &roofs, &Heads::study());
        // the variants without roofs are named with their command
        for v in &s.variants {
            assert!(o.contains(&esc(&how_to_get(v))), "{v}");
        }
        insta::assert_snapshot!("roofline_html_cached", o);
    }

    #[test]
    fn chart_draws_roofs_and_points() {
        let s = known();
        let roofs = vec![
            entry(&s, "ort:all", 100e9, 20e9),
            entry(&s, "tract:optimized", 30e9, 10e9),
        ];
        let points = vec![
            ChartPoint {
                label: "resnet18".into(),
                spec: "ort:all".into(),
                intensity: 40.0,
                flops_per_s: 60e9,
            },
            ChartPoint {
                label: "<mobilenet>".into(),
                spec: "tract:optimized".into(),
                intensity: 0.5,
                flops_per_s: 2e9,
            },
        ];
        let svg = chart(&roofs, &points);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(!svg.contains("<mobilenet>"), "labels are escaped");
        insta::assert_snapshot!("roofline_chart", svg);
    }

    #[test]
    fn roofs_text_and_json() {
        let s = known();
        let ok = RoofReport {
            entry: entry(&s, "tract:optimized", 30e9, 10e9),
            cached: true,
            path: "/cache/roofline/abc.json".into(),
        };
        let outcomes: Vec<RoofOutcome> = vec![
            ("tract:optimized".into(), Ok(ok)),
            (
                "ort:all".into(),
                Err(RooflineError::Failed {
                    spec: "ort:all".into(),
                    roof: edgebench_core::roofline::RoofKind::Compute,
                    model: "MatMul".into(),
                    reason: "boom".into(),
                }),
            ),
        ];
        insta::assert_snapshot!("roofline_text", roofs_text(&outcomes));
        let j = roofs_json(&outcomes);
        assert_eq!(j[0]["roofs"]["roofs"]["compute_flops_per_s"], 30e9);
        assert_eq!(j[0]["cached"], true);
        assert!(j[1]["error"].as_str().unwrap().contains("boom"));
    }

    #[test]
    fn bench_text_with_and_without_roofs() {
        let mut r = crate::table::tests::report([None, None]);
        r.model.flops = Some(2_000_000_000);
        for v in &mut r.results {
            v.session = Some(edgebench_core::engine::SessionInfo {
                engine_version: "1.0".into(),
                threads: Some(2),
                ..Default::default()
            });
        }
        let dir = tempfile::tempdir().unwrap();
        let cache = RoofCache::at(dir.path());
        cache
            .store(&roof(&r.host, "tract:optimized", "1.0", 2, 1000e9, 100e9))
            .unwrap();
        let roofs = bench_roofs(&r, &cache);
        assert_eq!(roofs.len(), 1);
        let text = bench_text(&r, &roofs);
        assert!(
            text.contains("run `edgebench roofline -e tract:reference`"),
            "{text}"
        );
        insta::assert_snapshot!("roofline_bench_text", text);
        // no FLOPs count, no roofline
        r.model.flops = None;
        assert_eq!(bench_text(&r, &roofs), "");
    }

    #[test]
    fn study_roofs_are_looked_up_by_host_spec_version_and_threads() {
        let s = known();
        let dir = tempfile::tempdir().unwrap();
        let cache = RoofCache::at(dir.path());
        assert!(study_roofs(&s, &cache).is_empty());
        let h = &s.hosts[0];
        let threads = s
            .config
            .threads
            .or(h.physical_cores)
            .unwrap_or(h.logical_cpus);
        cache
            .store(&roof(h, &s.baseline, "1.0", threads, 10e9, 1e9))
            .unwrap();
        // another version is not this study's
        cache
            .store(&roof(h, &s.variants[0], "2.0", threads, 10e9, 1e9))
            .unwrap();
        let found = study_roofs(&s, &cache);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key.spec, s.baseline);
    }
}
