//! Finding the Python that runs the worker: `--python PATH`, then `EDGEBENCH_PYTHON`, then
//! `python3` on PATH. When neither flag nor variable names one and the `python3` on PATH
//! has no torch, `/usr/bin/python3` (where Debian's python3-torch lives) is tried too, so a
//! pyenv or venv Python on PATH does not hide the system's torch.

use crate::error::{TorchError, FIX_TORCH};
use crate::worker::{Hello, Timeouts, Worker};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Where the Python came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env,
    Path,
    System,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Flag => "--python",
            Origin::Env => "EDGEBENCH_PYTHON",
            Origin::Path => "python3 on PATH",
            Origin::System => "/usr/bin/python3",
        }
    }
}

/// A Python that ran the worker's probe.
#[derive(Debug, Clone)]
pub struct PythonInfo {
    pub path: PathBuf,
    pub origin: Origin,
    pub hello: Hello,
}

impl PythonInfo {
    /// The torch version, or the error that names the fix.
    pub fn require_torch(&self) -> Result<&str, TorchError> {
        match &self.hello.torch {
            Some(v) => Ok(v),
            None => Err(TorchError::NoTorch {
                python: self.path.clone(),
                version: self.hello.python.clone(),
                reason: self
                    .hello
                    .torch_error
                    .clone()
                    .unwrap_or_else(|| "unknown error".into()),
                fix: FIX_TORCH.into(),
            }),
        }
    }

    pub fn require_torchvision(&self) -> Result<&str, TorchError> {
        let torch = self.require_torch()?;
        match &self.hello.torchvision {
            Some(v) => Ok(v),
            None => Err(TorchError::NoTorchvision {
                python: self.path.clone(),
                torch: torch.into(),
                reason: self
                    .hello
                    .torchvision_error
                    .clone()
                    .unwrap_or_else(|| "unknown error".into()),
            }),
        }
    }
}

static FLAG: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Records `--python PATH` (set once at start-up; later calls are ignored).
pub fn set_python(path: Option<PathBuf>) {
    let _ = FLAG.set(path);
}

/// The `--python` flag, if one was given.
pub fn python_flag() -> Option<PathBuf> {
    FLAG.get().cloned().flatten()
}

type Cache = Mutex<HashMap<String, Result<PythonInfo, TorchError>>>;

/// Finds and probes the Python to use; the answer is cached for the life of the process.
pub fn discover() -> Result<PythonInfo, TorchError> {
    discover_with(python_flag().as_deref())
}

/// As [`discover`], with an explicit `--python` value instead of the global one.
pub fn discover_with(flag: Option<&Path>) -> Result<PythonInfo, TorchError> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let env = std::env::var_os("EDGEBENCH_PYTHON").filter(|v| !v.is_empty());
    let key = format!(
        "{:?}|{:?}|{:?}",
        flag,
        env,
        std::env::var_os("PATH").unwrap_or_default()
    );
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(c) = cache.lock() {
        if let Some(r) = c.get(&key) {
            return r.clone();
        }
    }
    let result = find(flag, env.as_deref().map(Path::new));
    if let Ok(mut c) = cache.lock() {
        c.insert(key, result.clone());
    }
    result
}

fn find(flag: Option<&Path>, env: Option<&Path>) -> Result<PythonInfo, TorchError> {
    if let Some(p) = flag {
        return probe_named(p, Origin::Flag);
    }
    if let Some(p) = env {
        return probe_named(p, Origin::Env);
    }
    let on_path = which("python3");
    let system = Path::new("/usr/bin/python3");
    let mut candidates: Vec<(PathBuf, Origin)> = vec![];
    if let Some(p) = &on_path {
        candidates.push((p.clone(), Origin::Path));
    }
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    };
    if system.is_file() && !on_path.as_deref().is_some_and(|p| same(p, system)) {
        candidates.push((system.to_owned(), Origin::System));
    }
    if candidates.is_empty() {
        return Err(TorchError::PythonNotFound {
            what: "python3 is not on PATH".into(),
            fix: format!("install Python 3 with PyTorch ({FIX_TORCH})"),
        });
    }
    let mut first: Option<Result<PythonInfo, TorchError>> = None;
    for (path, origin) in candidates {
        let r = probe(&path, origin);
        if matches!(&r, Ok(info) if info.hello.torch.is_some()) {
            return r;
        }
        first.get_or_insert(r);
    }
    // None has torch: report the first, which is what the user would expect to run.
    first.unwrap_or_else(|| {
        Err(TorchError::PythonNotFound {
            what: "no usable python3".into(),
            fix: FIX_TORCH.into(),
        })
    })
}

/// A Python named by the flag or the variable: a path, or a bare name looked up on PATH.
fn probe_named(p: &Path, origin: Origin) -> Result<PythonInfo, TorchError> {
    let has_sep = p.components().count() > 1 || p.is_absolute();
    let path = if has_sep {
        if !p.exists() {
            return Err(TorchError::PythonNotFound {
                what: format!("{} {} does not exist", origin.describe(), p.display()),
                fix: "give the path of a Python 3 executable that has torch (e.g. --python /usr/bin/python3)".into(),
            });
        }
        if p.is_dir() {
            return Err(TorchError::PythonNotFound {
                what: format!("{} {} is a directory", origin.describe(), p.display()),
                fix: "give the Python executable itself, e.g. .venv/bin/python3".into(),
            });
        }
        p.to_owned()
    } else {
        match which(&p.to_string_lossy()) {
            Some(found) => found,
            None => {
                return Err(TorchError::PythonNotFound {
                    what: format!("{} {} is not on PATH", origin.describe(), p.display()),
                    fix: "give a full path, e.g. --python /usr/bin/python3".into(),
                })
            }
        }
    };
    probe(&path, origin)
}

fn probe(path: &Path, origin: Origin) -> Result<PythonInfo, TorchError> {
    let worker = Worker::start(path, true, Timeouts::from_env())?;
    Ok(PythonInfo {
        path: path.to_owned(),
        origin,
        hello: worker.hello.clone(),
    })
}

/// The first executable file called `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}
