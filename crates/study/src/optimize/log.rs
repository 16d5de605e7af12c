//! The search log, `DIR/search.jsonl`: a `start` line (the model's hash, the settings and the
//! candidates), then one line per trial and per accuracy check, appended and synced as each
//! finishes (through the study's [`crate::results::Appender`], torn last line and all), so an
//! interrupted search loses at most the trial it was running. `--resume` reads it back and
//! replays the logged trials into a new race ([`edgebench_core::race`] is deterministic), which
//! then measures only what is left.

use super::candidates::Candidate;
use super::Settings;
use crate::results::{parse_records, Appender};
use crate::{io_err, Error, Result};
use edgebench_core::gate::Agreement;
use edgebench_core::race::{Request, Trial};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The log's file name inside the search folder.
pub const LOG_FILE: &str = "search.jsonl";

/// One line of the search log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Start {
        model_sha256: String,
        settings: Settings,
        candidates: Vec<Candidate>,
        unix: f64,
    },
    /// A candidate's outputs against the reference's (its first trial in a run).
    Gate {
        candidate: usize,
        spec: String,
        agreement: Box<Agreement>,
    },
    Trial {
        candidate: usize,
        spec: String,
        request: Request,
        trial: Trial,
        /// Median milliseconds per item of the trial (the cost is this for latency and
        /// throughput, energy for the energy objectives).
        latency_ms_per_item: Option<f64>,
        energy_mj_per_item: Option<f64>,
        unix: f64,
    },
}

/// An open search log: what an earlier run wrote, and the appender for this one.
pub struct SearchLog {
    pub earlier: Vec<Entry>,
    appender: Appender,
    path: PathBuf,
}

impl SearchLog {
    /// Opens `dir`'s log. Without `resume` the folder must hold no search yet; with it, the
    /// log's start line must name the same model, settings and candidates (else a one-line
    /// refusal naming what differs). Writes the start line of a new search.
    pub fn open(
        dir: &Path,
        resume: bool,
        model_sha256: &str,
        settings: &Settings,
        candidates: &[Candidate],
    ) -> Result<SearchLog> {
        let path = dir.join(LOG_FILE);
        let (earlier, valid_len) = match std::fs::read(&path) {
            Ok(bytes) => {
                let r = parse_records::<Entry>(&bytes, &path, "a line of edgebench optimize's search log")
                    .map_err(|e| match e {
                        Error::CorruptResults { path, line, reason } => Error::Invalid(format!(
                            "{path} line {line}: {reason}; the search log was edited or is not edgebench's: remove the folder or choose another --out"
                        )),
                        e => e,
                    })?;
                (r.records, r.valid_len)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (vec![], 0),
            Err(e) => return Err(io_err(&path, e)),
        };
        let shown = dir.display();
        match (resume, earlier.first()) {
            (false, Some(_)) => {
                return Err(Error::Invalid(format!(
                    "--out {shown} already holds a search: add --resume to continue it, or choose another --out"
                )))
            }
            (true, None) => {
                return Err(Error::Invalid(format!(
                    "--resume: {shown} holds no search log ({LOG_FILE}): run without --resume to start one"
                )))
            }
            (true, Some(Entry::Start {
                model_sha256: sha,
                settings: s,
                candidates: c,
                ..
            })) => {
                if sha != model_sha256 {
                    return Err(Error::Invalid(format!(
                        "--resume: {shown} holds a search of another model (sha256 {}…, this one {}…): give the same model, or choose another --out",
                        &sha[..sha.len().min(12)],
                        &model_sha256[..model_sha256.len().min(12)]
                    )));
                }
                if s != settings {
                    return Err(Error::Invalid(format!(
                        "--resume: {shown} was searched with other settings ({}); give the same --objective, --budget and --max-accuracy-drop, or choose another --out",
                        s.describe()
                    )));
                }
                if c != candidates {
                    return Err(Error::Invalid(format!(
                        "--resume: {shown} was searched over other candidates ({} then, {} now: another build or other engines installed); choose another --out",
                        c.len(),
                        candidates.len()
                    )));
                }
            }
            (true, Some(_)) => {
                return Err(Error::Invalid(format!(
                    "--resume: {} does not begin with a start line; remove the folder or choose another --out",
                    path.display()
                )))
            }
            (false, None) => {}
        }
        let mut appender = Appender::open(&path, valid_len)?;
        if earlier.is_empty() {
            appender.append_record(&Entry::Start {
                model_sha256: model_sha256.to_owned(),
                settings: settings.clone(),
                candidates: candidates.to_vec(),
                unix: crate::results::now_unix(),
            })?;
        }
        Ok(SearchLog {
            earlier,
            appender,
            path,
        })
    }

    /// The earlier run's trial for `request`'s candidate and rung, if it was logged.
    pub fn logged_trial(&self, request: &Request) -> Option<Trial> {
        self.earlier.iter().find_map(|e| match e {
            Entry::Trial {
                request: r, trial, ..
            } if r.candidate == request.candidate && r.rung == request.rung => Some(trial.clone()),
            _ => None,
        })
    }

    /// The last logged accuracy check of `candidate`.
    pub fn logged_gate(&self, candidate: usize) -> Option<Agreement> {
        self.earlier.iter().rev().find_map(|e| match e {
            Entry::Gate {
                candidate: c,
                agreement,
                ..
            } if *c == candidate => Some((**agreement).clone()),
            _ => None,
        })
    }

    pub fn append(&mut self, entry: &Entry) -> Result<()> {
        self.appender.append_record(entry)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
