//! The memory a run needs, checked before anything whose size comes from the model is
//! allocated. A model is a file anyone can write: an input declared `1x3x1000000x1000000`
//! asks for 11,176 GiB, and Rust aborts the process (exit 134, nothing reported) when an
//! allocation that large fails. Every command checks here, where shapes become concrete,
//! and refuses such a run with a one-line error that names the input, the size and the
//! flag that raises the limit.
//!
//! The estimate is deliberately simple and errs on the high side: the inputs (the set being
//! measured, the next gate set and the engine's own copy), the weights (the file's and the
//! engine's copy), the largest activation twice (the input and output of its node), and the
//! output sets the accuracy gate keeps, each by the number of copies its engine makes.

use crate::engine::EngineSpec;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::tensor::{shape_string, ConcreteSpec, DType};
use tract_onnx::pb;
use tract_onnx::prelude::*;

/// How many bytes the flag `--max-memory` counts in one unit.
pub const GIB: u64 = 1 << 30;

/// Bytes of a tensor of `shape` and `dtype`, or [`Error::ShapeOverflow`] naming it when the
/// count does not fit in 64 bits. Strings and unknown types count one byte per element.
pub fn tensor_bytes(name: &str, shape: &[usize], dtype: DType) -> Result<u64> {
    let elem = dtype.size().max(1) as u64;
    shape
        .iter()
        .try_fold(elem, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| Error::ShapeOverflow {
            input: name.to_owned(),
            shape: shape_string(shape),
        })
}

/// The most memory a run may use, and where that figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub bytes: u64,
    pub source: LimitSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// `--max-memory`, as the user gave it.
    Flag,
    /// The memory available now (free plus reclaimable, within the cgroup's limit).
    Available,
    /// The available memory could not be read: only overflow is refused.
    Unknown,
}

impl Limit {
    /// Reads `--max-memory GIB`: a positive number of GiB.
    pub fn parse_gib(s: &str) -> Result<f64> {
        match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            _ => Err(Error::InvalidArgument(format!(
                "`{s}` is not a size in GiB: give a positive number, e.g. --max-memory 16"
            ))),
        }
    }

    /// `--max-memory GIB` when given, else the memory available now.
    pub fn new(max_memory_gib: Option<f64>) -> Limit {
        match max_memory_gib {
            Some(g) => Limit {
                // A float-to-integer cast saturates: absurd flags become "no limit".
                bytes: (g * GIB as f64) as u64,
                source: LimitSource::Flag,
            },
            None => Limit::available(),
        }
    }

    /// The memory available now, within the cgroup's limit where there is one.
    pub fn available() -> Limit {
        use sysinfo::{MemoryRefreshKind, RefreshKind, System};
        let refresh = RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram());
        let Ok(sys) = System::new_with_specifics(refresh) else {
            return Limit::unknown();
        };
        let mut bytes = sys.available_memory();
        if let Some(c) = sys.cgroup_limits() {
            bytes = bytes.min(c.free_memory);
        }
        if bytes == 0 {
            return Limit::unknown();
        }
        Limit {
            bytes,
            source: LimitSource::Available,
        }
    }

    fn unknown() -> Limit {
        Limit {
            bytes: u64::MAX,
            source: LimitSource::Unknown,
        }
    }

    fn describe(&self) -> String {
        match self.source {
            LimitSource::Flag => format!("the limit --max-memory {}", human(self.bytes)),
            LimitSource::Available => format!("the {} available now", human(self.bytes)),
            LimitSource::Unknown => "any limit".into(),
        }
    }
}

/// Sizes in the model that the run's memory depends on, at concrete input shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Footprint {
    /// Each input: name, shape, bytes.
    pub inputs: Vec<(String, String, u64)>,
    /// Initializers, Constant nodes and constants tract folds from a constant shape, as the
    /// file declares them.
    pub weights_bytes: u64,
    /// The largest intermediate value and its bytes; `None` until [`Footprint::activations`]
    /// ran, or when tract cannot type the model (the engine then reports why).
    pub largest_activation: Option<(String, u64)>,
    /// All outputs of one inference, when tract could type the model.
    pub outputs_bytes: Option<u64>,
}

impl Footprint {
    /// What the file declares, without running any engine: input sizes and weights. Fails
    /// on sizes that overflow 64 bits.
    pub fn declared(model: &Model, inputs: &[ConcreteSpec]) -> Result<Footprint> {
        let mut fp = Footprint::of_inputs(inputs)?;
        if let Some(g) = model.proto.graph.as_ref() {
            fp.weights_bytes = declared_weights(&model.name, g)?;
        }
        Ok(fp)
    }

    /// The inputs alone, for inputs no model describes yet (PyTorch's export).
    pub fn of_inputs(inputs: &[ConcreteSpec]) -> Result<Footprint> {
        let inputs = inputs
            .iter()
            .map(|i| {
                let bytes = tensor_bytes(&i.name, &i.shape, i.dtype)?;
                Ok((i.name.clone(), shape_string(&i.shape), bytes))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Footprint {
            inputs,
            weights_bytes: 0,
            largest_activation: None,
            outputs_bytes: None,
        })
    }

    /// Adds the largest activation and the outputs from tract's shape inference. Nothing is
    /// allocated for them; a model tract cannot type keeps `None`.
    pub fn activations(&mut self, model: &Model, inputs: &[ConcreteSpec]) {
        let Ok(typed) = crate::tract_support::typed_model(model, inputs, "tract") else {
            return;
        };
        let mut largest = (String::new(), 0u64);
        for node in typed.nodes() {
            let op = node.op.name();
            if op == "Const" || op == "Source" {
                continue;
            }
            for (ix, out) in node.outputs.iter().enumerate() {
                let bytes = fact_bytes(&out.fact);
                if bytes > largest.1 {
                    let label = typed
                        .outlet_label(OutletId::new(node.id, ix))
                        .unwrap_or(&node.name);
                    largest = (label.to_owned(), bytes);
                }
            }
        }
        let outputs = typed
            .output_outlets()
            .map(|outs| {
                outs.iter()
                    .filter_map(|o| typed.outlet_fact(*o).ok())
                    .fold(0u64, |acc, f| acc.saturating_add(fact_bytes(f)))
            })
            .ok();
        self.largest_activation = Some(largest);
        self.outputs_bytes = outputs;
    }

    fn inputs_bytes(&self) -> u64 {
        self.inputs
            .iter()
            .fold(0u64, |acc, i| acc.saturating_add(i.2))
    }
}

/// Bytes of a tract fact with a concrete shape (saturating; 0 when the shape is symbolic).
pub fn fact_bytes(fact: &TypedFact) -> u64 {
    fact.shape
        .as_concrete()
        .map(|s| {
            s.iter().fold(fact.datum_type.size_of() as u64, |acc, &d| {
                acc.saturating_mul(d as u64)
            })
        })
        .unwrap_or(0)
}

/// Everything a run keeps besides the model's own tensors, for one engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The engine, as `EngineSpec::engine` names it (`tract`, `ort`, `torch`...).
    pub engine: String,
    /// Output sets the accuracy gate keeps (1 when there is no gate).
    pub gate_sets: usize,
    /// The outputs are written as JSON numbers too (the study's child does): about 24 bytes
    /// a value.
    pub outputs_as_json: bool,
    /// Buffers of the caller whose size comes from the model (video frames and clips).
    pub extra: Vec<(String, u64)>,
}

impl Run {
    /// A `bench`-style run of `spec` with `gate_sets` gate input sets.
    pub fn bench(spec: &EngineSpec, gate_sets: usize) -> Run {
        Run {
            engine: spec.engine.clone(),
            gate_sets: gate_sets.max(1),
            outputs_as_json: false,
            extra: vec![],
        }
    }
}

/// Copies of each kind of tensor an engine holds at its peak.
struct Copies {
    inputs: u64,
    weights: u64,
    outputs_per_set: u64,
}

fn copies(engine: &str) -> Copies {
    match engine {
        // The model runs in a Python process: inputs go through a file (bytes, the file, then
        // numpy and torch on the other side), outputs come back the same way.
        "torch" => Copies {
            inputs: 5,
            weights: 2,
            outputs_per_set: 4,
        },
        // Host set, the next gate set, the engine's own copy; the engine's graph holds the
        // weights (prepacked) besides the file's bytes; the gate keeps each output set, a
        // clone for the reference and an f64 copy while comparing.
        _ => Copies {
            inputs: 3,
            weights: 2,
            outputs_per_set: 3,
        },
    }
}

/// The parts of a run's need, largest first, and their total.
fn need(fp: &Footprint, run: &Run) -> (u64, Vec<(String, u64)>) {
    let c = copies(&run.engine);
    let mut parts: Vec<(String, u64)> = vec![
        (
            format!("inputs {} x{}", human(fp.inputs_bytes()), c.inputs),
            fp.inputs_bytes().saturating_mul(c.inputs),
        ),
        (
            format!("weights {} x{}", human(fp.weights_bytes), c.weights),
            fp.weights_bytes.saturating_mul(c.weights),
        ),
    ];
    if let Some((name, bytes)) = &fp.largest_activation {
        parts.push((
            format!("largest activation `{name}` {} x2", human(*bytes)),
            bytes.saturating_mul(2),
        ));
    }
    if let Some(out) = fp.outputs_bytes {
        let per_set = c.outputs_per_set + if run.outputs_as_json { 6 } else { 0 };
        let sets = (run.gate_sets.max(1) as u64).saturating_mul(per_set);
        parts.push((
            format!("outputs {} x{sets}", human(out)),
            out.saturating_mul(sets),
        ));
    }
    parts.extend(run.extra.iter().cloned());
    parts.retain(|p| p.1 > 0);
    parts.sort_by_key(|p| std::cmp::Reverse(p.1));
    let total = parts.iter().fold(0u64, |acc, p| acc.saturating_add(p.1));
    (total, parts)
}

/// The bytes `run` needs with this footprint.
pub fn need_bytes(fp: &Footprint, run: &Run) -> u64 {
    need(fp, run).0
}

fn check_one(fp: &Footprint, run: &Run, limit: &Limit, shown: &str) -> Result<()> {
    let (total, parts) = need(fp, run);
    if total <= limit.bytes {
        return Ok(());
    }
    let subject = match fp.inputs.iter().max_by_key(|i| i.2) {
        Some((name, shape, bytes)) => format!("input `{name}` at {shape} ({})", human(*bytes)),
        None => "the model's weights".into(),
    };
    Err(Error::OutOfMemory {
        subject,
        engine: shown.to_owned(),
        need: human(total),
        parts: parts
            .iter()
            .map(|p| p.0.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        limit: limit.describe(),
    })
}

/// The one rule: refuses a run of `model` at `inputs` on every engine of `runs` (shown as
/// the labels beside them) whose need exceeds `limit`. Cheap figures are checked first, so
/// that a hopeless run is refused before tract's shape inference; sizes that overflow are
/// refused whatever the limit.
pub fn check(
    model: &Model,
    inputs: &[ConcreteSpec],
    runs: &[(String, Run)],
    limit: &Limit,
) -> Result<Footprint> {
    let mut fp = Footprint::declared(model, inputs)?;
    for (shown, run) in runs {
        check_one(&fp, run, limit, shown)?;
    }
    fp.activations(model, inputs);
    for (shown, run) in runs {
        check_one(&fp, run, limit, shown)?;
    }
    Ok(fp)
}

/// [`check`] for a `bench` or `pipeline` run: every variant of `specs` holds the model, its
/// inputs and the outputs of `gate_sets` input sets for the accuracy gate.
pub fn check_bench(
    model: &Model,
    inputs: &[ConcreteSpec],
    specs: &[EngineSpec],
    gate_sets: usize,
    limit: &Limit,
) -> Result<Footprint> {
    let runs: Vec<(String, Run)> = specs
        .iter()
        .map(|s| (s.to_string(), Run::bench(s, gate_sets)))
        .collect();
    check(model, inputs, &runs, limit)
}

/// [`check`] for inputs alone, before a model exists (PyTorch's export allocates them).
pub fn check_inputs(inputs: &[ConcreteSpec], runs: &[(String, Run)], limit: &Limit) -> Result<()> {
    let fp = Footprint::of_inputs(inputs)?;
    for (shown, run) in runs {
        check_one(&fp, run, limit, shown)?;
    }
    Ok(())
}

/// Declared bytes of every stored tensor, and of ConstantOfShape nodes whose shape is
/// stored: tract folds those into constants while typing the model, so they are allocated
/// before any engine runs.
fn declared_weights(model: &str, g: &pb::GraphProto) -> Result<u64> {
    let dims_of = |what: String, dims: &[i64], dtype: DType| -> Result<u64> {
        dims.iter()
            .try_fold(dtype.size().max(1) as u64, |acc, &d| {
                acc.checked_mul(d.max(0) as u64)
            })
            .ok_or_else(|| Error::DimsOverflow {
                model: model.to_owned(),
                what,
                dims: shape_string(dims),
            })
    };
    let mut total = 0u64;
    let mut stored: std::collections::HashMap<&str, &pb::TensorProto> = Default::default();
    for t in &g.initializer {
        let b = dims_of(
            format!("initializer `{}`", t.name),
            &t.dims,
            DType::from_onnx(t.data_type),
        )?;
        total = total.saturating_add(b);
        stored.insert(&t.name, t);
    }
    for n in &g.node {
        if n.op_type == "Constant" {
            if let Some(t) = n.attribute.iter().find_map(|a| a.t.as_ref()) {
                let b = dims_of(
                    format!("constant `{}`", n.name),
                    &t.dims,
                    DType::from_onnx(t.data_type),
                )?;
                total = total.saturating_add(b);
                if let Some(o) = n.output.first() {
                    stored.insert(o, t);
                }
            }
        }
    }
    for n in &g.node {
        if n.op_type != "ConstantOfShape" {
            continue;
        }
        let Some(shape) = n.input.first().and_then(|i| stored.get(i.as_str())) else {
            continue;
        };
        let dims = int64_values(shape);
        let dtype = n
            .attribute
            .iter()
            .find(|a| a.name == "value")
            .and_then(|a| a.t.as_ref())
            .map(|t| DType::from_onnx(t.data_type))
            .unwrap_or(DType::F32);
        let b = dims_of(format!("ConstantOfShape node `{}`", n.name), &dims, dtype)?;
        total = total.saturating_add(b);
    }
    Ok(total)
}

fn int64_values(t: &pb::TensorProto) -> Vec<i64> {
    if !t.int64_data.is_empty() {
        return t.int64_data.clone();
    }
    t.raw_data
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect()
}

/// A byte count for people: `512 B`, `3.2 MiB`, `11,176 GiB`.
pub fn human(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else if b < 1000.0 * GIB as f64 {
        format!("{:.1} GiB", b / GIB as f64)
    } else {
        format!("{} GiB", group((b / GIB as f64).round() as u64))
    }
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_memory_is_a_positive_number_of_gib() {
        assert_eq!(Limit::parse_gib(" 16 ").unwrap(), 16.0);
        assert_eq!(Limit::parse_gib("0.5").unwrap(), 0.5);
        for bad in ["0", "-1", "inf", "NaN", "lots", ""] {
            match Limit::parse_gib(bad) {
                Err(Error::InvalidArgument(m)) => assert!(m.contains("--max-memory 16"), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
    use crate::model::ShapeRequest;
    use crate::testmodel::{tiny_cnn_bytes, TinyCnn};

    fn tiny(dynamic: bool) -> Model {
        let o = TinyCnn {
            dynamic_batch: dynamic,
            dynamic_spatial: dynamic,
            ..Default::default()
        };
        Model::from_bytes("tiny", tiny_cnn_bytes(&o)).unwrap()
    }

    fn limit(bytes: u64) -> Limit {
        Limit {
            bytes,
            source: LimitSource::Flag,
        }
    }

    fn tract_run() -> Vec<(String, Run)> {
        let spec = EngineSpec::parse("tract:optimized").unwrap();
        vec![(spec.to_string(), Run::bench(&spec, 3))]
    }

    #[test]
    fn overflowing_shapes_are_refused_with_the_input_name() {
        let e = tensor_bytes("x", &[1 << 40, 1 << 40], DType::F32).unwrap_err();
        assert!(matches!(e, Error::ShapeOverflow { .. }), "{e}");
        assert!(e.to_string().contains("`x`") && e.to_string().contains("--shape"));
        assert_eq!(tensor_bytes("x", &[2, 3], DType::F64).unwrap(), 48);
    }

    #[test]
    fn tiny_cnn_counts_inputs_weights_activation_and_outputs() {
        let m = tiny(false);
        let inputs = m.resolve_inputs(&ShapeRequest::default()).unwrap();
        let fp = check(&m, &inputs, &tract_run(), &limit(u64::MAX)).unwrap();
        assert_eq!(
            fp.inputs,
            vec![("input".into(), "1x3x32x32".into(), 3 * 1024 * 4)]
        );
        // every initializer of tiny_cnn, as inspect counts them
        let i = crate::inspect::inspect(&m, &inputs).unwrap();
        assert_eq!(fp.weights_bytes, i.weights_bytes);
        assert_eq!(
            fp.largest_activation.as_ref().map(|a| a.1),
            Some(i.largest_activation_bytes)
        );
        assert_eq!(fp.outputs_bytes, Some(10 * 4));
        let run = &tract_run()[0].1;
        let expected = 3 * 12288 + 2 * fp.weights_bytes + 2 * 32768 + 9 * 40;
        assert_eq!(need_bytes(&fp, run), expected);
        // the same figure as a limit passes, one byte less does not
        assert!(check(&m, &inputs, &tract_run(), &limit(expected)).is_ok());
        let e = check(&m, &inputs, &tract_run(), &limit(expected - 1)).unwrap_err();
        assert!(matches!(e, Error::OutOfMemory { .. }));
    }

    #[test]
    fn a_huge_declared_input_is_refused_naming_input_size_and_flag() {
        let m = tiny(true);
        let inputs = m
            .resolve_inputs(&ShapeRequest {
                shapes: vec![("input".into(), vec![1, 3, 1_000_000, 1_000_000])],
                batch: None,
            })
            .unwrap();
        let e = check(&m, &inputs, &tract_run(), &limit(64 * GIB))
            .unwrap_err()
            .to_string();
        assert!(e.contains("input `input` at 1x3x1000000x1000000"), "{e}");
        assert!(e.contains("11,176 GiB"), "{e}");
        assert!(e.contains("--max-memory"), "{e}");
        assert!(e.contains("64.0 GiB"), "{e}");
        assert_eq!(e.lines().count(), 1);
    }

    #[test]
    fn torch_counts_more_input_copies_than_tract() {
        let m = tiny(false);
        let inputs = m.resolve_inputs(&ShapeRequest::default()).unwrap();
        let fp = check(&m, &inputs, &tract_run(), &limit(u64::MAX)).unwrap();
        let torch = Run::bench(&EngineSpec::parse("torch:eager").unwrap(), 3);
        assert!(need_bytes(&fp, &torch) > need_bytes(&fp, &tract_run()[0].1));
    }

    /// `relu(input)` beside a ConstantOfShape whose stored shape is `dims`: tract folds it
    /// into a constant while typing the model, so it counts as weights.
    fn constant_of_shape(dims: &[i64]) -> Model {
        use crate::testmodel::{model, node, value_info, Dim};
        let shape = pb::TensorProto {
            name: "shape".into(),
            dims: vec![dims.len() as i64],
            data_type: 7,
            int64_data: dims.to_vec(),
            ..Default::default()
        };
        let graph = pb::GraphProto {
            name: "cos".into(),
            node: vec![
                node("Relu", "relu", &["input"], &["y"], vec![]),
                node("ConstantOfShape", "fill", &["shape"], &["big"], vec![]),
            ],
            initializer: vec![shape],
            input: vec![value_info("input", &[Dim::F(1), Dim::F(4)])],
            output: vec![value_info("y", &[Dim::F(1), Dim::F(4)])],
            ..Default::default()
        };
        Model::from_bytes("cos", crate::testmodel::encode(&model(graph))).unwrap()
    }

    #[test]
    fn constants_folded_from_a_stored_shape_count_and_may_not_overflow() {
        let m = constant_of_shape(&[100_000, 100_000, 100]);
        let inputs = m.resolve_inputs(&ShapeRequest::default()).unwrap();
        let fp = Footprint::declared(&m, &inputs).unwrap();
        assert_eq!(fp.weights_bytes, 8 * 3 + 4_000_000_000_000);
        let e = check(&m, &inputs, &tract_run(), &limit(64 * GIB)).unwrap_err();
        assert!(e.to_string().contains("weights 3,725 GiB x2"), "{e}");

        let m = constant_of_shape(&[1 << 40, 1 << 40, 1 << 40]);
        let e = Footprint::declared(&m, &inputs).unwrap_err().to_string();
        assert!(e.contains("ConstantOfShape node `fill`"), "{e}");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 * 1024 * 1024 + 200 * 1024), "3.2 MiB");
        assert_eq!(human(12_000_000_000_000), "11,176 GiB");
        assert_eq!(human(2 * GIB), "2.0 GiB");
    }
}
