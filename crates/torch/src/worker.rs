//! The worker process and the client side of its protocol (docs/torch.md): spawn, read the
//! hello line, send one request per line and wait for its one answer, with a time limit.
//! A worker that dies, hangs or writes garbage is stopped and reported with the tail of its
//! stderr; it never takes edgebench down.

use crate::error::{TorchError, WorkerError};
use edgebench_core::process::{spawn_in_group, GroupChild};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The protocol version this build speaks; the worker says its own in the hello line.
pub const PROTOCOL: u32 = 1;
/// Longest protocol line accepted (a measure reply with 10 000 samples is about 200 KB).
const MAX_LINE: u64 = 64 << 20;
/// Lines of stderr kept for error messages.
const STDERR_LINES: usize = 40;

/// The worker's first line: who it is and what it can do.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Hello {
    pub hello: String,
    pub protocol: u32,
    pub python: String,
    pub executable: String,
    #[serde(default)]
    pub byteorder: String,
    pub torch: Option<String>,
    #[serde(default)]
    pub torch_error: Option<String>,
    #[serde(default)]
    pub torchvision: Option<String>,
    #[serde(default)]
    pub torchvision_error: Option<String>,
    #[serde(default)]
    pub onnx: Option<String>,
    #[serde(default)]
    pub cuda: bool,
    #[serde(default)]
    pub cuda_version: Option<String>,
    #[serde(default)]
    pub gpus: Vec<String>,
    #[serde(default)]
    pub devices: Vec<String>,
    #[serde(default)]
    pub compile: bool,
    /// Whether this torch has CUDA graphs (`torch.cuda.graph`, torch 1.10 and newer); absent
    /// from workers of older edgebench builds.
    #[serde(default)]
    pub cuda_graph: Option<bool>,
    /// Whether this torch has `torch.inference_mode` (1.9 and newer); without it the worker
    /// runs under `torch.no_grad()` and records so.
    #[serde(default)]
    pub inference_mode: Option<bool>,
}

/// Time limits per kind of request. `EDGEBENCH_WORKER_TIMEOUT=SECONDS` replaces every base
/// allowance (a measure request also gets its warm-up and sampling time on top).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// Start-up: importing torch, probing CUDA.
    pub hello: Duration,
    /// Building the model, moving it to the device, capturing a CUDA graph.
    pub load: Duration,
    /// One inference, or moving tensors.
    pub call: Duration,
    /// Added to the warm-up and sampling time of a measure request.
    pub measure_slack: Duration,
    /// An export.
    pub export: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            hello: Duration::from_secs(120),
            load: Duration::from_secs(900),
            call: Duration::from_secs(300),
            measure_slack: Duration::from_secs(300),
            export: Duration::from_secs(900),
        }
    }
}

impl Timeouts {
    /// The defaults, or `EDGEBENCH_WORKER_TIMEOUT` seconds for every allowance.
    pub fn from_env() -> Timeouts {
        match std::env::var("EDGEBENCH_WORKER_TIMEOUT")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
        {
            Some(s) => {
                let d = Duration::from_secs_f64(s);
                Timeouts {
                    hello: d,
                    load: d,
                    call: d,
                    measure_slack: d,
                    export: d,
                }
            }
            None => Timeouts::default(),
        }
    }
}

enum Line {
    Text(String),
    TooLong,
    Eof,
}

/// A running worker process, the leader of its own process group: a worker may start
/// processes of its own (torch.compile's compile workers), and stopping it stops them too.
pub struct Worker {
    child: GroupChild,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_done: Receiver<()>,
    next_id: u64,
    /// Set once the worker has failed: later requests fail at once with the same error.
    dead: Option<WorkerError>,
    pub hello: Hello,
    pub python: PathBuf,
    pub timeouts: Timeouts,
}

impl Worker {
    /// Starts `python -u WORKER [--probe]` and reads its hello line.
    pub fn start(python: &Path, probe: bool, timeouts: Timeouts) -> Result<Worker, TorchError> {
        let main = crate::embed::worker_main()?;
        let mut cmd = Command::new(python);
        cmd.arg("-u").arg(&main);
        if probe {
            cmd.arg("--probe");
        }
        cmd.env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_in_group(&mut cmd).map_err(|e| TorchError::PythonSpawn {
            python: python.to_owned(),
            reason: e.to_string(),
        })?;
        let (stdout, stderr_pipe) = match (child.take_stdout(), child.take_stderr()) {
            (Some(o), Some(e)) => (o, e),
            _ => {
                // Dropping the child kills its group.
                return Err(TorchError::PythonSpawn {
                    python: python.to_owned(),
                    reason: "no pipes to the child process".into(),
                });
            }
        };
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || read_lines(stdout, tx));
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (done_tx, stderr_done) = mpsc::channel();
        {
            let stderr = Arc::clone(&stderr);
            let echo = std::env::var_os("EDGEBENCH_WORKER_STDERR").is_some_and(|v| v == "1");
            std::thread::spawn(move || {
                collect_stderr(stderr_pipe, &stderr, echo);
                let _ = done_tx.send(());
            });
        }
        let mut w = Worker {
            stdin: child.take_stdin(),
            child,
            lines,
            stderr,
            stderr_done,
            next_id: 1,
            dead: None,
            hello: Hello {
                hello: String::new(),
                protocol: 0,
                python: String::new(),
                executable: String::new(),
                byteorder: String::new(),
                torch: None,
                torch_error: None,
                torchvision: None,
                torchvision_error: None,
                onnx: None,
                cuda: false,
                cuda_version: None,
                gpus: vec![],
                devices: vec![],
                compile: false,
                cuda_graph: None,
                inference_mode: None,
            },
            python: python.to_owned(),
            timeouts,
        };
        let line = w.read_line("hello", timeouts.hello)?;
        let hello: Hello = match serde_json::from_str(&line) {
            Ok(h) => h,
            Err(_) => {
                return Err(w
                    .fail(WorkerError::Garbage {
                        during: "hello".into(),
                        line: shorten(&line, 200),
                        stderr: String::new(),
                    })
                    .into())
            }
        };
        if hello.hello != "edgebench-worker" || hello.protocol != PROTOCOL {
            return Err(w
                .fail(WorkerError::Protocol {
                    during: "hello".into(),
                    reason: format!(
                        "it speaks protocol {} of `{}`, this edgebench speaks protocol {PROTOCOL}",
                        hello.protocol, hello.hello
                    ),
                    stderr: String::new(),
                })
                .into());
        }
        if hello.byteorder == "big" {
            return Err(TorchError::Invalid(format!(
                "{}: big-endian hosts are not supported (tensors travel as little-endian bytes)",
                python.display()
            )));
        }
        w.hello = hello;
        Ok(w)
    }

    /// Sends one request and waits for its answer. `params` must be a JSON object; its
    /// fields travel next to `id` and `cmd`. Returns the answer's fields.
    pub fn request(
        &mut self,
        cmd: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, WorkerError> {
        if let Some(e) = &self.dead {
            return Err(e.clone());
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = match params {
            Value::Object(m) => m,
            Value::Null => serde_json::Map::new(),
            other => {
                return Err(WorkerError::Protocol {
                    during: cmd.into(),
                    reason: format!("request parameters must be an object, not {other}"),
                    stderr: String::new(),
                })
            }
        };
        msg.insert("id".into(), json!(id));
        msg.insert("cmd".into(), json!(cmd));
        let mut text = Value::Object(msg).to_string();
        text.push('\n');
        let written = match self.stdin.as_mut() {
            Some(s) => s.write_all(text.as_bytes()).and_then(|_| s.flush()),
            None => Err(std::io::Error::other("stdin closed")),
        };
        if written.is_err() {
            // The worker is gone; reading tells how (its exit status and stderr).
            let e = match self.read_line(cmd, Duration::from_secs(5)) {
                Err(e) => e,
                Ok(line) => WorkerError::Garbage {
                    during: cmd.into(),
                    line: shorten(&line, 200),
                    stderr: String::new(),
                },
            };
            return Err(self.fail(e));
        }
        let line = self.read_line(cmd, timeout)?;
        let reply: Value = match serde_json::from_str(&line) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                let e = WorkerError::Garbage {
                    during: cmd.into(),
                    line: shorten(&line, 200),
                    stderr: String::new(),
                };
                return Err(self.fail(e));
            }
        };
        if reply.get("id") != Some(&json!(id)) {
            let e = WorkerError::Protocol {
                during: cmd.into(),
                reason: format!(
                    "answer for request {} arrived while waiting for {id}",
                    reply.get("id").unwrap_or(&Value::Null)
                ),
                stderr: String::new(),
            };
            return Err(self.fail(e));
        }
        match reply.get("ok") {
            Some(Value::Bool(true)) => Ok(reply),
            Some(Value::Bool(false)) => Err(WorkerError::Failed {
                during: cmd.into(),
                message: reply
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("the worker reported an error without a message")
                    .to_owned(),
            }),
            _ => {
                let e = WorkerError::Protocol {
                    during: cmd.into(),
                    reason: "the answer has no `ok` field".into(),
                    stderr: String::new(),
                };
                Err(self.fail(e))
            }
        }
    }

    /// Reads one line, or says why none came: death, time limit, oversize.
    fn read_line(&mut self, during: &str, timeout: Duration) -> Result<String, WorkerError> {
        match self.lines.recv_timeout(timeout) {
            Ok(Line::Text(s)) => Ok(s),
            Ok(Line::TooLong) => {
                let e = WorkerError::Garbage {
                    during: during.into(),
                    line: format!("a line longer than {MAX_LINE} bytes"),
                    stderr: String::new(),
                };
                Err(self.fail(e))
            }
            Ok(Line::Eof) | Err(RecvTimeoutError::Disconnected) => {
                let status = self.exit_status(Duration::from_secs(5));
                let e = WorkerError::Crashed {
                    during: during.into(),
                    status,
                    stderr: String::new(),
                };
                Err(self.fail(e))
            }
            Err(RecvTimeoutError::Timeout) => {
                let e = WorkerError::TimedOut {
                    during: during.into(),
                    seconds: timeout.as_secs_f64().ceil() as u64,
                    stderr: String::new(),
                };
                Err(self.fail(e))
            }
        }
    }

    /// Waits up to `wait` for the process to end and describes how it ended.
    fn exit_status(&mut self, wait: Duration) -> String {
        match self.child.wait_timeout(Some(wait)) {
            Ok(Some(status)) => describe_status(status),
            Ok(None) => "closed its output but kept running".into(),
            Err(e) => format!("status unknown: {e}"),
        }
    }

    /// Stops the process and its group, fills in the stderr tail, remembers the error, and
    /// returns it.
    fn fail(&mut self, mut e: WorkerError) -> WorkerError {
        let _ = self.child.kill();
        self.stdin = None;
        // The stderr reader ends once the process is gone; give it a moment to drain.
        let _ = self.stderr_done.recv_timeout(Duration::from_secs(2));
        let tail = self.stderr_tail();
        match &mut e {
            WorkerError::Crashed { stderr, .. }
            | WorkerError::TimedOut { stderr, .. }
            | WorkerError::Garbage { stderr, .. }
            | WorkerError::Protocol { stderr, .. } => *stderr = tail,
            WorkerError::Failed { .. } => {}
        }
        self.dead = Some(e.clone());
        e
    }

    /// The last lines the worker wrote on stderr, joined on one line (at most ~1000 chars).
    pub fn stderr_tail(&self) -> String {
        let lines = match self.stderr.lock() {
            Ok(l) => l.iter().cloned().collect::<Vec<_>>(),
            Err(_) => return String::new(),
        };
        let keep: Vec<String> = lines
            .iter()
            .rev()
            .filter(|l| !l.trim().is_empty())
            .take(8)
            .map(|l| l.trim().to_owned())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let joined = keep.join(" | ");
        let n = joined.chars().count();
        if n > 1000 {
            format!("…{}", joined.chars().skip(n - 1000).collect::<String>())
        } else {
            joined
        }
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Worker {
    /// Closing stdin ends the worker's loop; a worker that does not exit soon is killed. Either
    /// way, what is left of its process group is killed.
    fn drop(&mut self) {
        if self.dead.is_none() {
            if let Some(mut s) = self.stdin.take() {
                let _ = s.write_all(b"{\"id\":0,\"cmd\":\"shutdown\"}\n");
            }
            let _ = self.child.wait_timeout(Some(Duration::from_secs(3)));
        }
        let _ = self.child.kill();
    }
}

fn read_lines(stdout: impl Read, tx: mpsc::Sender<Line>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut buf = Vec::new();
        match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => {
                let _ = tx.send(Line::Eof);
                return;
            }
            Ok(_) => {
                if buf.last() != Some(&b'\n') && buf.len() as u64 >= MAX_LINE {
                    let _ = tx.send(Line::TooLong);
                    return;
                }
                let text = String::from_utf8_lossy(&buf).trim_end().to_owned();
                if text.is_empty() {
                    continue;
                }
                if tx.send(Line::Text(text)).is_err() {
                    return;
                }
            }
        }
    }
}

fn collect_stderr(pipe: impl Read, tail: &Mutex<VecDeque<String>>, echo: bool) {
    let mut reader = BufReader::new(pipe);
    loop {
        let mut buf = Vec::new();
        match (&mut reader).take(1 << 20).read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
                if echo {
                    eprintln!("[torch worker] {line}");
                }
                if let Ok(mut t) = tail.lock() {
                    if t.len() == STDERR_LINES {
                        t.pop_front();
                    }
                    t.push_back(shorten(&line, 400));
                }
            }
        }
    }
}

fn describe_status(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let name = match sig {
                4 => " (SIGILL)",
                6 => " (SIGABRT)",
                7 => " (SIGBUS)",
                9 => " (SIGKILL: killed, perhaps for lack of memory)",
                11 => " (SIGSEGV)",
                15 => " (SIGTERM)",
                _ => "",
            };
            return format!("killed by signal {sig}{name}");
        }
    }
    match status.code() {
        Some(c) => format!("exit code {c}"),
        None => "ended without an exit code".into(),
    }
}

/// The last `lines` non-empty lines of an embedded script's stderr (quantize, qat, prune), each
/// shortened to `width` characters, on one line of at most ~1000 characters.
pub(crate) fn script_stderr_tail(lines: usize, width: usize, s: &str) -> String {
    let all: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let keep = &all[all.len().saturating_sub(lines)..];
    let joined = keep
        .iter()
        .map(|l| shorten(l, width))
        .collect::<Vec<_>>()
        .join(" | ");
    let n = joined.chars().count();
    if n > 1000 {
        format!("…{}", joined.chars().skip(n - 1000).collect::<String>())
    } else {
        joined
    }
}

/// How an embedded script's process ended, in words.
pub(crate) fn script_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "ended without an exit code".into(),
    }
}

/// At most `n` characters, with an ellipsis when cut.
pub fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}
