//! The runs `edgebench compare` reads: a study folder (or its `results.jsonl`), or a JSON file
//! from `bench --export-json`, as their variants by [`edgebench_core::change::variant_key`];
//! [`edgebench_core::change::compare`] judges them.

use crate::{results, Error, Result};
use edgebench_core::change::{bench_variants, variant_key};
use edgebench_core::schema::{BenchReport, VariantResult};
use std::path::Path;

/// The measured variants of a study (its interleaved rounds merged into one entry per
/// variant) or of a bench file, by key. An error names the path and says what to give.
pub fn load(p: &Path) -> Result<Vec<(String, VariantResult)>> {
    let file = if p.is_dir() {
        p.join(results::RESULTS_FILE)
    } else {
        p.to_path_buf()
    };
    if !file.is_file() {
        return Err(Error::Invalid(format!(
            "{}: not a study folder (no results.jsonl) or a bench JSON file; check the path",
            p.display()
        )));
    }
    if file.extension().is_some_and(|e| e == "jsonl") {
        let loaded = results::load(&file)?;
        // A fleet's variants are per device: the device is part of the key, so that a variant
        // is only ever compared with itself on the same device.
        let fleet = edgebench_core::analysis::fleet::devices(&loaded).len() > 1;
        return Ok(edgebench_core::analysis::merged_variants(&loaded)
            .into_iter()
            .map(|m| {
                let key = variant_key(&m.model.label, m.batch, &m.spec);
                match m.device.as_deref().filter(|_| fleet) {
                    Some(device) => (format!("{device}: {key}"), m.result),
                    None => (key, m.result),
                }
            })
            .collect());
    }
    let bytes = std::fs::read(&file)
        .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", file.display())))?;
    let report: BenchReport = serde_json::from_slice(&bytes).map_err(|e| {
        Error::Invalid(format!(
            "{} is not a bench JSON file ({e}): give a study folder or a file from `edgebench bench --export-json`",
            file.display()
        ))
    })?;
    Ok(bench_variants(report))
}
