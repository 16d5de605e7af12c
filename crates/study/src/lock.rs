//! One writer per study folder: an exclusive advisory lock on `DIR/study.lock`, taken before
//! anything in the folder is written and held until the value is dropped.
//!
//! The lock is `flock(2)` on Unix (`LockFileEx` on Windows) through std's `File::try_lock`:
//! the kernel releases it when the holder's file descriptor closes, so a study killed with
//! SIGKILL (or a machine that rebooted) never blocks the next run; std opens files
//! close-on-exec, so the study's worker processes do not inherit it. Once it holds the lock,
//! a process writes who it is (pid, host, command, start time) into the file, and a process
//! refused the lock reads that to name the holder. The file is never removed: removing it
//! would let two processes lock two different files of the same name.

use crate::{io_err, Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock's file name inside a study folder.
pub const LOCK_FILE: &str = "study.lock";

/// Who holds a study folder: what the holder writes into the lock file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// `edgebench study`, `edgebench report`, ...
    pub command: String,
    pub started_unix: f64,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (pid {} on {}, started {})",
            self.command,
            self.pid,
            self.host,
            utc_text(self.started_unix)
        )
    }
}

/// The held lock of a study folder; dropping it releases the lock.
#[derive(Debug)]
pub struct StudyLock {
    file: File,
    dir: PathBuf,
}

impl StudyLock {
    /// Takes the folder's lock for `command` (creating the folder if needed), or fails at once,
    /// without waiting and without writing anything, with [`Error::Locked`] naming the
    /// process that holds it.
    pub fn acquire(dir: &Path, command: &str) -> Result<StudyLock> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = serde_json::from_str::<Holder>(text.trim())
                    .map(|h| h.to_string())
                    .unwrap_or_else(|_| "another edgebench process".to_owned());
                return Err(Error::Locked {
                    dir: dir.display().to_string(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io_err(
                    &path,
                    format!(
                        "cannot lock the study folder ({e}); use a folder on a local file system"
                    ),
                ))
            }
        }
        let holder = Holder {
            pid: std::process::id(),
            host: host_name(),
            command: command.to_owned(),
            started_unix: crate::results::now_unix(),
        };
        let mut line = serde_json::to_string(&holder).map_err(|e| io_err(&path, e))?;
        line.push('\n');
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(line.as_bytes()))
            .and_then(|_| file.flush())
            .map_err(|e| io_err(&path, e))?;
        Ok(StudyLock {
            file,
            dir: dir.to_owned(),
        })
    }

    /// The folder this lock holds.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for StudyLock {
    /// Empties the file while still holding the lock (a stale name would mislead nobody, since
    /// it is read only while the lock is held, but an empty file is plainer); closing the file
    /// releases the lock.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "an unknown host".to_owned())
}

/// `2025-12-02 05:30:12 UTC` for seconds since the Unix epoch.
fn utc_text(unix: f64) -> String {
    let secs = unix.max(0.0) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc_text(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_text(1_764_653_412.9), "2025-12-02 05:30:12 UTC");
    }

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let held = StudyLock::acquire(dir.path(), "edgebench study").unwrap();
        let before = std::fs::read(dir.path().join(LOCK_FILE)).unwrap();
        let e = StudyLock::acquire(dir.path(), "edgebench report").unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Locked { .. }), "{e:?}");
        assert!(
            msg.contains(&format!("edgebench study (pid {} on ", std::process::id())),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
        assert_eq!(std::fs::read(dir.path().join(LOCK_FILE)).unwrap(), before);
        drop(held);
        // Released: the next one gets it.
        let again = StudyLock::acquire(dir.path(), "edgebench report").unwrap();
        assert_eq!(again.dir(), dir.path());
    }

    #[test]
    fn a_lock_file_left_behind_without_a_holder_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        let stale = Holder {
            pid: 999_999,
            host: "elsewhere".into(),
            command: "edgebench study".into(),
            started_unix: 0.0,
        };
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_string(&stale).unwrap(),
        )
        .unwrap();
        let _l = StudyLock::acquire(dir.path(), "edgebench study").unwrap();
        let now: Holder =
            serde_json::from_slice(&std::fs::read(dir.path().join(LOCK_FILE)).unwrap()).unwrap();
        assert_eq!(now.pid, std::process::id());
    }
}
