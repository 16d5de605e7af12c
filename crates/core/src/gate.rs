//! The accuracy gate: does an engine variant compute the same function as the reference?
//! Outputs are compared on the same inputs: maximum absolute and relative error, cosine
//! similarity, and for classifier-like outputs top-1 / top-5 agreement.

use crate::tensor::HostTensor;
use serde::{Deserialize, Serialize};

/// Tolerances; defaults depend on the precision that ran.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    /// Pass if |a - b| <= atol + rtol * |ref| holds everywhere...
    pub atol: f64,
    pub rtol: f64,
    /// ...and the cosine similarity is at least this.
    pub min_cosine: f64,
    /// Minimum share of top-1 agreement over rows (classifier outputs).
    pub min_top1: f64,
    /// When true (int8), element-wise errors are reported but only cosine and top-k decide.
    pub topk_only: bool,
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
}

/// Comparison of one variant's outputs with the reference's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub max_abs_err: f64,
    pub max_rel_err: f64,
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
}

/// Compares outputs over several input sets (`reference[i]` and `candidate[i]` from input set i).
pub fn compare(
    reference: &[Vec<HostTensor>],
    candidate: &[Vec<HostTensor>],
    tol: Tolerance,
) -> Agreement {
    let mut a = Agreement {
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        min_cosine: 1.0,
        top1: None,
        top5: None,
        input_sets: reference.len().min(candidate.len()),
        tolerance: tol,
        passed: true,
        reason: None,
    };
    let mut rows = 0usize;
    let (mut top1, mut top5) = (0usize, 0usize);
    let fail = |a: &mut Agreement, why: String| {
        if a.passed {
            a.passed = false;
            a.reason = Some(why);
        }
    };
    if reference.len() != candidate.len() || reference.is_empty() {
        fail(
            &mut a,
            format!(
                "{} output sets to compare with {}",
                candidate.len(),
                reference.len()
            ),
        );
    }
    for (r_set, c_set) in reference.iter().zip(candidate) {
        if r_set.len() != c_set.len() {
            fail(
                &mut a,
                format!("{} outputs, the reference has {}", c_set.len(), r_set.len()),
            );
            continue;
        }
        for (r, c) in r_set.iter().zip(c_set) {
            if r.shape != c.shape {
                fail(
                    &mut a,
                    format!(
                        "output `{}` has shape {:?}, the reference {:?}",
                        r.name, c.shape, r.shape
                    ),
                );
                continue;
            }
            let rv = r.data.to_f64();
            let cv = c.data.to_f64();
            let mut dot = 0.0;
            let (mut nr, mut nc) = (0.0, 0.0);
            for (&x, &y) in rv.iter().zip(&cv) {
                let err = (x - y).abs();
                if !y.is_finite() && x.is_finite() {
                    fail(&mut a, format!("output `{}` has non-finite values", r.name));
                }
                a.max_abs_err = a.max_abs_err.max(err);
                if x.abs() > 1e-6 {
                    a.max_rel_err = a.max_rel_err.max(err / x.abs());
                }
                if !tol.topk_only && err > tol.atol + tol.rtol * x.abs() {
                    fail(
                        &mut a,
                        format!(
                            "output `{}` differs by {err:.3e} where the reference is {x:.4e}",
                            r.name
                        ),
                    );
                }
                dot += x * y;
                nr += x * x;
                nc += y * y;
            }
            let cos = if nr == 0.0 && nc == 0.0 {
                1.0
            } else {
                dot / (nr.sqrt() * nc.sqrt()).max(f64::MIN_POSITIVE)
            };
            a.min_cosine = a.min_cosine.min(cos);
            // Class scores: rank 2, [batch, classes] with more than one class.
            if r.shape.len() == 2 && r.shape[1] > 1 {
                let k = r.shape[1];
                for (rr, cr) in rv.chunks(k).zip(cv.chunks(k)) {
                    let best = argmax(rr);
                    rows += 1;
                    top1 += usize::from(best == argmax(cr));
                    top5 += usize::from(top_k(cr, 5).contains(&best));
                }
            }
        }
    }
    if rows > 0 {
        a.top1 = Some(top1 as f64 / rows as f64);
        a.top5 = Some(top5 as f64 / rows as f64);
    }
    if a.min_cosine < tol.min_cosine {
        let why = format!(
            "cosine similarity {:.6} is below {}",
            a.min_cosine, tol.min_cosine
        );
        fail(&mut a, why);
    }
    if let Some(t1) = a.top1 {
        if t1 < tol.min_top1 {
            fail(
                &mut a,
                format!(
                    "top-1 agreement {:.1}% is below {:.1}%",
                    t1 * 100.0,
                    tol.min_top1 * 100.0
                ),
            );
        }
    }
    a
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

    fn t(v: Vec<f32>, shape: Vec<usize>) -> Vec<Vec<HostTensor>> {
        vec![vec![HostTensor {
            name: "logits".into(),
            shape,
            data: TensorData::F32(v),
        }]]
    }

    #[test]
    fn identical_outputs_pass() {
        let r = t(vec![0.1, 0.9, 0.3, 0.2], vec![1, 4]);
        let a = compare(&r, &r, Tolerance::for_precision("f32"));
        assert!(a.passed);
        assert_eq!(a.max_abs_err, 0.0);
        assert_eq!(a.top1, Some(1.0));
        assert!((a.min_cosine - 1.0).abs() < 1e-12);
    }

    #[test]
    fn small_error_passes_fp16_but_not_fp32() {
        let r = t(vec![0.1, 0.9, 0.3, 0.2], vec![1, 4]);
        let c = t(vec![0.101, 0.9, 0.3, 0.2], vec![1, 4]);
        assert!(!compare(&r, &c, Tolerance::for_precision("f32")).passed);
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
    }
}
