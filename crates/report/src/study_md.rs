//! Markdown report and terminal table of a study: a table in the style of the published
//! study (before / after FPS and the speed improvement per model), the average speed-ups,
//! the FLOPs trend, real time, what was not counted, and the provenance.

use crate::fmt::{ms, si};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use edgebench_core::schema::{Status, Verdict};
use edgebench_study::analysis::{Average, Row, Summary, Trend, BEST};

/// Escapes text for a Markdown table cell (GitHub renders inline HTML, so `<` is escaped
/// too).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

pub(crate) fn task_name(t: Option<edgebench_study::config::Task>) -> &'static str {
    t.map_or("all", |t| t.name())
}

pub(crate) fn speedup_cell(r: &Row) -> String {
    match &r.speedup {
        Some(s) => format!("{:.2}x [{:.2}, {:.2}]", s.ratio, s.ci95_low, s.ci95_high),
        None => "-".into(),
    }
}

pub(crate) fn verdict(r: &Row) -> String {
    match (&r.speedup, r.status) {
        (Some(s), _) => match s.verdict {
            Verdict::Faster => "faster".into(),
            Verdict::Slower => "slower".into(),
            Verdict::WithinNoise => "within noise".into(),
        },
        (None, Status::Failed) => "FAILED".into(),
        (None, Status::GateFailed) => "GATE FAILED".into(),
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
pub(crate) fn before_ms(s: &Summary, b: Option<&Row>) -> String {
    match b {
        Some(b) if b.spec != s.baseline => {
            format!("{} ({})", b.median_ms.map_or("-".into(), ms), b.spec)
        }
        Some(b) => b.median_ms.map_or("-".into(), ms),
        None => "-".into(),
    }
}

/// Pairs of (baseline row, candidate row) per model and batch, in plan order.
pub(crate) fn pairs(s: &Summary) -> Vec<(Option<&Row>, &Row)> {
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

/// The summary table for the terminal.
pub fn terminal_table(s: &Summary) -> String {
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
        ]);
    }
    let mut out = format!("{t}\n");
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

/// `report.md`.
pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    o.push_str(&format!("# edgebench study: {}\n\n", escape(&s.name)));
    o.push_str(&provenance(s));
    if !s.pending.is_empty() {
        o.push_str(&format!(
            "\n**Incomplete:** {} of the study's jobs are not measured yet (`edgebench study --resume` finishes them).\n",
            s.pending.len()
        ));
    }

    o.push_str("\n## Speed-up per model\n\n");
    o.push_str(&format!(
        "Before: {}. After: each optimized variant. Speed-up = baseline median / variant median, with a 95% bootstrap interval over both sample sets; gain = (speed-up - 1) x 100, the study's \"speed improvement\". Real time: {} frames per second{}.\n\n",
        escape(&s.baseline),
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

    o.push_str("\n## Average speed-up\n\n");
    o.push_str("Two averages over the models, gate-passing variants only: the arithmetic mean of the percentage gains (what the published study reports) and the geometric mean of the speed-up ratios (the right average for ratios: a 2x gain and a 2x loss average to 1x). They differ most when gains vary widely.\n\n");
    o.push_str("| Variant | Task | Models | Arithmetic mean of % gains | Geometric mean of ratios |\n| --- | --- | ---: | ---: | ---: |\n");
    for a in &s.averages {
        let (m, g) = avg_line(a);
        o.push_str(&format!(
            "| {} | {}{} | {} | {m} | {g} |\n",
            escape(&variant_name(&a.variant)),
            task_name(a.task),
            if s.config.batch.len() > 1 {
                format!(" (batch {})", a.batch)
            } else {
                String::new()
            },
            a.n
        ));
    }

    o.push_str("\n## Do smaller models gain more?\n\n");
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

    o.push_str("\n## Real time\n\n");
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

    o.push_str("\n## Not counted\n\n");
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

    let warned: Vec<&Row> = s.rows.iter().filter(|r| !r.warnings.is_empty()).collect();
    if !warned.is_empty() {
        o.push_str("\n## Warnings\n\n");
        for r in warned {
            o.push_str(&format!(
                "- {} `{}`: {}\n",
                escape(&r.model),
                escape(&r.spec),
                escape(&r.warnings.join("; "))
            ));
        }
    }
    o.push_str("\n## Method\n\nEach variant ran in its own process: model built or loaded, prepared by the engine, warmed up, then sampled until the 95% confidence interval of the median was narrow enough or the time limit was reached. Speed-ups compare medians; their intervals come from a bootstrap that resamples both sample sets. A variant counts only if its outputs agree with the reference's on the same random inputs (the accuracy gate). See docs/study.md.\n");
    o
}

fn provenance(s: &Summary) -> String {
    let mut o = String::new();
    for h in &s.hosts {
        o.push_str(&format!(
            "- Host: {} ({} logical CPUs, {:.1} GiB), {}, kernel {}\n",
            escape(&h.cpu),
            h.logical_cpus,
            h.memory_bytes as f64 / (1u64 << 30) as f64,
            escape(&h.os),
            escape(&h.kernel)
        ));
    }
    o.push_str(&format!(
        "- edgebench {} ({}); {} session(s)\n",
        escape(&s.tool.version),
        escape(&s.tool.git_commit),
        s.sessions
    ));
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
    let mut versions: Vec<String> = s
        .rows
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
    for n in &s.notes {
        o.push_str(&format!("- Note: {}\n", escape(n)));
    }
    let m = &s.config.measure;
    o.push_str(&format!(
        "- Settings: batch {:?}, warm-up {} s (at least {} runs), {} to {} samples, at most {} s of sampling or until the median is known to ±{}%, {} s limit per variant, {} gate input sets, seed {}\n",
        s.config.batch, m.warmup_s, m.min_warmup_runs, m.min_samples, m.max_samples, m.max_time_s, m.target_ci_pct, m.timeout_s, m.gate_inputs, s.config.seed
    ));
    o
}
