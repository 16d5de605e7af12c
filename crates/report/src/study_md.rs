//! Markdown report and terminal table of a study: a table in the style of the published
//! study (before / after FPS and the speed improvement per model), the average speed-ups,
//! the FLOPs trend, real time, energy per inference with the energy ratio over the baseline
//! and the throttle verdicts, what was not counted, and the provenance.

use crate::energy::{mj, throttle_cell};
use crate::fmt::{ms, si, sig};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use edgebench_core::schema::study::{Average, Row, RowEnergy, StudySummary, Task, Trend, BEST};
use edgebench_core::schema::{IntervalMethod, Speedup, SpeedupWarning, Status, Verdict};

/// Text in a Markdown table cell: core's one escape (`<` and `&` too, as GitHub renders
/// inline HTML).
pub use edgebench_core::fmt::markdown_cell as escape;

pub(crate) fn task_name(t: Option<Task>) -> &'static str {
    t.map_or("all", |t| t.name())
}

/// `2.31x [2.10, 2.55] (3 rounds)`, `2.31x [2.10, 2.55] (1 round)` (a bootstrap within one
/// run of each side), or `2.31x (interval n/a: too few samples)`.
pub(crate) fn speedup_cell(r: &Row) -> String {
    let Some(s) = &r.speedup else {
        return "-".into();
    };
    match (s.ci95_low, s.ci95_high) {
        (Some(lo), Some(hi)) => {
            let rounds = match s.method {
                IntervalMethod::Rounds => format!(" ({} rounds)", s.round_ratios.len()),
                _ => " (1 round)".into(),
            };
            let warn = if s
                .warnings
                .iter()
                .any(|w| matches!(w, SpeedupWarning::RoundsDisagree { .. }))
            {
                " ⚠"
            } else {
                ""
            };
            format!("{:.2}x [{lo:.2}, {hi:.2}]{rounds}{warn}", s.ratio)
        }
        _ => format!("{:.2}x (interval n/a: {})", s.ratio, no_interval_reason(s)),
    }
}

/// Why a speed-up has no interval, in a few words.
pub(crate) fn no_interval_reason(s: &Speedup) -> &'static str {
    if s.warnings
        .iter()
        .any(|w| matches!(w, SpeedupWarning::FewSamples { .. }))
    {
        "too few samples"
    } else {
        "too few rounds"
    }
}

/// The rows with warnings (the measurement's and the speed-up's), each with its warnings, for
/// the Warnings sections of report.md and report.html.
pub(crate) fn warned_rows(s: &StudySummary) -> Vec<(&Row, Vec<String>)> {
    s.rows
        .iter()
        .map(|r| {
            let mut w = r.warnings.clone();
            w.extend(speedup_warnings(r));
            (r, w)
        })
        .filter(|(_, w)| !w.is_empty())
        .collect()
}

/// The speed-up's own warnings (few samples, rounds that disagree, one round), each naming
/// its fix.
pub(crate) fn speedup_warnings(r: &Row) -> Vec<String> {
    r.speedup
        .as_ref()
        .map(|s| s.warnings.iter().map(|w| w.to_string()).collect())
        .unwrap_or_default()
}

pub(crate) fn verdict(r: &Row) -> String {
    match (&r.speedup, r.status) {
        (Some(s), _) => match s.verdict {
            Verdict::Faster => "faster".into(),
            Verdict::Slower => "slower".into(),
            Verdict::WithinNoise => "within noise".into(),
            Verdict::Undetermined => "undetermined".into(),
        },
        (None, Status::Failed) => "FAILED".into(),
        (None, Status::GateFailed) => "GATE FAILED".into(),
        (None, Status::Unverified) => "NOT VERIFIED".into(),
        (None, Status::Ok) if !r.counted => "not counted".into(),
        (None, Status::Ok) => "-".into(),
    }
}

pub(crate) fn realtime_cell(r: &Row) -> String {
    match &r.realtime {
        Some(rt) => format!(
            "{} ({:.0}% late)",
            if rt.meets { "yes" } else { "no" },
            rt.miss_share * 100.0
        ),
        None => "-".into(),
    }
}

pub(crate) fn fps_cell(r: &Row) -> String {
    r.fps.map_or("-".into(), |f| {
        if f >= 100.0 {
            format!("{f:.0}")
        } else if f >= 10.0 {
            format!("{f:.1}")
        } else {
            format!("{f:.2}")
        }
    })
}

pub(crate) fn gflops(r: &Row) -> String {
    r.flops.map_or("-".into(), |f| {
        format!("{:.2}", f as f64 / 1e9 / r.batch.max(1) as f64)
    })
}

/// The baseline's median, with its spec when it is not the study's baseline (a model PyTorch
/// cannot run falls back to another baseline).
pub(crate) fn before_ms(s: &StudySummary, b: Option<&Row>) -> String {
    match b {
        Some(b) if b.spec != s.baseline => {
            format!("{} ({})", b.median_ms.map_or("-".into(), ms), b.spec)
        }
        Some(b) => b.median_ms.map_or("-".into(), ms),
        None => "-".into(),
    }
}

/// Pairs of (baseline row, candidate row) per model and batch, in plan order.
pub(crate) fn pairs(s: &StudySummary) -> Vec<(Option<&Row>, &Row)> {
    s.rows
        .iter()
        .filter(|r| !r.is_baseline)
        .map(|r| {
            let b = s
                .rows
                .iter()
                .find(|b| b.is_baseline && b.model == r.model && b.batch == r.batch);
            (b, r)
        })
        .collect()
}

/// An energy figure of a row: `-` when the variant did not run, `n/a` when it ran and the
/// figure was not measured (the reason is under the table).
fn energy_figure(r: &Row, f: impl Fn(&RowEnergy) -> Option<f64>, fmt: fn(f64) -> String) -> String {
    match r.energy.as_ref().and_then(f) {
        Some(v) => fmt(v),
        None if r.status == Status::Failed => "-".into(),
        None => "n/a".into(),
    }
}

pub(crate) fn power_cell(r: &Row) -> String {
    energy_figure(r, |e| e.avg_power_w, sig)
}

/// Energy per inference in millijoules.
pub(crate) fn mj_cell(r: &Row) -> String {
    energy_figure(r, |e| e.energy_per_inference_j, mj)
}

pub(crate) fn above_idle_cell(r: &Row) -> String {
    energy_figure(r, |e| e.energy_per_inference_above_idle_j, mj)
}

pub(crate) fn fps_per_w_cell(r: &Row) -> String {
    energy_figure(r, |e| e.fps_per_w, sig)
}

pub(crate) fn inferences_per_j_cell(r: &Row) -> String {
    energy_figure(r, |e| e.inferences_per_j, sig)
}

/// CO2 is only estimated when a grid intensity was given: `-` otherwise.
pub(crate) fn co2_cell(r: &Row) -> String {
    r.energy
        .as_ref()
        .and_then(|e| e.co2_g_per_1000_inferences)
        .map_or("-".into(), sig)
}

pub(crate) fn energy_ratio_cell(r: &Row) -> String {
    match r.energy_ratio {
        Some(x) => format!("{x:.2}x"),
        None if r.is_baseline => "baseline".into(),
        None => "-".into(),
    }
}

pub(crate) fn row_throttle_cell(r: &Row) -> String {
    r.energy
        .as_ref()
        .map_or("-".into(), |e| throttle_cell(e.throttle))
}

/// The check against the counters: power x time per inference in mJ and its gap.
pub(crate) fn check_cell(r: &Row) -> String {
    match r.energy.as_ref() {
        Some(e) => match (e.power_x_time_j, e.check_gap_pct()) {
            (Some(p), Some(g)) => format!("{} ({g:+.1}%)", mj(p)),
            _ => "-".into(),
        },
        None => "-".into(),
    }
}

/// Rows that ran but have no energy per inference, grouped by reason: `(reason, rows)`.
pub(crate) fn energy_na(s: &StudySummary) -> Vec<(String, Vec<&Row>)> {
    let mut out: Vec<(String, Vec<&Row>)> = vec![];
    for r in s.rows.iter().filter(|r| r.status != Status::Failed) {
        if let Some(why) = &r.energy_na {
            match out.iter_mut().find(|(w, _)| w == why) {
                Some((_, rows)) => rows.push(r),
                None => out.push((why.clone(), vec![r])),
            }
        }
    }
    out
}

/// No row has an energy per inference: the reason of the first row that ran.
pub(crate) fn energy_all_na(s: &StudySummary) -> Option<String> {
    let any = s.rows.iter().any(|r| {
        r.energy
            .as_ref()
            .is_some_and(|e| e.energy_per_inference_j.is_some())
    });
    if any {
        return None;
    }
    Some(
        s.rows
            .iter()
            .find(|r| r.status != Status::Failed)
            .or(s.rows.first())
            .and_then(|r| r.energy_na.clone())
            .unwrap_or_else(|| "no variant ran".into()),
    )
}

/// Rows whose device slowed down while they were sampled.
pub(crate) fn throttled_rows(s: &StudySummary) -> Vec<(&Row, &RowEnergy)> {
    s.rows
        .iter()
        .filter_map(|r| Some((r, r.energy.as_ref().filter(|e| e.throttled())?)))
        .collect()
}

fn energy_avg(a: &Average) -> String {
    a.energy_geomean_ratio
        .map_or("-".into(), |g| format!("{g:.2}x (n={})", a.energy_n))
}

fn avg_line(a: &Average) -> (String, String) {
    (
        a.mean_percent.map_or("-".into(), |p| format!("{p:+.1}%")),
        a.geomean_ratio.map_or("-".into(), |g| format!("{g:.2}x")),
    )
}

fn f3(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:+.3}"))
}

fn trend_line(t: &Trend) -> String {
    match (t.slope, t.intercept) {
        (Some(b), Some(a)) => format!(
            "{a:.2} {} {:.2} x log10(FLOPs)",
            if b < 0.0 { "-" } else { "+" },
            b.abs()
        ),
        _ => "-".into(),
    }
}

fn variant_name(v: &str) -> String {
    if v == BEST {
        "best per model".into()
    } else {
        v.into()
    }
}

/// The summary table for the terminal (a fleet's: [`crate::fleet::terminal`]).
pub fn terminal_table(s: &StudySummary) -> String {
    if s.is_fleet() {
        return crate::fleet::terminal(s);
    }
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(vec![
        "model",
        "GFLOPs",
        &format!("before ms ({})", s.baseline),
        "FPS",
        "variant",
        "ms",
        "FPS",
        "speed-up [95% CI]",
        "gain",
        "verdict",
        &format!("real time ({} fps)", s.config.realtime.fps),
        "W",
        "mJ/inference",
        "energy ratio",
        "throttle",
    ]);
    for (b, r) in pairs(s) {
        let right = |x: String| Cell::new(x).set_alignment(CellAlignment::Right);
        t.add_row(vec![
            Cell::new(if r.batch > 1 {
                format!("{} (batch {})", r.model, r.batch)
            } else {
                r.model.clone()
            }),
            right(gflops(r)),
            right(before_ms(s, b)),
            right(b.map_or("-".into(), fps_cell)),
            Cell::new(&r.spec),
            right(r.median_ms.map_or("-".into(), ms)),
            right(fps_cell(r)),
            right(speedup_cell(r)),
            right(
                r.speedup
                    .as_ref()
                    .map_or("-".into(), |x| format!("{:+.0}%", x.percent)),
            ),
            Cell::new(verdict(r)),
            Cell::new(realtime_cell(r)),
            right(power_cell(r)),
            right(mj_cell(r)),
            right(energy_ratio_cell(r)),
            Cell::new(row_throttle_cell(r)),
        ]);
    }
    let mut out = format!("{t}\n");
    if let Some(why) = energy_all_na(s) {
        out.push_str(&format!("energy: n/a: {why}\n"));
    } else {
        for (why, rows) in energy_na(s) {
            let names: Vec<String> = rows
                .iter()
                .map(|r| format!("{} {}", r.model, r.spec))
                .collect();
            out.push_str(&format!("energy: n/a for {}: {why}\n", names.join(", ")));
        }
    }
    for (r, e) in throttled_rows(s) {
        out.push_str(&format!(
            "{} {}: {}: {}\n",
            r.model,
            r.spec,
            throttle_cell(e.throttle),
            e.throttle_detail
        ));
    }
    let mut keys: Vec<(String, usize)> = vec![];
    for a in &s.averages {
        if !keys.contains(&(a.variant.clone(), a.batch)) {
            keys.push((a.variant.clone(), a.batch));
        }
    }
    for (v, batch) in keys {
        let parts: Vec<String> = s
            .averages
            .iter()
            .filter(|a| a.variant == v && a.batch == batch && a.n > 0)
            .map(|a| {
                let (m, g) = avg_line(a);
                format!("{} {m} / {g} (n={})", task_name(a.task), a.n)
            })
            .collect();
        if !parts.is_empty() {
            out.push_str(&format!(
                "average speed-up of {}{}: {}\n",
                variant_name(&v),
                if s.config.batch.len() > 1 {
                    format!(" at batch {batch}")
                } else {
                    String::new()
                },
                parts.join("; ")
            ));
        }
    }
    out.push_str("  (mean of % gains, as the study reports / geometric mean of ratios, the right average for ratios)\n");
    for a in s.averages.iter().filter(|a| a.energy_n > 0) {
        out.push_str(&format!(
            "energy ratio of {} on {}{}: {} (baseline J per inference / variant's, geometric mean)\n",
            variant_name(&a.variant),
            task_name(a.task),
            if s.config.batch.len() > 1 {
                format!(" at batch {}", a.batch)
            } else {
                String::new()
            },
            energy_avg(a)
        ));
    }
    for t in s.trends.iter().filter(|t| t.n >= 3) {
        out.push_str(&format!(
            "FLOPs trend, {} on {}: Spearman {}, Pearson {} between log10 FLOPs and speed-up{}\n",
            variant_name(&t.variant),
            task_name(t.task),
            f3(t.spearman),
            f3(t.pearson),
            if t.exceptions.is_empty() {
                String::new()
            } else {
                format!("; exceptions: {}", t.exceptions.join(", "))
            }
        ));
    }
    if !s.failures.is_empty() {
        out.push_str(&format!(
            "not counted: {} variant(s), see report.md\n",
            s.failures.len()
        ));
    }
    out
}

/// `report.md`: for one device the study's sections; for a fleet the devices side by side,
/// then each device's sections ([`crate::fleet`]).
pub fn render(s: &StudySummary) -> String {
    if s.is_fleet() {
        return crate::fleet::markdown(s);
    }
    let mut o = String::new();
    o.push_str(&format!("# edgebench study: {}\n\n", escape(&s.name)));
    o.push_str(&provenance(s, Provenance::Study));
    if !s.pending.is_empty() {
        o.push_str(&format!(
            "\n**Incomplete:** {} of the study's jobs are not measured yet (`edgebench study --resume` finishes them).\n",
            s.pending.len()
        ));
    }
    body(&mut o, s, "##");
    o.push_str(METHOD);
    o
}

/// The `## Method` section of report.md.
pub(crate) const METHOD: &str = "\n## Method\n\nEach variant ran in its own process once per interleaved round: model built or loaded, prepared by the engine, warmed up, then sampled until the 95% confidence interval of the median was narrow enough or the round's share of the time limit was reached; a variant whose first round took fewer than 3 samples got the time for 3 in each later round. Speed-ups compare medians round by round; their intervals come from the spread of the rounds' ratios (a bootstrap of both sample sets with one round), and a warning says when the rounds disagree beyond their own intervals. A variant counts only if its outputs agree with the reference's on the same random inputs in every round (the accuracy gate), and only if the reference itself ran. See docs/study.md.\n";

/// The sections of report.md from the speed-ups to the warnings, headed `h` (`##`, or `###`
/// under a device of a fleet).
pub(crate) fn body(o: &mut String, s: &StudySummary, h: &str) {
    o.push_str(&format!("\n{h} Speed-up per model\n\n"));
    o.push_str(&format!(
        "Before: {}. After: each optimized variant. Speed-up = baseline median / variant median; each model's variants were measured in {} interleaved round(s) (baseline, variants, baseline, ...), one process each, and the speed-up is the geometric mean of the rounds' ratios with a 95% interval across the rounds, so that it covers the variation between runs (with one round: a bootstrap over both sample sets, which covers only the noise within that run); no interval when a side has too few samples; gain = (speed-up - 1) x 100, the study's \"speed improvement\". Real time: {} frames per second{}.\n\n",
        escape(&s.baseline),
        s.config.measure.rounds.max(1),
        s.config.realtime.fps,
        match s.config.realtime.clip_stride {
            Some(st) => format!(", video models one clip every {st} frames"),
            None => ", video models one clip per clip length of frames (windows that do not overlap)".into(),
        }
    ));
    o.push_str("| Model | Task | GFLOPs | Params | Before ms | Before FPS | Variant | After ms [95% CI] | After FPS | Speed-up [95% CI] | Gain | Verdict | Real time (after) |\n");
    o.push_str(
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |\n",
    );
    for (b, r) in pairs(s) {
        let after = match (r.median_ms, r.ci95_low_ms, r.ci95_high_ms) {
            (Some(m), Some(l), Some(h)) => format!("{} [{}, {}]", ms(m), ms(l), ms(h)),
            _ => "-".into(),
        };
        o.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | `{}` | {} | {} {} | {} | {} | {} | {} |\n",
            escape(&r.model),
            r.task.name(),
            gflops(r),
            r.params.map_or("-".into(), |p| si(p as f64)),
            before_ms(s, b),
            b.map_or("-".into(), fps_cell),
            escape(&r.spec),
            after,
            fps_cell(r),
            r.unit,
            speedup_cell(r),
            r.speedup
                .as_ref()
                .map_or("-".into(), |x| format!("{:+.1}%", x.percent)),
            verdict(r),
            realtime_cell(r),
        ));
    }

    o.push_str(&format!("\n{h} Average speed-up\n\n"));
    o.push_str("Two averages over the models, gate-passing variants only: the arithmetic mean of the percentage gains (what the published study reports) and the geometric mean of the speed-up ratios (the right average for ratios: a 2x gain and a 2x loss average to 1x). They differ most when gains vary widely.\n\n");
    o.push_str("The energy ratio is the baseline's energy per inference over the variant's (above 1: the variant uses less energy for the same work), averaged geometrically over the models whose energy was measured on both sides.\n\n");
    o.push_str("| Variant | Task | Models | Arithmetic mean of % gains | Geometric mean of ratios | Energy ratio (geometric mean) |\n| --- | --- | ---: | ---: | ---: | ---: |\n");
    for a in &s.averages {
        let (m, g) = avg_line(a);
        o.push_str(&format!(
            "| {} | {}{} | {} | {m} | {g} | {} |\n",
            escape(&variant_name(&a.variant)),
            task_name(a.task),
            if s.config.batch.len() > 1 {
                format!(" (batch {})", a.batch)
            } else {
                String::new()
            },
            a.n,
            energy_avg(a)
        ));
    }

    energy_md(o, s, h);

    o.push_str(&format!("\n{h} Do smaller models gain more?\n\n"));
    o.push_str(&format!(
        "Correlation between log10 FLOPs per item and the speed-up ratio (a negative value: lower-FLOPs models gain more), the least-squares line, and the models whose residual exceeds {} residual standard deviations (exceptions to the trend).\n\n",
        s.config.analysis.exception_sd
    ));
    o.push_str("| Variant | Task | n | Spearman | Pearson | Least-squares line | Exceptions |\n| --- | --- | ---: | ---: | ---: | --- | --- |\n");
    for t in &s.trends {
        o.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            escape(&variant_name(&t.variant)),
            task_name(t.task),
            t.n,
            f3(t.spearman),
            f3(t.pearson),
            trend_line(t),
            if t.exceptions.is_empty() {
                "none".into()
            } else {
                t.points
                    .iter()
                    .filter(|p| p.exception)
                    .map(|p| {
                        format!(
                            "{} ({:+.1} sd)",
                            escape(&p.model),
                            p.std_residual.unwrap_or(0.0)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }

    o.push_str(&format!("\n{h} Real time\n\n"));
    o.push_str("| Model | Variant | Median ms | Items/s | Needed/s | Meets | Share over the deadline |\n| --- | --- | ---: | ---: | ---: | --- | ---: |\n");
    for r in &s.rows {
        if let Some(rt) = &r.realtime {
            o.push_str(&format!(
                "| {} | `{}` | {} | {} {} | {:.2} | {} | {:.1}% |\n",
                escape(&r.model),
                escape(&r.spec),
                r.median_ms.map_or("-".into(), ms),
                fps_cell(r),
                r.unit,
                r.required_per_s,
                if rt.meets { "yes" } else { "no" },
                rt.miss_share * 100.0
            ));
        }
    }

    o.push_str(&format!("\n{h} Not counted\n\n"));
    let uncounted: Vec<&Row> = s
        .rows
        .iter()
        .filter(|r| !r.counted || (r.note.is_some() && !r.is_baseline && r.speedup.is_none()))
        .collect();
    if uncounted.is_empty() {
        o.push_str("Every variant ran and passed the accuracy gate.\n");
    } else {
        for r in uncounted {
            o.push_str(&format!(
                "- {} `{}`: {}\n",
                escape(&r.model),
                escape(&r.spec),
                escape(r.note.as_deref().unwrap_or("not counted"))
            ));
        }
    }

    let roofs = crate::roofline_chart::study_roofs(s, &Default::default());
    o.push_str(&crate::roofline_chart::markdown_section(s, &roofs, h));

    let warned = warned_rows(s);
    if !warned.is_empty() {
        o.push_str(&format!("\n{h} Warnings\n\n"));
        for (r, w) in warned {
            o.push_str(&format!(
                "- {} `{}`: {}\n",
                escape(&r.model),
                escape(&r.spec),
                escape(&w.join("; "))
            ));
        }
    }
}

/// The energy table, why figures are n/a, the throttled variants and the telemetry's caveats.
fn energy_md(o: &mut String, s: &StudySummary, h: &str) {
    o.push_str(&format!("\n{h} Energy per inference\n\n"));
    o.push_str("Measured by the device's sensors over each variant's sampling window (docs/energy.md): average power, energy per inference in millijoules (counters where the device has them), the same with the idle power subtracted, the energy ratio over the baseline (baseline mJ / variant mJ, above 1: less energy for the same work), inferences per joule, items per second per watt, CO2 when a grid intensity was given, and the check: average sampled power x window per inference, with its gap to the counters. A figure nothing measured is n/a, with the reason below, never zero.\n\n");
    if let Some(why) = energy_all_na(s) {
        o.push_str(&format!("Energy is n/a: {}.\n\n", escape(&why)));
    }
    o.push_str("| Model | Variant | Power W | Peak W | Idle W | mJ/inference | Above idle mJ | Energy ratio | Inferences/J | FPS/W | CO2 g/1000 | Check: power x time mJ (gap) | Throttle |\n");
    o.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for r in &s.rows {
        o.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            escape(&r.model),
            escape(&r.spec),
            power_cell(r),
            energy_figure(r, |e| e.peak_power_w, sig),
            energy_figure(r, |e| e.idle_power_w, sig),
            mj_cell(r),
            above_idle_cell(r),
            energy_ratio_cell(r),
            inferences_per_j_cell(r),
            fps_per_w_cell(r),
            co2_cell(r),
            check_cell(r),
            row_throttle_cell(r),
        ));
    }
    let na = energy_na(s);
    let throttled = throttled_rows(s);
    let notes: Vec<(&Row, &String)> = s
        .rows
        .iter()
        .flat_map(|r| {
            r.energy
                .iter()
                .flat_map(move |e| e.notes.iter().map(move |n| (r, n)))
        })
        .collect();
    if !na.is_empty() && energy_all_na(s).is_none() {
        o.push('\n');
        for (why, rows) in &na {
            let names: Vec<String> = rows
                .iter()
                .map(|r| format!("{} `{}`", escape(&r.model), escape(&r.spec)))
                .collect();
            o.push_str(&format!(
                "- Energy n/a for {}: {}\n",
                names.join(", "),
                escape(why)
            ));
        }
    }
    if !throttled.is_empty() {
        o.push_str(
            "\nThrottled while sampled (their latency and energy are not the device's best):\n\n",
        );
        for (r, e) in throttled {
            o.push_str(&format!(
                "- ⚠ {} `{}`: {}\n",
                escape(&r.model),
                escape(&r.spec),
                escape(&e.throttle_detail)
            ));
        }
    }
    if !notes.is_empty() {
        o.push_str("\nNotes on the energy figures:\n\n");
        for (r, n) in notes {
            o.push_str(&format!(
                "- {} `{}`: {}\n",
                escape(&r.model),
                escape(&r.spec),
                escape(n)
            ));
        }
    }
}

/// What the provenance list covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provenance {
    /// A study on one device: everything.
    Study,
    /// The top of a fleet's report: the tool, the sessions, the study's baseline and
    /// settings (hosts and engines are each device's).
    Fleet,
    /// One device of a fleet: its hosts, baseline, variants, engines and notes.
    Device,
}

pub(crate) fn provenance(s: &StudySummary, what: Provenance) -> String {
    let mut o = String::new();
    let hosts: &[_] = if what == Provenance::Fleet {
        &[]
    } else {
        &s.hosts
    };
    for h in hosts {
        o.push_str(&format!(
            "- Host: {} ({} logical CPUs, {:.1} GiB), {}, kernel {}\n",
            escape(&h.cpu),
            h.logical_cpus,
            h.memory_bytes as f64 / (1u64 << 30) as f64,
            escape(&h.os),
            escape(&h.kernel)
        ));
        if let Some(b) = &h.board {
            o.push_str(&format!("- Board: {}\n", escape(&b.summary())));
            if let (Some(short), Some(fix)) = (&b.shortfall, &b.fix) {
                o.push_str(&format!(
                    "- **Warning**: the board was not in its maximum-performance mode ({}); run `{}` and rerun\n",
                    escape(short),
                    // edgebench's own commands, in a code span where `&` must stay `&`.
                    fix.replace('`', "'")
                ));
            }
        }
    }
    if what == Provenance::Device {
        o.push_str(&format!("- {} session(s)\n", s.sessions));
    } else {
        o.push_str(&format!(
            "- edgebench {} ({}); {} session(s)\n",
            escape(&s.tool.version),
            escape(&s.tool.git_commit),
            s.sessions
        ));
    }
    o.push_str(&format!("- {}\n", escape(&s.baseline_note)));
    o.push_str(&format!(
        "- Optimized variants: {}; accuracy gate reference: `{}`\n",
        s.variants
            .iter()
            .map(|v| format!("`{}`", escape(v)))
            .collect::<Vec<_>>()
            .join(", "),
        escape(&s.reference)
    ));
    let per_device: &[Row] = if what == Provenance::Fleet {
        &[]
    } else {
        &s.rows
    };
    let mut versions: Vec<String> = per_device
        .iter()
        .filter_map(|r| {
            let engine = r.spec.split(':').next()?;
            Some(format!("{engine} {}", r.engine_version.clone()?))
        })
        .collect();
    versions.sort();
    versions.dedup();
    if !versions.is_empty() {
        o.push_str(&format!("- Engines: {}\n", escape(&versions.join(", "))));
    }
    for n in s.notes.iter().filter(|_| what != Provenance::Fleet) {
        o.push_str(&format!("- Note: {}\n", escape(n)));
    }
    if what == Provenance::Device {
        return o;
    }
    let m = &s.config.measure;
    o.push_str(&format!(
        "- Settings: batch {:?}, warm-up {} s (at least {} runs), {} to {} samples, at most {} s of sampling or until the median is known to ±{}%, {} s limit per variant, {} gate input sets, seed {}\n",
        s.config.batch, m.warmup_s, m.min_warmup_runs, m.min_samples, m.max_samples, m.max_time_s, m.target_ci_pct, m.timeout_s, m.gate_inputs, s.config.seed
    ));
    o
}
