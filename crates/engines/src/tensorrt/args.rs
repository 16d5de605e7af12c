//! trtexec's command lines, per version, as its option parser reads them
//! (`argsToArgumentsMap` and the `parse` methods of sampleOptions.cpp): every option is one
//! argument `--flag=value` (a value in the next argument is an unknown option), lists are
//! split on `,`, a `name:value` pair on its last `:`, and a name with a `'` starts quoting.

use super::version::TrtVersion;
use edgebench_core::error::EngineError;
use edgebench_core::tensor::{shape_string, ConcreteSpec};
use std::path::Path;

/// The precision a `tensorrt:` variant asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Fp32,
    Fp16,
    Int8,
    Best,
}

impl Precision {
    pub const NAMES: &'static [&'static str] = &["fp32", "fp16", "int8", "best"];

    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "fp32" => Precision::Fp32,
            "fp16" => Precision::Fp16,
            "int8" => Precision::Int8,
            "best" => Precision::Best,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
            Precision::Best => "best",
        }
    }

    /// The precision the gate assumes until the engine's layers say what ran.
    pub fn gate_precision(self) -> &'static str {
        match self {
            Precision::Fp16 | Precision::Best => "f16",
            Precision::Int8 => "int8",
            Precision::Fp32 => "f32",
        }
    }

    /// The builder flag, where the version has one (TensorRT 11 has none).
    fn flag(self, v: TrtVersion) -> Option<&'static str> {
        if v.strongly_typed_only() {
            return None;
        }
        match self {
            Precision::Fp32 => None,
            Precision::Fp16 => Some("--fp16"),
            Precision::Int8 => Some("--int8"),
            Precision::Best => Some("--best"),
        }
    }
}

/// Checks that a tensor name survives trtexec's list parsing: a `,` splits the list and a
/// `'` starts a quoted name, and neither can be escaped; a `:` is fine (the value is after the
/// last one).
pub fn check_name(name: &str) -> Result<(), EngineError> {
    if name.is_empty() || name.contains(',') || name.contains('\'') {
        return Err(EngineError::ModelRefused(format!(
            "input `{name}`: trtexec cannot take a tensor name that is empty or holds `,` or `'` in --shapes or --loadInputs; rename the input in the model"
        )));
    }
    Ok(())
}

/// Checks a file path that goes after `name:` in a list: no `,`, `:` or `'`.
pub fn check_list_path(path: &Path) -> Result<(), EngineError> {
    let s = path.display().to_string();
    if s.contains(',') || s.contains(':') || s.contains('\'') {
        return Err(EngineError::Unsupported(format!(
            "{s}: trtexec cannot read a path holding `,`, `:` or `'` in --loadInputs; set TMPDIR to a plain folder"
        )));
    }
    Ok(())
}

/// `name:1x3x224x224,other:...` for the given inputs.
pub fn shape_list(inputs: &[&ConcreteSpec]) -> Result<String, EngineError> {
    inputs
        .iter()
        .map(|i| {
            check_name(&i.name)?;
            Ok(format!("{}:{}", i.name, shape_string(&i.shape)))
        })
        .collect::<Result<Vec<_>, EngineError>>()
        .map(|v| v.join(","))
}

/// What a build needs.
#[derive(Debug, Clone)]
pub struct Build<'a> {
    pub onnx: &'a Path,
    pub engine: &'a Path,
    pub timing_cache: &'a Path,
    pub layer_info: &'a Path,
    pub device: u32,
    pub precision: Precision,
    /// The inputs whose shapes the model leaves open (only these may be given: trtexec
    /// refuses shapes for a static model, `sampleEngines.cpp` `setupNetworkAndConfig`).
    pub dynamic: Vec<&'a ConcreteSpec>,
}

/// Arguments that build and save an engine and skip inference.
pub fn build_args(v: TrtVersion, b: &Build) -> Result<Vec<String>, EngineError> {
    let mut a = vec![
        format!("--onnx={}", b.onnx.display()),
        format!("--saveEngine={}", b.engine.display()),
        format!("--timingCacheFile={}", b.timing_cache.display()),
        format!("--device={}", b.device),
        // Per-layer precisions in the layer information (the engine keeps the verbosity).
        "--profilingVerbosity=detailed".into(),
    ];
    if let Some(f) = b.precision.flag(v) {
        a.push(f.into());
    }
    if !b.dynamic.is_empty() {
        // One profile whose range is exactly the shape measured.
        let list = shape_list(&b.dynamic)?;
        for k in ["--minShapes", "--optShapes", "--maxShapes"] {
            a.push(format!("{k}={list}"));
        }
    }
    // Before 8.6 `--buildOnly` returns before the layer information is written; the timing
    // runs write it then.
    if v >= TrtVersion::new(8, 6, 0) {
        a.push(format!("--exportLayerInfo={}", b.layer_info.display()));
    }
    a.push(v.skip_inference_flag().into());
    Ok(a)
}

/// One timing call: trtexec warms up for `warmup_ms`, then times at least `iterations`
/// queries and at least `duration_s` seconds (`inferenceLoop` in sampleInference.cpp).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Batch {
    pub warmup_ms: f64,
    pub iterations: usize,
    pub duration_s: f64,
}

/// Files a timing call reads and writes.
#[derive(Debug, Clone)]
pub struct Timing<'a> {
    pub engine: &'a Path,
    pub device: u32,
    pub inputs: &'a [(String, std::path::PathBuf)],
    pub dynamic: Vec<&'a ConcreteSpec>,
    pub times: &'a Path,
    pub outputs: &'a Path,
    pub layer_info: &'a Path,
}

/// Arguments that time a saved engine on given inputs and export times, outputs and layers.
pub fn timing_args(v: TrtVersion, t: &Timing, batch: Batch) -> Result<Vec<String>, EngineError> {
    let (warmup, duration) = if v.fractional_durations() {
        (fmt_num(batch.warmup_ms), fmt_num(batch.duration_s))
    } else {
        // Integers before 8.5 (`std::stoi` would cut "0.5" to 0 anyway): round the duration
        // up, so that it is never shorter than asked.
        (
            format!("{}", batch.warmup_ms.round().max(0.0) as u64),
            format!("{}", batch.duration_s.ceil().max(0.0) as u64),
        )
    };
    let mut a = vec![
        format!("--loadEngine={}", t.engine.display()),
        format!("--device={}", t.device),
        format!("--warmUp={warmup}"),
        format!("--iterations={}", batch.iterations.max(1)),
        format!("--duration={duration}"),
        format!("--exportTimes={}", t.times.display()),
        format!("--exportOutput={}", t.outputs.display()),
        format!("--exportLayerInfo={}", t.layer_info.display()),
    ];
    if !t.dynamic.is_empty() {
        a.push(format!("--shapes={}", shape_list(&t.dynamic)?));
    }
    if !t.inputs.is_empty() {
        let mut l = vec![];
        for (n, p) in t.inputs {
            check_name(n)?;
            check_list_path(p)?;
            l.push(format!("{n}:{}", p.display()));
        }
        a.push(format!("--loadInputs={}", l.join(",")));
    }
    Ok(a)
}

/// A number as trtexec's `std::stof` reads it, without an exponent.
fn fmt_num(x: f64) -> String {
    let x = if x.is_finite() { x.max(0.0) } else { 0.0 };
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgebench_core::tensor::DType;
    use std::path::PathBuf;

    fn spec(name: &str) -> ConcreteSpec {
        ConcreteSpec {
            name: name.into(),
            dtype: DType::F32,
            shape: vec![1, 3, 224, 224],
        }
    }

    fn build(precision: Precision, dynamic: Vec<&ConcreteSpec>) -> Build<'_> {
        Build {
            onnx: Path::new("m.onnx"),
            engine: Path::new("c/m.engine"),
            timing_cache: Path::new("c/timing.cache"),
            layer_info: Path::new("c/m.layers.json"),
            device: 1,
            precision,
            dynamic,
        }
    }

    #[test]
    fn static_models_get_no_shapes() {
        let a = build_args(TrtVersion::new(10, 16, 0), &build(Precision::Fp16, vec![])).unwrap();
        assert_eq!(
            a,
            vec![
                "--onnx=m.onnx",
                "--saveEngine=c/m.engine",
                "--timingCacheFile=c/timing.cache",
                "--device=1",
                "--profilingVerbosity=detailed",
                "--fp16",
                "--exportLayerInfo=c/m.layers.json",
                "--skipInference",
            ]
        );
        assert!(a.iter().all(|x| x.starts_with("--") && x.contains('=')
            || ["--fp16", "--skipInference"].contains(&x.as_str())));
    }

    #[test]
    fn dynamic_inputs_get_a_profile_and_shapes() {
        let x = spec("x:0");
        let a = build_args(TrtVersion::new(8, 2, 5), &build(Precision::Int8, vec![&x])).unwrap();
        assert!(
            a.contains(&"--minShapes=x:0:1x3x224x224".to_string()),
            "{a:?}"
        );
        assert!(
            a.contains(&"--maxShapes=x:0:1x3x224x224".to_string()),
            "{a:?}"
        );
        assert!(a.contains(&"--int8".to_string()));
        assert_eq!(a.last().map(String::as_str), Some("--buildOnly"));
        assert!(!a.iter().any(|s| s.starts_with("--exportLayerInfo")));
        let bad = spec("a,b");
        assert!(build_args(
            TrtVersion::new(10, 0, 0),
            &build(Precision::Fp32, vec![&bad])
        )
        .unwrap_err()
        .to_string()
        .contains("a,b"));
    }

    #[test]
    fn tensorrt_11_has_no_precision_flags() {
        for p in [Precision::Fp16, Precision::Int8, Precision::Best] {
            let a = build_args(TrtVersion::new(11, 1, 0), &build(p, vec![])).unwrap();
            assert!(
                !a.iter()
                    .any(|s| ["--fp16", "--int8", "--best"].contains(&s.as_str())),
                "{a:?}"
            );
        }
    }

    #[test]
    fn timing_per_version() {
        let x = spec("x");
        let inputs = vec![("x".to_string(), PathBuf::from("/tmp/w/input0.bin"))];
        let t = Timing {
            engine: Path::new("e.engine"),
            device: 0,
            inputs: &inputs,
            dynamic: vec![&x],
            times: Path::new("t.json"),
            outputs: Path::new("o.json"),
            layer_info: Path::new("l.json"),
        };
        let batch = Batch {
            warmup_ms: 250.0,
            iterations: 7,
            duration_s: 0.5,
        };
        let a = timing_args(TrtVersion::new(10, 16, 0), &t, batch).unwrap();
        for want in [
            "--warmUp=250",
            "--iterations=7",
            "--duration=0.5",
            "--shapes=x:1x3x224x224",
            "--loadInputs=x:/tmp/w/input0.bin",
            "--exportTimes=t.json",
        ] {
            assert!(a.contains(&want.to_string()), "{want} not in {a:?}");
        }
        let a = timing_args(TrtVersion::new(8, 2, 5), &t, batch).unwrap();
        assert!(a.contains(&"--duration=1".to_string()), "{a:?}");
        let colon = vec![("x".to_string(), PathBuf::from("/tmp/a:b/input0.bin"))];
        let t = Timing {
            inputs: &colon,
            ..t
        };
        assert!(timing_args(TrtVersion::new(10, 0, 0), &t, batch).is_err());
    }
}
