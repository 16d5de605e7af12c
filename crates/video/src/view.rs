//! Views of a video run: the terminal summary of one run and a Markdown table of several
//! (`edgebench report --video`, the README's table). Formatting only; figures use
//! `edgebench_core::fmt`, as every other view does.

use crate::queue::DropPolicy;
use crate::report::{fps_text, Stage, VideoReport};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, ContentArrangement, Table};
use edgebench_core::fmt::{markdown_cell, ms, sig};

/// The terminal view: a header, the per-stage table, then real-time figures, the verdict and
/// warnings.
pub fn terminal(r: &VideoReport) -> String {
    let s = &r.settings;
    let mut out = String::new();
    let threads = r
        .session
        .threads
        .map(|t| format!(", {t} thread{}", if t == 1 { "" } else { "s" }))
        .unwrap_or_default();
    let mode = if s.paced {
        format!(
            "paced, {}",
            match s.drop_policy {
                DropPolicy::Oldest => format!("drop oldest, queue depth {}", s.queue_depth),
                DropPolicy::Queue => "queue every clip".to_string(),
            }
        )
    } else {
        "as fast as possible".to_string()
    };
    out.push_str(&format!(
        "{} on {}{threads} · {} ({}x{} at {} fps, {}) · {mode}\n",
        r.model.path,
        s.engine,
        r.source.input,
        r.source.width,
        r.source.height,
        fps_text(r.source.fps),
        r.source.decoder,
    ));
    out.push_str(&format!(
        "{} frames · clips of {} frame{} every {} · {} clips: {} predicted, {} dropped\n",
        r.frames,
        s.clip.frames,
        if s.clip.frames == 1 { "" } else { "s" },
        s.stride,
        r.clips,
        r.predicted,
        r.dropped
    ));
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "stage",
            "per",
            "count",
            "median ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "outliers",
        ]);
    for st in &r.stages {
        let Some(x) = &st.latency_ms else { continue };
        let mut row = vec![Cell::new(st.stage.name()), Cell::new(&st.per)];
        for v in [
            st.count.to_string(),
            ms(x.median),
            ms(x.p95),
            ms(x.p99),
            ms(x.max),
            st.outliers.total().to_string(),
        ] {
            row.push(Cell::new(v).set_alignment(CellAlignment::Right));
        }
        t.add_row(row);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    if let Some(p) = &r.paced {
        let e2e = r
            .stages
            .iter()
            .find(|s| s.stage == Stage::EndToEnd)
            .and_then(|s| s.latency_ms.as_ref());
        if let Some(e) = e2e {
            out.push_str(&format!(
                "end to end (last frame released -> label): median {} ms, p95 {} ms, p99 {} ms, jitter {} ms\n",
                ms(e.median),
                ms(e.p95),
                ms(e.p99),
                ms(p.jitter_ms)
            ));
        }
        out.push_str(&format!(
            "deadline {} ms: {} of {} predicted clips missed it ({:.0}%); {} clips dropped; {} frames released late; at most {} clips waiting\n",
            ms(p.deadline_ms),
            p.deadline_misses,
            r.predicted,
            p.miss_share * 100.0,
            p.dropped_clips,
            p.late_frames,
            p.max_queue_len
        ));
    }
    let th = &r.throughput;
    let whole = if s.paced {
        format!("frames labelled {:.1} fps", th.labelled_fps)
    } else {
        format!("whole pipeline {:.1} fps", th.pipeline_fps)
    };
    out.push_str(&format!(
        "throughput: model only {} fps · {whole} · {:.2} predictions/s · {:.1} s wall · first inference {} ms\n",
        th.model_only_fps
            .map(|f| format!("{f:.1}"))
            .unwrap_or_else(|| "n/a".into()),
        th.predictions_per_s,
        th.wall_s,
        ms(r.first_run_ms)
    ));
    out.push_str(&render_energy(r));
    out.push_str(&format!("verdict: {}\n", r.verdict));
    for w in &r.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// Energy, throttling and the telemetry's notes, one line each; a figure nothing measured is
/// `n/a` with the reason, never 0.
fn render_energy(r: &VideoReport) -> String {
    let Some(e) = &r.energy else {
        return "energy: not measured (--no-telemetry)\n".into();
    };
    let mut out = String::new();
    // Image models run one frame per inference: their "clip" is a frame.
    let per = if r.settings.clip.frames == 1 {
        "frame"
    } else {
        "clip"
    };
    let span = if e.window.duration_s < 1.0 {
        format!("{:.0} ms", e.window.duration_s * 1e3)
    } else {
        format!("{:.1} s", e.window.duration_s)
    };
    let head = format!(
        "energy over the whole run ({span}, {} inference{})",
        e.window.inferences,
        if e.window.inferences == 1 { "" } else { "s" }
    );
    match &e.total {
        None => out.push_str(&format!(
            "{head}: n/a ({})\n",
            e.total_na.as_deref().unwrap_or("no reason given")
        )),
        Some(t) => {
            let mut parts = vec![format!(
                "{} W average{}",
                sig(t.avg_power_w),
                t.idle_power_w
                    .map(|i| format!(" (idle {} W)", sig(i)))
                    .unwrap_or_default()
            )];
            let mut clip = format!("{} J per {per}", sig(t.energy_per_inference_j));
            if let Some(a) = t.energy_per_inference_above_idle_j {
                clip += &format!(" ({} above idle)", sig(a));
            }
            parts.push(clip);
            if per == "clip" {
                parts.push(match r.energy_per_frame_j {
                    Some(f) => format!("{} J per frame", sig(f)),
                    None => "J per frame n/a (no frame labelled)".into(),
                });
            }
            parts.push(match t.fps_per_w {
                Some(f) => format!("{} fps/W", sig(f)),
                None => "fps/W n/a (no frame labelled)".into(),
            });
            if let Some(c) = t.co2_g_per_1000_inferences {
                parts.push(format!("{} g CO2 per 1000 {per}s", sig(c)));
            }
            out.push_str(&format!(
                "{head}: {} [{}]\n",
                parts.join(" · "),
                t.devices.join(", ")
            ));
        }
    }
    out.push_str(&format!(
        "throttle: {} ({})\n",
        e.throttle.verdict, e.throttle.detail
    ));
    for n in &e.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

fn stage_median(r: &VideoReport, stage: Stage) -> Option<f64> {
    r.stages
        .iter()
        .find(|s| s.stage == stage)
        .and_then(|s| s.latency_ms.as_ref())
        .map(|l| l.median)
}

fn verdict_cell(r: &VideoReport) -> String {
    let v = &r.verdict;
    if v.predicted == 0 {
        "no clip predicted".into()
    } else if v.keeps_up {
        format!("keeps up, {:.2}x headroom", v.factor)
    } else if v.factor >= 1.0 {
        // Fast enough on average, yet clips were dropped or late (a slow start, a stall):
        // "needs 0.17x" would read as a speed the pipeline lacks.
        format!(
            "does not keep up: {} of {} clips dropped, {} late, despite {:.2}x headroom",
            v.dropped,
            v.dropped + v.predicted,
            v.deadline_misses,
            v.factor
        )
    } else {
        format!("too slow: needs {:.2}x", 1.0 / v.factor.max(1e-9))
    }
}

/// One row per model (in the order first given), engine and stride: the unpaced runs'
/// inference median, model-only and whole-pipeline fps, and the paced runs' end-to-end
/// median and verdict; several runs of one kind are joined with ` / ` in the order given.
pub fn markdown_table(runs: &[VideoReport]) -> String {
    let mut keys: Vec<(String, String)> = vec![];
    for r in runs {
        let k = (r.model.path.clone(), r.settings.engine.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let join = |xs: Vec<String>| {
        if xs.is_empty() {
            "-".to_string()
        } else {
            xs.join(" / ")
        }
    };
    let mut o = String::from(
        "| model | engine | clip | inference ms, median | model-only fps | whole pipeline fps, unpaced | paced end to end ms, median | paced verdict |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for (model, engine) in &keys {
        let of = |paced: bool| -> Vec<&VideoReport> {
            runs.iter()
                .filter(|r| {
                    &r.model.path == model
                        && &r.settings.engine == engine
                        && r.settings.paced == paced
                })
                .collect()
        };
        let (unpaced, paced) = (of(false), of(true));
        let any = unpaced.first().or(paced.first()).copied();
        let clip = any.map_or("-".into(), |r| {
            format!(
                "{} frames, stride {}, {} fps",
                r.settings.clip.frames,
                r.settings.stride,
                fps_text(r.throughput.source_fps)
            )
        });
        o.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} | {} |\n",
            markdown_cell(model),
            markdown_cell(engine),
            clip,
            join(
                unpaced
                    .iter()
                    .map(|r| stage_median(r, Stage::Inference).map_or("-".into(), ms))
                    .collect()
            ),
            join(
                unpaced
                    .iter()
                    .map(|r| r
                        .throughput
                        .model_only_fps
                        .map_or("-".into(), |f| format!("{f:.1}")))
                    .collect()
            ),
            join(
                unpaced
                    .iter()
                    .map(|r| format!("{:.1}", r.throughput.pipeline_fps))
                    .collect()
            ),
            join(
                paced
                    .iter()
                    .map(|r| stage_median(r, Stage::EndToEnd).map_or("-".into(), ms))
                    .collect()
            ),
            join(paced.iter().map(|r| verdict_cell(r)).collect()),
        ));
    }
    o
}

/// The progress display's message after clip `p`: the clips predicted and dropped so far, and
/// the last end-to-end latency.
pub fn clip_progress(p: &crate::run::Prediction, predicted: u64, dropped: u64) -> String {
    format!(
        "clip {}: {predicted} predicted, {dropped} dropped{}",
        p.clip,
        p.latency_ms
            .map(|l| format!(", last {} ms end to end", ms(l)))
            .unwrap_or_default()
    )
}

/// Why a run ended early (`r.error`), with how far it got and the files that hold what it
/// measured; `None` for a run that finished.
pub fn stopped(r: &VideoReport, outputs: &crate::export::Outputs) -> Option<String> {
    let e = r.error.as_ref()?;
    let written: Vec<String> = outputs.paths().map(|p| p.display().to_string()).collect();
    Some(format!(
        "{e}; the run stopped after {} frames and {} predictions{}",
        r.frames,
        r.predicted,
        if written.is_empty() {
            String::new()
        } else {
            format!(", written to {}", written.join(", "))
        }
    ))
}
