//! Model sources, the one place that knows their syntax: `zoo:NAME[?options]` (a zoo model),
//! `tv:NAME` (a torchvision builder), `path/to/file.py:factory` (a user's module) and a path
//! (an ONNX file) are told apart by [`SourceKind::of`], parsed into a [`ModelSource`] and
//! loaded by [`ModelSource::load`], in the CLI and in the study's children alike. For the
//! torch engine, the PyTorch model behind an ONNX model: the PyTorch twin of a zoo model
//! (torchvision's, or edgebench's own definition in the worker package for the models
//! torchvision lacks, with the zoo's weights), or the source recorded in the metadata of a
//! file written by `edgebench export`.

use crate::error::TorchError;
use edgebench_core::model::Model;
use edgebench_core::schema::study::Task;
use edgebench_core::schema::ModelInfo;
use edgebench_core::tensor::{ConcreteSpec, Dim};
use edgebench_zoo::ZooSpec;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tract_onnx::pb;

/// ONNX metadata keys written by `edgebench export`.
pub mod meta {
    /// The [`super::TorchSource`] as JSON: how to rebuild the PyTorch model.
    pub const SOURCE: &str = "edgebench.torch_source";
    /// The seed of `torch.manual_seed` before the model was built.
    pub const SEED: &str = "edgebench.seed";
    pub const TORCH_VERSION: &str = "edgebench.torch_version";
    pub const OPSET: &str = "edgebench.opset";
    pub const EXPORTER: &str = "edgebench.exporter";
    pub const TOOL: &str = "edgebench.version";
    /// Which weights the export holds: a [`super::Weights::label`].
    pub const WEIGHTS: &str = "edgebench.weights";
    /// For `rescaled-deterministic`: the calibration input shapes, as JSON.
    pub const WEIGHTS_CALIBRATION: &str = "edgebench.weights_calibration";
}

/// The prefix of a zoo model: `zoo:NAME[?classes=N&batch=N&seed=N]`.
pub const ZOO_PREFIX: &str = "zoo:";
/// The prefix of a torchvision model: `tv:NAME[?num_classes=N]`.
pub const TORCHVISION_PREFIX: &str = "tv:";

/// What a model source names, from its syntax alone: nothing is read or checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// `zoo:NAME[?classes=N&batch=N&seed=N]`.
    Zoo,
    /// `tv:NAME[?num_classes=N]`.
    Torchvision,
    /// `path/to/file.py:factory`.
    PythonFactory,
    /// Anything else: the path of an ONNX file.
    File,
}

impl SourceKind {
    pub fn of(s: &str) -> SourceKind {
        if s.starts_with(ZOO_PREFIX) {
            SourceKind::Zoo
        } else if s.starts_with(TORCHVISION_PREFIX) {
            SourceKind::Torchvision
        } else if s
            .rsplit_once(':')
            .is_some_and(|(file, _)| file.ends_with(".py"))
        {
            SourceKind::PythonFactory
        } else {
            SourceKind::File
        }
    }

    /// A PyTorch model (`tv:NAME` or `file.py:factory`), which must be exported to ONNX
    /// before an ONNX engine can run it.
    pub fn is_pytorch(self) -> bool {
        matches!(self, SourceKind::Torchvision | SourceKind::PythonFactory)
    }
}

/// What follows `zoo:` (`NAME[?options]`), or None when `s` is not a zoo source.
pub fn zoo_query(s: &str) -> Option<&str> {
    s.strip_prefix(ZOO_PREFIX)
}

/// The zoo model's name without its options (`resnet18` for `zoo:resnet18?classes=2`), or
/// None when `s` is not a zoo source.
pub fn zoo_name(s: &str) -> Option<&str> {
    zoo_query(s).map(|rest| rest.split('?').next().unwrap_or(rest))
}

/// A model source, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSource {
    /// A zoo model; `text` is the source as given, which names the model in results.
    Zoo { spec: ZooSpec, text: String },
    /// A PyTorch model: a torchvision builder or a Python factory.
    Pytorch(TorchSource),
    /// An ONNX file.
    File(PathBuf),
}

/// Options of a zoo model given apart from its source (command-line flags, the study's
/// batch); options in the `zoo:` query itself win.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZooDefaults {
    pub classes: Option<usize>,
    pub batch: Option<usize>,
}

impl ModelSource {
    /// The source of an ONNX model, for what measures one (`bench`, `inspect`, `video`, the
    /// study's children): `zoo:...`, else a path. A PyTorch source (`tv:NAME`,
    /// `file.py:factory`) is read as a path here, as these commands always did: only
    /// `pipeline`, `export` and the study export PyTorch models ([`ModelSource::parse`]).
    pub fn parse_onnx(s: &str) -> Result<ModelSource, edgebench_core::Error> {
        match zoo_query(s) {
            Some(rest) => Ok(ModelSource::Zoo {
                spec: ZooSpec::parse(rest).map_err(invalid)?,
                text: s.to_owned(),
            }),
            None => Ok(ModelSource::File(PathBuf::from(s))),
        }
    }

    /// Any source: `zoo:...`, a PyTorch model ([`TorchSource::parse`], with `num_classes`
    /// from a flag, which applies to torchvision models), or a path.
    pub fn parse(s: &str, num_classes: Option<usize>) -> Result<ModelSource, TorchError> {
        match SourceKind::of(s.trim()) {
            SourceKind::Zoo => {
                ModelSource::parse_onnx(s.trim()).map_err(|e| TorchError::Invalid(e.to_string()))
            }
            SourceKind::Torchvision | SourceKind::PythonFactory => {
                TorchSource::parse(s, num_classes).map(ModelSource::Pytorch)
            }
            SourceKind::File => Ok(ModelSource::File(PathBuf::from(s.trim()))),
        }
    }

    /// The one loader: the ONNX model, validated. A zoo model is built with `defaults` for
    /// the options its query leaves out; a PyTorch model must be exported first
    /// (`crate::export`), which needs Python and input shapes.
    pub fn load(&self, defaults: ZooDefaults) -> Result<Model, edgebench_core::Error> {
        match self {
            ModelSource::Zoo { spec, text } => {
                let mut spec = spec.clone();
                spec.classes = spec.classes.or(defaults.classes);
                spec.batch = spec.batch.or(defaults.batch);
                let bytes = edgebench_zoo::build_bytes(&spec).map_err(invalid)?;
                Model::from_bytes(text, bytes)
            }
            ModelSource::File(path) => Model::from_path(path),
            ModelSource::Pytorch(source) => Err(edgebench_core::Error::InvalidArgument(format!(
                "{}: a PyTorch model, not an ONNX one; export it first with `edgebench export {} -o FILE.onnx`, or measure it with `edgebench pipeline`",
                source.label(),
                source.label()
            ))),
        }
    }
}

fn invalid(e: impl std::fmt::Display) -> edgebench_core::Error {
    edgebench_core::Error::InvalidArgument(e.to_string())
}

/// The zoo model `zoo export` writes: `name` (`NAME[?options]`, with or without `zoo:`) with
/// the options given as flags; each option may come from the flag or from the name's query,
/// not from both with different values.
pub fn zoo_export_spec(
    name: &str,
    classes: Option<usize>,
    batch: Option<usize>,
    seed: Option<u64>,
) -> Result<ZooSpec, TorchError> {
    let name = zoo_query(name).unwrap_or(name);
    let mut spec = ZooSpec::parse(name).map_err(|e| TorchError::Invalid(e.to_string()))?;
    spec.classes = merge("classes", spec.classes, classes)?;
    spec.batch = merge("batch", spec.batch, batch)?;
    spec.seed = merge("seed", spec.seed, seed)?;
    Ok(spec)
}

/// An option from the flag or from the name's query, not both differently.
fn merge<T: PartialEq + std::fmt::Display>(
    option: &str,
    query: Option<T>,
    flag: Option<T>,
) -> Result<Option<T>, TorchError> {
    match (query, flag) {
        (Some(q), Some(f)) if q != f => Err(TorchError::Invalid(format!(
            "{option} given twice, as {option}={q} in the name and as --{option} {f}; give it once"
        ))),
        (q, f) => Ok(f.or(q)),
    }
}

/// What [`write_zoo`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZooFile {
    pub bytes: usize,
    /// The input shape, batch included.
    pub input: Vec<usize>,
    pub classes: usize,
    pub seed: u64,
}

/// Builds zoo model `spec` and writes it to `output` atomically.
pub fn write_zoo(spec: &ZooSpec, output: &Path) -> Result<ZooFile, edgebench_core::Error> {
    let bytes = edgebench_zoo::build_bytes(spec).map_err(invalid)?;
    edgebench_core::write::write_atomic(output, &bytes)?;
    let entry = edgebench_zoo::list()
        .into_iter()
        .find(|e| e.name == spec.name)
        .ok_or_else(|| invalid("model vanished from the zoo list"))?;
    let mut input = entry.input_shape.clone();
    input[0] = spec.batch.unwrap_or(1);
    Ok(ZooFile {
        bytes: bytes.len(),
        input,
        classes: spec.classes.unwrap_or(entry.default_classes),
        seed: spec.seed.unwrap_or(edgebench_zoo::DEFAULT_SEED),
    })
}

/// Where a PyTorch model comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TorchSource {
    /// `torchvision.models.<builder>(**kwargs)`, e.g. `resnet18`, `video.r3d_18`.
    Torchvision {
        builder: String,
        #[serde(default)]
        kwargs: BTreeMap<String, serde_json::Value>,
    },
    /// `factory()` from a Python file.
    Module { file: PathBuf, factory: String },
    /// edgebench's own PyTorch definition of a zoo model torchvision lacks:
    /// `edgebench_worker.models.build(builder, kwargs)` (python/edgebench_worker/models.py),
    /// e.g. `c3d_small`. Only a zoo model's twin ([`zoo_twin`]); never parsed from the command line.
    Edgebench {
        builder: String,
        #[serde(default)]
        kwargs: BTreeMap<String, serde_json::Value>,
    },
}

impl TorchSource {
    /// Parses `tv:NAME[?num_classes=N]` or `path/to/file.py:factory`. `num_classes` (from a
    /// flag) applies to torchvision models.
    pub fn parse(s: &str, num_classes: Option<usize>) -> Result<TorchSource, TorchError> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix(TORCHVISION_PREFIX) {
            let (builder, query) = match rest.split_once('?') {
                Some((b, q)) => (b, Some(q)),
                None => (rest, None),
            };
            let valid = !builder.is_empty()
                && !builder.starts_with('.')
                && !builder.ends_with('.')
                && builder
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if !valid {
                return Err(TorchError::Invalid(format!(
                    "{s}: `{builder}` is not a torchvision model name; give e.g. tv:resnet18 or tv:video.r3d_18"
                )));
            }
            let mut kwargs = BTreeMap::new();
            for pair in query.into_iter().flat_map(|q| q.split('&')) {
                if pair.is_empty() {
                    continue;
                }
                match pair.split_once('=') {
                    Some(("num_classes", v)) => {
                        let n = parse_classes(v).ok_or_else(|| {
                            TorchError::Invalid(format!(
                                "{s}: num_classes={v} is not an integer from 1 to 1000000"
                            ))
                        })?;
                        kwargs.insert("num_classes".into(), serde_json::json!(n));
                    }
                    _ => {
                        return Err(TorchError::Invalid(format!(
                            "{s}: unknown option `{pair}`; the only option is num_classes=N"
                        )))
                    }
                }
            }
            if let Some(n) = num_classes {
                if kwargs.contains_key("num_classes") {
                    return Err(TorchError::Invalid(format!(
                        "{s}: num_classes is given both in the source and with --num-classes; give it once"
                    )));
                }
                kwargs.insert("num_classes".into(), serde_json::json!(n));
            }
            return Ok(TorchSource::Torchvision {
                builder: builder.into(),
                kwargs,
            });
        }
        if SourceKind::of(s) == SourceKind::Zoo {
            return Err(TorchError::Invalid(format!(
                "{s}: zoo models are ONNX models already; run them with `edgebench pipeline {s}` or `edgebench bench {s} --engine torch:eager`"
            )));
        }
        let Some((file, factory)) = s.rsplit_once(':') else {
            return Err(TorchError::Invalid(format!(
                "{s}: give tv:NAME (a torchvision model) or path/to/file.py:factory (a function that returns an nn.Module)"
            )));
        };
        let factory_ok = !factory.is_empty()
            && !factory.starts_with(|c: char| c.is_ascii_digit())
            && factory
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !factory_ok {
            return Err(TorchError::Invalid(format!(
                "{s}: `{factory}` is not a Python function name; give path/to/file.py:factory"
            )));
        }
        let path = Path::new(file);
        if !path.is_file() {
            return Err(TorchError::Invalid(format!(
                "{s}: {file} {}; give path/to/file.py:factory",
                if path.exists() {
                    "is not a file"
                } else {
                    "does not exist"
                }
            )));
        }
        if num_classes.is_some() {
            return Err(TorchError::Invalid(format!(
                "--num-classes applies to torchvision models (tv:NAME); {file}:{factory} builds its own model"
            )));
        }
        let file = path
            .canonicalize()
            .map_err(|e| TorchError::Invalid(format!("{s}: cannot resolve {file}: {e}")))?;
        Ok(TorchSource::Module {
            file,
            factory: factory.into(),
        })
    }

    /// `tv:resnet18`, `/abs/file.py:factory` or `edgebench:c3d_small?num_classes=4`.
    pub fn label(&self) -> String {
        let with_classes =
            |prefix: &str, builder: &str, kwargs: &BTreeMap<String, Value>| match kwargs
                .get("num_classes")
            {
                Some(n) => format!("{prefix}:{builder}?num_classes={n}"),
                None => format!("{prefix}:{builder}"),
            };
        match self {
            TorchSource::Torchvision { builder, kwargs } => with_classes("tv", builder, kwargs),
            TorchSource::Module { file, factory } => format!("{}:{factory}", file.display()),
            TorchSource::Edgebench { builder, kwargs } => {
                with_classes("edgebench", builder, kwargs)
            }
        }
    }

    /// A short name for files: `resnet18`, `r3d_18`, or the file's stem.
    pub fn short_name(&self) -> String {
        match self {
            TorchSource::Torchvision { builder, .. } => {
                builder.rsplit('.').next().unwrap_or(builder).to_owned()
            }
            TorchSource::Edgebench { builder, .. } => builder.clone(),
            TorchSource::Module { file, factory } => {
                let stem = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "model".into());
                format!("{stem}_{factory}")
            }
        }
    }

    /// The input shape a torchvision model expects at batch 1 (video: N, C, T, H, W).
    pub fn default_input_shape(&self) -> Option<Vec<usize>> {
        match self {
            TorchSource::Torchvision { builder, .. } if builder.starts_with("video.") => {
                Some(vec![1, 3, 16, 112, 112])
            }
            TorchSource::Torchvision { .. } => Some(vec![1, 3, 224, 224]),
            TorchSource::Edgebench { builder, .. } => edgebench_zoo::list()
                .into_iter()
                .find(|e| e.edgebench_twin == Some(builder.as_str()))
                .map(|e| e.input_shape),
            TorchSource::Module { .. } => None,
        }
    }
}

fn parse_classes(v: &str) -> Option<usize> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
}

/// Weights handed to the worker: float32 tensors packed in one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightEntry {
    pub name: String,
    pub shape: Vec<usize>,
    /// Byte offset in the file.
    pub offset: usize,
    pub numel: usize,
}

/// The weights a PyTorch model gets. A random initialisation is not enough: torchvision's
/// default initialisation gives mobilenet_v2 logits of about 1e-9 and efficientnet_b0 of
/// about 1e-15, so fp16 engines underflow, top-1 agreement is a coin toss and tiny values
/// may turn subnormal (slow on many CPUs, which would fake a speed-up elsewhere).
#[derive(Debug, Clone, PartialEq)]
pub enum Weights {
    /// The float initializers of the ONNX model itself (a `zoo:` model run as its twin).
    OnnxInitializers,
    /// The zoo's deterministic weights for the twin of a `tv:` source the zoo has (the zoo's
    /// initializer names are torchvision's `state_dict` keys).
    Zoo(edgebench_zoo::ZooSpec),
    /// The seed's random initialisation, each convolution and linear layer whose weights
    /// depend on the seed rescaled so that its output has RMS 1 on a deterministic
    /// calibration input of these shapes (one forward pass, layer by layer as LSUV does).
    Rescaled { calibration: Vec<Vec<usize>> },
    /// What the factory built, untouched: no weight depends on the seed (trained or loaded
    /// weights, or a factory that seeds itself).
    AsGiven,
    /// The seed's random initialisation, untouched: exports made before edgebench recorded
    /// its weights.
    TorchInit,
}

impl Weights {
    pub const ZOO: &'static str = "edgebench-zoo-deterministic";
    pub const RESCALED: &'static str = "rescaled-deterministic";
    pub const AS_GIVEN: &'static str = "as-given";
    pub const TORCH_INIT: &'static str = "torch-default-init";

    /// The name recorded in `session.details.weights` and the export's metadata.
    pub fn label(&self) -> &'static str {
        match self {
            Weights::OnnxInitializers | Weights::Zoo(_) => Weights::ZOO,
            Weights::Rescaled { .. } => Weights::RESCALED,
            Weights::AsGiven => Weights::AS_GIVEN,
            Weights::TorchInit => Weights::TORCH_INIT,
        }
    }

    /// The `weights` field of the worker's `load` and `export` requests; tensors are written
    /// into `dir`.
    pub fn request(&self, proto: &pb::ModelProto, dir: &Path) -> Result<Value, TorchError> {
        let tensors = |p: &pb::ModelProto| -> Result<Value, TorchError> {
            let path = dir.join("weights.bin");
            let tensors = write_weights(p, &path)?;
            Ok(json!({"kind": "tensors", "label": self.label(), "file": path, "tensors": tensors}))
        };
        match self {
            Weights::OnnxInitializers => tensors(proto),
            Weights::Zoo(spec) => {
                let zoo = edgebench_zoo::build(spec).map_err(|e| {
                    TorchError::Invalid(format!("the zoo's weights for {spec}: {e}"))
                })?;
                tensors(&zoo)
            }
            Weights::Rescaled { calibration } => {
                Ok(json!({"kind": "rescale", "calibration": calibration}))
            }
            Weights::AsGiven | Weights::TorchInit => {
                Ok(json!({"kind": "as_built", "label": self.label()}))
            }
        }
    }
}

/// The weights a source gets when it is exported, and the source as it will be built: a
/// `tv:` model the zoo has (or edgebench's own twin of a zoo model) gets the zoo's weights
/// (GoogLeNet without its auxiliary heads, which only run in training, as in the zoo);
/// everything else the rescaled initialisation, calibrated on inputs of `shapes`.
pub fn weights_for(
    source: &TorchSource,
    seed: u64,
    shapes: &[Vec<usize>],
) -> (TorchSource, Weights) {
    let zoo = edgebench_zoo::list();
    let find = |twin: fn(&edgebench_zoo::ZooEntry) -> Option<&'static str>, builder: &str| {
        zoo.iter().find(|e| twin(e) == Some(builder))
    };
    // With the builder's own default number of classes: torchvision's 400 Kinetics classes
    // for video models, else 1000; the zoo's for edgebench's own definitions.
    let found = match source {
        TorchSource::Torchvision { builder, kwargs } => find(|e| e.torchvision, builder).map(|e| {
            let default = if builder.starts_with("video.") {
                400
            } else {
                1000
            };
            (e, kwargs, default)
        }),
        TorchSource::Edgebench { builder, kwargs } => {
            find(|e| e.edgebench_twin, builder).map(|e| (e, kwargs, e.default_classes))
        }
        TorchSource::Module { .. } => None,
    };
    if let Some((entry, kwargs, default)) = found {
        let classes = kwargs
            .get("num_classes")
            .and_then(serde_json::Value::as_u64)
            .map_or(default, |n| n as usize);
        let mut spec = edgebench_zoo::ZooSpec::new(entry.name);
        spec.classes = Some(classes);
        spec.seed = Some(seed);
        if spec.validate().is_ok() {
            let mut source = source.clone();
            if let TorchSource::Torchvision { builder, kwargs } = &mut source {
                torchvision_extras(builder, kwargs);
            }
            return (source, Weights::Zoo(spec));
        }
    }
    (
        source.clone(),
        Weights::Rescaled {
            calibration: shapes.to_vec(),
        },
    )
}

/// The PyTorch twin of a zoo model with `classes` outputs: its torchvision builder, or
/// edgebench's own definition (`python/edgebench_worker/models.py`) for the models
/// torchvision lacks. None only for a model with neither (the zoo's tests forbid one).
pub fn zoo_twin(entry: &edgebench_zoo::ZooEntry, classes: usize) -> Option<TorchSource> {
    let mut kwargs = BTreeMap::new();
    kwargs.insert("num_classes".into(), json!(classes));
    if let Some(builder) = entry.torchvision {
        torchvision_extras(builder, &mut kwargs);
        return Some(TorchSource::Torchvision {
            builder: builder.into(),
            kwargs,
        });
    }
    entry.edgebench_twin.map(|builder| TorchSource::Edgebench {
        builder: builder.into(),
        kwargs,
    })
}

/// The builder arguments that make torchvision's network the zoo's.
fn torchvision_extras(builder: &str, kwargs: &mut BTreeMap<String, Value>) {
    if builder == "googlenet" {
        // The zoo's GoogLeNet has no auxiliary heads (they only exist for training).
        kwargs.insert("aux_logits".into(), json!(false));
        kwargs.insert("init_weights".into(), json!(false));
    }
}

/// Whether the torch engine can run `zoo:NAME` (options after `?` are ignored): the zoo has
/// the model and it has a PyTorch twin.
pub fn zoo_has_twin(source: &str) -> bool {
    let Some(name) = zoo_name(source) else {
        return false;
    };
    edgebench_zoo::list()
        .iter()
        .find(|e| e.name == name)
        .is_some_and(|e| zoo_twin(e, e.default_classes).is_some())
}

/// What `edgebench zoo list` prints: a row per zoo model (task, input, classes, parameters,
/// GMACs, its PyTorch twin), then where each architecture comes from.
pub fn zoo_list_text() -> String {
    use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};
    let entries = edgebench_zoo::list();
    let shape = |s: &[usize]| s.iter().map(usize::to_string).collect::<Vec<_>>().join("x");
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "model",
        "task",
        "input",
        "classes",
        "params",
        "GMACs",
        "PyTorch twin",
    ]);
    for e in &entries {
        let right = |s: String| Cell::new(s).set_alignment(CellAlignment::Right);
        t.add_row(vec![
            Cell::new(e.name),
            Cell::new(e.task.name()),
            Cell::new(shape(&e.input_shape)),
            right(e.default_classes.to_string()),
            right(e.params.to_string()),
            right(format!("{:.2}", e.macs as f64 / 1e9)),
            Cell::new(
                e.torchvision
                    .map(|b| format!("{TORCHVISION_PREFIX}{b}"))
                    .or_else(|| e.edgebench_twin.map(|b| format!("edgebench:{b}")))
                    .unwrap_or_else(|| "-".into()),
            ),
        ]);
    }
    let mut out = format!(
        "{t}\nParameters and MACs at the default classes and batch 1. PyTorch twin: what the torch engine runs for zoo:NAME, with the zoo's weights (tv: a torchvision builder, edgebench: edgebench's own definition in its worker).\nSources:\n"
    );
    for e in &entries {
        out.push_str(&format!("  {}: {}\n", e.name, e.source));
    }
    out
}

/// The label a study gives a model it is given no label for: the zoo model's name, the PyTorch
/// model's short name ([`TorchSource::short_name`]), else the file's stem.
pub fn default_label(source: &str) -> String {
    let kind = SourceKind::of(source);
    if let Some(name) = zoo_name(source) {
        return name.to_owned();
    }
    if kind.is_pytorch() {
        if let Ok(s) = TorchSource::parse(source, None) {
            return s.short_name();
        }
    }
    Path::new(source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| source.to_owned())
}

/// The task a source tells by itself: a zoo model's; `None` for anything else.
pub fn known_task(source: &str) -> Option<Task> {
    let name = zoo_name(source)?;
    edgebench_zoo::list()
        .iter()
        .find(|e| e.name == name)
        .map(|e| e.task)
}

/// The `model` of a document about `model`, loaded from `source` (the argument as given) and
/// run with `inputs`: labelled and given its task as a study would ([`default_label`],
/// [`known_task`]), with its counts ([`ModelInfo::new`]).
pub fn describe(source: &str, model: &Model, inputs: Vec<ConcreteSpec>) -> ModelInfo {
    ModelInfo {
        label: default_label(source),
        source: source.to_owned(),
        task: known_task(source),
        ..ModelInfo::new(model, inputs)
    }
}

/// The PyTorch model behind an ONNX model.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub source: TorchSource,
    pub seed: u64,
    pub weights: Weights,
}

/// Finds the PyTorch model behind `model`: the PyTorch twin of a `zoo:` model ([`zoo_twin`]),
/// or the source recorded by `edgebench export`.
pub fn resolve(model: &Model) -> Result<Resolved, TorchError> {
    let metadata: BTreeMap<&str, &str> = model
        .proto
        .metadata_props
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect();
    if let Some(src) = metadata.get(meta::SOURCE) {
        let source: TorchSource = serde_json::from_str(src).map_err(|e| {
            TorchError::Invalid(format!(
                "model {}: metadata `{}` is not a PyTorch source edgebench can read ({e}): export it again with `edgebench export`",
                model.name,
                meta::SOURCE
            ))
        })?;
        let seed = metadata
            .get(meta::SEED)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        let again = |what: String| {
            TorchError::Invalid(format!(
                "model {}: {what}; export it again with `edgebench export`",
                model.name
            ))
        };
        let weights = match metadata.get(meta::WEIGHTS).copied() {
            None => Weights::TorchInit,
            Some(Weights::ZOO) => match weights_for(&source, seed, &[]) {
                (rebuilt, w @ Weights::Zoo(_)) if rebuilt == source => w,
                _ => {
                    return Err(again(format!(
                        "its weights are the zoo's, but the zoo has no twin of {}",
                        source.label()
                    )))
                }
            },
            Some(Weights::RESCALED) => {
                let calibration = metadata
                    .get(meta::WEIGHTS_CALIBRATION)
                    .and_then(|s| serde_json::from_str::<Vec<Vec<usize>>>(s).ok())
                    .ok_or_else(|| {
                        again(format!(
                            "metadata `{}` is missing or unreadable",
                            meta::WEIGHTS_CALIBRATION
                        ))
                    })?;
                Weights::Rescaled { calibration }
            }
            Some(Weights::AS_GIVEN) => Weights::AsGiven,
            Some(Weights::TORCH_INIT) => Weights::TorchInit,
            Some(other) => {
                return Err(again(format!(
                    "metadata `{}` names weights `{other}` this edgebench does not know",
                    meta::WEIGHTS
                )))
            }
        };
        return Ok(Resolved {
            source,
            seed,
            weights,
        });
    }
    if let Some(name) = zoo_name(&model.name) {
        let entry = edgebench_zoo::list()
            .into_iter()
            .find(|e| e.name == name)
            .ok_or_else(|| TorchError::Invalid(format!("{}: unknown zoo model", model.name)))?;
        let classes = model
            .outputs
            .first()
            .and_then(|o| o.shape.last())
            .and_then(|d| match d {
                Dim::Fixed(n) => Some(*n),
                Dim::Symbolic(_) => None,
            })
            .unwrap_or(entry.default_classes);
        let Some(source) = zoo_twin(&entry, classes) else {
            return Err(TorchError::Invalid(format!(
                "zoo model {name} has no PyTorch twin, so PyTorch cannot run it (see `edgebench zoo list`)"
            )));
        };
        return Ok(Resolved {
            source,
            seed: 0,
            weights: Weights::OnnxInitializers,
        });
    }
    Err(TorchError::Invalid(format!(
        "model {} is a plain ONNX file and the torch engine needs the PyTorch model behind it: give zoo:NAME, a file written by `edgebench export`, or run `edgebench pipeline tv:NAME` / `edgebench pipeline path/to/file.py:factory`",
        model.name
    )))
}

/// Packs the float32 initializers of `proto` into `path` and returns the table of contents.
pub fn write_weights(proto: &pb::ModelProto, path: &Path) -> Result<Vec<WeightEntry>, TorchError> {
    let mut blob: Vec<u8> = Vec::new();
    let mut entries = vec![];
    if let Some(g) = &proto.graph {
        for t in &g.initializer {
            if t.data_type != pb::tensor_proto::DataType::Float as i32 {
                continue;
            }
            let shape: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
            let numel: usize = shape.iter().product();
            let offset = blob.len();
            if !t.raw_data.is_empty() {
                if t.raw_data.len() != numel * 4 {
                    return Err(TorchError::Invalid(format!(
                        "initializer `{}` holds {} bytes for shape {shape:?}",
                        t.name,
                        t.raw_data.len()
                    )));
                }
                blob.extend_from_slice(&t.raw_data);
            } else if t.float_data.len() == numel {
                for x in &t.float_data {
                    blob.extend_from_slice(&x.to_le_bytes());
                }
            } else {
                // External data or an empty tensor: not a weight the twin can use.
                continue;
            }
            entries.push(WeightEntry {
                name: t.name.clone(),
                shape,
                offset,
                numel,
            });
        }
    }
    std::fs::write(path, &blob).map_err(|e| TorchError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoo_export_options_may_come_from_the_name_or_a_flag_but_not_both_differently() {
        assert_eq!(merge("classes", Some(2), None).unwrap(), Some(2));
        assert_eq!(merge("classes", None, Some(3)).unwrap(), Some(3));
        assert_eq!(merge("classes", Some(3), Some(3)).unwrap(), Some(3));
        let e = merge("classes", Some(2), Some(3)).unwrap_err().to_string();
        assert!(e.contains("--classes"), "{e}");
        let spec = zoo_export_spec("zoo:resnet18?classes=2", None, Some(4), None).unwrap();
        assert_eq!((spec.classes, spec.batch), (Some(2), Some(4)));
        assert!(zoo_export_spec("resnet18?batch=2", None, Some(4), None).is_err());
    }

    #[test]
    fn a_written_zoo_model_reports_its_shape_classes_and_seed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.onnx");
        let spec = zoo_export_spec("squeezenet1_1", Some(3), Some(2), None).unwrap();
        let file = write_zoo(&spec, &out).unwrap();
        assert_eq!(file.input, [2, 3, 224, 224]);
        assert_eq!((file.classes, file.seed), (3, edgebench_zoo::DEFAULT_SEED));
        assert_eq!(std::fs::metadata(&out).unwrap().len() as usize, file.bytes);
        let missing = dir.path().join("no-such-folder/m.onnx");
        assert!(matches!(
            write_zoo(&spec, &missing),
            Err(edgebench_core::Error::Write { .. })
        ));
    }

    #[test]
    fn tells_the_kinds_of_source_apart_by_syntax_alone() {
        use SourceKind::*;
        for (s, kind) in [
            ("zoo:resnet18?classes=2", Zoo),
            ("tv:video.r3d_18", Torchvision),
            ("nets/net.py:make", PythonFactory),
            ("/abs/net.py:make", PythonFactory),
            ("model.onnx", File),
            ("dir.py:x/model.onnx", PythonFactory),
            ("a.py:b:c", File),
            ("net.py", File),
            ("", File),
        ] {
            assert_eq!(SourceKind::of(s), kind, "{s}");
        }
        assert!(Torchvision.is_pytorch() && PythonFactory.is_pytorch());
        assert!(!Zoo.is_pytorch() && !File.is_pytorch());
        assert_eq!(zoo_name("zoo:r3d_18?classes=4&batch=2"), Some("r3d_18"));
        assert_eq!(zoo_query("zoo:r3d_18?classes=4"), Some("r3d_18?classes=4"));
        assert_eq!(zoo_name("tv:resnet18"), None);
    }

    #[test]
    fn one_loader_builds_zoo_models_with_their_defaults_and_reads_files() {
        let src = ModelSource::parse_onnx("zoo:mobilenet_v3_small?classes=3").unwrap();
        let ModelSource::Zoo { spec, text } = &src else {
            panic!("{src:?}")
        };
        assert_eq!(
            (spec.name.as_str(), spec.classes),
            ("mobilenet_v3_small", Some(3))
        );
        assert_eq!(text, "zoo:mobilenet_v3_small?classes=3");
        // The query wins over the defaults; the defaults fill what it leaves out.
        let defaults = ZooDefaults {
            classes: Some(9),
            batch: Some(2),
        };
        let m = src.load(defaults).unwrap();
        assert_eq!(m.name, "zoo:mobilenet_v3_small?classes=3");
        assert_eq!(m.inputs[0].shape.first(), Some(&Dim::Fixed(2)));
        assert_eq!(m.outputs[0].shape.last(), Some(&Dim::Fixed(3)));

        let e = ModelSource::parse_onnx("zoo:resnet81")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("unknown zoo model `resnet81`"), "{e}");

        // Anything else is a path, PyTorch sources included (only pipeline/export take those).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        let tiny = edgebench_core::testmodel::TinyCnn::default();
        std::fs::write(&path, edgebench_core::testmodel::tiny_cnn_bytes(&tiny)).unwrap();
        let src = ModelSource::parse_onnx(path.to_str().unwrap()).unwrap();
        assert_eq!(src, ModelSource::File(path.clone()));
        assert_eq!(
            src.load(ZooDefaults::default()).unwrap().inputs.len(),
            Model::from_path(&path).unwrap().inputs.len()
        );
        assert_eq!(
            ModelSource::parse_onnx("tv:resnet18").unwrap(),
            ModelSource::File("tv:resnet18".into())
        );
    }

    #[test]
    fn any_source_parses_to_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("net.py");
        std::fs::write(&f, "def make(): pass\n").unwrap();
        assert!(matches!(
            ModelSource::parse(" zoo:resnet18 ", None).unwrap(),
            ModelSource::Zoo { spec, .. } if spec.name == "resnet18"
        ));
        let tv = ModelSource::parse("tv:resnet18", Some(4)).unwrap();
        assert_eq!(
            tv,
            ModelSource::Pytorch(TorchSource::parse("tv:resnet18?num_classes=4", None).unwrap())
        );
        let e = tv.load(ZooDefaults::default()).unwrap_err().to_string();
        assert!(
            e.contains("edgebench export tv:resnet18?num_classes=4"),
            "{e}"
        );
        assert!(matches!(
            ModelSource::parse(&format!("{}:make", f.display()), None).unwrap(),
            ModelSource::Pytorch(TorchSource::Module { factory, .. }) if factory == "make"
        ));
        assert_eq!(
            ModelSource::parse("m.onnx", None).unwrap(),
            ModelSource::File("m.onnx".into())
        );
        let e = ModelSource::parse("zoo:resnet18?classes=0", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("classes"), "{e}");
    }

    #[test]
    fn parses_torchvision_sources() {
        let s = TorchSource::parse("tv:video.r3d_18?num_classes=4", None).unwrap();
        assert_eq!(s.label(), "tv:video.r3d_18?num_classes=4");
        assert_eq!(s.short_name(), "r3d_18");
        assert_eq!(s.default_input_shape(), Some(vec![1, 3, 16, 112, 112]));
        let s = TorchSource::parse("tv:resnet18", Some(10)).unwrap();
        assert_eq!(s.label(), "tv:resnet18?num_classes=10");
        assert_eq!(s.default_input_shape(), Some(vec![1, 3, 224, 224]));
        for bad in [
            "tv:",
            "tv:res net",
            "tv:resnet18?classes=2",
            "tv:resnet18?num_classes=0",
            "tv:.x",
        ] {
            assert!(TorchSource::parse(bad, None).is_err(), "{bad}");
        }
        let e = TorchSource::parse("tv:resnet18?num_classes=3", Some(3)).unwrap_err();
        assert!(e.to_string().contains("once"), "{e}");
    }

    #[test]
    fn parses_module_sources_and_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("net.py");
        std::fs::write(&f, "def make(): pass\n").unwrap();
        let s = TorchSource::parse(&format!("{}:make", f.display()), None).unwrap();
        assert!(matches!(&s, TorchSource::Module { factory, .. } if factory == "make"));
        assert_eq!(s.short_name(), "net_make");
        assert_eq!(s.default_input_shape(), None);
        let e = TorchSource::parse(
            &format!("{}:make", dir.path().join("no.py").display()),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("does not exist"), "{e}");
        let e = TorchSource::parse(&f.display().to_string(), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("file.py:factory"), "{e}");
        let e = TorchSource::parse(&format!("{}:1x", f.display()), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("function name"), "{e}");
        assert!(TorchSource::parse("zoo:resnet18", None)
            .unwrap_err()
            .to_string()
            .contains("pipeline"));
    }

    #[test]
    fn every_zoo_model_has_a_pytorch_twin_and_the_worker_has_edgebench_s_own() {
        let models_py = crate::embed::FILES
            .iter()
            .find(|(n, _)| *n == "models.py")
            .expect("models.py is embedded")
            .1;
        // The worker's `BUILDERS = {"name": Class, ...}` table.
        let table = models_py
            .split("BUILDERS = {")
            .nth(1)
            .and_then(|t| t.split('}').next())
            .expect("models.py has a BUILDERS table");
        let mut builders: Vec<&str> = table
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"')?.split('"').next())
            .collect();
        builders.sort_unstable();
        let mut own = vec![];
        for e in edgebench_zoo::list() {
            let twin = zoo_twin(&e, 7).unwrap_or_else(|| panic!("{} has no twin", e.name));
            assert!(
                zoo_has_twin(&format!("zoo:{}?classes=3", e.name)),
                "{}",
                e.name
            );
            match &twin {
                TorchSource::Torchvision { builder, kwargs } => {
                    assert_eq!(Some(builder.as_str()), e.torchvision);
                    assert_eq!(kwargs["num_classes"], json!(7));
                }
                TorchSource::Edgebench { builder, kwargs } => {
                    own.push(builder.as_str().to_owned());
                    assert_eq!(twin.label(), format!("edgebench:{builder}?num_classes=7"));
                    assert_eq!(kwargs["num_classes"], json!(7));
                    assert_eq!(twin.default_input_shape(), Some(e.input_shape.clone()));
                    // Exported or resolved again, it gets the zoo's weights.
                    let (again, w) = weights_for(&twin, 1, &[]);
                    assert_eq!(again, twin);
                    assert!(
                        matches!(&w, Weights::Zoo(spec) if spec.name == e.name && spec.classes == Some(7)),
                        "{w:?}"
                    );
                }
                TorchSource::Module { .. } => panic!("{}: a module twin", e.name),
            }
        }
        own.sort();
        assert_eq!(builders, own);
        assert_eq!(own, ["ae3d", "c3d_small", "densenet3d_121", "resnet50v2"]);
        assert!(!zoo_has_twin("zoo:nonexistent"));
        assert!(!zoo_has_twin("c3d_small.onnx"));
    }

    #[test]
    fn an_edgebench_twin_is_sent_to_the_worker_as_its_own_kind() {
        let e = edgebench_zoo::list()
            .into_iter()
            .find(|e| e.name == "c3d_small")
            .unwrap();
        let twin = zoo_twin(&e, 4).unwrap();
        let j = serde_json::to_value(&twin).unwrap();
        assert_eq!(
            j,
            json!({"kind": "edgebench", "builder": "c3d_small", "kwargs": {"num_classes": 4}})
        );
        assert_eq!(serde_json::from_value::<TorchSource>(j).unwrap(), twin);
        assert_eq!(twin.short_name(), "c3d_small");
    }

    #[test]
    fn source_round_trips_through_json() {
        let s = TorchSource::parse("tv:resnet18?num_classes=7", None).unwrap();
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<TorchSource>(&j).unwrap(), s);
    }
}
