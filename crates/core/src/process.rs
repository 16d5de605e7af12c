//! Running an outside program (trtexec, a worker, ffmpeg) as a child in its own process group,
//! with a time limit, its output captured, and the whole group killed when the limit passes.
//!
//! A tool that hangs must not hang edgebench, and killing only the child is not enough: a
//! shell wrapper or a tool that forks leaves grandchildren behind that keep running and keep
//! the output pipes open, so a reader would wait forever. The child therefore starts a new
//! process group (`setpgid(0, 0)`), and on timeout the group gets `SIGKILL`. Its stdout and
//! stderr are read on their own threads while it runs, so a chatty child never blocks on a
//! full pipe.
//!
//! Two ways in: [`run`] for a tool that runs to the end (trtexec, ffprobe), and
//! [`spawn_in_group`] for a child that streams while edgebench talks to it (the PyTorch
//! worker, ffmpeg, the study's children). Both go through [`GroupChild`], so the group is
//! killed in one place ([`kill_group`]), always before the child is reaped: while the child
//! is an unreaped zombie its id, which is the group's id, cannot be reused, so the signal never
//! reaches a stranger.

use std::io::{self, Read};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    let start = Instant::now();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn(cmd, limits.kill_leftovers)?;
    let out = reader(child.take_stdout());
    let err = reader(child.take_stderr());
    let status = match child.wait_timeout(limits.timeout) {
        Ok(Some(s)) => Ok(Some(s)),
        Ok(None) => child.kill().map(|_| None),
        Err(e) => Err(e),
    };
    // A child that could not be waited for is killed with its group here, so the readers end.
    drop(child);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(Output {
        status: status?,
        stdout,
        stderr,
        elapsed: start.elapsed(),
    })
}

/// Starts `cmd` as the leader of a new process group, for a child that streams (its pipes
/// are whatever `cmd` says). When the child exits on its own, what is left of its group is
/// killed at once (a grandchild holding the child's stdout open would otherwise keep a reader
/// waiting for ever); when the [`GroupChild`] is killed or dropped, the whole group is.
pub fn spawn_in_group(cmd: &mut Command) -> io::Result<GroupChild> {
    spawn(cmd, true)
}

fn spawn(cmd: &mut Command, kill_leftovers: bool) -> io::Result<GroupChild> {
    use std::os::unix::process::CommandExt;
    // The registry is locked across the spawn so that `kill_all_groups` never misses a child
    // that exists but is not yet listed.
    let mut live = live_groups();
    let child = cmd.process_group(0).spawn()?;
    let pid = child.id();
    live.push(pid);
    drop(live);
    let shared = Arc::new(Shared::default());
    {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || watch(pid, &shared, kill_leftovers));
    }
    Ok(GroupChild {
        child,
        pid,
        shared,
        kill_leftovers,
    })
}

/// A child that leads its own process group. Dropping it kills the group and reaps the child,
/// so no early return, error or panic leaves the child or its descendants running.
#[derive(Debug)]
pub struct GroupChild {
    child: Child,
    pid: u32,
    shared: Arc<Shared>,
    kill_leftovers: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    exited: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The child has exited (it may still be unreaped).
    exited: bool,
    /// Its status once reaped; from then on its id may belong to another process.
    status: Option<ExitStatus>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Waits (without reaping) for the child to exit, then kills its leftovers and wakes waiters.
fn watch(pid: u32, shared: &Shared, kill_leftovers: bool) {
    let exited = loop {
        match exited_unreaped(pid, true) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Ok: exited. Err (ECHILD): already reaped, by whoever also killed the group.
            r => break r.unwrap_or(false),
        }
    };
    let mut s = shared.lock();
    if exited && s.status.is_none() && kill_leftovers {
        kill_group(pid);
    }
    s.exited = true;
    shared.exited.notify_all();
}

/// Whether the child `pid` has exited, leaving it unreaped (`WNOWAIT`); `block` waits for it.
fn exited_unreaped(pid: u32, block: bool) -> io::Result<bool> {
    let id = libc::id_t::from(pid);
    let mut flags = libc::WEXITED | libc::WNOWAIT;
    if !block {
        flags |= libc::WNOHANG;
    }
    // SAFETY: `info` is a plain C struct that waitid fills in; zeroed is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid(2) on our own child, writing only into `info`.
    let r = unsafe { libc::waitid(libc::P_PID, id, &mut info, flags) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // With WNOHANG and no state change, waitid returns 0 and leaves si_pid zero.
    // SAFETY: si_pid is set by waitid for a child that changed state.
    Ok(unsafe { info.si_pid() } != 0)
}

impl GroupChild {
    /// The child's process id, which is also its process group's id.
    pub fn id(&self) -> u32 {
        self.pid
    }

    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// The child's status if it has exited (its leftovers then killed and it reaped), else
    /// `None`; never blocks.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let shared = Arc::clone(&self.shared);
        let mut s = shared.lock();
        if let Some(st) = s.status {
            return Ok(Some(st));
        }
        if !s.exited && !exited_unreaped(self.pid, false)? {
            return Ok(None);
        }
        let leftovers = self.kill_leftovers;
        self.reap(&mut s, leftovers).map(Some)
    }

    /// Waits up to `timeout` (`None`: for ever) for the child to exit; `Ok(None)` when it
    /// is still running. Kills nothing on timeout: that is the caller's call.
    pub fn wait_timeout(&mut self, timeout: Option<Duration>) -> io::Result<Option<ExitStatus>> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        {
            let mut s = self.shared.lock();
            while !s.exited && s.status.is_none() {
                s = match deadline {
                    None => self
                        .shared
                        .exited
                        .wait(s)
                        .unwrap_or_else(|p| p.into_inner()),
                    Some(d) => {
                        let now = Instant::now();
                        if now >= d {
                            return Ok(None);
                        }
                        self.shared
                            .exited
                            .wait_timeout(s, d - now)
                            .unwrap_or_else(|p| p.into_inner())
                            .0
                    }
                };
            }
        }
        self.try_wait()
    }

    /// Kills the whole group with `SIGKILL` and reaps the child; returns its status (the
    /// status it exited with, if it had already ended).
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        let shared = Arc::clone(&self.shared);
        let mut s = shared.lock();
        if let Some(st) = s.status {
            return Ok(st);
        }
        self.reap(&mut s, true)
    }

    /// Kills the group (while the child is unreaped, so the id is still ours), then reaps.
    fn reap(&mut self, s: &mut State, kill: bool) -> io::Result<ExitStatus> {
        if kill {
            kill_group(self.pid);
        }
        // Off the list before the id can be reused; kill_all_groups holds this lock.
        live_groups().retain(|&p| p != self.pid);
        let st = self.child.wait()?;
        s.status = Some(st);
        s.exited = true;
        Ok(st)
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        let _ = self.kill();
    }
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

/// Kills the group of every child this process started with [`run`] or [`spawn_in_group`]
/// and has not reaped yet. For a process about to exit without running destructors (the
/// study's child, whose parent died): its children's groups would otherwise run on.
pub fn kill_all_groups() {
    for &pid in live_groups().iter() {
        kill_group(pid);
    }
}

/// The children started here and not yet reaped (their ids are their groups' ids).
fn live_groups() -> MutexGuard<'static, Vec<u32>> {
    static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether any process of the group `pgid` is still alive; zombies (killed, waiting for
/// whoever adopted them to reap them) do not count. For tests and for reports of leftovers.
pub fn group_alive(pgid: u32) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the group exists; nothing is sent.
    if unsafe { libc::kill(-pgid, 0) } != 0 {
        return io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
    }
    // Some member exists; on Linux, look for one that is not a zombie.
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .any(|stat| {
            // `pid (comm) STATE PPID PGRP ...`: the fields after the name's last ')'.
            let mut f = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace())
                .into_iter()
                .flatten();
            let state = f.next().unwrap_or("X");
            let group = f.nth(1).and_then(|g| g.parse::<libc::pid_t>().ok());
            group == Some(pgid) && state != "Z" && state != "X"
        })
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

    use crate::testing::group_gone as gone;

    #[test]
    fn dropping_a_streaming_child_kills_its_group() {
        // A wrapper that starts a grandchild and then becomes the long-running tool.
        let mut c =
            spawn_in_group(sh("sleep 1000 & exec sleep 1000").stdout(Stdio::piped())).unwrap();
        let pgid = c.id();
        assert!(c.try_wait().unwrap().is_none());
        assert!(c
            .wait_timeout(Some(Duration::from_millis(50)))
            .unwrap()
            .is_none());
        assert!(group_alive(pgid));
        drop(c);
        assert!(gone(pgid), "a process of group {pgid} outlived the drop");
    }

    #[test]
    fn kill_reports_the_signal_and_is_idempotent() {
        use std::os::unix::process::ExitStatusExt;
        let mut c = spawn_in_group(&mut sh("sleep 1000 & wait")).unwrap();
        let pgid = c.id();
        let st = c.kill().unwrap();
        assert_eq!(st.signal(), Some(libc::SIGKILL));
        assert_eq!(c.kill().unwrap(), st);
        assert_eq!(c.try_wait().unwrap(), Some(st));
        assert!(
            gone(pgid),
            "the grandchild of group {pgid} outlived the kill"
        );
    }

    #[test]
    fn a_child_that_exits_leaving_a_grandchild_on_its_stdout_still_ends_the_stream() {
        // The grandchild inherits stdout; without the leftover kill the reader never sees EOF.
        let mut c =
            spawn_in_group(sh("sleep 1000 & echo frame; exit 4").stdout(Stdio::piped())).unwrap();
        let pgid = c.id();
        let mut out = c.take_stdout().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            let _ = tx.send(s);
        });
        let text = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("stdout never ended: the grandchild still holds it");
        assert_eq!(text, "frame\n");
        let st = c.wait_timeout(None).unwrap().unwrap();
        assert_eq!(st.code(), Some(4));
        assert!(gone(pgid));
    }

    #[test]
    fn kill_all_groups_reaches_every_live_child() {
        // kill_all_groups kills every group of the process, other tests' children included,
        // so it runs alone: this test binary again, with only this test, in a child.
        const ALONE: &str = "EDGEBENCH_PROCESS_TEST_ALONE";
        if std::env::var_os(ALONE).is_none() {
            let o = Command::new(std::env::current_exe().unwrap())
                .args([
                    "process::tests::kill_all_groups_reaches_every_live_child",
                    "--exact",
                    "--test-threads=1",
                ])
                .env(ALONE, "1")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(o.status.success(), "{text}");
            assert!(text.contains("1 passed"), "{text}");
            return;
        }
        let a = spawn_in_group(&mut sh("sleep 1000 & exec sleep 1000")).unwrap();
        let b = spawn_in_group(&mut sh("sleep 1000 & exec sleep 1000")).unwrap();
        let (pa, pb) = (a.id(), b.id());
        assert!(group_alive(pa) && group_alive(pb));
        kill_all_groups();
        assert!(gone(pa) && gone(pb), "kill_all_groups left a group running");
        drop((a, b));
    }
}
