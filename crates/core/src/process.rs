//! Running an outside program (trtexec, a worker, ffmpeg) as a child in its own process group,
//! with a time limit, its output captured, and the whole group killed when the limit passes.
//!
//! A tool that hangs must not hang edgebench, and killing only the child is not enough: a
//! shell wrapper or a tool that forks leaves grandchildren behind that keep running and keep
//! the output pipes open, so a reader would wait forever. The child therefore starts a new
//! process group (`setpgid(0, 0)`), and on timeout the group gets `SIGKILL`. Its stdout and
//! stderr are read on their own threads while it runs, so a chatty child never blocks on a
//! full pipe.

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// How a child is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Kill the group after this long; `None` waits for ever.
    pub timeout: Option<Duration>,
    /// After the child exits on its own, kill what is left of its group too (background
    /// processes it started would otherwise outlive it and hold its output pipes open).
    pub kill_leftovers: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: None,
            kill_leftovers: true,
        }
    }
}

impl Limits {
    pub fn with_timeout(timeout: Duration) -> Limits {
        Limits {
            timeout: Some(timeout),
            ..Limits::default()
        }
    }
}

/// What a finished child left.
#[derive(Debug, Clone)]
pub struct Output {
    /// `None` when the child was killed at the time limit.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Output {
    /// The child ran past its time limit and was killed with its group.
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// It exited on its own with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// stdout then stderr, as text (lossy), the way a person reads a tool's log.
    pub fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&self.stderr));
        s
    }
}

/// Runs `cmd` to the end (stdin closed, stdout and stderr captured) in a new process group,
/// killing the group after `limits.timeout`. Errors only when the program cannot be started;
/// a timeout is an [`Output`] whose `status` is `None`.
pub fn run(cmd: &mut Command, limits: Limits) -> io::Result<Output> {
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let status = wait(&mut child, limits);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(Output {
        status: status?,
        stdout,
        stderr,
        elapsed: start.elapsed(),
    })
}

/// Waits for the child within the limit; on timeout kills its group and reaps it.
fn wait(child: &mut Child, limits: Limits) -> io::Result<Option<ExitStatus>> {
    let status = match limits.timeout {
        Some(t) => child.wait_timeout(t)?,
        None => Some(child.wait()?),
    };
    if status.is_none() || limits.kill_leftovers {
        kill_group(child.id());
    }
    if status.is_none() {
        // Reap the child itself; it was killed with its group.
        child.wait()?;
    }
    Ok(status)
}

/// Sends SIGKILL to the process group `pgid` (the child's id, since it leads its own group).
/// A group that is already gone is not an error.
pub fn kill_group(pgid: u32) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        if pgid > 0 {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is shared.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    /// Running or sleeping; a zombie (killed, not yet reaped by whoever adopted it) is dead.
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let state = s.rsplit_once(')')?.1.trim_start().chars().next()?;
                Some(state != 'Z' && state != 'X')
            })
            .unwrap_or(false)
    }

    #[test]
    fn captures_output_and_status() {
        let o = run(
            &mut sh("echo out; echo err >&2; exit 3"),
            Limits::with_timeout(Duration::from_secs(30)),
        )
        .unwrap();
        assert!(!o.timed_out());
        assert_eq!(o.status.unwrap().code(), Some(3));
        assert_eq!(o.stdout, b"out\n");
        assert_eq!(o.stderr, b"err\n");
        assert_eq!(o.text(), "out\nerr\n");
    }

    #[test]
    fn a_hanging_child_is_killed_with_its_grandchildren() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        // The shell starts two sleeps, records their ids, and waits: a tool that forks.
        let script = format!(
            "sleep 100 & echo $! > {p}; sleep 100 & echo $! >> {p}; wait",
            p = pids.display()
        );
        let o = run(
            &mut sh(&script),
            Limits::with_timeout(Duration::from_millis(500)),
        )
        .unwrap();
        assert!(o.timed_out());
        assert!(!o.success());
        let ids: Vec<i32> = std::fs::read_to_string(&pids)
            .unwrap()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert_eq!(ids.len(), 2);
        // SIGKILL is delivered at once, but the orphans are reaped by init: give it a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        while ids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for p in ids {
            assert!(!alive(p), "grandchild {p} outlived the time limit");
        }
    }

    #[test]
    fn leftovers_holding_the_pipes_do_not_block_the_reader() {
        // The shell exits at once; its background sleep would keep stdout open for ever.
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("pid");
        let script = format!("echo started; sleep 100000 & echo $! > {}", pid.display());
        let o = run(&mut sh(&script), Limits::default()).unwrap();
        assert!(o.success());
        assert_eq!(o.stdout, b"started\n");
        let p: i32 = std::fs::read_to_string(&pid)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(p) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(p), "the leftover {p} was not killed");
    }

    #[test]
    fn a_missing_program_is_an_error() {
        assert!(run(
            &mut Command::new("/nonexistent/edgebench-tool"),
            Limits::default()
        )
        .is_err());
    }
}
