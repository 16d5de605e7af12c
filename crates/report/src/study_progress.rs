//! The lines `edgebench study`, `report` and `merge` print around a study on stderr: the plan,
//! the sensors, the job in progress, what was written and what failed. Text only: the CLI
//! prints them and draws the progress bar.

use edgebench_core::schema::study::{Job, Plan, Shard, StudyConfig, StudySummary};
use edgebench_core::telemetry::Telemetry;
use std::path::{Path, PathBuf};

/// The plan of a study about to run, one line each (every line ends in a newline): its size,
/// the shard's part, the baseline, the variants, the gate's reference and the plan's notes.
pub fn planned(config: &StudyConfig, plan: &Plan, shard: Option<Shard>, out: &Path) -> String {
    let mut s = format!(
        "edgebench study `{}`: {} models, {} jobs ({} interleaved round(s) per variant), into {}\n",
        config.name,
        plan.models.len(),
        plan.jobs.len(),
        config.measure.rounds.max(1),
        out.display()
    );
    if let Some(sh) = shard {
        match sh.jobs(plan).len() {
            0 => s += &format!(
                "  shard {sh}: no jobs (the plan has fewer models x batch sizes than shards); its folder records the shard for the merge\n"
            ),
            n => s += &format!("  shard {sh}: {n} of the {} jobs\n", plan.jobs.len()),
        }
    }
    s += &format!("  {}\n", plan.baseline_note);
    s += &format!("  optimized variants: {}\n", plan.variants.join(", "));
    if plan.reference != plan.baseline {
        s += &format!("  accuracy gate reference: {}\n", plan.reference);
    }
    for n in &plan.notes {
        s += &format!("  note: {n}\n");
    }
    s
}

/// The sensors that opened and the idle power, or why energy is n/a (one line, no newline).
pub fn telemetry(t: &Telemetry) -> String {
    match (&t.idle, t.has_power()) {
        (Some(idle), _) => format!(
            "  telemetry: {}; idle power {:.1} W over {:.1} s",
            sensors(t),
            idle.total_w,
            idle.duration_s
        ),
        (None, true) => format!("  telemetry: {}", sensors(t)),
        (None, false) => format!(
            "  telemetry: no power sensor ({}): energy is n/a",
            t.unavailable
                .iter()
                .map(|u| format!("{}: {}", u.source, u.reason))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// The sensors that opened, in a few words: `nvml (gpu0), rapl (package-0, dram)`.
fn sensors(t: &Telemetry) -> String {
    let mut by_source: Vec<(String, Vec<String>)> = vec![];
    for c in t.channels() {
        match by_source.iter_mut().find(|(s, _)| *s == c.source) {
            Some((_, devices)) => {
                if !devices.contains(&c.device) {
                    devices.push(c.device.clone());
                }
            }
            None => by_source.push((c.source.clone(), vec![c.device.clone()])),
        }
    }
    by_source
        .iter()
        .map(|(s, d)| format!("{s} ({})", d.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The job in progress: `resnet18 · ort:all · batch 4 · round 2/3` (batch and round only when
/// there is more than one).
pub fn job(label: &str, job: &Job, rounds: usize) -> String {
    let mut s = format!("{label} · {}", job.spec);
    if job.batch > 1 {
        s += &format!(" · batch {}", job.batch);
    }
    if rounds > 1 {
        s += &format!(" · round {}/{rounds}", job.round);
    }
    s
}

/// Paths as the "wrote ..." line lists them.
pub fn paths(written: &[PathBuf]) -> String {
    written
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a study's run exits 1, when a variant failed, failed the accuracy gate or could not be
/// verified; `None` when none did.
pub fn failures(s: &StudySummary) -> Option<String> {
    let c = s.failure_counts();
    c.any().then(|| format!(
        "edgebench: {} variant(s) failed to run, {} failed the accuracy gate and {} could not be verified (their gate reference failed or their outputs were unreadable); they are listed in the report and not counted",
        c.failed, c.gate_failed, c.unverified
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_at(batch: usize, round: usize) -> Job {
        Job {
            key: "k".into(),
            model: 0,
            batch,
            spec: "ort:all".into(),
            is_baseline: false,
            is_reference: false,
            round,
        }
    }

    #[test]
    fn a_job_names_batch_and_round_only_when_there_are_several() {
        assert_eq!(job("resnet18", &job_at(1, 1), 1), "resnet18 · ort:all");
        assert_eq!(
            job("resnet18", &job_at(4, 2), 3),
            "resnet18 · ort:all · batch 4 · round 2/3"
        );
    }

    #[test]
    fn paths_are_joined_with_commas() {
        let p = [
            PathBuf::from("a/summary.json"),
            PathBuf::from("a/report.md"),
        ];
        assert_eq!(paths(&p), "a/summary.json, a/report.md");
        assert_eq!(paths(&[]), "");
    }
}
