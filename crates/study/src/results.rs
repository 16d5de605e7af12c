//! `results.jsonl`: the study's only source of truth. One JSON document per line: a
//! `session` line each time a study starts or resumes (tool, host, config, plan), and a
//! `measurement` line per finished variant, appended, flushed and synced as it finishes.
//!
//! A process killed while writing can leave a last line without its newline (or cut short):
//! [`load`] ignores such a torn last line and reports it, and [`Appender::open`] cuts it off
//! before appending, so the file stays one valid document per line. The lines themselves are
//! `edgebench_core::schema::study::Line`.

use crate::{io_err, Error, Result};
use edgebench_core::schema::study::{Line, Loaded};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file name inside a study folder.
pub const RESULTS_FILE: &str = "results.jsonl";

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
