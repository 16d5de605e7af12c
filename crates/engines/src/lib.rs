//! The engines edgebench can drive, behind `edgebench_core::engine::Engine`.
//!
//! Each engine is one module. Heavy engines sit behind cargo features; one that was not
//! compiled in still appears in [`all`] and reports `Availability::NotCompiled`, so callers
//! never need `cfg`.

use edgebench_core::engine::{
    Availability, Engine, EngineSpec, PrepareOptions, Session, VariantInfo,
};
pub use edgebench_core::error::EngineError;

pub mod fp16;
pub mod libfind;
pub mod lowp;
#[cfg(feature = "openvino")]
pub mod openvino;
#[cfg(feature = "ort")]
pub mod ort;
pub mod proof;
pub mod tensorrt;
pub mod tract;
#[cfg(feature = "tract-cuda")]
pub mod tract_cuda;

/// Every engine this build knows, in the order `edgebench engines` lists them.
pub fn all() -> Vec<Box<dyn Engine>> {
    vec![
        // PyTorch first: the study's "before" side (a Python worker; see crates/torch).
        Box::new(edgebench_torch::Torch::default()),
        Box::new(tract::Tract),
        #[cfg(feature = "ort")]
        Box::new(ort::Ort),
        #[cfg(not(feature = "ort"))]
        Box::new(NotCompiled("ort")),
        #[cfg(feature = "openvino")]
        Box::new(openvino::OpenVino),
        #[cfg(not(feature = "openvino"))]
        Box::new(NotCompiled("openvino")),
        Box::new(tensorrt::TensorRt),
        #[cfg(feature = "tract-cuda")]
        Box::new(tract_cuda::TractCuda),
        #[cfg(not(feature = "tract-cuda"))]
        Box::new(NotCompiled("tract-cuda")),
    ]
}

/// Where an engine's library was found ("PATH (from ...)"), for engines that load one.
pub fn library(engine: &str) -> Option<String> {
    match engine {
        #[cfg(feature = "ort")]
        "ort" => ort::library(),
        #[cfg(feature = "openvino")]
        "openvino" => openvino::library(),
        _ => None,
    }
}

/// An engine left out of this build by its cargo feature: listed, never runnable.
#[allow(dead_code)]
struct NotCompiled(&'static str);

impl Engine for NotCompiled {
    fn name(&self) -> &'static str {
        self.0
    }
    fn availability(&self) -> Availability {
        Availability::NotCompiled {
            feature: self.0.into(),
        }
    }
    fn variants(&self) -> Vec<VariantInfo> {
        vec![]
    }
    fn validate(&self, _spec: &EngineSpec) -> edgebench_core::error::Result<()> {
        Ok(())
    }
    fn prepare(
        &self,
        _model: &edgebench_core::model::Model,
        spec: &EngineSpec,
        _opts: &PrepareOptions,
    ) -> edgebench_core::error::Result<Box<dyn Session>> {
        Err(edgebench_core::Error::EngineUnavailable {
            engine: spec.to_string(),
            reason: "not compiled into this build".into(),
            fix: Availability::not_compiled_fix(self.0),
        })
    }
}

/// Runs FFI-backed code that may panic (bindings that `expect` on a missing library or an
/// odd version string) and turns the panic into a one-line reason.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, EngineError> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    r.map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        EngineError::Panicked(edgebench_core::error::one_line(&msg))
    })
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

/// The engine of `spec`, once the spec is valid for it and it can run here; else the error
/// names what is missing and how to get it.
pub fn ready(spec: &EngineSpec) -> Result<Box<dyn Engine>, edgebench_core::Error> {
    let engine = find(&spec.engine)?;
    engine.validate(spec)?;
    match engine.availability_for(spec).refusal(&spec.to_string()) {
        Some(why) => Err(edgebench_core::Error::InvalidArgument(why)),
        None => Ok(engine),
    }
}

/// A variant to run and its engine.
pub type Variant = (EngineSpec, Box<dyn Engine>);

/// Every listed variant of every engine that can run here, PyTorch left out, with its
/// engine: what `pipeline` runs on the ONNX model when no `--engine` is named.
pub fn available_variants() -> Result<Vec<Variant>, edgebench_core::Error> {
    let mut out = vec![];
    for engine in all() {
        if engine.name() == "torch"
            || !matches!(engine.availability(), Availability::Available { .. })
        {
            continue;
        }
        for v in engine.variants() {
            let spec = EngineSpec::parse(&v.spec)?;
            if engine.validate(&spec).is_ok() {
                out.push((spec, find(engine.name())?));
            }
        }
    }
    Ok(out)
}

/// One engine as `edgebench engines` shows it (`--json`: an array of these).
#[derive(Debug, serde::Serialize)]
pub struct EngineListing {
    pub name: &'static str,
    /// `{"status": "available", "version", "devices"}`, `{"status": "unavailable", "reason",
    /// "fix"}` or `{"status": "not_compiled", "feature"}`.
    pub availability: Availability,
    /// The shared library in use and how it was found (engines that load one).
    pub library: Option<String>,
    /// The command that makes this engine available (None when it is).
    pub fix: Option<String>,
    pub variants: Vec<VariantInfo>,
}

/// Every engine of [`all`], whether it can run here and why not.
pub fn statuses() -> Vec<EngineListing> {
    all()
        .iter()
        .map(|e| {
            let availability = e.availability();
            let fix = availability.fix();
            EngineListing {
                name: e.name(),
                library: library(e.name()),
                availability,
                fix,
                variants: e.variants(),
            }
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_is_ready_only_when_its_engine_is_known_valid_and_here() {
        let spec = EngineSpec::parse("tract:optimized").unwrap();
        assert_eq!(ready(&spec).unwrap().name(), "tract");
        let unknown = EngineSpec::parse("nosuch").unwrap();
        match ready(&unknown) {
            Err(edgebench_core::Error::InvalidArgument(m)) => {
                assert!(m.contains("unknown engine") && m.contains("tract"), "{m}")
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("an unknown engine was ready"),
        }
    }

    #[test]
    fn statuses_list_every_engine_and_defaults_leave_torch_out() {
        let names: Vec<&str> = statuses().iter().map(|s| s.name).collect();
        let all_names: Vec<&str> = all().iter().map(|e| e.name()).collect();
        assert_eq!(names, all_names);
        let tract = statuses().into_iter().find(|s| s.name == "tract").unwrap();
        assert!(tract.fix.is_none() && !tract.variants.is_empty());
        let defaults: Vec<String> = available_variants()
            .unwrap()
            .iter()
            .map(|(s, _)| s.to_string())
            .collect();
        assert!(
            defaults.iter().any(|s| s == "tract:optimized"),
            "{defaults:?}"
        );
        assert!(!defaults.iter().any(|s| s.starts_with("torch")));
    }
}
