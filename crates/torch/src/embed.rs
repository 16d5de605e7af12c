//! The worker's Python source ships inside the binary and is written to a cache folder the
//! first time it is needed, so the binary stays self-contained.

use crate::error::TorchError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The files of the `edgebench_worker` package (python/edgebench_worker in the repository).
pub const FILES: &[(&str, &str)] = &[
    (
        "__init__.py",
        include_str!("../../../python/edgebench_worker/__init__.py"),
    ),
    (
        "__main__.py",
        include_str!("../../../python/edgebench_worker/__main__.py"),
    ),
    (
        "compat.py",
        include_str!("../../../python/edgebench_worker/compat.py"),
    ),
    (
        "models.py",
        include_str!("../../../python/edgebench_worker/models.py"),
    ),
    (
        "sources.py",
        include_str!("../../../python/edgebench_worker/sources.py"),
    ),
    (
        "timing.py",
        include_str!("../../../python/edgebench_worker/timing.py"),
    ),
    (
        "worker.py",
        include_str!("../../../python/edgebench_worker/worker.py"),
    ),
];

/// A short hash of the embedded sources: the cache folder's name, so that two edgebench
/// builds never run each other's worker.
pub fn source_hash() -> String {
    let mut h = Sha256::new();
    for (name, text) in FILES {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The cache root (`edgebench_core::cache::root`, shared with the measured roofs).
pub fn cache_root() -> PathBuf {
    edgebench_core::cache::root()
}

/// Writes the worker package (if the cache does not already hold exactly these files) and
/// returns the path of its `__main__.py`. Falls back to the temporary folder when the cache
/// cannot be written.
pub fn worker_main() -> Result<PathBuf, TorchError> {
    let name = format!("worker-{}", source_hash());
    let primary = cache_root().join(&name);
    match install(&primary) {
        Ok(p) => Ok(p),
        Err(first) => {
            let fallback = std::env::temp_dir().join("edgebench-cache").join(&name);
            install(&fallback).map_err(|_| first)
        }
    }
}

fn install(dir: &Path) -> Result<PathBuf, TorchError> {
    let pkg = dir.join("edgebench_worker");
    let main = pkg.join("__main__.py");
    let intact = FILES.iter().all(|(n, text)| {
        std::fs::read(pkg.join(n))
            .map(|b| b == text.as_bytes())
            .unwrap_or(false)
    });
    if intact {
        return Ok(main);
    }
    let werr = |path: &Path, e: std::io::Error| TorchError::Write {
        path: path.to_owned(),
        reason: format!("{e}; set EDGEBENCH_CACHE_DIR to a writable folder"),
    };
    std::fs::create_dir_all(dir).map_err(|e| werr(dir, e))?;
    // Write into a fresh folder, then rename it into place: a concurrent edgebench sees
    // either no package or a complete one.
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(dir)
        .map_err(|e| werr(dir, e))?;
    let staged_pkg = staging.path().join("edgebench_worker");
    std::fs::create_dir(&staged_pkg).map_err(|e| werr(&staged_pkg, e))?;
    for (n, text) in FILES {
        let p = staged_pkg.join(n);
        std::fs::write(&p, text).map_err(|e| werr(&p, e))?;
    }
    if pkg.exists() {
        // A stale or damaged copy: move it aside first (rename cannot replace a folder).
        let old = dir.join(format!(".old-{}", std::process::id()));
        let _ = std::fs::rename(&pkg, &old);
        let _ = std::fs::remove_dir_all(&old);
    }
    if let Err(e) = std::fs::rename(&staged_pkg, &pkg) {
        // Another process may have won the race with the same content.
        let intact = FILES.iter().all(|(n, text)| {
            std::fs::read(pkg.join(n))
                .map(|b| b == text.as_bytes())
                .unwrap_or(false)
        });
        if !intact {
            return Err(werr(&pkg, e));
        }
    }
    Ok(main)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_and_repairs_the_package() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("w");
        let main = install(&target).unwrap();
        assert!(main.ends_with("edgebench_worker/__main__.py"));
        assert_eq!(std::fs::read_to_string(&main).unwrap(), FILES[1].1);
        // A damaged copy is replaced.
        std::fs::write(main.with_file_name("timing.py"), "broken").unwrap();
        install(&target).unwrap();
        for (name, text) in FILES {
            assert_eq!(
                std::fs::read_to_string(main.with_file_name(name)).unwrap(),
                *text,
                "{name}"
            );
        }
    }

    #[test]
    fn hash_is_stable_and_short() {
        assert_eq!(source_hash(), source_hash());
        assert_eq!(source_hash().len(), 16);
    }
}
