//! `results.jsonl`: the study's only source of truth. One JSON document per line: a
//! `session` line each time a study starts or resumes (tool, host, config, plan), and a
//! `measurement` line per finished variant, appended, flushed and synced as it finishes.
//!
//! A process killed while writing can leave a last line without its newline (or cut short):
//! [`load`] ignores such a torn last line and reports it, and [`Appender::open`] cuts it off
//! before appending, so the file stays one valid document per line.

use crate::config::{StudyConfig, Task};
use crate::plan::Plan;
use crate::{io_err, Error, Result};
use edgebench_core::host::HostInfo;
use edgebench_core::schema::{ToolInfo, VariantResult};
use edgebench_core::tensor::ConcreteSpec;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file name inside a study folder.
pub const RESULTS_FILE: &str = "results.jsonl";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Session(Box<Session>),
    Measurement(Box<Measurement>),
}

/// Written when a study starts or resumes: where and how the measurements that follow were
/// taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub schema_version: u32,
    pub started_unix: f64,
    pub resumed: bool,
    pub tool: ToolInfo,
    pub host: HostInfo,
    pub config: StudyConfig,
    pub plan: Plan,
}

/// What is known about a model, from the worker that loaded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFacts {
    pub label: String,
    pub source: String,
    pub task: Task,
    pub sha256: Option<String>,
    pub inputs: Vec<ConcreteSpec>,
    pub params: Option<u64>,
    /// Multiply-accumulates per inference (one call, `batch` items).
    pub macs: Option<u64>,
    /// 2 x MACs.
    pub flops: Option<u64>,
}

/// One finished variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub schema_version: u32,
    pub key: String,
    pub model: ModelFacts,
    pub batch: usize,
    pub spec: String,
    pub is_baseline: bool,
    pub is_reference: bool,
    /// Status `failed` with the reason when the child crashed, hung or could not run it;
    /// `gate_failed` when its outputs disagree with the reference's.
    pub result: VariantResult,
    /// Wall time of the child process.
    pub wall_s: f64,
    pub finished_unix: f64,
}

/// The content of a results file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    pub sessions: Vec<Session>,
    pub measurements: Vec<Measurement>,
    /// A torn last line was found (and ignored).
    pub torn: bool,
    /// Length in bytes of the valid part (everything before a torn line).
    pub valid_len: u64,
}

impl Loaded {
    /// The latest measurement of each key, in file order of first appearance.
    pub fn latest(&self) -> Vec<&Measurement> {
        let mut order: Vec<&str> = vec![];
        let mut by_key: std::collections::HashMap<&str, &Measurement> = Default::default();
        for m in &self.measurements {
            if by_key.insert(&m.key, m).is_none() {
                order.push(&m.key);
            }
        }
        order.iter().map(|k| by_key[k]).collect()
    }
}

/// Reads a results file. Every complete line must parse, except the last: a last line that
/// does not parse, or that has no newline, is a torn write and is ignored.
pub fn load(path: &Path) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    parse(&bytes, path)
}

/// [`load`] on bytes already read.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Loaded> {
    let mut out = Loaded::default();
    let mut pos = 0usize;
    let mut lineno = 0usize;
    while pos < bytes.len() {
        lineno += 1;
        let (line, next, complete) = match bytes[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[pos..pos + i], pos + i + 1, true),
            None => (&bytes[pos..], bytes.len(), false),
        };
        let is_last = next >= bytes.len();
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() {
            pos = next;
            if complete {
                out.valid_len = next as u64;
            }
            continue;
        }
        match serde_json::from_str::<Line>(&text) {
            Ok(l) if complete => {
                match l {
                    Line::Session(mut s) => {
                        s.plan.fill_defaults();
                        out.sessions.push(*s)
                    }
                    Line::Measurement(m) => out.measurements.push(*m),
                }
                out.valid_len = next as u64;
            }
            Err(e) if !is_last => {
                return Err(Error::CorruptResults {
                    path: path.display().to_string(),
                    line: lineno,
                    reason: format!("not a study record ({e})"),
                })
            }
            // The last line, cut short or without its newline: a torn write.
            _ => {
                out.torn = true;
                break;
            }
        }
        pos = next;
    }
    Ok(out)
}

/// Appends lines to a results file, each flushed and synced before `append` returns.
///
/// The file is opened in append mode and each record (its JSON and its newline) goes out in
/// one `write_all` of one buffer, so a reader sees either the whole line or, after a crash
/// in the middle of the write, a torn last line that [`load`] ignores, never half a record
/// followed by another. One writer per folder is the study lock's job ([`crate::lock`]).
pub struct Appender {
    file: std::fs::File,
    path: PathBuf,
}

impl Appender {
    /// Opens (or creates) the file for appending, first cutting it to `valid_len` bytes so a
    /// torn last line is not followed by new lines.
    pub fn open(path: &Path, valid_len: u64) -> Result<Appender> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        let len = file.metadata().map_err(|e| io_err(path, e))?.len();
        if len > valid_len {
            file.set_len(valid_len).map_err(|e| io_err(path, e))?;
        }
        Ok(Appender {
            file,
            path: path.to_owned(),
        })
    }

    pub fn append(&mut self, line: &Line) -> Result<()> {
        let mut record = serde_json::to_vec(line).map_err(|e| io_err(&self.path, e))?;
        record.push(b'\n');
        self.file
            .write_all(&record)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| io_err(&self.path, e))
    }
}

pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
