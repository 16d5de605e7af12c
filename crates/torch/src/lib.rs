//! edgebench-torch: the PyTorch side of edgebench.
//!
//! - [`engine::Torch`], the `torch` engine: the model runs in a Python worker process that
//!   times itself with edgebench's rules and returns raw samples ([`engine::TorchSession`]).
//! - [`python`]: which Python runs the worker (`--python`, `EDGEBENCH_PYTHON`, `python3`).
//! - [`worker`]: the process and its line-based JSON protocol (docs/torch.md).
//! - [`export`]: PyTorch model -> ONNX file.
//! - [`quantize`]: ONNX model -> QDQ int8 ONNX model, with ONNX Runtime's quantizer in Python.
//! - [`qat`]: PyTorch source -> QDQ int8 ONNX model by quantization-aware training
//!   (`torch.ao.quantization`), and [`prune`]: PyTorch source -> structurally pruned ONNX
//!   models (Torch-Pruning), with [`tuning`], what they share (the labelled folder, training
//!   settings, their embedded scripts' runs).
//! - [`source`]: model sources, the one place that knows their syntax (`zoo:NAME`, `tv:NAME`,
//!   `file.py:factory`, a path): `ModelSource` and its one loader, for the CLI and the study's
//!   children; the PyTorch model behind an ONNX model (a zoo model's twin, an export's source).
//!
//! Nothing here prints; a worker that fails is reported as an error with its stderr tail.

pub mod embed;
pub mod engine;
pub mod error;
pub mod export;
pub mod prune;
pub mod python;
pub mod qat;
pub mod quantize;
pub mod source;
pub mod tuning;
pub mod worker;

pub use engine::Torch;
pub use error::{TorchError, WorkerError};
pub use python::set_python;
pub use source::TorchSource;
