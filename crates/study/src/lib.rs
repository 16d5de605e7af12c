//! edgebench-study: a matrix of models x engine variants (x batch sizes) measured on this
//! machine, one child process per variant, every measurement appended to `results.jsonl` as
//! it finishes, and the study's analysis computed from that file alone.
//!
//! Data flow: [`config`] (TOML or a [`preset`]) -> [`plan`] (resolved against the engines of
//! this build: baseline, variants, jobs) -> [`runner`] (children running [`worker`], records
//! appended by [`results`]) -> `edgebench_core::analysis` (speed-ups, averages, FLOPs trend,
//! real time) -> the reports (`edgebench_report::write_study`). [`run::run`] is all of it in
//! one call, as `edgebench study` runs it. The documents themselves (config, plan, `results.jsonl` lines, `summary.json`)
//! are `edgebench_core::schema::study`, so that their views (the report crate) need no engine.
//! Nothing here prints; the CLI renders.

pub mod compare;
pub mod config;
pub mod lock;
pub mod plan;
pub mod preset;
pub mod results;
pub mod run;
pub mod runner;
pub mod slurm;
pub mod summary;
pub mod worker;

/// Errors of the study. Every message is one lowercase line naming the file, line, key or
/// flag, and the fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config file with a syntax or value error, located by line.
    #[error("{file}:{line}: {key}{message}")]
    Config {
        file: String,
        line: usize,
        /// `key: ` or empty.
        key: String,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{path} line {line}: {reason}; the file is not a results.jsonl written by edgebench, or it was edited: restore it or start a new study with another --out")]
    CorruptResults {
        path: String,
        line: usize,
        reason: String,
    },
    /// Another process holds the study folder's lock (see [`lock`]).
    #[error("{dir} is in use by {holder}: wait for it to finish or stop it, then run this again, or use another folder")]
    Locked { dir: String, holder: String },
    #[error(transparent)]
    Core(#[from] edgebench_core::Error),
    /// Python, PyTorch or an export of a PyTorch source in the config.
    #[error(transparent)]
    Torch(#[from] edgebench_torch::TorchError),
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}
