//! Finding an engine's shared library at run time, the same way for every engine:
//! the command-line flag, then an environment variable, then the engine's Python package
//! (of the `python3` found on PATH), then the system library folders.
//!
//! Nothing here loads a library; it only says which file to load and why that one.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where to look for one library.
#[derive(Debug, Clone)]
pub struct LibSearch {
    /// The engine, for messages ("ort").
    pub engine: &'static str,
    /// The command-line flag that names the library ("--ort-lib").
    pub flag: &'static str,
    /// What the user gave with that flag.
    pub flag_value: Option<PathBuf>,
    /// The environment variable that names the library ("ORT_DYLIB_PATH").
    pub env_var: &'static str,
    /// The Python module whose folder holds the library ("onnxruntime").
    pub python_module: &'static str,
    /// The library's folder inside that module ("capi").
    pub python_subdir: &'static str,
    /// The file name, unversioned ("libonnxruntime.so"); versioned files
    /// (`libonnxruntime.so.1.24.4`) match too.
    pub file: &'static str,
    /// Extra system folders to look in after the usual ones.
    pub extra_dirs: &'static [&'static str],
}

/// Which rule found the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibSource {
    Flag(&'static str),
    Env(&'static str),
    Python { module: &'static str },
    System,
}

impl std::fmt::Display for LibSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LibSource::Flag(flag) => write!(f, "from {flag}"),
            LibSource::Env(var) => write!(f, "from ${var}"),
            LibSource::Python { module } => write!(f, "from the `{module}` Python package"),
            LibSource::System => f.write_str("from the system library folders"),
        }
    }
}

/// A library file and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub source: LibSource,
}

/// Why no library was found: a one-line reason (the fix is the engine's to give).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    pub reason: String,
}

/// What the search may consult; [`LibProbe::real`] for the real machine, other values in tests.
pub struct LibProbe<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The folder of a Python module, if the Python on PATH has it.
    pub python_module_dir: &'a dyn Fn(&str) -> Option<PathBuf>,
    pub system_dirs: Vec<PathBuf>,
}

impl LibProbe<'static> {
    pub fn real() -> LibProbe<'static> {
        let mut dirs: Vec<PathBuf> = std::env::var("LD_LIBRARY_PATH")
            .unwrap_or_default()
            .split(':')
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect();
        for d in [
            "/usr/local/lib",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/usr/lib",
        ] {
            dirs.push(d.into());
        }
        LibProbe {
            env: &|k| std::env::var(k).ok().filter(|v| !v.is_empty()),
            python_module_dir: &python_module_dir,
            system_dirs: dirs,
        }
    }
}

/// Runs the search. A path given by flag or environment variable that does not hold the
/// library is an error, never skipped: the user asked for that one.
pub fn find(s: &LibSearch, probe: &LibProbe<'_>) -> Result<Found, NotFound> {
    if let Some(p) = &s.flag_value {
        return in_path(p, s.file)
            .map(|path| Found {
                path,
                source: LibSource::Flag(s.flag),
            })
            .ok_or_else(|| NotFound {
                reason: format!("{} {}: no {} there", s.flag, p.display(), s.file),
            });
    }
    if let Some(v) = (probe.env)(s.env_var) {
        let p = PathBuf::from(&v);
        return in_path(&p, s.file)
            .map(|path| Found {
                path,
                source: LibSource::Env(s.env_var),
            })
            .ok_or_else(|| NotFound {
                reason: format!("${}={v}: no {} there", s.env_var, s.file),
            });
    }
    let python = (probe.python_module_dir)(s.python_module);
    if let Some(dir) = &python {
        if let Some(path) = in_dir(&dir.join(s.python_subdir), s.file) {
            return Ok(Found {
                path,
                source: LibSource::Python {
                    module: s.python_module,
                },
            });
        }
    }
    let extra = s.extra_dirs.iter().map(PathBuf::from);
    for dir in probe.system_dirs.iter().cloned().chain(extra) {
        if let Some(path) = in_dir(&dir, s.file) {
            return Ok(Found {
                path,
                source: LibSource::System,
            });
        }
    }
    let python_note = match python {
        Some(dir) => format!(
            "the `{}` Python package at {} has no {}",
            s.python_module,
            dir.display(),
            s.file
        ),
        None => format!("the python3 on PATH has no `{}` package", s.python_module),
    };
    Err(NotFound {
        reason: format!(
            "no {} found ({} not given, ${} not set, {python_note}, none in the system library folders)",
            s.file, s.flag, s.env_var
        ),
    })
}

/// The library at `p`: the file itself, or the library inside the folder `p`.
fn in_path(p: &Path, file: &str) -> Option<PathBuf> {
    if p.is_file() {
        Some(p.to_owned())
    } else if p.is_dir() {
        in_dir(p, file)
    } else {
        None
    }
}

/// `file` in `dir`, or its versioned name with the highest version.
pub fn in_dir(dir: &Path, file: &str) -> Option<PathBuf> {
    let exact = dir.join(file);
    if exact.is_file() {
        return Some(exact);
    }
    let prefix = format!("{file}.");
    let mut versioned: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix(&prefix)?;
            let version: Vec<u64> = rest.split('.').map(|p| p.parse().unwrap_or(0)).collect();
            e.path().is_file().then(|| (version, e.path()))
        })
        .collect();
    versioned.sort();
    versioned.pop().map(|(_, p)| p)
}

/// The folder of a Python package of the `python3` on PATH, found without importing it
/// (importing onnxruntime or openvino takes a second; locating them takes a few ms).
pub fn python_module_dir(module: &str) -> Option<PathBuf> {
    let script = "import importlib.util, sys\n\
                  s = importlib.util.find_spec(sys.argv[1])\n\
                  print(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')";
    let out = Command::new("python3")
        .args(["-c", script, module])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}

/// The version in a versioned library file name: `libonnxruntime.so.1.24.4` -> `1.24.4`.
pub fn version_from_file_name(path: &Path, file: &str) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let v = name.strip_prefix(file)?.strip_prefix('.')?;
    (!v.is_empty()).then(|| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(flag: Option<PathBuf>) -> LibSearch {
        LibSearch {
            engine: "ort",
            flag: "--ort-lib",
            flag_value: flag,
            env_var: "ORT_DYLIB_PATH",
            python_module: "onnxruntime",
            python_subdir: "capi",
            file: "libonnxruntime.so",
            extra_dirs: &[],
        }
    }

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    }

    #[test]
    fn order_is_flag_env_python_system() {
        let t = tempfile::tempdir().unwrap();
        let flag = t.path().join("flag/libonnxruntime.so.1.24.4");
        let env = t.path().join("env/libonnxruntime.so");
        let py = t.path().join("py/onnxruntime");
        let sys = t.path().join("sys");
        touch(&flag);
        touch(&env);
        touch(&py.join("capi/libonnxruntime.so.1.24.4"));
        touch(&sys.join("libonnxruntime.so.1.20.0"));
        let env_s = env.to_string_lossy().into_owned();
        let with_env = move |k: &str| (k == "ORT_DYLIB_PATH").then(|| env_s.clone());
        let py2 = py.clone();
        let with_py = move |_: &str| Some(py2.clone());
        let probe = LibProbe {
            env: &with_env,
            python_module_dir: &with_py,
            system_dirs: vec![sys.clone()],
        };
        let f = find(&search(Some(flag.clone())), &probe).unwrap();
        assert_eq!((f.path, f.source), (flag, LibSource::Flag("--ort-lib")));
        let f = find(&search(None), &probe).unwrap();
        assert_eq!((f.path, f.source), (env, LibSource::Env("ORT_DYLIB_PATH")));

        let no_env = |_: &str| None;
        let probe = LibProbe {
            env: &no_env,
            python_module_dir: &with_py,
            system_dirs: vec![sys.clone()],
        };
        let f = find(&search(None), &probe).unwrap();
        assert_eq!(f.path, py.join("capi/libonnxruntime.so.1.24.4"));
        assert_eq!(
            f.source.to_string(),
            "from the `onnxruntime` Python package"
        );

        let no_py = |_: &str| None;
        let probe = LibProbe {
            env: &no_env,
            python_module_dir: &no_py,
            system_dirs: vec![sys.clone()],
        };
        let f = find(&search(None), &probe).unwrap();
        assert_eq!(
            (f.path, f.source),
            (sys.join("libonnxruntime.so.1.20.0"), LibSource::System)
        );
    }

    #[test]
    fn a_named_path_that_is_wrong_is_an_error_not_skipped() {
        let t = tempfile::tempdir().unwrap();
        let sys = t.path().join("sys");
        touch(&sys.join("libonnxruntime.so"));
        let no = |_: &str| None;
        let no_py = |_: &str| None;
        let probe = LibProbe {
            env: &no,
            python_module_dir: &no_py,
            system_dirs: vec![sys],
        };
        let e = find(&search(Some("/nonexistent/lib.so".into())), &probe).unwrap_err();
        assert!(e.reason.contains("--ort-lib /nonexistent/lib.so"), "{e:?}");
        let nothing = LibProbe {
            env: &no,
            python_module_dir: &no_py,
            system_dirs: vec![t.path().join("empty")],
        };
        let e = find(&search(None), &nothing).unwrap_err();
        assert!(
            e.reason.contains("ORT_DYLIB_PATH") && e.reason.contains("onnxruntime"),
            "{e:?}"
        );
    }

    #[test]
    fn picks_the_highest_version_and_reads_it() {
        let t = tempfile::tempdir().unwrap();
        for v in ["1.9.0", "1.24.4", "1.24.10"] {
            touch(&t.path().join(format!("libonnxruntime.so.{v}")));
        }
        touch(&t.path().join("libonnxruntime_providers_shared.so"));
        let p = in_dir(t.path(), "libonnxruntime.so").unwrap();
        assert_eq!(
            version_from_file_name(&p, "libonnxruntime.so").as_deref(),
            Some("1.24.10")
        );
    }
}
