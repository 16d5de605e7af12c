//! The precision a variant ran in, read from the engine (ONNX Runtime's profile, OpenVINO's
//! performance counters, tract's optimized plan), never from the request; and the warnings it
//! calls for: a precision asked that did not run, a quantization whose calibration says nothing
//! about accuracy.
//!
//! Engines write the evidence into [`SessionInfo::details`] under the keys below with
//! [`PrecisionEvidence::record`]; `core::bench` reads it back with [`warnings`], so the rule
//! ("asked, but did not run") lives here once, for every engine.

use crate::engine::SessionInfo;
use crate::schema::Warning;
use std::collections::BTreeMap;

/// `details` key: the precision the spec asked for (`int8`, `f16`, `bf16`).
pub const ASKED: &str = "precision.asked";
/// `details` key: every kernel (or executed node) the engine ran, counted by precision:
/// `int8 6, f32 2`.
pub const KERNELS: &str = "precision.kernels";
/// `details` key: the compute kernels (convolutions, matrix products) among them, by precision.
pub const COMPUTE: &str = "precision.compute_kernels";
/// `details` key: where the counts come from (`onnx runtime profile of one run after
/// measurement`), or why there are none.
pub const PROOF: &str = "precision.proof";
/// `details` key: how the variant's model was quantized: `synthetic` or the calibration folder.
pub const CALIBRATION: &str = "quant.calibration";

/// Share of the compute kernels that must run in the precision asked for the variant to count
/// as running in it without a warning. Below it, the speed measured is a mix's.
pub const MIN_SHARE: f64 = 0.9;

/// Kernels counted by precision, read from the engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrecisionEvidence {
    /// Every kernel, by precision.
    pub kernels: BTreeMap<String, usize>,
    /// The compute kernels (convolutions, matrix products), by precision.
    pub compute: BTreeMap<String, usize>,
    /// Where the counts come from.
    pub source: String,
}

impl PrecisionEvidence {
    /// The precision most compute kernels ran in (else most kernels); `None` when the engine
    /// reported no kernel at all.
    pub fn ran(&self) -> Option<&str> {
        let counts = if self.compute.values().sum::<usize>() > 0 {
            &self.compute
        } else {
            &self.kernels
        };
        // Ties go to the wider type, so that a half-quantized model is not called int8.
        counts
            .iter()
            .filter(|(_, &n)| n > 0)
            .max_by_key(|(p, &n)| (n, width(p)))
            .map(|(p, _)| p.as_str())
    }

    /// The share of compute kernels (else of all kernels) that ran in `precision`.
    pub fn share(&self, precision: &str) -> f64 {
        let counts = if self.compute.values().sum::<usize>() > 0 {
            &self.compute
        } else {
            &self.kernels
        };
        let total: usize = counts.values().sum();
        if total == 0 {
            return 0.0;
        }
        counts.get(precision).copied().unwrap_or(0) as f64 / total as f64
    }

    /// Writes the evidence into `info` and sets `info.precision` to what ran.
    pub fn record(&self, info: &mut SessionInfo) {
        info.details.insert(KERNELS.into(), show(&self.kernels));
        info.details.insert(COMPUTE.into(), show(&self.compute));
        info.details.insert(PROOF.into(), self.source.clone());
        if let Some(ran) = self.ran() {
            info.precision = ran.to_owned();
        }
    }

    /// The evidence an engine recorded in `info`, if any.
    pub fn from_info(info: &SessionInfo) -> Option<PrecisionEvidence> {
        let kernels = parse(info.details.get(KERNELS)?);
        let compute = info
            .details
            .get(COMPUTE)
            .map(|s| parse(s))
            .unwrap_or_default();
        Some(PrecisionEvidence {
            kernels,
            compute,
            source: info.details.get(PROOF).cloned().unwrap_or_default(),
        })
    }
}

/// edgebench's name of a precision, from an engine's type name (`float`, `FP32`, `uint8`,
/// `I8`, `float16`, `bf16`...); `None` for types that are not a compute precision (`int64`
/// shapes, `bool`).
pub fn normalize(ty: &str) -> Option<&'static str> {
    Some(match ty.to_ascii_lowercase().as_str() {
        "float" | "float32" | "f32" | "fp32" | "tensor(float)" => "f32",
        "float16" | "f16" | "fp16" | "half" | "tensor(float16)" => "f16",
        "bfloat16" | "bf16" | "tensor(bfloat16)" => "bf16",
        "int8" | "uint8" | "i8" | "u8" | "s8" | "tensor(int8)" | "tensor(uint8)" => "int8",
        "double" | "float64" | "f64" => "f64",
        _ => return None,
    })
}

/// Bits of a precision, for ties.
fn width(p: &str) -> u32 {
    match p {
        "int8" => 8,
        "f16" | "bf16" => 16,
        "f32" => 32,
        "f64" => 64,
        _ => 0,
    }
}

/// `int8 6, f32 2`, most first.
fn show(counts: &BTreeMap<String, usize>) -> String {
    let mut v: Vec<(&String, &usize)> = counts.iter().filter(|(_, &n)| n > 0).collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if v.is_empty() {
        return "none".into();
    }
    v.iter()
        .map(|(p, n)| format!("{p} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse(s: &str) -> BTreeMap<String, usize> {
    s.split(',')
        .filter_map(|part| {
            let (p, n) = part.trim().rsplit_once(' ')?;
            Some((p.to_owned(), n.parse().ok()?))
        })
        .collect()
}

/// The warnings a session's record calls for: the precision asked did not run (or ran in
/// fewer than [`MIN_SHARE`] of the compute kernels), or the engine could not say what ran;
/// and a quantization calibrated on random inputs.
pub fn warnings(info: &SessionInfo) -> Vec<Warning> {
    let mut w = vec![];
    if let Some(asked) = info.details.get(ASKED) {
        match PrecisionEvidence::from_info(info) {
            Some(e) => {
                let share = e.share(asked);
                if info.precision != *asked || share < MIN_SHARE {
                    w.push(Warning::PrecisionNotRun {
                        asked: asked.clone(),
                        ran: info.precision.clone(),
                        share_pct: share * 100.0,
                        detail: if e.compute.values().sum::<usize>() > 0 {
                            format!("compute kernels: {}; {}", show(&e.compute), e.source)
                        } else {
                            format!("kernels: {}; {}", show(&e.kernels), e.source)
                        },
                    });
                }
            }
            None => w.push(Warning::PrecisionNotRun {
                asked: asked.clone(),
                ran: "unknown".into(),
                share_pct: 0.0,
                detail: info
                    .details
                    .get(PROOF)
                    .cloned()
                    .unwrap_or_else(|| "the engine reported no kernels".into()),
            }),
        }
    }
    if info.details.get(CALIBRATION).map(String::as_str) == Some("synthetic") {
        w.push(Warning::SyntheticCalibration);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(asked: &str, kernels: &[(&str, usize)], compute: &[(&str, usize)]) -> SessionInfo {
        let mut i = SessionInfo {
            precision: "f32".into(),
            ..Default::default()
        };
        i.details.insert(ASKED.into(), asked.into());
        PrecisionEvidence {
            kernels: kernels.iter().map(|(p, n)| (p.to_string(), *n)).collect(),
            compute: compute.iter().map(|(p, n)| (p.to_string(), *n)).collect(),
            source: "test".into(),
        }
        .record(&mut i);
        i
    }

    #[test]
    fn int8_that_ran_is_recorded_without_a_warning() {
        let i = info("int8", &[("int8", 6), ("f32", 2)], &[("int8", 21)]);
        assert_eq!(i.precision, "int8");
        assert_eq!(i.details[KERNELS], "int8 6, f32 2");
        assert!(warnings(&i).is_empty());
        // The record reads back as written.
        let e = PrecisionEvidence::from_info(&i).unwrap();
        assert_eq!(e.compute.get("int8"), Some(&21));
    }

    #[test]
    fn int8_asked_f32_ran_warns() {
        let i = info("int8", &[("f32", 8)], &[("f32", 3)]);
        assert_eq!(i.precision, "f32");
        let w = warnings(&i);
        assert!(
            matches!(&w[..], [Warning::PrecisionNotRun { asked, ran, .. }] if asked == "int8" && ran == "f32"),
            "{w:?}"
        );
        let text = w[0].to_string();
        assert!(text.contains("int8") && text.contains("f32 ran"), "{text}");
    }

    #[test]
    fn a_mix_below_the_threshold_warns_even_when_most_ran() {
        let i = info("int8", &[], &[("int8", 17), ("f32", 3)]);
        assert_eq!(i.precision, "int8");
        assert!(matches!(
            warnings(&i)[..],
            [Warning::PrecisionNotRun { share_pct, .. }] if (share_pct - 85.0).abs() < 1e-9
        ));
        // A tie goes to the wider type.
        let i = info("int8", &[], &[("int8", 2), ("f32", 2)]);
        assert_eq!(i.precision, "f32");
    }

    #[test]
    fn no_evidence_is_a_warning_too_and_synthetic_calibration_is_named() {
        let mut i = SessionInfo::default();
        i.details.insert(ASKED.into(), "f16".into());
        i.details
            .insert(PROOF.into(), "the profile could not be read: x".into());
        i.details.insert(CALIBRATION.into(), "synthetic".into());
        let w = warnings(&i);
        assert!(matches!(&w[0], Warning::PrecisionNotRun { ran, .. } if ran == "unknown"));
        assert_eq!(w[1], Warning::SyntheticCalibration);
        // Nothing asked, nothing to say.
        assert!(warnings(&SessionInfo::default()).is_empty());
    }

    #[test]
    fn normalizes_engine_type_names() {
        for (t, p) in [
            ("float", "f32"),
            ("FP32", "f32"),
            ("uint8", "int8"),
            ("I8", "int8"),
            ("float16", "f16"),
            ("bf16", "bf16"),
        ] {
            assert_eq!(normalize(t), Some(p), "{t}");
        }
        assert_eq!(normalize("int64"), None);
    }
}
