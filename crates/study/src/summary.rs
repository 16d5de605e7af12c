//! A study folder's summary rebuilt from its `results.jsonl` alone, as `edgebench report`
//! shows and writes it (and `report --markdown` tabulates it).

use crate::{results, Error, Result};
use edgebench_core::schema::study::{Loaded, StudySummary};
use std::path::{Path, PathBuf};

/// The results file of study folder `dir`; an error when there is none (checked before
/// anything takes the folder's lock, which would create files in it).
pub fn results_in(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(results::RESULTS_FILE);
    if !path.is_file() {
        return Err(Error::Invalid(format!(
            "{} has no results.jsonl: give a folder written by `edgebench study`",
            dir.display()
        )));
    }
    Ok(path)
}

/// The analysis of results file `path`, and whether its last line was torn (an interrupted
/// write, ignored).
pub fn rebuild(path: &Path) -> Result<(StudySummary, bool)> {
    let loaded = results::load(path)?;
    Ok((analyse(&loaded, path)?, loaded.torn))
}

/// The analysis of `loaded`, the contents of results file `path` (named in the error when it
/// holds no session line).
pub fn analyse(loaded: &Loaded, path: &Path) -> Result<StudySummary> {
    edgebench_core::analysis::analyse(loaded).ok_or_else(|| {
        Error::Invalid(format!(
            "{} holds no study session line: it was not written by `edgebench study`",
            path.display()
        ))
    })
}

/// What `edgebench report DIR` did: the summary rebuilt from the folder's results file, the
/// report files written into the folder, and whether the results' last line was torn (an
/// interrupted write, ignored).
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub summary: StudySummary,
    pub results: PathBuf,
    pub torn: bool,
    pub written: Vec<PathBuf>,
}

/// Rebuilds study folder `dir`'s summary from its `results.jsonl` alone and rewrites the
/// reports its config asks for, under the folder's lock (not while a study writes it).
pub fn report(dir: &Path) -> Result<Rebuilt> {
    let results = results_in(dir)?;
    let lock = crate::lock::StudyLock::acquire(dir, "edgebench report")?;
    let (summary, torn) = rebuild(&results)?;
    let written = edgebench_report::write_study(dir, &summary)?;
    drop(lock);
    Ok(Rebuilt {
        summary,
        results,
        torn,
        written,
    })
}
