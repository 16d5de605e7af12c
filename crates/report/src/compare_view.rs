//! `edgebench compare`'s table: a row per variant measured in both runs (A and B, the change,
//! A/B with its interval, where the interval comes from, the verdict), the noise floor's note
//! and the variants only one side measured.

use crate::fmt::ms;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
use edgebench_core::change::Comparison;

/// The comparison as `edgebench compare` prints it (ends in a newline).
pub fn text(cmp: &Comparison) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "variant",
        "A ms",
        "B ms",
        "change",
        "A/B [95% CI]",
        "interval from",
        "verdict",
    ]);
    for e in &cmp.entries {
        let right = |x: String| Cell::new(x).set_alignment(CellAlignment::Right);
        t.add_row(vec![
            Cell::new(&e.key),
            right(ms(e.a_ms)),
            right(ms(e.b_ms)),
            right(format!("{:+.1}%", e.change_percent)),
            right(format!(
                "{:.2}x [{:.2}, {:.2}]",
                e.speedup, e.ci95_low, e.ci95_high
            )),
            Cell::new(e.interval),
            Cell::new(if e.regression {
                format!("{} (beyond {}%)", e.verdict, cmp.threshold_percent)
            } else {
                e.verdict.to_string()
            }),
        ]);
    }
    let mut s = format!("{t}\n");
    s += &format!(
        "changes within ±{}% are noise whatever their interval (--noise-floor); \"samples\" intervals come from one round per run and miss run-to-run variation\n",
        cmp.noise_floor_percent
    );
    for k in &cmp.only_in_a {
        s += &format!("only in A: {k}\n");
    }
    for k in &cmp.only_in_b {
        s += &format!("only in B: {k}\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_core::change::{ChangeVerdict, Entry};

    #[test]
    fn a_regression_names_the_threshold_and_one_sided_variants_are_listed() {
        let entry = |key: &str, b_ms: f64, verdict, regression| Entry {
            key: key.into(),
            a_ms: 10.0,
            b_ms,
            change_percent: (b_ms / 10.0 - 1.0) * 100.0,
            speedup: 10.0 / b_ms,
            ci95_low: 10.0 / b_ms - 0.01,
            ci95_high: 10.0 / b_ms + 0.01,
            interval: "rounds",
            verdict,
            regression,
        };
        let cmp = Comparison {
            a: "a".into(),
            b: "b".into(),
            threshold_percent: 5.0,
            noise_floor_percent: 2.0,
            entries: vec![
                entry("resnet18 · ort:all", 12.0, ChangeVerdict::Regressed, true),
                entry(
                    "resnet18 · tract:optimized",
                    10.1,
                    ChangeVerdict::WithinNoise,
                    false,
                ),
            ],
            only_in_a: vec!["resnet18 · openvino:f32".into()],
            only_in_b: vec![],
            regressions: 1,
        };
        insta::assert_snapshot!("compare_view", text(&cmp));
    }
}
