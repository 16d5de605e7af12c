//! `results.jsonl`: the study's only source of truth. One JSON document per line: a
//! `session` line each time a study starts or resumes (tool, host, config, plan), and a
//! `measurement` line per finished variant, appended, flushed and synced as it finishes.
//!
//! A process killed while writing can leave a last line without its newline (or cut short):
//! [`load`] ignores such a torn last line and reports it, and [`Appender::open`] cuts it off
//! before appending, so the file stays one valid document per line. The lines themselves are
//! `edgebench_core::schema::study::Line`.

use crate::{io_err, Error, Result};
use edgebench_core::schema::study::{Line, Loaded, StudyMeasurement, StudySession};
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
    let records = parse_records::<Line>(bytes, path, "a study record")?;
    let mut out = Loaded {
        torn: records.torn,
        valid_len: records.valid_len,
        ..Loaded::default()
    };
    for l in records.records {
        match l {
            Line::Session(mut s) => {
                s.plan.fill_defaults();
                out.sessions.push(*s)
            }
            Line::Measurement(m) => out.measurements.push(*m),
        }
    }
    Ok(out)
}

/// The records of a JSON-lines file written through an [`Appender`] (the study's
/// `results.jsonl`, `optimize`'s search log), with [`load`]'s rule for a torn last line.
#[derive(Debug, Clone, PartialEq)]
pub struct Records<T> {
    pub records: Vec<T>,
    /// A torn last line was found (and ignored).
    pub torn: bool,
    /// Length in bytes of the valid part, for [`Appender::open`].
    pub valid_len: u64,
}

/// Reads every line of `bytes` as a `T` (`what` names it in the error of a line that is not
/// one): every complete line must parse, except the last, which is a torn write when it does
/// not parse or has no newline.
pub fn parse_records<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    path: &Path,
    what: &str,
) -> Result<Records<T>> {
    let mut out = Records {
        records: vec![],
        torn: false,
        valid_len: 0,
    };
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
        match serde_json::from_str::<T>(&text) {
            Ok(l) if complete => {
                out.records.push(l);
                out.valid_len = next as u64;
            }
            Err(e) if !is_last => {
                return Err(Error::CorruptResults {
                    path: path.display().to_string(),
                    line: lineno,
                    reason: format!("not {what} ({e})"),
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

    /// Appends `line`.
    pub fn append(&mut self, line: &Line) -> Result<()> {
        self.write(line).map(drop)
    }

    /// Appends any one-line JSON record (another JSON-lines file than `results.jsonl`, read
    /// back with [`parse_records`]).
    pub fn append_record<T: serde::Serialize>(&mut self, record: &T) -> Result<()> {
        self.write(record).map(drop)
    }

    /// Appends a session line and returns the session as [`load`] reads it back.
    pub fn append_session(&mut self, session: StudySession) -> Result<StudySession> {
        let record = self.write(&Line::Session(Box::new(session)))?;
        match self.read_back(&record)? {
            Line::Session(mut s) => {
                s.plan.fill_defaults();
                Ok(*s)
            }
            Line::Measurement(_) => Err(self.misread("session")),
        }
    }

    /// Appends a measurement line and returns the measurement as [`load`] reads it back.
    pub fn append_measurement(&mut self, m: StudyMeasurement) -> Result<StudyMeasurement> {
        let record = self.write(&Line::Measurement(Box::new(m)))?;
        match self.read_back(&record)? {
            Line::Measurement(m) => Ok(*m),
            Line::Session(_) => Err(self.misread("measurement")),
        }
    }

    /// Writes one record; returns its JSON.
    fn write<T: serde::Serialize>(&mut self, line: &T) -> Result<Vec<u8>> {
        let record = encode(line, &self.path)?;
        self.file
            .write_all(&record)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| io_err(&self.path, e))?;
        Ok(record)
    }

    /// A record as [`load`] reads it: parsed from the bytes written, not the value they were
    /// written from. serde_json's parser (without its `float_roundtrip` feature) reads a
    /// float's text back to the nearest double only most of the time and may miss by one unit
    /// in the last place, so a summary made from what was written, rather than from what
    /// was read back, could differ from the one `edgebench report` makes in a last digit.
    fn read_back(&self, record: &[u8]) -> Result<Line> {
        serde_json::from_slice(record).map_err(|e| io_err(&self.path, e))
    }

    fn misread(&self, kind: &str) -> Error {
        io_err(
            &self.path,
            format!("a {kind} line written here reads back as another kind of line"),
        )
    }
}

/// One record of `results.jsonl` (at `path`, named in errors): the line's JSON and its newline.
pub fn encode<T: serde::Serialize>(line: &T, path: &Path) -> Result<Vec<u8>> {
    let mut record = serde_json::to_vec(line).map_err(|e| io_err(path, e))?;
    record.push(b'\n');
    Ok(record)
}

pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
