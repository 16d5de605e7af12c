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

/// What went wrong inside an engine, before the engine's name is attached: what the engines'
/// own helpers (library loading, argument building, an outside tool, output parsing) return.
/// Each message is the one line users see; at the `Engine`/`Session` boundary
/// [`EngineError::in_engine`] or [`EngineError::unavailable`] turns it into an [`Error`], so
/// exit codes follow [`Error`] as before.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The engine's library or tool is missing here, or is not the one it needs (too old,
    /// the wrong file); the message names it, the engine's fix comes with
    /// [`EngineError::unavailable`].
    #[error("{0}")]
    NotFound(String),
    /// A library file that was found but cannot be loaded.
    #[error("cannot load {path}: {reason}")]
    Load { path: PathBuf, reason: String },
    /// An option, precision or value this engine (or this version of it) cannot honour; the
    /// message says what to do instead.
    #[error("{0}")]
    Unsupported(String),
    /// The engine (or edgebench on its behalf) refuses the model: an operator, a shape, a
    /// tensor name or element type; the message says what to change.
    #[error("{0}")]
    ModelRefused(String),
    /// The engine failed while preparing or running the model.
    #[error("{0}")]
    Run(String),
    /// Bindings that panicked (a missing symbol, an odd version string).
    #[error("the library panicked: {0}")]
    Panicked(String),
    /// An outside tool that could not be started.
    #[error("cannot run {tool}: {reason}")]
    ToolStart { tool: PathBuf, reason: String },
    /// An outside tool that ran past its time limit and was killed; `after` completes the
    /// sentence (how it was killed, what to raise).
    #[error("{command} ran longer than {limit_s:.0} s and was killed{after}")]
    ToolTimedOut {
        command: String,
        limit_s: f64,
        after: String,
    },
    /// An outside tool that exited with a failure; `reason` is what it said.
    #[error("{tool} failed: {reason}")]
    ToolFailed { tool: String, reason: String },
    /// An outside tool's output that cannot be read as its source writes it.
    #[error("{0}")]
    Unparseable(String),
    /// A file or folder the engine needs that cannot be made, written or read.
    #[error("{0}")]
    Io(String),
}

impl EngineError {
    /// The error of engine `engine` (its spec as given) that failed this way.
    pub fn in_engine(self, engine: impl Into<String>) -> Error {
        Error::Engine {
            engine: engine.into(),
            reason: self.to_string(),
        }
    }

    /// The error of engine `engine` that cannot run here for this reason, with its fix.
    pub fn unavailable(self, engine: impl Into<String>, fix: impl Into<String>) -> Error {
        Error::EngineUnavailable {
            engine: engine.into(),
            reason: self.to_string(),
            fix: fix.into(),
        }
    }

    /// The same error with `context: ` before its message (a file, an input, a step).
    pub fn context(self, context: impl std::fmt::Display) -> EngineError {
        let msg = format!("{context}: {self}");
        match self {
            EngineError::NotFound(_) | EngineError::Load { .. } => EngineError::NotFound(msg),
            EngineError::Unsupported(_) => EngineError::Unsupported(msg),
            EngineError::ModelRefused(_) => EngineError::ModelRefused(msg),
            EngineError::Unparseable(_) => EngineError::Unparseable(msg),
            EngineError::Io(_) => EngineError::Io(msg),
            _ => EngineError::Run(msg),
        }
    }
}

/// Formats a tract (anyhow) error chain on one line, outermost first.
pub fn one_line(e: &dyn std::fmt::Display) -> String {
    let s = format!("{e:#}");
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_one_line_messages() {
        let timed_out = EngineError::ToolTimedOut {
            command: "trtexec".into(),
            limit_s: 600.0,
            after: " with its process group (raise tensorrt:...,timeout=S if it needs longer)"
                .into(),
        };
        assert_eq!(
            timed_out.to_string(),
            "trtexec ran longer than 600 s and was killed with its process group (raise tensorrt:...,timeout=S if it needs longer)"
        );
        let failed = EngineError::ToolFailed {
            tool: "trtexec".into(),
            reason: "Unknown option: --onnx".into(),
        };
        assert_eq!(failed.to_string(), "trtexec failed: Unknown option: --onnx");
        let load = EngineError::Load {
            path: "/x/libonnxruntime.so".into(),
            reason: "no such file".into(),
        };
        assert_eq!(
            load.to_string(),
            "cannot load /x/libonnxruntime.so: no such file"
        );
    }

    #[test]
    fn engine_errors_become_the_engine_errors_exit_codes_know() {
        let e = EngineError::ToolFailed {
            tool: "trtexec".into(),
            reason: "out of memory".into(),
        }
        .context("building the engine");
        assert_eq!(
            e.to_string(),
            "building the engine: trtexec failed: out of memory"
        );
        assert!(matches!(e, EngineError::Run(_)));
        match e.in_engine("tensorrt:fp16") {
            Error::Engine { engine, reason } => {
                assert_eq!(engine, "tensorrt:fp16");
                assert_eq!(reason, "building the engine: trtexec failed: out of memory");
            }
            other => panic!("{other:?}"),
        }
        let missing = EngineError::NotFound("no trtexec on PATH".into());
        assert_eq!(
            missing
                .unavailable("tensorrt", "install TensorRT")
                .to_string(),
            "engine tensorrt is not available: no trtexec on PATH; install TensorRT"
        );
        let refused = EngineError::Unsupported("node Resize must stay float32".into())
            .context("converting the model failed");
        assert!(matches!(refused, EngineError::Unsupported(_)));
    }
}
