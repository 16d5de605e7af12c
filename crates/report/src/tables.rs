//! Compact Markdown tables for a README or a paper, rebuilt from committed result documents:
//! several bench runs side by side (one column per run, one row per engine variant) and a
//! study's average speed-ups (one row per variant, one column per task). `edgebench report
//! --bench FILE... --markdown` and `edgebench report DIR --markdown` print them; the README's
//! tables are their output, checked in CI against the data under `results/`.

use crate::fmt::ms;
use crate::study_md::{escape, task_name};
use edgebench_core::schema::study::{StudySummary, BEST};
use edgebench_core::schema::{BenchReport, Status, VariantResult};

/// The column heading of one run: its model and the shape of its first input
/// (`zoo:resnet18 1x3x224x224`).
pub fn run_heading(r: &BenchReport) -> String {
    let shape = r
        .model
        .inputs
        .first()
        .map(|i| format!(" {}", edgebench_core::tensor::shape_string(&i.shape)))
        .unwrap_or_default();
    format!("{}{shape}", r.model.path)
}

/// One variant's cell: `54.3 [54.0, 54.8], 1.37x [1.35, 1.38]`, `74.3 [73.8, 75.0], baseline`,
/// `... gate failed`, `failed`.
fn bench_cell(v: &VariantResult) -> String {
    let Some(l) = &v.latency_ms else {
        return match v.status {
            Status::Failed => "failed".into(),
            _ => "-".into(),
        };
    };
    let lat = format!("{} [{}, {}]", ms(l.median), ms(l.ci95_low), ms(l.ci95_high));
    let tail = match (&v.speedup, v.status) {
        (_, Status::GateFailed) => "gate failed".to_string(),
        (_, Status::Unverified) => "not verified".to_string(),
        (Some(s), _) => s.label(),
        (None, _) => "baseline".to_string(),
    };
    format!("{lat}, {tail}")
}

/// Several bench runs side by side: one column per run (in the order given), one row per
/// engine variant (in the order they first appear); each cell the median in ms with its 95%
/// interval and the speed-up over that run's baseline with its interval. Under the table, one
/// line per run: threads, rounds, and the accuracy gate (passed or not, the largest error).
pub fn bench_matrix(runs: &[BenchReport]) -> String {
    let mut specs: Vec<&str> = vec![];
    for r in runs {
        for v in &r.results {
            if !specs.contains(&v.spec.as_str()) {
                specs.push(&v.spec);
            }
        }
    }
    let mut o = String::from("| variant |");
    for r in runs {
        o.push_str(&format!(" {} |", escape(&run_heading(r))));
    }
    o.push_str("\n| --- |");
    o.push_str(&" --- |".repeat(runs.len()));
    o.push('\n');
    for spec in &specs {
        o.push_str(&format!("| `{}` |", escape(spec)));
        for r in runs {
            let cell = r
                .results
                .iter()
                .find(|v| v.spec == *spec)
                .map(bench_cell)
                .unwrap_or_default();
            o.push_str(&format!(" {} |", escape(&cell)));
        }
        o.push('\n');
    }
    o.push('\n');
    for r in runs {
        let gated: Vec<&VariantResult> =
            r.results.iter().filter(|v| v.accuracy.is_some()).collect();
        let passed = gated
            .iter()
            .filter(|v| v.accuracy.as_ref().is_some_and(|a| a.passed))
            .count();
        let worst = gated
            .iter()
            .filter_map(|v| v.accuracy.as_ref().map(|a| (a.max_abs_err, &v.spec)))
            .fold(None::<(f64, &String)>, |m, x| match m {
                Some(m) if m.0 >= x.0 => Some(m),
                _ => Some(x),
            });
        let gate = match worst {
            Some((e, spec)) => format!(
                "accuracy gate passed by {passed} of {} variants (largest max abs err {e:.1e}, `{}`)",
                gated.len(),
                escape(spec)
            ),
            None => "no accuracy gate".into(),
        };
        o.push_str(&format!(
            "- {}: {} thread(s), {} round(s), {gate}\n",
            escape(&r.model.path),
            r.settings
                .threads
                .map_or("default".into(), |t| t.to_string()),
            r.settings.rounds,
        ));
    }
    o
}

/// A study's average speed-ups: one row per variant, one column per task (the tasks in the
/// order the analysis gives them, `all` last); each cell the arithmetic mean of the percentage
/// gains / the geometric mean of the ratios and the number of models, then the energy ratio
/// (geometric mean) where energy was measured on both sides. One table per batch size.
pub fn study_averages(s: &StudySummary) -> String {
    let mut o = String::new();
    let mut batches: Vec<usize> = vec![];
    for a in &s.averages {
        if !batches.contains(&a.batch) {
            batches.push(a.batch);
        }
    }
    for (i, batch) in batches.iter().enumerate() {
        let avgs: Vec<_> = s.averages.iter().filter(|a| a.batch == *batch).collect();
        let mut tasks = vec![];
        let mut variants: Vec<&str> = vec![];
        for a in &avgs {
            if !tasks.contains(&a.task) {
                tasks.push(a.task);
            }
            if !variants.contains(&a.variant.as_str()) {
                variants.push(&a.variant);
            }
        }
        // `all` (no task) last.
        tasks.sort_by_key(|t| t.is_none());
        if i > 0 {
            o.push('\n');
        }
        if batches.len() > 1 {
            o.push_str(&format!("Batch {batch}:\n\n"));
        }
        o.push_str("| variant |");
        for t in &tasks {
            o.push_str(&format!(" {} |", task_name(*t)));
        }
        o.push_str("\n| --- |");
        o.push_str(&" --- |".repeat(tasks.len()));
        o.push('\n');
        for v in &variants {
            let name = if *v == BEST {
                "best per model".to_string()
            } else {
                format!("`{}`", escape(v))
            };
            o.push_str(&format!("| {name} |"));
            for t in &tasks {
                let cell = avgs
                    .iter()
                    .find(|a| a.variant == *v && a.task == *t && a.n > 0)
                    .map(|a| {
                        let mut c = format!(
                            "{} / {} (n={})",
                            a.mean_percent.map_or("-".into(), |p| format!("{p:+.1}%")),
                            a.geomean_ratio.map_or("-".into(), |g| format!("{g:.2}x")),
                            a.n
                        );
                        if let Some(e) = a.energy_geomean_ratio {
                            c.push_str(&format!("; energy {e:.2}x (n={})", a.energy_n));
                        }
                        c
                    })
                    .unwrap_or_else(|| "-".into());
                o.push_str(&format!(" {cell} |"));
            }
            o.push('\n');
        }
    }
    o
}
