//! `report.html`: one self-contained page (no scripts, no network, no fonts to fetch) with
//! inline SVG charts: FPS before and after per model with the real-time line, speed-up
//! against FLOPs (log scale) with the fitted line and the exceptions labelled, energy per
//! inference per model and the energy ratio against the speed-up, latency distributions per
//! variant, and the provenance. Every piece of text that comes from a user,
//! a model or a machine goes through [`esc`].

use crate::energy::throttle_cell;
use crate::fmt::sig;
use crate::fmt::{ms, si};
use crate::study_md::Provenance;
use crate::study_md::{
    above_idle_cell, check_cell, co2_cell, energy_all_na, energy_na, energy_ratio_cell, fps_cell,
    fps_per_w_cell, gflops, inferences_per_j_cell, mj_cell, pairs, power_cell, realtime_cell,
    row_throttle_cell, speedup_cell, task_name, throttled_rows, verdict,
};
use crate::svg::{tick_label, LinAxis, LogAxis, Stroke, Svg, BASELINE_COLOUR, PALETTE};
use edgebench_core::schema::study::{Row, StudySummary, Task, Trend, BEST};
use edgebench_core::schema::Status;
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:1.5em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0;background:white}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.lead{color:#444}.warn{background:#fff3cd;border:1px solid #e0c36b;padding:.6em}
.throttled{color:#a35200;font-weight:600}td.throttled{white-space:nowrap}
.chart{background:white;border:1px solid #ddd;margin:.6em 0;padding:.4em;overflow-x:auto}
.legend span{display:inline-block;margin-right:1.2em;font-size:.85em}
.legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
pre{background:#f0f0f0;padding:.6em;overflow-x:auto;font-size:.8em}
code{font-size:.9em}";

/// The colour of a spec: grey for baselines, the palette in plan order for the variants.
fn colour(s: &StudySummary, spec: &str) -> &'static str {
    // Anything that is not a variant is a baseline (a model PyTorch cannot run has its own).
    match s.variants.iter().position(|v| v == spec) {
        Some(i) => PALETTE[i % PALETTE.len()],
        None => BASELINE_COLOUR,
    }
}

fn legend(s: &StudySummary, with_baseline: bool) -> String {
    let mut o = String::from("<div class=\"legend\">");
    let specs = with_baseline
        .then_some(&s.baseline)
        .into_iter()
        .chain(&s.variants);
    for spec in specs {
        let _ = write!(
            o,
            "<span><i style=\"background:{}\"></i>{}{}</span>",
            colour(s, spec),
            esc(spec),
            if *spec == s.baseline {
                " (baseline)"
            } else {
                ""
            }
        );
    }
    o.push_str("</div>");
    o
}

/// The tasks present, in a stable order.
fn tasks(s: &StudySummary) -> Vec<Task> {
    let mut t: Vec<Task> = s.rows.iter().map(|r| r.task).collect();
    t.sort();
    t.dedup();
    t
}

/// The headings of a study's sections: `h2` with their ids and `h3` for a study on one
/// device; one level down, ids prefixed with the device's, under a device of a fleet.
pub(crate) struct Heads {
    top: &'static str,
    sub: &'static str,
    prefix: String,
}

impl Heads {
    pub(crate) fn study() -> Heads {
        Heads {
            top: "h2",
            sub: "h3",
            prefix: String::new(),
        }
    }

    /// Under device section `prefix` of a fleet.
    pub(crate) fn device(prefix: &str) -> Heads {
        Heads {
            top: "h3",
            sub: "h4",
            prefix: format!("{prefix}-"),
        }
    }

    /// A section's heading (`text` is markup: escape what it holds).
    pub(crate) fn section(&self, id: &str, text: &str) -> String {
        format!(
            "<{t} id=\"{}{id}\">{text}</{t}>\n",
            self.prefix,
            t = self.top
        )
    }

    /// A heading inside a section.
    fn sub(&self, text: &str) -> String {
        format!("<{t}>{text}</{t}>", t = self.sub)
    }
}

pub fn render(s: &StudySummary) -> String {
    if s.is_fleet() {
        return fleet_page(s);
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><title>edgebench study: {}</title><style>{STYLE}</style></head><body><main>",
        esc(&s.name)
    );
    let _ = writeln!(o, "<h1>edgebench study: {}</h1>", esc(&s.name));
    let _ = writeln!(o, "<p class=\"lead\">{}</p>", esc(&s.baseline_note));
    if !s.pending.is_empty() {
        let _ = writeln!(
            o,
            "<p class=\"warn\">Incomplete: {} of the study's jobs are not measured yet; <code>edgebench study --resume</code> with the same config finishes them.</p>",
            s.pending.len()
        );
    }
    sections(&mut o, s, &Heads::study());
    provenance(&mut o, s, Provenance::Study, &Heads::study());
    o.push_str("</main></body></html>\n");
    o
}

/// The study's sections from the findings to the warnings.
fn sections(o: &mut String, s: &StudySummary, hd: &Heads) {
    findings(o, s, hd);
    fps_section(o, s, hd);
    energy_section(o, s, hd);
    trend_section(o, s, hd);
    latency_section(o, s, hd);
    let roofs = crate::roofline_chart::study_roofs(s, &Default::default());
    crate::roofline_chart::html_section(o, s, &roofs, hd);
    table_section(o, s, hd);
}

fn findings(o: &mut String, s: &StudySummary, hd: &Heads) {
    o.push_str(&hd.section("findings", "Findings"));
    o.push_str("<p>Average speed-up over the baseline, gate-passing variants only: the arithmetic mean of the percentage gains (what the published study reports) and the geometric mean of the ratios (the right average for ratios); and the energy ratio, the baseline's energy per inference over the variant's (above 1: less energy for the same work), averaged geometrically over the models whose energy was measured on both sides.</p>\n");
    o.push_str("<table><thead><tr><th>Variant</th><th>Task</th><th>Models</th><th>Mean of % gains</th><th>Geometric mean of ratios</th><th>Energy ratio (geometric mean)</th></tr></thead><tbody>\n");
    for a in &s.averages {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(if a.variant == BEST { "best per model" } else { &a.variant }),
            task_name(a.task),
            if s.config.batch.len() > 1 { format!(" (batch {})", a.batch) } else { String::new() },
            a.n,
            a.mean_percent.map_or("-".into(), |p| format!("{p:+.1}%")),
            a.geomean_ratio.map_or("-".into(), |g| format!("{g:.2}x")),
            a.energy_geomean_ratio.map_or("-".into(), |g| format!("{g:.2}x (n={})", a.energy_n)),
        );
    }
    o.push_str("</tbody></table>\n");
    let _ = writeln!(
        o,
        "<p>FLOPs trend: correlation between log10 FLOPs per item and the speed-up (negative: smaller models gain more); exceptions are models more than {} residual standard deviations from the least-squares line.</p>",
        s.config.analysis.exception_sd
    );
    o.push_str("<table><thead><tr><th>Variant</th><th>Task</th><th>n</th><th>Spearman</th><th>Pearson</th><th>Line</th><th>Exceptions</th></tr></thead><tbody>\n");
    let f = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:+.3}"));
    for t in &s.trends {
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(if t.variant == BEST { "best per model" } else { &t.variant }),
            task_name(t.task),
            t.n,
            f(t.spearman),
            f(t.pearson),
            match (t.intercept, t.slope) {
                (Some(a), Some(b)) => format!("{a:.2} {} {:.2} &#215; log10 FLOPs", if b < 0.0 { "&#8722;" } else { "+" }, b.abs()),
                _ => "-".into(),
            },
            if t.exceptions.is_empty() { "none".into() } else { esc(&t.exceptions.join(", ")) }
        );
    }
    o.push_str("</tbody></table>\n");
}

/// Height of one bar of a grouped bar chart.
const BAR: f64 = 9.0;

/// The layout of a horizontal bar chart grouped by model and batch: a group per model, a bar
/// per variant (baseline first), the model's name left of its group, the x axis below.
struct BarGroups<'a> {
    models: Vec<(&'a str, usize)>,
    /// Where the bars start (the names end left of it).
    left: f64,
    top: f64,
    group_h: f64,
    /// The whole chart's height, the x axis' room included.
    h: f64,
}

impl<'a> BarGroups<'a> {
    /// The groups of `rows`' models in their order, each with room for the baseline and
    /// `variants` bars.
    fn new(rows: impl IntoIterator<Item = &'a Row>, variants: usize, left: f64, top: f64) -> Self {
        let mut models: Vec<(&str, usize)> = vec![];
        for r in rows {
            if !models.contains(&(r.model.as_str(), r.batch)) {
                models.push((&r.model, r.batch));
            }
        }
        let group_h = (1 + variants) as f64 * BAR + 10.0;
        let h = top + models.len() as f64 * group_h + 40.0;
        BarGroups {
            models,
            left,
            top,
            group_h,
            h,
        }
    }

    /// Each group's model, batch and the top of its first bar.
    fn each(&self) -> Vec<(&'a str, usize, f64)> {
        (self.models.iter().enumerate())
            .map(|(gi, &(model, batch))| (model, batch, self.top + gi as f64 * self.group_h))
            .collect()
    }

    /// Draws a group's name left of its bars.
    fn draw_name(&self, svg: &mut Svg, (model, batch, y0): (&str, usize, f64)) {
        let name = if batch > 1 {
            format!("{model} (batch {batch})")
        } else {
            model.to_string()
        };
        svg.text(
            self.left - 6.0,
            y0 + self.group_h / 2.0,
            &clip(&name, 28),
            "end",
            11.0,
            "#222",
        );
    }
}

/// Horizontal bars of items per second, log scale, grouped by model, one chart per task.
fn fps_section(o: &mut String, s: &StudySummary, hd: &Heads) {
    o.push_str(&hd.section("fps", "Frames per second, before and after"));
    o.push_str(&legend(s, true));
    for task in tasks(s) {
        let rows: Vec<&Row> = s
            .rows
            .iter()
            .filter(|r| r.task == task && r.fps.is_some())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let required = rows[0].required_per_s;
        let unit = rows[0].unit.clone();
        let groups = BarGroups::new(rows.iter().copied(), s.variants.len(), 190.0, 30.0);
        let (bar, left, top, h) = (BAR, groups.left, groups.top, groups.h);
        let w = 900.0;
        let x = LogAxis::covering(
            rows.iter().filter_map(|r| r.fps).chain([required]),
            left,
            w - 20.0,
        );
        let mut svg = Svg::new(
            w,
            h,
            &format!("{} per second before and after, {}", unit, task.name()),
        );
        axis_x_log(
            &mut svg,
            &x,
            top,
            h - 40.0,
            &format!("{unit} per second (log scale)"),
        );
        for group in groups.each() {
            groups.draw_name(&mut svg, group);
            let (model, batch, y0) = group;
            let group: Vec<&&Row> = rows
                .iter()
                .filter(|r| r.model == model && r.batch == batch)
                .collect();
            for (i, r) in group.into_iter().enumerate() {
                let spec = &r.spec;
                let v = r.fps.unwrap_or(0.0);
                let title = format!(
                    "{model} · {spec}: {:.3} {unit}/s, median {} ms{}",
                    v,
                    r.median_ms.map_or("-".into(), ms),
                    if r.counted { "" } else { " (not counted)" }
                );
                let yb = y0 + i as f64 * bar;
                svg.rect(
                    left,
                    yb,
                    x.map(v) - left,
                    bar - 1.5,
                    colour(s, spec),
                    &title,
                );
                if !r.counted {
                    svg.text(
                        x.map(v) + 3.0,
                        yb + bar - 2.0,
                        "not counted",
                        "start",
                        8.0,
                        "#a00",
                    );
                }
            }
        }
        let rx = x.map(required);
        svg.line((rx, top - 8.0), (rx, h - 40.0), Stroke::dashed("#c00", 1.5));
        svg.text(
            rx + 4.0,
            top - 12.0,
            &format!("real time: {} {unit}/s", tick_label(required)),
            "start",
            11.0,
            "#c00",
        );
        task_chart(o, hd, task, svg);
    }
}

/// Energy per inference per model and variant (bars, log scale, one chart per task), the
/// energy ratio against the speed-up, and the energy table with the throttled variants
/// marked. Where no variant has an energy per inference, one line says why instead of the
/// charts.
fn energy_section(o: &mut String, s: &StudySummary, hd: &Heads) {
    o.push_str(&hd.section("energy", "Energy per inference"));
    o.push_str("<p>Measured by the device's sensors over each variant's sampling window: energy per inference in millijoules (the device's counters where it has them, else its power readings integrated). Throttled variants are marked &#9888;. Method and sources: docs/energy.md.</p>\n");
    match energy_all_na(s) {
        Some(why) => {
            let _ = writeln!(o, "<p class=\"warn\">Energy is n/a: {}</p>", esc(&why));
        }
        None => {
            o.push_str(&legend(s, true));
            energy_bars(o, s, hd);
            ratio_scatter(o, s, hd);
        }
    }
    o.push_str("<table><thead><tr><th>Model</th><th>Variant</th><th>Power W</th><th>Peak W</th><th>Idle W</th><th>mJ/inference</th><th>Above idle mJ</th><th>Energy ratio</th><th>Inferences/J</th><th>FPS/W</th><th>CO2 g/1000</th><th>Check: power &#215; time mJ (gap)</th><th>Throttle</th></tr></thead><tbody>\n");
    for r in &s.rows {
        let e = r.energy.as_ref();
        let figure = |v: Option<f64>| match v {
            Some(v) => sig(v),
            None if r.energy.is_some() => "n/a".into(),
            None => "-".into(),
        };
        let throttled = e.is_some_and(|e| e.throttled());
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td{}>{}</td></tr>",
            esc(&r.model),
            esc(&r.spec),
            esc(&power_cell(r)),
            esc(&figure(e.and_then(|e| e.peak_power_w))),
            esc(&figure(e.and_then(|e| e.idle_power_w))),
            esc(&mj_cell(r)),
            esc(&above_idle_cell(r)),
            esc(&energy_ratio_cell(r)),
            esc(&inferences_per_j_cell(r)),
            esc(&fps_per_w_cell(r)),
            esc(&co2_cell(r)),
            esc(&check_cell(r)),
            if throttled { " class=\"throttled\"" } else { "" },
            esc(&row_throttle_cell(r)),
        );
    }
    o.push_str("</tbody></table>\n");
    if energy_all_na(s).is_none() {
        let na = energy_na(s);
        if !na.is_empty() {
            o.push_str("<ul>\n");
            for (why, rows) in na {
                let names: Vec<String> = rows
                    .iter()
                    .map(|r| format!("{} <code>{}</code>", esc(&r.model), esc(&r.spec)))
                    .collect();
                let _ = writeln!(
                    o,
                    "<li>Energy n/a for {}: {}</li>",
                    names.join(", "),
                    esc(&why)
                );
            }
            o.push_str("</ul>\n");
        }
    }
    let throttled = throttled_rows(s);
    if !throttled.is_empty() {
        o.push_str("<p>Throttled while sampled (their latency and energy are not the device's best):</p>\n<ul>\n");
        for (r, e) in throttled {
            let _ = writeln!(
                o,
                "<li class=\"throttled\">&#9888; {} <code>{}</code>: {}</li>",
                esc(&r.model),
                esc(&r.spec),
                esc(&e.throttle_detail)
            );
        }
        o.push_str("</ul>\n");
    }
    let notes: Vec<String> = s
        .rows
        .iter()
        .flat_map(|r| {
            r.energy.iter().flat_map(move |e| {
                e.notes.iter().map(move |n| {
                    format!(
                        "<li>{} <code>{}</code>: {}</li>",
                        esc(&r.model),
                        esc(&r.spec),
                        esc(n)
                    )
                })
            })
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(
            o,
            "<details><summary>Notes on the energy figures ({})</summary><ul>\n{}\n</ul></details>",
            notes.len(),
            notes.join("\n")
        );
    }
}

/// Horizontal bars of millijoules per inference, log scale, grouped by model, one chart per
/// task; a throttled variant's bar is marked.
fn energy_bars(o: &mut String, s: &StudySummary, hd: &Heads) {
    for task in tasks(s) {
        // Every row that ran, with its millijoules where measured; a chart only where at
        // least one was.
        let rows: Vec<(&Row, Option<f64>)> = s
            .rows
            .iter()
            .filter(|r| r.task == task && r.status != Status::Failed)
            .map(|r| {
                // Figures of other devices than the one that did the work are no bar.
                let mj = r
                    .energy
                    .as_ref()
                    .filter(|e| e.work_unmeasured.is_none())
                    .and_then(|e| e.energy_per_inference_j);
                (r, mj.map(|j| j * 1e3))
            })
            .collect();
        let values: Vec<f64> = rows.iter().filter_map(|r| r.1).collect();
        if values.is_empty() {
            continue;
        }
        let groups = BarGroups::new(rows.iter().map(|r| r.0), s.variants.len(), 190.0, 14.0);
        let (bar, left, top, h) = (BAR, groups.left, groups.top, groups.h);
        let w = 900.0;
        // Bars start at the axis' left end: keep the smallest clear of it.
        let least = values.iter().copied().fold(f64::INFINITY, f64::min);
        let x = LogAxis::covering(values.iter().copied().chain([least / 1.5]), left, w - 90.0);
        let mut svg = Svg::new(w, h, &format!("energy per inference, {}", task.name()));
        axis_x_log(
            &mut svg,
            &x,
            top,
            h - 40.0,
            "millijoules per inference (log scale; less is better)",
        );
        for group in groups.each() {
            groups.draw_name(&mut svg, group);
            let (model, batch, y0) = group;
            let group = rows
                .iter()
                .filter(|(r, _)| r.model == model && r.batch == batch);
            for (i, (r, v)) in group.enumerate() {
                let yb = y0 + i as f64 * bar;
                let Some(v) = *v else {
                    // Its reason is listed under the table.
                    let unmeasured = r
                        .energy
                        .as_ref()
                        .is_some_and(|e| e.work_unmeasured.is_some());
                    let text = if unmeasured {
                        format!("{}: its device has no power sensor here", r.spec)
                    } else {
                        format!("{}: energy n/a", r.spec)
                    };
                    svg.text(left + 3.0, yb + bar - 2.0, &text, "start", 8.0, "#666");
                    continue;
                };
                let e = r.energy.as_ref();
                let throttled = e.is_some_and(|e| e.throttled());
                let title = format!(
                    "{model} · {}: {} mJ per inference at {} W{}{}",
                    r.spec,
                    sig(v),
                    e.and_then(|e| e.avg_power_w).map_or("n/a".into(), sig),
                    r.energy_ratio
                        .map_or(String::new(), |x| format!(", energy ratio {x:.2}x")),
                    e.filter(|e| e.throttled())
                        .map_or(String::new(), |e| format!(
                            ", {}",
                            throttle_cell(e.throttle)
                        )),
                );
                svg.rect(
                    left,
                    yb,
                    x.map(v) - left,
                    bar - 1.5,
                    colour(s, &r.spec),
                    &title,
                );
                let mark = match (throttled, r.counted) {
                    (true, _) => Some(("⚠ throttled", "#a35200")),
                    (false, false) => Some(("not counted", "#a00")),
                    _ => None,
                };
                if let Some((text, fill)) = mark {
                    svg.text(x.map(v) + 3.0, yb + bar - 2.0, text, "start", 8.0, fill);
                }
            }
        }
        task_chart(o, hd, task, svg);
    }
}

/// Energy ratio against speed-up, both over the baseline, log scales. On the diagonal the
/// variant draws the baseline's average power; above it, less power (it saves more energy
/// than time); below it, more.
fn ratio_scatter(o: &mut String, s: &StudySummary, hd: &Heads) {
    let pts: Vec<(&Row, f64, f64)> = s
        .rows
        .iter()
        .filter_map(|r| Some((r, r.speedup.as_ref()?.ratio, r.energy_ratio?)))
        .collect();
    o.push_str(&hd.sub("Energy ratio against speed-up"));
    o.push('\n');
    if pts.is_empty() {
        o.push_str("<p>No variant has both a speed-up and an energy ratio (energy measured on both sides).</p>\n");
        return;
    }
    o.push_str("<p>Each point is one model and variant, both ratios over the baseline. On the dashed diagonal the variant draws the baseline's average power; above it, less power (it saves more energy than time); below it, more.</p>\n");
    o.push_str(&legend(s, false));
    let (w, h, left, right, top, bottom) = (900.0, 420.0, 70.0, 880.0, 20.0, 360.0);
    let all = pts.iter().flat_map(|p| [p.1, p.2]).chain([1.0]);
    let x = LogAxis::covering(all.clone(), left, right);
    let y = LogAxis::covering(all, bottom, top);
    let mut svg = Svg::new(w, h, "energy ratio against speed-up");
    axis_x_log(
        &mut svg,
        &x,
        top,
        bottom,
        "speed-up over the baseline (x, log scale)",
    );
    axis_y_ratio(
        &mut svg,
        (y.ticks(), |v| y.map(v)),
        (left, right, top, bottom),
        "energy ratio over the baseline (x, log scale)",
    );
    let lo = x.lo.max(y.lo);
    let hi = x.hi.min(y.hi);
    svg.line(
        (x.map(lo), y.map(lo)),
        (x.map(hi), y.map(hi)),
        Stroke::dashed("#777", 1.0),
    );
    svg.line(
        (x.map(1.0), top),
        (x.map(1.0), bottom),
        Stroke::solid("#bbb", 1.0),
    );
    svg.line(
        (left, y.map(1.0)),
        (right, y.map(1.0)),
        Stroke::solid("#bbb", 1.0),
    );
    for (r, sp, er) in &pts {
        let (px, py) = (x.map(*sp), y.map(*er));
        let throttled = r.energy.as_ref().is_some_and(|e| e.throttled());
        let title = format!(
            "{} · {}: speed-up {sp:.2}x, energy ratio {er:.2}x{}",
            r.model,
            r.spec,
            if throttled { " (⚠ throttled)" } else { "" }
        );
        svg.circle(px, py, 4.0, colour(s, &r.spec), &title);
        let label = if throttled {
            format!("⚠ {}", clip(&r.model, 20))
        } else {
            clip(&r.model, 20)
        };
        svg.text(
            px + 6.0,
            py - 5.0,
            &label,
            "start",
            8.0,
            if throttled { "#a35200" } else { "#444" },
        );
    }
    let _ = writeln!(o, "<div class=\"chart\">{}</div>", svg.finish());
}

/// A label cut to `max` characters for a chart (the full text is in the tooltip and tables).
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max - 1).chain(['…']).collect()
    }
}

fn axis_x_log(svg: &mut Svg, x: &LogAxis, top: f64, bottom: f64, title: &str) {
    axis_x_log_with(svg, x, top, bottom, title, tick_label)
}

pub(crate) fn axis_x_log_with(
    svg: &mut Svg,
    x: &LogAxis,
    top: f64,
    bottom: f64,
    title: &str,
    label: fn(f64) -> String,
) {
    for t in x.ticks() {
        let px = x.map(t);
        svg.line((px, top - 4.0), (px, bottom), Stroke::solid("#e4e4e4", 1.0));
        svg.text(px, bottom + 14.0, &label(t), "middle", 10.0, "#555");
    }
    svg.line((x.p0, bottom), (x.p1, bottom), Stroke::solid("#999", 1.0));
    svg.text(
        (x.p0 + x.p1) / 2.0,
        bottom + 30.0,
        title,
        "middle",
        11.0,
        "#222",
    );
}

/// The vertical axis of a chart of ratios over the baseline, log or linear (`ticks` and the
/// axis' `map`): a gridline across the plot (`left`, `right`) and an `Nx` label per tick, and
/// the axis' title along the left edge, centred between `top` and `bottom`.
fn axis_y_ratio(
    svg: &mut Svg,
    (ticks, map): (Vec<f64>, impl Fn(f64) -> f64),
    (left, right, top, bottom): (f64, f64, f64, f64),
    title: &str,
) {
    for t in ticks {
        let py = map(t);
        svg.line((left, py), (right, py), Stroke::solid("#eee", 1.0));
        svg.text(
            left - 6.0,
            py + 4.0,
            &format!("{}x", tick_label(t)),
            "end",
            10.0,
            "#555",
        );
    }
    svg.vtext(18.0, (top + bottom) / 2.0, title, 11.0);
}

/// Speed-up against FLOPs per item (log scale), one chart per task group.
fn trend_section(o: &mut String, s: &StudySummary, hd: &Heads) {
    o.push_str(&hd.section("trend", "Speed-up against FLOPs"));
    o.push_str("<p>Each point is one model and variant; each line the least-squares fit of that variant; exceptions to the trend are circled and named. The dotted line is no speed-up (1x).</p>\n");
    o.push_str(&legend(s, false));
    let mut groups: Vec<Option<Task>> = vec![];
    for t in &s.trends {
        if !groups.contains(&t.task) {
            groups.push(t.task);
        }
    }
    for task in groups {
        let trends: Vec<&Trend> = s
            .trends
            .iter()
            .filter(|t| t.task == task && t.variant != BEST && !t.points.is_empty())
            .collect();
        if trends.is_empty() {
            continue;
        }
        let (w, h, left, right, top, bottom) = (900.0, 420.0, 70.0, 880.0, 20.0, 360.0);
        let pts = trends.iter().flat_map(|t| &t.points);
        let x = LogAxis::covering(pts.clone().map(|p| p.flops), left, right);
        let y = LinAxis::covering(pts.map(|p| p.ratio), 1.0, bottom, top);
        let mut svg = Svg::new(
            w,
            h,
            &format!("speed-up against FLOPs, {}", task_name(task)),
        );
        axis_x_log_with(&mut svg, &x, top, bottom, "FLOPs per item (log scale)", si);
        axis_y_ratio(
            &mut svg,
            (y.ticks(), |v| y.map(v)),
            (left, right, top, bottom),
            "speed-up over the baseline (x)",
        );
        let one = y.map(1.0);
        svg.line((left, one), (right, one), Stroke::dashed("#777", 1.0));
        for t in &trends {
            let c = colour(s, &t.variant);
            if let (Some(a), Some(b)) = (t.intercept, t.slope) {
                let lo = t
                    .points
                    .iter()
                    .map(|p| p.flops)
                    .fold(f64::INFINITY, f64::min);
                let hi = t.points.iter().map(|p| p.flops).fold(0.0, f64::max);
                let clamp = |v: f64| v.clamp(y.lo, y.hi);
                svg.line(
                    (x.map(lo), y.map(clamp(a + b * lo.log10()))),
                    (x.map(hi), y.map(clamp(a + b * hi.log10()))),
                    Stroke::solid(c, 1.5),
                );
            }
            for p in &t.points {
                let (px, py) = (x.map(p.flops), y.map(p.ratio));
                let title = format!(
                    "{} · {}: {:.2}x at {} FLOPs{}",
                    p.model,
                    t.variant,
                    p.ratio,
                    si(p.flops),
                    p.std_residual
                        .map_or(String::new(), |z| format!(", residual {z:+.1} sd"))
                );
                svg.circle(px, py, 4.0, c, &title);
                if p.exception {
                    svg.hollow_rect(px - 7.0, py - 7.0, 14.0, 14.0, "#c00", &title);
                    svg.text(
                        px + 9.0,
                        py - 6.0,
                        &clip(&p.model, 28),
                        "start",
                        10.0,
                        "#c00",
                    );
                }
            }
        }
        let _ = writeln!(
            o,
            "{}<div class=\"chart\">{}</div>",
            hd.sub(task_name(task)),
            svg.finish()
        );
    }
}

/// Box plots of the samples (box: 25th-75th percentile, line: median, whisker: 5th-95th,
/// dots: min and max), log scale.
fn latency_section(o: &mut String, s: &StudySummary, hd: &Heads) {
    o.push_str(&hd.section("latency", "Latency distributions"));
    o.push_str("<p>Per model and variant: the box spans the 25th to 75th percentile of the samples, the bar inside is the median, the whisker runs from the 5th to the 95th percentile and the dots are the fastest and slowest sample.</p>\n");
    o.push_str(&legend(s, true));
    for task in tasks(s) {
        let rows: Vec<&Row> = s
            .rows
            .iter()
            .filter(|r| r.task == task && r.quantiles_ms.len() == 21)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let (row_h, left, top) = (13.0, 290.0, 10.0);
        let h = top + rows.len() as f64 * row_h + 45.0;
        let w = 900.0;
        let x = LogAxis::covering(
            rows.iter()
                .flat_map(|r| [r.quantiles_ms[0], r.quantiles_ms[20]]),
            left,
            w - 20.0,
        );
        let mut svg = Svg::new(w, h, &format!("latency distributions, {}", task.name()));
        let bottom = h - 45.0;
        axis_x_log(
            &mut svg,
            &x,
            top,
            bottom,
            "milliseconds per inference (log scale)",
        );
        for (i, r) in rows.iter().enumerate() {
            let q = &r.quantiles_ms;
            let yc = top + i as f64 * row_h + row_h / 2.0;
            let c = colour(s, &r.spec);
            svg.text(
                left - 6.0,
                yc + 4.0,
                &format!("{} · {}", clip(&r.model, 28), r.spec),
                "end",
                10.0,
                "#222",
            );
            let title = format!(
                "{} · {}: median {} ms, p5 {} ms, p95 {} ms, {} samples",
                r.model,
                r.spec,
                ms(q[10]),
                ms(q[1]),
                ms(q[19]),
                r.samples
            );
            svg.line((x.map(q[1]), yc), (x.map(q[19]), yc), Stroke::solid(c, 1.0));
            svg.hollow_rect(
                x.map(q[5]),
                yc - 4.0,
                x.map(q[15]) - x.map(q[5]),
                8.0,
                c,
                &title,
            );
            svg.line(
                (x.map(q[10]), yc - 5.0),
                (x.map(q[10]), yc + 5.0),
                Stroke::solid(c, 2.0),
            );
            svg.circle(x.map(q[0]), yc, 1.6, c, &title);
            svg.circle(x.map(q[20]), yc, 1.6, c, &title);
        }
        task_chart(o, hd, task, svg);
    }
}

/// One task's chart under its heading.
fn task_chart(o: &mut String, hd: &Heads, task: Task, svg: Svg) {
    let _ = writeln!(
        o,
        "{}<div class=\"chart\">{}</div>",
        hd.sub(task.name()),
        svg.finish()
    );
}

fn table_section(o: &mut String, s: &StudySummary, hd: &Heads) {
    o.push_str(&hd.section("models", "Per model"));
    let _ = writeln!(
        o,
        "<p>Each model's variants were measured in {} interleaved round(s) (baseline, variants, baseline, ...), one process each. The speed-up is the geometric mean of the rounds' ratios of medians, its 95% interval the spread across the rounds (with one round, a bootstrap within that run); &#9888; marks rounds that disagree beyond their own intervals, and a side with too few samples gets no interval.</p>",
        s.config.measure.rounds.max(1)
    );
    let _ = writeln!(
        o,
        "<table><thead><tr><th>Model</th><th>Task</th><th>GFLOPs</th><th>Params</th><th>Before ms</th><th>Before /s</th><th>Variant</th><th>After ms [95% CI]</th><th>After /s</th><th>Speed-up [95% CI]</th><th>Gain</th><th>Verdict</th><th>Real time ({} fps)</th></tr></thead><tbody>",
        s.config.realtime.fps
    );
    for (b, r) in pairs(s) {
        let after = match (r.median_ms, r.ci95_low_ms, r.ci95_high_ms) {
            (Some(m), Some(l), Some(h)) => format!("{} [{}, {}]", ms(m), ms(l), ms(h)),
            _ => "-".into(),
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.model),
            r.task.name(),
            gflops(r),
            r.params.map_or("-".into(), |p| si(p as f64)),
            crate::study_md::before_ms(s, b),
            b.map_or("-".into(), fps_cell),
            esc(&r.spec),
            after,
            fps_cell(r),
            esc(&speedup_cell(r)),
            r.speedup.as_ref().map_or("-".into(), |x| format!("{:+.1}%", x.percent)),
            esc(&verdict(r)),
            esc(&realtime_cell(r)),
        );
    }
    o.push_str("</tbody></table>\n");
    let notes: Vec<&Row> = s.rows.iter().filter(|r| r.note.is_some()).collect();
    o.push_str(&hd.section("not-counted", "Not counted"));
    if notes.is_empty() {
        o.push_str("<p>Every variant ran and passed the accuracy gate.</p>\n");
    } else {
        o.push_str("<ul>\n");
        for r in notes {
            let _ = writeln!(
                o,
                "<li>{} <code>{}</code>: {}</li>",
                esc(&r.model),
                esc(&r.spec),
                esc(r.note.as_deref().unwrap_or(""))
            );
        }
        o.push_str("</ul>\n");
    }
    let warned = crate::study_md::warned_rows(s);
    if !warned.is_empty() {
        o.push_str(&hd.section("warnings", "Warnings"));
        o.push_str("<ul>\n");
        for (r, w) in warned {
            let _ = writeln!(
                o,
                "<li>{} <code>{}</code>: {}</li>",
                esc(&r.model),
                esc(&r.spec),
                esc(&w.join("; "))
            );
        }
        o.push_str("</ul>\n");
    }
}

/// Where and how it was measured: for a study everything; for a fleet's page the hosts, the
/// tool, the sessions and the settings; for one device of a fleet its hosts, baseline and
/// engines.
fn provenance(o: &mut String, s: &StudySummary, what: Provenance, hd: &Heads) {
    o.push_str(&hd.section("provenance", "Provenance"));
    o.push_str("<table><tbody>\n");
    let device = what == Provenance::Device;
    let fleet = what == Provenance::Fleet;
    let mut row = |k: &str, v: String| {
        let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), v);
    };
    for h in &s.hosts {
        row(
            "host",
            esc(&format!(
                "{} ({} logical CPUs, {} physical cores, {:.1} GiB), {}, kernel {}, {}",
                h.cpu,
                h.logical_cpus,
                h.physical_cores.map_or("?".into(), |c| c.to_string()),
                h.memory_bytes as f64 / (1u64 << 30) as f64,
                h.os,
                h.kernel,
                h.arch
            )),
        );
        if let Some(b) = &h.board {
            row("board", esc(&b.summary()));
            if let (Some(short), Some(fix)) = (&b.shortfall, &b.fix) {
                row(
                    "board warning",
                    esc(&format!(
                        "not in its maximum-performance mode ({short}); run `{fix}` and rerun"
                    )),
                );
            }
        }
    }
    if !device {
        row(
            "edgebench",
            esc(&format!("{} ({})", s.tool.version, s.tool.git_commit)),
        );
    }
    row(
        "sessions",
        if what == Provenance::Study {
            format!("{} (more than one: the study was resumed)", s.sessions)
        } else {
            format!("{} (one per shard, more where one was resumed)", s.sessions)
        },
    );
    if !fleet {
        row("baseline", esc(&s.baseline_note));
        row("accuracy gate reference", esc(&s.reference));
    }
    for e in s.engines.iter().filter(|_| !fleet) {
        let v = match &e.availability {
            edgebench_core::engine::Availability::Available { version, devices } => {
                format!("available: {version} ({})", devices.join(", "))
            }
            edgebench_core::engine::Availability::Unavailable { reason, .. } => {
                format!("not available: {reason}")
            }
            edgebench_core::engine::Availability::NotCompiled { feature } => format!(
                "not compiled into this build: {}",
                edgebench_core::engine::Availability::not_compiled_fix(feature)
            ),
        };
        row(&format!("engine {}", e.name), esc(&v));
    }
    for n in s.notes.iter().filter(|_| !fleet) {
        row("note", esc(n));
    }
    if device {
        o.push_str("</tbody></table>\n");
        return;
    }
    let m = &s.config.measure;
    row(
        "settings",
        esc(&format!(
            "batch {:?}; warm-up {} s (at least {} runs); {} to {} samples; at most {} s of sampling or until the median is known to ±{}%; {} s limit per variant; {} gate input set(s); seed {}; real time {} fps{}",
            s.config.batch,
            m.warmup_s,
            m.min_warmup_runs,
            m.min_samples,
            m.max_samples,
            m.max_time_s,
            m.target_ci_pct,
            m.timeout_s,
            m.gate_inputs,
            s.config.seed,
            s.config.realtime.fps,
            s.config.realtime.clip_stride.map_or(String::new(), |c| format!(", clip stride {c}"))
        )),
    );
    o.push_str("</tbody></table>\n");
    let config = serde_json::to_string_pretty(&s.config).unwrap_or_default();
    let _ = writeln!(
        o,
        "<details><summary>Config</summary><pre>{}</pre></details>",
        esc(&config)
    );
    o.push_str("<p>FLOPs are 2 x the multiply-accumulates of convolutions and matrix products. Method: docs/study.md in the edgebench repository.</p>\n");
}

// ---- a fleet ----

/// The colour of a fleet's device `i` (in the order of `StudySummary::devices`).
fn device_colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// `report.html` of a fleet: the devices, the cross-device view (latency and energy of each
/// model on each device, as charts and a table), then each device's sections as for a study
/// on one device, its ids prefixed (`d1-findings`), then the provenance.
fn fleet_page(s: &StudySummary) -> String {
    use crate::fleet::{cells, hosts_line, model_name, shards_line, ABOUT, HEADERS};
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><title>edgebench study: {}</title><style>{STYLE}</style></head><body><main>",
        esc(&s.name)
    );
    let _ = writeln!(o, "<h1>edgebench study: {}</h1>", esc(&s.name));
    let _ = writeln!(
        o,
        "<p class=\"lead\">A fleet of {} devices. Each device is analysed on its own, as if it had run the study alone (its own baseline, speed-ups, averages, FLOPs trend, real time and energy); the devices meet only in the cross-device view. Nothing is averaged across devices.</p>",
        s.devices.len()
    );
    if !s.pending.is_empty() {
        let per: Vec<String> = s
            .devices
            .iter()
            .filter(|d| !d.pending.is_empty())
            .map(|d| format!("{}: {}", esc(&d.device), d.pending.len()))
            .collect();
        let _ = writeln!(
            o,
            "<p class=\"warn\">Incomplete: {} cells of the study's plan are not measured ({}); each device's section lists them. <code>edgebench study --shard I/N --resume</code> on the shard's folder measures them; then merge again.</p>",
            s.pending.len(),
            per.join(", ")
        );
    }

    o.push_str("<h2 id=\"devices\">Devices</h2>\n<table><thead><tr><th>Device</th><th>Hosts</th><th>Shards</th><th>Sessions</th><th>Variants counted</th><th>Missing cells</th></tr></thead><tbody>\n");
    for (i, d) in s.devices.iter().enumerate() {
        let candidates = || d.rows.iter().filter(|r| !r.is_baseline);
        let _ = writeln!(
            o,
            "<tr><td><a href=\"#d{}\">{}</a></td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{} of {}</td><td class=\"n\">{}</td></tr>",
            i + 1,
            esc(&d.device),
            esc(&hosts_line(d)),
            esc(&shards_line(d)),
            d.sessions,
            candidates().filter(|r| r.counted).count(),
            candidates().count(),
            d.pending.len()
        );
    }
    o.push_str("</tbody></table>\n");

    o.push_str("<h2 id=\"across\">Across devices</h2>\n");
    let _ = writeln!(o, "<p>{}</p>", esc(ABOUT));
    let mut legend = String::from("<div class=\"legend\">");
    for (i, d) in s.devices.iter().enumerate() {
        let _ = write!(
            legend,
            "<span><i style=\"background:{}\"></i>{}</span>",
            device_colour(i),
            esc(&d.device)
        );
    }
    legend.push_str("</div>");
    o.push_str("<h3>Latency per model and device</h3>\n");
    o.push_str("<p>Per model, two bars per device: the hollow bar is the device's baseline, the solid bar its fastest variant that passed the accuracy gate, labelled with the variant and its speed-up over that device's baseline.</p>\n");
    o.push_str(&legend);
    cross_chart(
        &mut o,
        s,
        (
            "latency per model and device",
            "ms",
            "milliseconds per inference (log scale; less is better)",
        ),
        |c| (c.baseline_ms, c.best_ms),
    );
    o.push_str("<h3>Energy per inference per model and device</h3>\n");
    let any_energy = s
        .cross_device
        .iter()
        .flat_map(|c| &c.devices)
        .any(|d| d.baseline_energy_j.is_some() || d.best_energy_j.is_some());
    if any_energy {
        o.push_str("<p>The same bars in millijoules per inference, where the device measured its energy (its section says why where it did not).</p>\n");
        o.push_str(&legend);
        cross_chart(
            &mut o,
            s,
            (
                "energy per inference per model and device",
                "mJ",
                "millijoules per inference (log scale; less is better)",
            ),
            |c| {
                (
                    c.baseline_energy_j.map(|j| j * 1e3),
                    c.best_energy_j.map(|j| j * 1e3),
                )
            },
        );
    } else {
        o.push_str("<p class=\"warn\">Energy per inference is n/a on every device; each device's section says why.</p>\n");
    }
    o.push_str("<table><thead><tr><th>Model</th><th>Device</th>");
    for h in HEADERS {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr></thead><tbody>\n");
    for c in &s.cross_device {
        for d in &c.devices {
            let [b, bms, best, best_ms, x, bmj, best_mj] = cells(d);
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&model_name(c)),
                esc(&d.device),
                esc(&b),
                esc(&bms),
                esc(&best),
                esc(&best_ms),
                esc(&x),
                esc(&bmj),
                esc(&best_mj),
            );
        }
    }
    o.push_str("</tbody></table>\n");

    for (i, d) in s.devices.iter().enumerate() {
        let v = s.device_view(d);
        let id = format!("d{}", i + 1);
        let hd = Heads::device(&id);
        let _ = writeln!(
            o,
            "<h2 id=\"{id}\">Device: {}</h2>\n<p class=\"lead\">{}; shards: {}. {}</p>",
            esc(&d.device),
            esc(&hosts_line(d)),
            esc(&shards_line(d)),
            esc(&v.baseline_note)
        );
        if !d.pending.is_empty() {
            let _ = writeln!(
                o,
                "<p class=\"warn\">Missing cells: {} of the plan's jobs are not measured on this device.</p>\n<details><summary>The missing jobs ({})</summary><ul>\n{}\n</ul></details>",
                d.pending.len(),
                d.pending.len(),
                d.pending
                    .iter()
                    .map(|k| format!("<li><code>{}</code></li>", esc(k)))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        sections(&mut o, &v, &hd);
        provenance(&mut o, &v, Provenance::Device, &hd);
    }
    provenance(&mut o, s, Provenance::Fleet, &Heads::study());
    o.push_str("</main></body></html>\n");
    o
}

/// Horizontal bars of one figure of the cross-device view, log scale: a group per model and
/// batch, two bars per device (hollow: its baseline, solid: its best variant, labelled with
/// the variant and its speed-up). `value` gives (baseline, best) in the axis' unit.
fn cross_chart(
    o: &mut String,
    s: &StudySummary,
    (label, unit, axis_title): (&str, &str, &str),
    value: fn(&edgebench_core::schema::study::DeviceCell) -> (Option<f64>, Option<f64>),
) {
    let values: Vec<f64> = s
        .cross_device
        .iter()
        .flat_map(|c| &c.devices)
        .flat_map(|d| {
            let (b, v) = value(d);
            [b, v]
        })
        .flatten()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    if values.is_empty() {
        o.push_str("<p>Nothing to chart: no device measured this.</p>\n");
        return;
    }
    let (left, top, w) = (190.0, 14.0, 900.0);
    let group_h = s.devices.len() as f64 * 2.0 * BAR + 10.0;
    let h = top + s.cross_device.len() as f64 * group_h + 40.0;
    let least = values.iter().copied().fold(f64::INFINITY, f64::min);
    let x = LogAxis::covering(values.iter().copied().chain([least / 1.5]), left, w - 190.0);
    let mut svg = Svg::new(w, h, label);
    axis_x_log(&mut svg, &x, top, h - 40.0, axis_title);
    for (gi, c) in s.cross_device.iter().enumerate() {
        let y0 = top + gi as f64 * group_h;
        let name = crate::fleet::model_name(c);
        svg.text(
            left - 6.0,
            y0 + group_h / 2.0,
            &clip(&name, 28),
            "end",
            11.0,
            "#222",
        );
        for (di, d) in c.devices.iter().enumerate() {
            let colour = device_colour(di);
            let yb = y0 + di as f64 * 2.0 * BAR;
            let (base, best) = value(d);
            if base.is_none() && best.is_none() {
                let why = if d.baseline.is_none() && d.best.is_none() {
                    "not measured"
                } else {
                    "n/a"
                };
                svg.text(
                    left + 3.0,
                    yb + BAR + 3.0,
                    &format!("{}: {why}", clip(&d.device, 24)),
                    "start",
                    8.0,
                    "#666",
                );
                continue;
            }
            if let Some(v) = base {
                let title = format!(
                    "{name} on {}: baseline {} {} {unit}",
                    d.device,
                    d.baseline.as_deref().unwrap_or("-"),
                    sig(v)
                );
                svg.hollow_rect(left, yb, x.map(v) - left, BAR - 1.5, colour, &title);
                svg.text(
                    x.map(v) + 3.0,
                    yb + BAR - 2.0,
                    &format!("{} baseline", clip(&d.device, 24)),
                    "start",
                    8.0,
                    "#444",
                );
            }
            let yv = yb + BAR;
            match (best, &d.best) {
                (Some(v), Some(spec)) => {
                    let speedup = d
                        .best_speedup
                        .map_or(String::new(), |x| format!(", {x:.2}x"));
                    let title =
                        format!("{name} on {}: {spec} {} {unit}{speedup}", d.device, sig(v));
                    svg.rect(left, yv, x.map(v) - left, BAR - 1.5, colour, &title);
                    svg.text(
                        x.map(v) + 3.0,
                        yv + BAR - 2.0,
                        &format!("{} {}{speedup}", clip(&d.device, 24), clip(spec, 28)),
                        "start",
                        8.0,
                        "#222",
                    );
                }
                _ => {
                    let why = if d.best.is_none() {
                        "no variant counted"
                    } else {
                        "n/a"
                    };
                    svg.text(
                        left + 3.0,
                        yv + BAR - 2.0,
                        &format!("{}: {why}", clip(&d.device, 24)),
                        "start",
                        8.0,
                        "#666",
                    );
                }
            }
        }
    }
    let _ = writeln!(o, "<div class=\"chart\">{}</div>", svg.finish());
}
