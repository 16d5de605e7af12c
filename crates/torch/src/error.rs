//! Errors of the torch engine. Each message is one lowercase line that names the Python, the
//! command or the file, and the fix.

use std::path::PathBuf;

/// What to install when torch is missing.
pub const FIX_TORCH: &str = "install PyTorch (apt-get install python3-torch python3-torchvision, or pip install torch torchvision) or point --python / EDGEBENCH_PYTHON at a Python that has it";

#[derive(Debug, Clone, thiserror::Error)]
pub enum TorchError {
    #[error("no Python found: {what}; {fix}")]
    PythonNotFound { what: String, fix: String },
    #[error("cannot start {python}: {reason}; pass --python PATH to a working Python 3")]
    PythonSpawn { python: PathBuf, reason: String },
    #[error("{python} (Python {version}) cannot import torch ({reason}): {fix}")]
    NoTorch {
        python: PathBuf,
        version: String,
        reason: String,
        fix: String,
    },
    #[error("{python} has torch {torch} but no torchvision ({reason}): apt-get install python3-torchvision, or pip install torchvision")]
    NoTorchvision {
        python: PathBuf,
        torch: String,
        reason: String,
    },
    #[error("{0}")]
    Worker(#[from] WorkerError),
    /// Bad input the user can fix (a source, a shape, a file).
    #[error("{0}")]
    Invalid(String),
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// How a worker process failed. Every variant that means the process misbehaved carries
/// the tail of its stderr, where Python tracebacks and crash messages land.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WorkerError {
    #[error("the torch worker died ({status}) during `{during}`{}", tail(.stderr))]
    Crashed {
        during: String,
        status: String,
        stderr: String,
    },
    #[error("the torch worker did not answer `{during}` within {seconds} s and was stopped (raise the limit with EDGEBENCH_WORKER_TIMEOUT=SECONDS){}", tail(.stderr))]
    TimedOut {
        during: String,
        seconds: u64,
        stderr: String,
    },
    #[error("the torch worker wrote a line that is not protocol JSON during `{during}` and was stopped: `{line}`{}", tail(.stderr))]
    Garbage {
        during: String,
        line: String,
        stderr: String,
    },
    #[error("the torch worker broke the protocol during `{during}`: {reason}{}", tail(.stderr))]
    Protocol {
        during: String,
        reason: String,
        stderr: String,
    },
    /// The worker ran and reported an error of its own (a bad source, no CUDA, an exception).
    #[error("{message}")]
    Failed { during: String, message: String },
}

fn tail(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; worker stderr: {stderr}")
    }
}

impl From<TorchError> for edgebench_core::Error {
    fn from(e: TorchError) -> Self {
        match e {
            TorchError::PythonNotFound { what, fix } => edgebench_core::Error::EngineUnavailable {
                engine: "torch".into(),
                reason: format!("no Python found: {what}"),
                fix,
            },
            TorchError::NoTorch { .. }
            | TorchError::NoTorchvision { .. }
            | TorchError::PythonSpawn { .. } => {
                edgebench_core::Error::InvalidArgument(e.to_string())
            }
            TorchError::Invalid(m) => edgebench_core::Error::InvalidArgument(m),
            TorchError::Write { path, reason } => edgebench_core::Error::Write { path, reason },
            TorchError::Worker(w) => edgebench_core::Error::Engine {
                engine: "torch".into(),
                reason: w.to_string(),
            },
        }
    }
}
