//! Where edgebench keeps what it can rebuild: the PyTorch worker's package, quantized models,
//! measured roofs (`roofline`).

use std::path::PathBuf;

/// The cache root: `EDGEBENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/edgebench`, else
/// `~/.cache/edgebench`, else the system's temporary folder.
pub fn root() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("EDGEBENCH_CACHE_DIR") {
        return d;
    }
    if let Some(d) = env("XDG_CACHE_HOME") {
        return d.join("edgebench");
    }
    if let Some(h) = env("HOME") {
        return h.join(".cache").join("edgebench");
    }
    std::env::temp_dir().join("edgebench-cache")
}
