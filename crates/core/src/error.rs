//! The errors of model intake, shape resolution and engines. Every message is one lowercase
//! line that names the input and says what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("model file {path} does not exist: check the path")]
    NotFound { path: PathBuf },
    #[error("{path} is a directory, not a model file: give the path of an .onnx file")]
    IsDirectory { path: PathBuf },
    #[error("model file {path} is empty: re-export the model")]
    EmptyFile { path: PathBuf },
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path} is not an ONNX model ({reason}): give an .onnx file exported with torch.onnx.export or similar")]
    NotOnnx { path: PathBuf, reason: String },
    #[error("{path} is a truncated or corrupt ONNX file ({reason}): copy or export it again")]
    Truncated { path: PathBuf, reason: String },
    #[error("model {model}: tensor `{tensor}` is stored in external data file `{location}`, which is missing: put it next to the model")]
    ExternalDataMissing {
        model: String,
        tensor: String,
        location: String,
    },
    #[error("model {model}: tensor `{tensor}` points at external data `{location}` outside the model's folder; refusing to read it (a known attack on ONNX loaders): keep external data files inside the model's folder")]
    ExternalDataEscape {
        model: String,
        tensor: String,
        location: String,
    },
    #[error("model {model}: operator `{op}` (node `{node}`) is not supported by {engine}: try another engine, e.g. --engine ort")]
    UnsupportedOp {
        model: String,
        engine: String,
        op: String,
        node: String,
    },
    #[error("--shape {input}: the model has no input named `{input}`; its inputs are: {valid}")]
    UnknownInput { input: String, valid: String },
    #[error("input `{input}` has shape {expected} in the model but {got} was asked for: {hint}")]
    ShapeMismatch {
        input: String,
        expected: String,
        got: String,
        hint: String,
    },
    #[error("input `{input}` has a dynamic dimension `{dim}` (axis {axis}): give its size, e.g. --shape {input}:{example}")]
    DynamicDim {
        input: String,
        dim: String,
        axis: usize,
        example: String,
    },
    #[error("model {model} does not accept the input shapes {shapes}: {reason}; check the sizes with `edgebench inspect`")]
    ShapeRejected {
        model: String,
        shapes: String,
        reason: String,
    },
    #[error("input `{input}` has element type {dtype}, which edgebench cannot generate yet: export the model with float32 inputs")]
    UnsupportedInputType { input: String, dtype: String },
    #[error("input `{input}` at {shape}: its size in bytes does not fit in 64 bits; give realistic sizes with --shape (or a smaller --batch)")]
    ShapeOverflow { input: String, shape: String },
    #[error("model {model}: {what} claims dims {dims}, whose size does not fit in 64 bits; the file is corrupt or crafted: export the model again")]
    DimsOverflow {
        model: String,
        what: String,
        dims: String,
    },
    #[error("model {model}: the graph has a cycle (nodes {nodes} wait on their own outputs), so no order can run it; the file is corrupt or crafted: export the model again")]
    CyclicGraph { model: String, nodes: String },
    #[error("model {model}: {what} has dims {dims}, but {reason}; the file is corrupt or crafted: export the model again")]
    StoredData {
        model: String,
        what: String,
        dims: String,
        reason: String,
    },
    #[error("{subject}: {engine} would need about {need} of memory ({parts}), more than {limit}; use smaller input shapes (--shape, --batch or zoo:NAME?batch=N), or raise the limit with --max-memory GIB if the memory is really there")]
    OutOfMemory {
        /// What the user can change: the largest input with its shape and size.
        subject: String,
        engine: String,
        need: String,
        /// The parts of the need, largest first.
        parts: String,
        /// The limit and where it comes from.
        limit: String,
    },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("engine {engine} failed: {reason}")]
    Engine { engine: String, reason: String },
    #[error("engine {engine} is not available: {reason}; {fix}")]
    EngineUnavailable {
        engine: String,
        reason: String,
        fix: String,
    },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Formats a tract (anyhow) error chain on one line, outermost first.
pub fn one_line(e: &dyn std::fmt::Display) -> String {
    let s = format!("{e:#}");
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
