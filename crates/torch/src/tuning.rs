//! What quantization-aware training ([`crate::qat`]) and pruning ([`crate::prune`]) share: the
//! labelled image folder they train on, the training settings, and the run of their embedded
//! Python scripts (`python/edgebench_quant/{finetune,qat,prune}.py`) in the Python that has
//! torch, in its own process group under a time limit, with its progress read as it happens.
//!
//! The scripts answer on stdout with JSON lines: events (`{"event": "epoch", ...}`) while they
//! run, then one answer (`{"ok": true, ...}` or `{"ok": false, "kind": ..., "error": ...}`)
//! as the last line; anything else they print goes to stderr, whose tail is in the error when
//! a script crashes, hangs or writes something that is not JSON.

use crate::error::TorchError;
use crate::python::PythonInfo;
use crate::worker::{script_status, script_stderr_tail, shorten};
use edgebench_core::process;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The training scripts' shared code.
pub const FINETUNE_SCRIPT: &str = include_str!("../../../python/edgebench_quant/finetune.py");
/// The Torch-Pruning version CI pins for `/usr/bin/python3` (`.ci/run`); installed without its
/// dependencies, since its wheel asks for a torch newer than Debian's 1.13.1, which it runs on.
pub const TORCH_PRUNING_PIN: &str = "torch-pruning==1.6.1";
/// Image files a labelled folder may hold (torchvision's `ImageFolder` reads them with PIL).
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];
/// `--lr` when not given: small enough for fine-tuning a model with batch norm.
pub const DEFAULT_LR: f64 = 0.001;
/// `--batch` (training batch) when not given.
pub const DEFAULT_BATCH: usize = 8;

/// How to fine-tune: the labelled folder (one subfolder per class), epochs, SGD's learning
/// rate (momentum 0.9) and the training batch size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub folder: PathBuf,
    pub epochs: u32,
    pub lr: f64,
    pub batch: usize,
    /// The seed of the data order and of torch's random state.
    pub seed: u64,
}

/// The classes of a labelled folder and how many images each holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledFolder {
    pub classes: Vec<(String, usize)>,
}

impl LabelledFolder {
    pub fn images(&self) -> usize {
        self.classes.iter().map(|(_, n)| n).sum()
    }
}

impl TrainSettings {
    /// Checks the settings and reads the folder's classes: it must exist, hold at least two
    /// class subfolders, each with at least one PNG/JPEG image, and nothing else that
    /// torchvision's `ImageFolder` would trip on. `flag` names the flag in messages.
    pub fn check(&self, flag: &str) -> Result<LabelledFolder, TuningError> {
        if self.epochs == 0 {
            return Err(TuningError::Invalid(
                "--epochs 0: give at least 1 epoch".into(),
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(TuningError::Invalid(format!(
                "--lr {}: give a positive learning rate such as {DEFAULT_LR}",
                self.lr
            )));
        }
        if self.batch == 0 {
            return Err(TuningError::Invalid(
                "--batch 0: give a training batch of at least 1".into(),
            ));
        }
        labelled_folder(&self.folder, flag)
    }

    /// The settings with an absolute folder: the scripts run in a scratch folder, where a
    /// relative path would name nothing.
    pub fn absolute(&self) -> TrainSettings {
        TrainSettings {
            folder: std::path::absolute(&self.folder).unwrap_or_else(|_| self.folder.clone()),
            ..self.clone()
        }
    }
}

const FOLDER_FIX: &str =
    "give a folder with one subfolder per class (at least two), each holding PNG or JPEG images";

/// Reads a labelled folder (see [`TrainSettings::check`]).
pub fn labelled_folder(folder: &Path, flag: &str) -> Result<LabelledFolder, TuningError> {
    let bad = |reason: String| TuningError::Folder {
        flag: flag.to_owned(),
        folder: folder.to_owned(),
        reason,
    };
    if !folder.exists() {
        return Err(bad(format!("no such folder; {FOLDER_FIX}")));
    }
    if !folder.is_dir() {
        return Err(bad(format!("not a folder; {FOLDER_FIX}")));
    }
    let entries = |dir: &Path| -> Result<Vec<PathBuf>, TuningError> {
        let mut v = std::fs::read_dir(dir)
            .map_err(|e| bad(format!("cannot read {}: {e}", dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect::<Vec<_>>();
        v.sort();
        Ok(v)
    };
    let is_image = |p: &Path| {
        p.is_file()
            && p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
    };
    let top = entries(folder)?;
    let dirs: Vec<&PathBuf> = top.iter().filter(|p| p.is_dir()).collect();
    if dirs.is_empty() {
        let images = top.iter().filter(|p| is_image(p)).count();
        return Err(bad(if images > 0 {
            format!("{images} images but no class subfolders; {FOLDER_FIX}")
        } else {
            format!("empty (no class subfolders); {FOLDER_FIX}")
        }));
    }
    let mut classes = vec![];
    for d in dirs {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let n = entries(d)?.iter().filter(|p| is_image(p)).count();
        if n == 0 {
            return Err(bad(format!(
                "class folder `{name}` holds no PNG or JPEG images; add images or remove it"
            )));
        }
        classes.push((name, n));
    }
    if classes.len() < 2 {
        return Err(bad(format!(
            "only {} class subfolder; {FOLDER_FIX}",
            classes.len()
        )));
    }
    Ok(LabelledFolder { classes })
}

/// One training epoch, as the script reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// `qat` or `finetune`.
    pub phase: String,
    pub epoch: u32,
    pub epochs: u32,
    /// Mean cross-entropy over the epoch's images.
    pub loss: f64,
    /// Share of the epoch's images whose top-1 prediction (in training mode, as the batch was
    /// seen) was their label.
    pub accuracy: f64,
    pub images: usize,
    pub seconds: f64,
    /// The pruning ratio of the model being fine-tuned (pruning only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
}

/// Why a training script failed. Messages are one lowercase line with the fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TuningError {
    #[error(transparent)]
    Torch(#[from] TorchError),
    #[error("{flag} {}: {reason}", folder.display())]
    Folder {
        flag: String,
        folder: PathBuf,
        reason: String,
    },
    /// A flag or a model the user can fix.
    #[error("{0}")]
    Invalid(String),
    #[error("{} has no usable {package} ({reason}): install it with `{fix}`", python.display())]
    Missing {
        python: PathBuf,
        package: String,
        reason: String,
        fix: String,
    },
    #[error("{script} refused: {message}")]
    Refused { script: String, message: String },
    #[error("cannot start {}: {reason}", python.display())]
    Spawn { python: PathBuf, reason: String },
    #[error("{script} died ({status}){}", tail(.stderr))]
    Crashed {
        script: String,
        status: String,
        stderr: String,
    },
    #[error("{script} did not finish within {seconds} s and was stopped (raise the limit with EDGEBENCH_WORKER_TIMEOUT=SECONDS){}", tail(.stderr))]
    TimedOut {
        script: String,
        seconds: u64,
        stderr: String,
    },
    #[error("{script} answered something that is not its JSON result: `{line}`{}", tail(.stderr))]
    Garbage {
        script: String,
        line: String,
        stderr: String,
    },
    #[error("{script} wrote {}, which is not a model edgebench can load: {reason}", path.display())]
    BadOutput {
        script: String,
        path: PathBuf,
        reason: String,
    },
    #[error("cannot write {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

fn tail(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; its stderr: {stderr}")
    }
}

impl From<TuningError> for edgebench_core::Error {
    /// Writing an output is an I/O failure; everything else is bad input (exit 2), as for
    /// `quantize`.
    fn from(e: TuningError) -> Self {
        match e {
            TuningError::Write { path, reason } => edgebench_core::Error::Write { path, reason },
            TuningError::Torch(t) => t.into(),
            other => edgebench_core::Error::InvalidArgument(other.to_string()),
        }
    }
}

/// The Python with torch and torchvision (the training scripts read images with
/// torchvision's `ImageFolder`).
pub fn python() -> Result<PythonInfo, TuningError> {
    let info = crate::python::discover()?;
    info.require_torchvision()?;
    Ok(info)
}

/// An embedded script and where it runs.
pub(crate) struct Script<'a> {
    /// `qat.py`, `prune.py`: its name in messages and on disk.
    pub name: &'a str,
    pub text: &'a str,
    /// A scratch folder for the scripts and the request.
    pub dir: &'a Path,
    pub timeout: Duration,
}

/// Runs `script` on `request` in `python`: writes the scripts and the request into
/// `script.dir`, starts `python -u SCRIPT REQUEST` in its own process group with the worker
/// package on `PYTHONPATH`, hands each event line to `on_event` as it arrives, and returns
/// the answer (the last line) once the script has exited with `"ok": true`. The whole group
/// is killed on the time limit, on an error and when this returns.
pub(crate) fn run_script(
    python: &Path,
    script: &Script,
    request: &Value,
    on_event: &mut dyn FnMut(&Value) -> Result<(), TuningError>,
) -> Result<Value, TuningError> {
    let d = script.dir;
    let write = |path: &Path, text: &[u8]| {
        std::fs::write(path, text).map_err(|e| TuningError::Write {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    };
    write(&d.join("finetune.py"), FINETUNE_SCRIPT.as_bytes())?;
    let path = d.join(script.name);
    write(&path, script.text.as_bytes())?;
    let request_path = d.join("request.json");
    write(&request_path, request.to_string().as_bytes())?;
    // The worker package gives the scripts edgebench's model sources and weights.
    let worker = crate::embed::worker_main()?;
    let package_root = worker
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .to_owned();
    let mut paths = vec![d.to_owned(), package_root];
    if let Some(p) = std::env::var_os("PYTHONPATH") {
        paths.extend(std::env::split_paths(&p));
    }
    let pythonpath = std::env::join_paths(paths).map_err(|e| TuningError::Spawn {
        python: python.to_owned(),
        reason: e.to_string(),
    })?;
    let mut cmd = Command::new(python);
    cmd.arg("-u")
        .arg(&path)
        .arg(&request_path)
        .current_dir(d)
        .env("PYTHONPATH", pythonpath)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = process::spawn_in_group(&mut cmd).map_err(|e| TuningError::Spawn {
        python: python.to_owned(),
        reason: e.to_string(),
    })?;
    let stdout = child.take_stdout();
    let stderr = child.take_stderr();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let mut buf = vec![];
            let _ = e.read_to_end(&mut buf);
            s = String::from_utf8_lossy(&buf).into_owned();
        }
        s
    });
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        if let Some(out) = stdout {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        }
    });
    let name = script.name.to_owned();
    let deadline = Instant::now() + script.timeout;
    let mut last: Option<String> = None;
    let mut failure: Option<TuningError> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => {
                let v: Option<Value> = serde_json::from_str(&line).ok();
                match v {
                    Some(v) if v.get("event").is_some() => {
                        if let Err(e) = on_event(&v) {
                            failure = Some(e);
                            break;
                        }
                    }
                    _ => last = Some(line),
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let stderr = script_stderr_tail(6, 300, &err_reader.join().unwrap_or_default());
                return Err(TuningError::TimedOut {
                    script: name,
                    seconds: script.timeout.as_secs_f64().ceil() as u64,
                    stderr,
                });
            }
        }
    }
    if let Some(e) = failure {
        let _ = child.kill();
        return Err(e);
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let status = child.wait_timeout(Some(left)).ok().flatten();
    if status.is_none() {
        let _ = child.kill();
    }
    let stderr = script_stderr_tail(6, 300, &err_reader.join().unwrap_or_default());
    let line = last.unwrap_or_default();
    let answer: Value = match serde_json::from_str::<Value>(&line) {
        Ok(v) if v.get("ok").is_some() => v,
        _ if line.is_empty() || !status.is_some_and(|s| s.success()) => {
            return Err(TuningError::Crashed {
                script: name,
                status: status
                    .map(script_status)
                    .unwrap_or_else(|| "no status".into()),
                stderr,
            })
        }
        _ => {
            return Err(TuningError::Garbage {
                script: name,
                line: shorten(&line, 200),
                stderr,
            })
        }
    };
    if answer.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(answer);
    }
    let s = |k: &str| {
        answer
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Err(match s("kind").as_str() {
        "missing" if s("package") == "torch_pruning" => TuningError::Missing {
            python: python.to_owned(),
            package: "torch-pruning (Torch-Pruning)".into(),
            reason: s("error"),
            fix: format!(
                "{} -m pip install --no-deps {TORCH_PRUNING_PIN}",
                python.display()
            ),
        },
        "missing" => TuningError::Missing {
            python: python.to_owned(),
            package: "module".into(),
            reason: s("error"),
            fix: format!("{} -m pip install torch torchvision", python.display()),
        },
        "bad_input" => TuningError::Refused {
            script: name,
            message: s("error"),
        },
        _ => TuningError::Crashed {
            script: name,
            status: format!("it failed: {}", s("error")),
            stderr,
        },
    })
}

/// An epoch event's figures.
pub(crate) fn epoch_of(v: &Value) -> Option<EpochStats> {
    (v.get("event").and_then(Value::as_str) == Some("epoch"))
        .then(|| serde_json::from_value(v.clone()).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(folder: &Path) -> TrainSettings {
        TrainSettings {
            folder: folder.to_owned(),
            epochs: 1,
            lr: DEFAULT_LR,
            batch: 2,
            seed: 0,
        }
    }

    #[test]
    fn a_labelled_folder_needs_two_classes_with_images() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let e = settings(root).check("--train").unwrap_err().to_string();
        assert!(e.starts_with("--train ") && e.contains("empty"), "{e}");
        std::fs::write(root.join("a.png"), b"x").unwrap();
        let e = settings(root).check("--train").unwrap_err().to_string();
        assert!(e.contains("1 images but no class subfolders"), "{e}");
        std::fs::create_dir(root.join("cat")).unwrap();
        let e = settings(root).check("--train").unwrap_err().to_string();
        assert!(e.contains("class folder `cat` holds no PNG"), "{e}");
        std::fs::write(root.join("cat/1.PNG"), b"x").unwrap();
        let e = settings(root).check("--train").unwrap_err().to_string();
        assert!(e.contains("only 1 class subfolder"), "{e}");
        std::fs::create_dir(root.join("dog")).unwrap();
        std::fs::write(root.join("dog/1.jpg"), b"x").unwrap();
        std::fs::write(root.join("dog/2.jpeg"), b"x").unwrap();
        std::fs::write(root.join("dog/notes.txt"), b"x").unwrap();
        let f = settings(root).check("--train").unwrap();
        assert_eq!(f.classes, [("cat".to_string(), 1), ("dog".to_string(), 2)]);
        assert_eq!(f.images(), 3);
        let e = settings(&root.join("nope"))
            .check("--finetune")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--finetune ") && e.contains("no such folder"),
            "{e}"
        );
        let e = settings(&root.join("a.png"))
            .check("--train")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a folder"), "{e}");
    }

    #[test]
    fn settings_are_checked_before_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.epochs = 0;
        assert!(s
            .check("--train")
            .unwrap_err()
            .to_string()
            .contains("--epochs 0"));
        let mut s = settings(dir.path());
        s.lr = -1.0;
        assert!(s
            .check("--train")
            .unwrap_err()
            .to_string()
            .contains("--lr -1"));
        let mut s = settings(dir.path());
        s.batch = 0;
        assert!(s
            .check("--train")
            .unwrap_err()
            .to_string()
            .contains("--batch 0"));
    }

    #[test]
    fn epoch_events_parse() {
        let v = serde_json::json!({"event": "epoch", "phase": "qat", "epoch": 1, "epochs": 2,
            "loss": 0.7, "accuracy": 0.5, "images": 4, "seconds": 1.5});
        let e = epoch_of(&v).unwrap();
        assert_eq!((e.epoch, e.epochs, e.images, e.ratio), (1, 2, 4, None));
        assert!(epoch_of(&serde_json::json!({"event": "pruned"})).is_none());
    }
}
