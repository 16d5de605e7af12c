//! The engines edgebench can drive, behind `edgebench_core::engine::Engine`.
//!
//! Each engine is one module. Heavy engines sit behind cargo features; one that was not
//! compiled in still appears in [`all`] and reports `Availability::NotCompiled`, so callers
//! never need `cfg`.

use edgebench_core::engine::Engine;

pub mod tract;

/// Every engine this build knows, in the order `edgebench engines` lists them.
pub fn all() -> Vec<Box<dyn Engine>> {
    vec![Box::new(tract::Tract)]
}

/// The engine called `name`, or an error that lists the valid names.
pub fn find(name: &str) -> Result<Box<dyn Engine>, edgebench_core::Error> {
    let mut engines = all();
    match engines.iter().position(|e| e.name() == name) {
        Some(i) => Ok(engines.swap_remove(i)),
        None => Err(edgebench_core::Error::InvalidArgument(format!(
            "--engine {name}: unknown engine; valid engines: {} (see `edgebench engines`)",
            engines
                .iter()
                .map(|e| e.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Where to find engine libraries, from the command line (`--ort-lib`, `--openvino-lib`).
/// Set once at start-up, before any engine is asked about its availability.
#[derive(Debug, Clone, Default)]
pub struct LibraryPaths {
    pub ort: Option<std::path::PathBuf>,
    pub openvino: Option<std::path::PathBuf>,
}

static LIBRARY_PATHS: std::sync::OnceLock<LibraryPaths> = std::sync::OnceLock::new();

/// Records the user's library paths; later calls are ignored.
pub fn set_library_paths(paths: LibraryPaths) {
    let _ = LIBRARY_PATHS.set(paths);
}

/// The user's library paths (empty when none were given).
pub fn library_paths() -> LibraryPaths {
    LIBRARY_PATHS.get().cloned().unwrap_or_default()
}
