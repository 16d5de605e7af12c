//! `edgebench report --markdown`: compact Markdown tables rebuilt from committed result
//! documents, written to stdout only (nothing in the folder or beside the files is touched).
//! The README's tables are this output; `crates/cli/tests/readme.rs` checks them.

use anyhow::{anyhow, Context, Result};
use edgebench_core::analysis;
use edgebench_core::schema::BenchReport;
use edgebench_report::fmt::ms;
use edgebench_report::study_md::escape;
use edgebench_report::tables;
use edgebench_study::results;
use edgebench_video::report::{Stage, VideoReport};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn read<T: DeserializeOwned>(file: &Path, what: &str) -> Result<T> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        anyhow!(
            "{} is not a {what} JSON file ({e}): give a file written by `edgebench {what} --export-json`",
            file.display()
        )
    })
}

/// The study's average speed-ups by variant and task (`report DIR --markdown`).
pub fn study(dir: &Path) -> Result<ExitCode> {
    let path = dir.join(results::RESULTS_FILE);
    if !path.is_file() {
        anyhow::bail!(
            "{} has no results.jsonl: give a folder written by `edgebench study`",
            dir.display()
        );
    }
    let loaded = results::load(&path)?;
    let summary = analysis::analyse(&loaded).ok_or_else(|| {
        anyhow!(
            "{} holds no study session line: it was not written by `edgebench study`",
            path.display()
        )
    })?;
    print!("{}", tables::study_averages(&summary));
    Ok(ExitCode::SUCCESS)
}

/// Bench runs side by side (`report --bench FILE...`), or video runs one model a row
/// (`report --video FILE...`).
pub fn files(bench: &[PathBuf], video: &[PathBuf]) -> Result<ExitCode> {
    if !bench.is_empty() {
        let runs = bench
            .iter()
            .map(|f| read::<BenchReport>(f, "bench"))
            .collect::<Result<Vec<_>>>()?;
        print!("{}", tables::bench_matrix(&runs));
    }
    if !video.is_empty() {
        let runs = video
            .iter()
            .map(|f| read::<VideoReport>(f, "video"))
            .collect::<Result<Vec<_>>>()?;
        print!("{}", video_table(&runs));
    }
    Ok(ExitCode::SUCCESS)
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
    } else {
        format!("too slow: needs {:.2}x", 1.0 / v.factor.max(1e-9))
    }
}

/// One row per model (in the order first given), engine and stride: the unpaced runs'
/// inference median, model-only and whole-pipeline fps, and the paced runs' end-to-end
/// median and verdict; several runs of one kind are joined with ` / ` in the order given.
pub fn video_table(runs: &[VideoReport]) -> String {
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
                edgebench_video::report::fps_text(r.throughput.source_fps)
            )
        });
        o.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} | {} |\n",
            escape(model),
            escape(engine),
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
