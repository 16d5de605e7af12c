//! The study's model architectures, built as ONNX graphs with deterministic random weights.
//!
//! Inference speed does not depend on the values of the weights, so edgebench builds the
//! architectures itself instead of downloading trained ones. Each torchvision architecture is
//! the network torchvision builds, layer for layer, with initializers named like the PyTorch
//! `state_dict()` keys so that the weights load into torchvision unchanged.
//!
//! ```
//! let spec = edgebench_zoo::ZooSpec::parse("resnet18?classes=2").unwrap();
//! let onnx_bytes = edgebench_zoo::build_bytes(&spec).unwrap();
//! assert!(!onnx_bytes.is_empty());
//! ```

mod graph;
mod models;
mod registry;
mod weights;

use serde::Serialize;
use tract_onnx::pb::{ModelProto, OperatorSetIdProto, StringStringEntryProto};

pub use registry::Task;

/// The ONNX opset the zoo writes (HardSwish needs 14).
pub const OPSET: i64 = 17;
/// The ONNX IR version that goes with [`OPSET`].
pub const IR_VERSION: i64 = 8;
/// Largest number of classes accepted.
pub const MAX_CLASSES: usize = 65_536;
/// Largest batch accepted.
pub const MAX_BATCH: usize = 4_096;
/// The seed used when none is given.
pub const DEFAULT_SEED: u64 = 0;

/// Errors of the zoo. Messages name the option and what is allowed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ZooError {
    #[error("unknown zoo model `{name}`; valid models: {valid}")]
    UnknownModel { name: String, valid: String },
    #[error("invalid value `{value}` for zoo option `{option}`; allowed: {allowed}")]
    InvalidOption {
        option: String,
        value: String,
        allowed: String,
    },
    #[error("unknown zoo option `{key}`; allowed options: classes (1 to {MAX_CLASSES}), batch (1 to {MAX_BATCH}), seed (0 to {})", u64::MAX)]
    UnknownOption { key: String },
    #[error("zoo option `{option}` given twice; give it once")]
    DuplicateOption { option: String },
}

/// A zoo model and its options, as written after `zoo:` (`resnet18?classes=2&batch=4&seed=7`).
/// Options left out take the model's defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ZooSpec {
    pub name: String,
    pub classes: Option<usize>,
    pub batch: Option<usize>,
    pub seed: Option<u64>,
}

fn parse_ranged(option: &str, value: &str, max: usize) -> Result<usize, ZooError> {
    match value.parse::<usize>() {
        Ok(v) if (1..=max).contains(&v) => Ok(v),
        _ => Err(ZooError::InvalidOption {
            option: option.into(),
            value: value.into(),
            allowed: format!("an integer from 1 to {max}"),
        }),
    }
}

fn check_ranged(option: &str, value: Option<usize>, max: usize) -> Result<(), ZooError> {
    match value {
        Some(v) if !(1..=max).contains(&v) => Err(ZooError::InvalidOption {
            option: option.into(),
            value: v.to_string(),
            allowed: format!("an integer from 1 to {max}"),
        }),
        _ => Ok(()),
    }
}

impl ZooSpec {
    /// A spec with every option at the model's default.
    pub fn new(name: &str) -> ZooSpec {
        ZooSpec {
            name: name.into(),
            classes: None,
            batch: None,
            seed: None,
        }
    }

    /// Parses `NAME` or `NAME?key=value&...` (keys `classes`, `batch`, `seed`). The model name
    /// and every option are checked.
    pub fn parse(s: &str) -> Result<ZooSpec, ZooError> {
        let (name, query) = match s.split_once('?') {
            Some((n, q)) => (n, Some(q)),
            None => (s, None),
        };
        let mut spec = ZooSpec::new(name);
        registry::find(name)?;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            if pair.is_empty() {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let duplicate = || ZooError::DuplicateOption { option: key.into() };
            match key {
                "classes" => {
                    if spec.classes.is_some() {
                        return Err(duplicate());
                    }
                    spec.classes = Some(parse_ranged(key, value, MAX_CLASSES)?);
                }
                "batch" => {
                    if spec.batch.is_some() {
                        return Err(duplicate());
                    }
                    spec.batch = Some(parse_ranged(key, value, MAX_BATCH)?);
                }
                "seed" => {
                    if spec.seed.is_some() {
                        return Err(duplicate());
                    }
                    spec.seed =
                        Some(value.parse::<u64>().map_err(|_| ZooError::InvalidOption {
                            option: key.into(),
                            value: value.into(),
                            allowed: format!("an integer from 0 to {}", u64::MAX),
                        })?);
                }
                _ => return Err(ZooError::UnknownOption { key: key.into() }),
            }
        }
        Ok(spec)
    }

    /// Checks the name and the ranges of the options (the fields are public, so a spec may not
    /// come from [`ZooSpec::parse`]).
    pub fn validate(&self) -> Result<(), ZooError> {
        registry::find(&self.name)?;
        check_ranged("classes", self.classes, MAX_CLASSES)?;
        check_ranged("batch", self.batch, MAX_BATCH)
    }
}

impl std::fmt::Display for ZooSpec {
    /// The canonical form, `name?classes=..&batch=..&seed=..` with only the options given.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut opts = Vec::new();
        if let Some(c) = self.classes {
            opts.push(format!("classes={c}"));
        }
        if let Some(b) = self.batch {
            opts.push(format!("batch={b}"));
        }
        if let Some(s) = self.seed {
            opts.push(format!("seed={s}"));
        }
        if opts.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}?{}", self.name, opts.join("&"))
        }
    }
}

/// Published figures of a torchvision architecture, from the torchvision documentation.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Reference {
    /// The number of classes the published figures are for.
    pub classes: usize,
    /// `sum(p.numel() for p in model.parameters())`.
    pub params: u64,
    /// Multiply-accumulates of convolutions and linear layers, in billions, batch 1.
    pub gflops: f64,
}

/// A zoo model as `edgebench zoo list` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ZooEntry {
    pub name: &'static str,
    pub task: Task,
    /// Input shape at batch 1 (N, C, H, W or N, C, T, H, W).
    pub input_shape: Vec<usize>,
    pub default_classes: usize,
    /// Where the layer configuration comes from.
    pub source: &'static str,
    /// The torchvision builder that makes the same network, e.g. `resnet18`, `video.r3d_18`.
    pub torchvision: Option<&'static str>,
    /// For a model torchvision lacks, the builder of edgebench's own PyTorch definition
    /// (`edgebench_worker.models`), e.g. `c3d_small`. Every zoo model has one twin or the other.
    pub edgebench_twin: Option<&'static str>,
    /// Learnable parameters at the default number of classes.
    pub params: u64,
    /// Multiply-accumulates of convolutions and matrix products, batch 1, default classes.
    pub macs: u64,
    /// Published torchvision figures this model is tested against.
    pub reference: Option<Reference>,
}

/// Every built-in model, in the order of the study's tables.
pub fn list() -> Vec<ZooEntry> {
    registry::ARCHS
        .iter()
        .map(|a| {
            let counts = registry::count(a, a.default_classes, 1);
            ZooEntry {
                name: a.name,
                task: a.task,
                input_shape: std::iter::once(1).chain(a.input.iter().copied()).collect(),
                default_classes: a.default_classes,
                source: a.source,
                torchvision: a.torchvision,
                edgebench_twin: a.edgebench_twin,
                params: counts.params,
                macs: counts.macs,
                reference: a.reference,
            }
        })
        .collect()
}

/// The names of every built-in model.
pub fn names() -> Vec<&'static str> {
    registry::ARCHS.iter().map(|a| a.name).collect()
}

/// Builds the model as an ONNX `ModelProto` (opset [`OPSET`]): input `input`, output `logits`,
/// the batch fixed, weights generated from the seed.
pub fn build(spec: &ZooSpec) -> Result<ModelProto, ZooError> {
    spec.validate()?;
    let arch = registry::find(&spec.name)?;
    let classes = spec.classes.unwrap_or(arch.default_classes);
    let batch = spec.batch.unwrap_or(1);
    let seed = spec.seed.unwrap_or(DEFAULT_SEED);
    let (mut graph, jobs, _) = registry::graph(arch, classes, batch);
    graph.initializer = weights::generate(jobs, seed);
    let meta = |k: &str, v: String| StringStringEntryProto {
        key: k.into(),
        value: v,
    };
    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "edgebench-zoo".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!(
            "edgebench zoo model {} ({} classes, batch {batch}, seed {seed}); architecture: {}",
            arch.name, classes, arch.source
        ),
        metadata_props: vec![
            meta("edgebench.zoo.name", arch.name.into()),
            meta("edgebench.zoo.classes", classes.to_string()),
            meta("edgebench.zoo.batch", batch.to_string()),
            meta("edgebench.zoo.seed", seed.to_string()),
        ],
        graph: Some(graph),
        ..Default::default()
    })
}

/// [`build`], encoded as ONNX protobuf bytes.
pub fn build_bytes(spec: &ZooSpec) -> Result<Vec<u8>, ZooError> {
    Ok(prost::Message::encode_to_vec(&build(spec)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_options() {
        assert_eq!(ZooSpec::parse("resnet18"), Ok(ZooSpec::new("resnet18")));
        let s = ZooSpec::parse("resnet18?classes=2&batch=4&seed=7").unwrap();
        assert_eq!((s.classes, s.batch, s.seed), (Some(2), Some(4), Some(7)));
        assert_eq!(s.to_string(), "resnet18?classes=2&batch=4&seed=7");
        assert_eq!(ZooSpec::parse("r3d_18?").unwrap().classes, None);
    }

    #[test]
    fn bad_input_names_the_option_and_the_range() {
        let e = ZooSpec::parse("resnet81").unwrap_err().to_string();
        assert!(e.contains("`resnet81`") && e.contains("resnet18, ") && e.contains("ae3d"));
        let e = ZooSpec::parse("resnet18?classes=0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`classes`") && e.contains("1 to 65536"), "{e}");
        let e = ZooSpec::parse("resnet18?batch=0").unwrap_err().to_string();
        assert!(e.contains("`batch`") && e.contains("1 to 4096"), "{e}");
        let e = ZooSpec::parse("resnet18?batch=x").unwrap_err().to_string();
        assert!(e.contains("`batch`"), "{e}");
        let e = ZooSpec::parse("resnet18?seed=-1").unwrap_err().to_string();
        assert!(e.contains("`seed`"), "{e}");
        let e = ZooSpec::parse("resnet18?clases=2").unwrap_err().to_string();
        assert!(e.contains("`clases`") && e.contains("classes (1 to"), "{e}");
        let e = ZooSpec::parse("resnet18?batch=1&batch=2").unwrap_err();
        assert!(matches!(e, ZooError::DuplicateOption { .. }));
        let mut spec = ZooSpec::new("alexnet");
        spec.classes = Some(0);
        assert!(build(&spec).is_err());
        for e in [
            ZooSpec::parse("x").unwrap_err(),
            ZooSpec::parse("resnet18?classes=0").unwrap_err(),
        ] {
            let msg = e.to_string();
            assert!(!msg.contains('\n') && msg.starts_with(char::is_lowercase));
        }
    }

    #[test]
    fn list_has_every_model_of_the_study() {
        let names = names();
        assert_eq!(names.len(), 23);
        for entry in list() {
            assert!(entry.params > 0 && entry.macs > 0, "{}", entry.name);
            assert!(!entry.source.is_empty());
        }
    }
}
