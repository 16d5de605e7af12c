//! Where a model comes from: a path, or `zoo:NAME[?classes=N&batch=N&seed=N]`.

use anyhow::{bail, Result};
use edgebench_core::model::Model;
use std::path::Path;

/// Options that apply to zoo models given as flags rather than in the `zoo:` query.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZooFlags {
    pub classes: Option<usize>,
    pub batch: Option<usize>,
}

/// Loads and validates a model.
pub fn load(arg: &str, flags: ZooFlags) -> Result<Model> {
    if let Some(rest) = arg.strip_prefix("zoo:") {
        let mut spec = edgebench_zoo::ZooSpec::parse(rest)?;
        if spec.classes.is_none() {
            spec.classes = flags.classes;
        }
        if spec.batch.is_none() {
            spec.batch = flags.batch;
        }
        let bytes = edgebench_zoo::build_bytes(&spec)?;
        return Ok(Model::from_bytes(arg, bytes)?);
    }
    if flags.classes.is_some() {
        bail!("--classes applies to zoo models only (zoo:NAME); {arg} is a file: export it with the number of classes you need");
    }
    Ok(Model::from_path(Path::new(arg))?)
}
