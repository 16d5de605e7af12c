//! The accuracy gate: does an engine variant compute the same function as the reference?
//! Outputs are compared on the same inputs, rule by rule, and the rule that decided is recorded:
//!
//! 1. `shape`: the same number of input sets, of outputs, and the same shapes.
//! 2. `non_finite`: any NaN or infinity, in the reference or the candidate, fails. A
//!    reference with non-finite values is said to be broken (the model or the reference
//!    engine), not the candidate.
//! 3. `elementwise`: |a - b| <= atol + rtol x |ref| everywhere (off for int8).
//! 4. `cosine`: the cosine similarity of each output is at least `min_cosine`, judged only for
//!    outputs whose reference stands well above the element-wise tolerance (its RMS at least
//!    [`COSINE_MIN_SIGNAL`] x atol): on an output that is all noise floor (a probability map
//!    of ~0 everywhere) the cosine measures noise, and the element-wise rule decides alone.
//! 5. `top1`: for class scores (`[batch, classes]`), the share of rows whose arg-max agrees,
//!    over the rows whose two best reference scores differ by more than the element-wise
//!    tolerance (a near-tie may flip within tolerance).

use crate::tensor::HostTensor;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The cosine rule judges an output only when the reference's RMS is at least this many
/// times the absolute tolerance: an order of magnitude of signal above the noise floor.
pub const COSINE_MIN_SIGNAL: f64 = 10.0;

/// Tolerances; defaults depend on the precision that ran.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    /// Pass if |a - b| <= atol + rtol * |ref| holds everywhere...
    /// (Infinite for int8; written as `null` in JSON, which has no infinity.)
    #[serde(with = "inf_as_null")]
    pub atol: f64,
    #[serde(with = "inf_as_null")]
    pub rtol: f64,
    /// ...and the cosine similarity is at least this (where the reference has signal).
    pub min_cosine: f64,
    /// Minimum share of top-1 agreement over rows (classifier outputs).
    pub min_top1: f64,
    /// When true (int8), element-wise errors are reported but only cosine and top-k decide.
    pub topk_only: bool,
}

/// A user's override of the gate's tolerances (`--atol`/`--rtol`, `[gate]` in a study
/// config): each field given replaces that field of the per-precision tolerance and nothing
/// else.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ToleranceOverride {
    pub atol: Option<f64>,
    pub rtol: Option<f64>,
}

impl ToleranceOverride {
    pub fn is_empty(&self) -> bool {
        self.atol.is_none() && self.rtol.is_none()
    }
}

impl Tolerance {
    /// Defaults per precision: fp32 tight; fp16 and bf16 looser; int8 judged by agreement.
    pub fn for_precision(precision: &str) -> Tolerance {
        match precision {
            // TF32 keeps fp16's 10-bit mantissa in matrix products.
            "f16" | "fp16" | "tf32" => Tolerance {
                atol: 1e-2,
                rtol: 1e-2,
                min_cosine: 0.999,
                min_top1: 0.99,
                topk_only: false,
            },
            "bf16" => Tolerance {
                atol: 5e-2,
                rtol: 5e-2,
                min_cosine: 0.995,
                min_top1: 0.95,
                topk_only: false,
            },
            "int8" => Tolerance {
                atol: f64::INFINITY,
                rtol: f64::INFINITY,
                min_cosine: 0.98,
                min_top1: 0.9,
                topk_only: true,
            },
            _ => Tolerance {
                atol: 1e-4,
                rtol: 1e-3,
                min_cosine: 0.99999,
                min_top1: 1.0,
                topk_only: false,
            },
        }
    }

    /// The tolerance of a variant that ran in `precision`, with the user's overrides: an
    /// override changes only the field it names; cosine, top-1 and the int8 rule (element-wise
    /// errors reported, cosine and top-1 decide) stay those of the precision. This is the one
    /// place bench, pipeline, study and video get their tolerance from.
    pub fn resolve(precision: &str, overrides: &ToleranceOverride) -> Tolerance {
        let base = Tolerance::for_precision(precision);
        Tolerance {
            atol: overrides.atol.unwrap_or(base.atol),
            rtol: overrides.rtol.unwrap_or(base.rtol),
            ..base
        }
    }

    /// The smallest reference RMS at which the cosine rule judges an output. Without an
    /// element-wise rule (int8) the cosine is the value check, so it judges any output with
    /// signal.
    pub fn cosine_floor(&self) -> f64 {
        if self.topk_only || !self.atol.is_finite() {
            0.0
        } else {
            COSINE_MIN_SIGNAL * self.atol
        }
    }

    /// The element-wise tolerance at a reference value.
    fn allowed(&self, reference: f64) -> f64 {
        let rel = if reference == 0.0 {
            0.0
        } else {
            self.rtol * reference.abs()
        };
        self.atol + rel
    }
}

/// JSON has no infinity (serde_json writes `null`, then refuses to read it back into an f64):
/// an infinite tolerance goes out as `null` and comes back as infinity.
mod inf_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

/// The rule of the gate that decided: on a failure, the rule that failed; on a pass, the
/// strictest value rule that judged (`cosine` where it applied to some output, else
/// `elementwise`, else `top1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateRule {
    Shape,
    NonFinite,
    Elementwise,
    Cosine,
    Top1,
}

impl fmt::Display for GateRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GateRule::Shape => "shape",
            GateRule::NonFinite => "non_finite",
            GateRule::Elementwise => "elementwise",
            GateRule::Cosine => "cosine",
            GateRule::Top1 => "top1",
        })
    }
}

/// One output compared over every input set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputAgreement {
    pub name: String,
    /// Over the finite values of every input set.
    pub max_abs_err: f64,
    pub max_rel_err: f64,
    /// Smallest cosine similarity over the input sets (finite values only).
    pub cosine: f64,
    /// Smallest RMS of the reference over the input sets.
    pub reference_rms: f64,
    /// Whether the cosine rule judged this output (reference RMS >= the tolerance's
    /// [`Tolerance::cosine_floor`] in every input set).
    pub cosine_applied: bool,
    /// NaN or infinite values, over every input set.
    pub non_finite_reference: usize,
    pub non_finite_candidate: usize,
    /// Values compared per input set.
    pub values: usize,
}

/// Comparison of one variant's outputs with the reference's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub max_abs_err: f64,
    pub max_rel_err: f64,
    /// Smallest cosine over every output, whether or not the cosine rule judged it (see
    /// `outputs[i].cosine_applied`).
    pub min_cosine: f64,
    /// Share of rows whose arg-max agrees (None when outputs are not class scores).
    pub top1: Option<f64>,
    /// Share of rows whose reference top-1 is among this variant's top 5.
    pub top5: Option<f64>,
    pub input_sets: usize,
    pub tolerance: Tolerance,
    pub passed: bool,
    /// Why it failed, naming the output.
    pub reason: Option<String>,
    /// The rule that decided (`None` in records written before it was recorded).
    #[serde(default)]
    pub decided_by: Option<GateRule>,
    /// Rows the top-1 rule judged: those whose two best reference scores differ by more than
    /// the element-wise tolerance.
    #[serde(default)]
    pub top1_rows: Option<usize>,
    /// Per output, in the reference's order.
    #[serde(default)]
    pub outputs: Vec<OutputAgreement>,
}

impl Agreement {
    /// Whether the cosine rule judged any output.
    pub fn cosine_applied(&self) -> bool {
        self.outputs.iter().any(|o| o.cosine_applied)
    }
}

/// One output's running figures over the input sets.
struct OutputAcc {
    name: String,
    max_abs_err: f64,
    max_rel_err: f64,
    cosine: Option<f64>,
    reference_rms: Option<f64>,
    non_finite_reference: usize,
    non_finite_candidate: usize,
    values: usize,
    /// The worst element-wise violation: (error / allowed, error, reference value, allowed).
    worst: Option<(f64, f64, f64, f64)>,
}

impl OutputAcc {
    fn new(name: &str) -> OutputAcc {
        OutputAcc {
            name: name.to_owned(),
            max_abs_err: 0.0,
            max_rel_err: 0.0,
            cosine: None,
            reference_rms: None,
            non_finite_reference: 0,
            non_finite_candidate: 0,
            values: 0,
            worst: None,
        }
    }
}

/// Compares outputs over several input sets (`reference[i]` and `candidate[i]` from input set
/// i). The reason names the output; when several rules fail, the first in the module's order
/// is reported (a broken reference before a broken candidate).
pub fn compare(
    reference: &[Vec<HostTensor>],
    candidate: &[Vec<HostTensor>],
    tol: Tolerance,
) -> Agreement {
    let mut fails: Vec<(GateRule, String)> = vec![];
    if reference.len() != candidate.len() || reference.is_empty() {
        fails.push((
            GateRule::Shape,
            format!(
                "{} output sets to compare with {}",
                candidate.len(),
                reference.len()
            ),
        ));
    }
    let mut outs: Vec<OutputAcc> = vec![];
    let (mut rows, mut top1, mut top5) = (0usize, 0usize, 0usize);
    let (mut judged_rows, mut judged_agree) = (0usize, 0usize);
    for (r_set, c_set) in reference.iter().zip(candidate) {
        if r_set.len() != c_set.len() {
            fails.push((
                GateRule::Shape,
                format!("{} outputs, the reference has {}", c_set.len(), r_set.len()),
            ));
            continue;
        }
        for (i, (r, c)) in r_set.iter().zip(c_set).enumerate() {
            if outs.len() <= i {
                outs.push(OutputAcc::new(&r.name));
            }
            if r.shape != c.shape || r.data.len() != c.data.len() {
                fails.push((
                    GateRule::Shape,
                    format!(
                        "output `{}` has shape {:?}, the reference {:?}",
                        r.name, c.shape, r.shape
                    ),
                ));
                continue;
            }
            let acc = &mut outs[i];
            let rv = r.data.to_f64();
            let cv = c.data.to_f64();
            acc.values = rv.len();
            let (mut dot, mut nr, mut nc) = (0.0, 0.0, 0.0);
            let mut finite = 0usize;
            for (&x, &y) in rv.iter().zip(&cv) {
                acc.non_finite_reference += usize::from(!x.is_finite());
                acc.non_finite_candidate += usize::from(!y.is_finite());
                if !(x.is_finite() && y.is_finite()) {
                    continue;
                }
                finite += 1;
                let err = (x - y).abs().min(f64::MAX);
                acc.max_abs_err = acc.max_abs_err.max(err);
                if x.abs() > 1e-6 {
                    acc.max_rel_err = acc.max_rel_err.max(err / x.abs());
                }
                if !tol.topk_only {
                    let allowed = tol.allowed(x);
                    if err > allowed {
                        let excess = if allowed > 0.0 {
                            err / allowed
                        } else {
                            f64::INFINITY
                        };
                        if acc.worst.is_none_or(|w| excess > w.0) {
                            acc.worst = Some((excess, err, x, allowed));
                        }
                    }
                }
                dot += x * y;
                nr += x * x;
                nc += y * y;
            }
            let cos = if nr == 0.0 && nc == 0.0 {
                1.0
            } else {
                (dot / (nr.sqrt() * nc.sqrt()).max(f64::MIN_POSITIVE)).clamp(-1.0, 1.0)
            };
            let rms = (nr / finite.max(1) as f64).sqrt();
            acc.cosine = Some(acc.cosine.map_or(cos, |m| m.min(cos)));
            acc.reference_rms = Some(acc.reference_rms.map_or(rms, |m| m.min(rms)));
            // Class scores: rank 2, [batch, classes] with more than one class.
            if r.shape.len() == 2 && r.shape[1] > 1 {
                let k = r.shape[1];
                for (rr, cr) in rv.chunks(k).zip(cv.chunks(k)) {
                    let best = argmax(rr);
                    let agree = best == argmax(cr);
                    rows += 1;
                    top1 += usize::from(agree);
                    top5 += usize::from(top_k(cr, 5).contains(&best));
                    let second = top_k(rr, 2).get(1).map_or(f64::NEG_INFINITY, |&j| rr[j]);
                    let margin = rr[best] - second;
                    if tol.topk_only || margin > tol.allowed(rr[best]) + tol.allowed(second) {
                        judged_rows += 1;
                        judged_agree += usize::from(agree);
                    }
                }
            }
        }
    }

    let floor = tol.cosine_floor();
    let outputs: Vec<OutputAgreement> = outs
        .iter()
        .map(|o| OutputAgreement {
            name: o.name.clone(),
            max_abs_err: o.max_abs_err,
            max_rel_err: o.max_rel_err,
            cosine: o.cosine.unwrap_or(1.0),
            reference_rms: o.reference_rms.unwrap_or(0.0),
            cosine_applied: o.reference_rms.is_some_and(|rms| rms >= floor),
            non_finite_reference: o.non_finite_reference,
            non_finite_candidate: o.non_finite_candidate,
            values: o.values,
        })
        .collect();
    let sets = reference.len().min(candidate.len());
    for o in outputs.iter().filter(|o| o.non_finite_reference > 0) {
        fails.push((
            GateRule::NonFinite,
            format!(
                "the reference's output `{}` has {} non-finite values (NaN or infinity) of {}: the reference itself is broken (the model, or the engine that ran the reference), not this variant; fix the model or choose another reference",
                o.name,
                o.non_finite_reference,
                o.values * sets
            ),
        ));
    }
    for o in outputs.iter().filter(|o| o.non_finite_candidate > 0) {
        fails.push((
            GateRule::NonFinite,
            format!(
                "output `{}` has {} non-finite values (NaN or infinity) of {}",
                o.name,
                o.non_finite_candidate,
                o.values * sets
            ),
        ));
    }
    for o in &outs {
        if let Some((_, err, x, allowed)) = o.worst {
            fails.push((
                GateRule::Elementwise,
                format!(
                    "output `{}` differs by {err:.3e} where the reference is {x:.4e} (allowed {allowed:.3e})",
                    o.name
                ),
            ));
        }
    }
    for o in outputs.iter().filter(|o| o.cosine_applied) {
        if o.cosine < tol.min_cosine {
            fails.push((
                GateRule::Cosine,
                format!(
                    "output `{}`: cosine similarity {:.6} is below {}",
                    o.name, o.cosine, tol.min_cosine
                ),
            ));
        }
    }
    let judged_share = (judged_rows > 0).then(|| judged_agree as f64 / judged_rows as f64);
    if let Some(t1) = judged_share {
        if t1 < tol.min_top1 {
            fails.push((
                GateRule::Top1,
                format!(
                    "top-1 agreement {:.1}% over {judged_rows} rows is below {:.1}%",
                    t1 * 100.0,
                    tol.min_top1 * 100.0
                ),
            ));
        }
    }
    // The first failure of the earliest rule: a broken structure, then non-finite values (the
    // reference's before the candidate's), then values, then agreement.
    let first = fails
        .iter()
        .enumerate()
        .min_by_key(|(i, (rule, _))| (*rule as u8, *i))
        .map(|(_, f)| f.clone());
    let decided_by = match &first {
        Some((rule, _)) => *rule,
        None if outputs.iter().any(|o| o.cosine_applied) => GateRule::Cosine,
        None if !tol.topk_only => GateRule::Elementwise,
        None => GateRule::Top1,
    };
    Agreement {
        max_abs_err: outputs.iter().map(|o| o.max_abs_err).fold(0.0, f64::max),
        max_rel_err: outputs.iter().map(|o| o.max_rel_err).fold(0.0, f64::max),
        min_cosine: outputs.iter().map(|o| o.cosine).fold(1.0, f64::min),
        top1: (rows > 0).then(|| top1 as f64 / rows as f64),
        top5: (rows > 0).then(|| top5 as f64 / rows as f64),
        input_sets: sets,
        tolerance: tol,
        passed: first.is_none(),
        reason: first.map(|f| f.1),
        decided_by: Some(decided_by),
        top1_rows: (rows > 0).then_some(judged_rows),
        outputs,
    }
}

fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

fn top_k(v: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
    idx.truncate(k);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::TensorData;

    fn named(name: &str, v: Vec<f32>, shape: Vec<usize>) -> HostTensor {
        HostTensor {
            name: name.into(),
            shape,
            data: TensorData::F32(v),
        }
    }

    fn t(v: Vec<f32>, shape: Vec<usize>) -> Vec<Vec<HostTensor>> {
        vec![vec![named("logits", v, shape)]]
    }

    #[test]
    fn identical_outputs_pass() {
        let r = t(vec![0.1, 0.9, 0.3, 0.2], vec![1, 4]);
        let a = compare(&r, &r, Tolerance::for_precision("f32"));
        assert!(a.passed);
        assert_eq!(a.max_abs_err, 0.0);
        assert_eq!(a.top1, Some(1.0));
        assert!((a.min_cosine - 1.0).abs() < 1e-12);
        assert_eq!(a.decided_by, Some(GateRule::Cosine));
        assert!(a.outputs[0].cosine_applied);
    }

    #[test]
    fn small_error_passes_fp16_but_not_fp32() {
        let r = t(vec![0.1, 0.9, 0.3, 0.2], vec![1, 4]);
        let c = t(vec![0.101, 0.9, 0.3, 0.2], vec![1, 4]);
        let f32 = compare(&r, &c, Tolerance::for_precision("f32"));
        assert!(!f32.passed);
        assert_eq!(f32.decided_by, Some(GateRule::Elementwise));
        let a = compare(&r, &c, Tolerance::for_precision("f16"));
        assert!(a.passed, "{:?}", a.reason);
        assert!((a.max_abs_err - 0.001).abs() < 1e-6);
    }

    #[test]
    fn swapped_top_class_fails_with_reason() {
        let r = t(vec![0.1, 0.9, 0.3, 0.2], vec![1, 4]);
        let c = t(vec![0.95, 0.9, 0.3, 0.2], vec![1, 4]);
        let a = compare(&r, &c, Tolerance::for_precision("int8"));
        assert!(!a.passed);
        assert_eq!(a.top1, Some(0.0));
        assert_eq!(a.top5, Some(1.0));
        assert!(a.reason.unwrap().contains("below"));
    }

    #[test]
    fn shape_mismatch_fails() {
        let r = t(vec![0.1, 0.9], vec![1, 2]);
        let c = t(vec![0.1, 0.9], vec![2, 1]);
        let a = compare(&r, &c, Tolerance::for_precision("f32"));
        assert!(!a.passed);
        assert!(a.reason.unwrap().contains("shape"));
        assert_eq!(a.decided_by, Some(GateRule::Shape));
    }

    #[test]
    fn nan_in_the_candidate_fails_naming_output_and_count() {
        let r = vec![vec![
            named("boxes", vec![0.5, 0.5, 0.5], vec![3]),
            named("scores", vec![0.1, 0.9, 0.3, 0.2], vec![1, 4]),
        ]];
        let c = vec![vec![
            named("boxes", vec![0.5, 0.5, 0.5], vec![3]),
            named(
                "scores",
                vec![f32::NAN, 0.9, f32::INFINITY, 0.2],
                vec![1, 4],
            ),
        ]];
        let a = compare(&r, &c, Tolerance::for_precision("f32"));
        assert!(!a.passed);
        assert_eq!(a.decided_by, Some(GateRule::NonFinite));
        let why = a.reason.clone().unwrap();
        assert!(
            why.contains("`scores`") && why.contains("2 non-finite"),
            "{why}"
        );
        assert!(!why.contains("reference itself"), "{why}");
        assert_eq!(a.outputs[1].non_finite_candidate, 2);
        // Every figure stays finite, so the agreement survives a JSON round trip.
        assert!(a.max_abs_err.is_finite() && a.min_cosine.is_finite());
        let back: Agreement = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn nan_in_the_reference_fails_and_blames_the_reference() {
        // A NaN compares false with everything: the old gate let it through.
        let r = t(vec![f32::NAN, 0.9, 0.3, 0.2], vec![1, 4]);
        let c = t(vec![0.1, 0.9, 0.3, 0.2], vec![1, 4]);
        let a = compare(&r, &c, Tolerance::for_precision("f32"));
        assert!(!a.passed);
        assert_eq!(a.decided_by, Some(GateRule::NonFinite));
        let why = a.reason.unwrap();
        assert!(
            why.contains("reference's output `logits` has 1 non-finite")
                && why.contains("reference itself is broken"),
            "{why}"
        );
        // Both broken: the reference is named first.
        let both = compare(&r, &r, Tolerance::for_precision("f32"));
        assert!(!both.passed);
        assert!(both.reason.unwrap().contains("reference itself"));
    }

    #[test]
    fn nan_fails_int8_too() {
        let r = t(vec![0.1, 0.9, 0.3, 0.2], vec![1, 4]);
        let c = t(vec![0.1, 0.9, f32::NAN, 0.2], vec![1, 4]);
        let a = compare(&r, &c, Tolerance::for_precision("int8"));
        assert!(!a.passed);
        assert_eq!(a.decided_by, Some(GateRule::NonFinite));
    }

    /// The text-detection case: a probability map of ~0 everywhere, errors far inside the
    /// element-wise tolerance, but a cosine of noise (~0.99) that the old gate failed.
    #[test]
    fn noise_floor_output_is_judged_elementwise_not_by_cosine() {
        let n = 4096;
        let r: Vec<f32> = (0..n).map(|i| 1e-6 * (1.0 + (i % 7) as f32)).collect();
        let c: Vec<f32> = r
            .iter()
            .enumerate()
            .map(|(i, x)| x + if i % 2 == 0 { 4.5e-7 } else { -4.5e-7 })
            .collect();
        let (r, c) = (t(r, vec![1, 1, 64, 64]), t(c, vec![1, 1, 64, 64]));
        let a = compare(&r, &c, Tolerance::for_precision("f32"));
        assert!(
            a.min_cosine < 0.99999,
            "the cosine is noise: {}",
            a.min_cosine
        );
        assert!(a.passed, "{:?}", a.reason);
        assert_eq!(a.decided_by, Some(GateRule::Elementwise));
        assert!(!a.outputs[0].cosine_applied);
        assert!(!a.cosine_applied());
        // The same map beyond the element-wise tolerance still fails, on that rule.
        let far: Vec<f32> = (0..n).map(|i| if i == 5 { 3e-4 } else { 1e-6 }).collect();
        let b = compare(
            &r,
            &t(far, vec![1, 1, 64, 64]),
            Tolerance::for_precision("f32"),
        );
        assert!(!b.passed);
        assert_eq!(b.decided_by, Some(GateRule::Elementwise));
    }

    #[test]
    fn cosine_decides_where_the_reference_has_signal() {
        // RMS 2e-3 is 20x f32's atol: the cosine applies. Each error is inside the element-wise
        // tolerance (9e-5 < 1e-4 + 2e-6), but orthogonal to the reference everywhere:
        // cos = 1 / sqrt(1 + (9e-5 / 2e-3)^2) = 0.99899.
        let r: Vec<f32> = (0..64).map(|_| 2e-3).collect();
        let c: Vec<f32> = (0..64)
            .map(|i| 2e-3 + if i % 2 == 0 { 9e-5 } else { -9e-5 })
            .collect();
        let a = compare(
            &t(r, vec![64]),
            &t(c, vec![64]),
            Tolerance::for_precision("f32"),
        );
        assert!(!a.passed);
        assert_eq!(a.decided_by, Some(GateRule::Cosine));
        assert!(a.outputs[0].cosine_applied);
        assert!(
            (a.outputs[0].cosine - 0.99899).abs() < 1e-4,
            "{}",
            a.min_cosine
        );
        assert!(a
            .reason
            .unwrap()
            .contains("`logits`: cosine similarity 0.99"));
    }

    #[test]
    fn top1_ignores_ties_within_tolerance() {
        // The two best classes differ by 5e-5, inside f32's tolerance: either order is right.
        let r = t(vec![1.0, 1.00005, 0.2], vec![1, 3]);
        let c = t(vec![1.00005, 1.0, 0.2], vec![1, 3]);
        let a = compare(&r, &c, Tolerance::for_precision("f32"));
        assert!(a.passed, "{:?}", a.reason);
        assert_eq!(a.top1, Some(0.0));
        assert_eq!(a.top1_rows, Some(0));
    }

    #[test]
    fn top1_decides_int8_when_cosine_passes() {
        // Ten rows, two with their top classes swapped: cosine ~1, top-1 80% < 90%.
        let mut r = vec![];
        let mut c = vec![];
        for row in 0..10 {
            r.extend([5.0, 4.9, 1.0, 0.5]);
            if row < 2 {
                c.extend([4.9, 5.0, 1.0, 0.5]);
            } else {
                c.extend([5.0, 4.9, 1.0, 0.5]);
            }
        }
        let a = compare(
            &t(r, vec![10, 4]),
            &t(c, vec![10, 4]),
            Tolerance::for_precision("int8"),
        );
        assert!(a.min_cosine > 0.99);
        assert!(!a.passed);
        assert_eq!(a.decided_by, Some(GateRule::Top1));
        assert_eq!(a.top1, Some(0.8));
        assert_eq!(a.top1_rows, Some(10));
    }

    #[test]
    fn an_override_changes_only_what_it_names() {
        let f16 = Tolerance::for_precision("f16");
        let t = Tolerance::resolve(
            "f16",
            &ToleranceOverride {
                atol: Some(0.5),
                rtol: None,
            },
        );
        assert_eq!(t.atol, 0.5);
        assert_eq!(t.rtol, f16.rtol);
        assert_eq!(t.min_cosine, f16.min_cosine);
        assert_eq!(t.min_top1, f16.min_top1);
        let int8 = Tolerance::resolve(
            "int8",
            &ToleranceOverride {
                atol: None,
                rtol: Some(0.1),
            },
        );
        assert!(int8.topk_only);
        assert_eq!(int8.min_cosine, 0.98);
        assert_eq!(int8.rtol, 0.1);
        assert_eq!(
            Tolerance::resolve("bf16", &ToleranceOverride::default()),
            Tolerance::for_precision("bf16")
        );
    }

    #[test]
    fn an_infinite_tolerance_survives_json() {
        let int8 = Tolerance::for_precision("int8");
        let text = serde_json::to_string(&int8).unwrap();
        let back: Tolerance = serde_json::from_str(&text).unwrap();
        assert_eq!(back, int8);
        let f32 = Tolerance::for_precision("f32");
        let back: Tolerance = serde_json::from_str(&serde_json::to_string(&f32).unwrap()).unwrap();
        assert_eq!(back, f32);
    }

    #[test]
    fn records_without_the_new_fields_still_read() {
        let old = r#"{"max_abs_err":0.0,"max_rel_err":0.0,"min_cosine":1.0,"top1":null,"top5":null,"input_sets":1,"tolerance":{"atol":0.0001,"rtol":0.001,"min_cosine":0.99999,"min_top1":1.0,"topk_only":false},"passed":true,"reason":null}"#;
        let a: Agreement = serde_json::from_str(old).unwrap();
        assert_eq!(a.decided_by, None);
        assert!(a.outputs.is_empty());
    }
}
