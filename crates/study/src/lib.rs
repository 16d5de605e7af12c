//! edgebench-study: a matrix of models x engine variants (x batch sizes) measured on this
//! machine, one child process per variant, every measurement appended to `results.jsonl` as
//! it finishes, and the study's analysis computed from that file alone.
//!
//! Data flow: [`config`] (TOML or a [`preset`]) -> [`plan`] (resolved against the engines of
//! this build: baseline, variants, jobs) -> [`runner`] (children running [`worker`], records
//! appended by [`results`]) -> `edgebench_core::analysis` (speed-ups, averages, FLOPs trend,
//! real time) -> the reports (`edgebench_report::write_study`). [`run::run`] is all of it in
//! one call, as `edgebench study` runs it; [`merge`] joins the folders of a study's shards
//! (`study --shard`, on one device or many) into one study folder. The documents themselves (config, plan, `results.jsonl` lines, `summary.json`)
//! are `edgebench_core::schema::study`, so that their views (the report crate) need no engine.
//! Nothing here prints; the CLI renders.

pub mod compare;
pub mod config;
pub mod lock;
pub mod merge;
pub mod optimize;
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
    /// `--resume` on a folder that holds another part of the plan.
    #[error("--resume: {dir} holds {found}, not {given}; resume it with {flag}, or choose another --out")]
    OtherShard {
        dir: String,
        /// `shard 2/3` or `the whole plan`.
        found: String,
        given: String,
        /// The flags that resume it: `--shard 2/3` or `no --shard`.
        flag: String,
    },
    /// `study` (or `--resume`) on a folder written by `edgebench merge`.
    #[error("{dir} is a merged study (edgebench merge): resume the shards instead, then merge them again")]
    MergedStudy { dir: String },
    /// A folder given to `merge` that holds no study.
    #[error("{dir} is not a study folder ({reason}): give folders written by `edgebench study --shard I/N`")]
    NotAStudy { dir: String, reason: String },
    /// A folder given to `merge` that is itself a merge.
    #[error("{dir} is a merged study: give the shard folders it was merged from instead")]
    MergeOfMerge { dir: String },
    /// Folders of two different studies given to `merge`.
    #[error("{first} and {second} are not shards of one study: their configs differ ({first_study}, {second_study}); merge folders run with the same config")]
    TwoStudies {
        first: String,
        /// The study's name and config hash: `` `name` config 1a2b... ``.
        first_study: String,
        second: String,
        second_study: String,
    },
    /// Shards of one device planned differently (another build or other engines); the
    /// values are the plans' hashes.
    #[error("the shards of device {} were planned differently: {} has plan {}, {} has plan {}; run every shard of a device with the same edgebench build and engines, or give them different --device labels", .0.device, .0.first, .0.first_value, .0.second, .0.second_value)]
    PlanMismatch(Box<Mismatch>),
    /// Shards of one device cut into a different number of parts; the values are the shards
    /// (`2/3`).
    #[error("the shards of device {} do not agree on the number of shards: {} is shard {}, {} is shard {}; merge the shards of one --shard I/N split", .0.device, .0.first, .0.first_value, .0.second, .0.second_value)]
    ShardCountMismatch(Box<Mismatch>),
    /// Shards missing from a merge.
    #[error("device {device} is missing shard(s) {} of {count}: run them (edgebench study --shard I/{count} --device {device}) and merge again, or add --allow-missing to merge what there is", missing.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "))]
    MissingShards {
        device: String,
        missing: Vec<usize>,
        count: usize,
    },
    /// One shard of one device given twice.
    #[error("shard {shard} of device {device} is given twice, {first} and {second}: merge one of them, or label the other with its own --device")]
    DuplicateShard {
        device: String,
        shard: String,
        first: String,
        second: String,
    },
    /// One job measured in two folders of one device.
    #[error("job {key} was measured twice on device {device}, in {first} and in {second}: merge one of them, or label the other with its own --device")]
    DuplicateJob {
        device: String,
        key: String,
        first: String,
        second: String,
    },
    /// `merge --out` on a folder that holds a study other than a merge of the same study.
    #[error("--out {out} already holds {what}: choose another --out (a merge of the same study may be written over)")]
    OutHoldsStudy { out: String, what: String },
    #[error(transparent)]
    Core(#[from] edgebench_core::Error),
    /// Python, PyTorch or an export of a PyTorch source in the config.
    #[error(transparent)]
    Torch(#[from] edgebench_torch::TorchError),
}

/// Two shard folders of one device that disagree: [`Error::PlanMismatch`],
/// [`Error::ShardCountMismatch`].
#[derive(Debug)]
pub struct Mismatch {
    pub device: String,
    pub first: String,
    pub first_value: String,
    pub second: String,
    pub second_value: String,
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}
