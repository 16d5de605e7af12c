//! Writing the views into files: atomic writes (temporary file, then rename, shared with the
//! engines through core), a bench run's exports and a study folder's reports.

use crate::{csv_export, html, markdown, study_csv, study_md};
use edgebench_core::schema::study::{Format, StudySummary};
use edgebench_core::schema::BenchReport;
pub use edgebench_core::write::write_atomic;
use edgebench_core::Error;
use std::path::{Path, PathBuf};

/// The files a bench (or pipeline) run is exported to; `None`: not written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BenchOutputs {
    /// The whole document, raw samples included.
    pub json: Option<PathBuf>,
    /// One row per variant.
    pub csv: Option<PathBuf>,
    /// One Markdown table.
    pub markdown: Option<PathBuf>,
}

impl BenchOutputs {
    /// Whether any file is asked for.
    pub fn any(&self) -> bool {
        self.json.is_some() || self.csv.is_some() || self.markdown.is_some()
    }
}

/// Writes every export of `outputs` atomically; a failure is [`Error::Write`] naming the file.
pub fn write_bench(report: &BenchReport, outputs: &BenchOutputs) -> Result<(), Error> {
    if let Some(p) = &outputs.json {
        write_atomic(p, &to_json(report, p)?)?;
    }
    if let Some(p) = &outputs.csv {
        let csv = csv_export::bench_csv(report).map_err(|e| rendering(p, "CSV", e))?;
        write_atomic(p, csv.as_bytes())?;
    }
    if let Some(p) = &outputs.markdown {
        write_atomic(p, markdown::bench_markdown(report).as_bytes())?;
    }
    Ok(())
}

/// A bench run's exports rewritten after each round, so that an interrupted run keeps what it
/// measured: [`PartialBench::write`] puts the results so far into `report` and writes them
/// (nothing while every variant failed, and nothing more after the first failure, which
/// [`PartialBench::finish`] returns).
pub struct PartialBench<'a> {
    report: &'a BenchReport,
    outputs: &'a BenchOutputs,
    error: Option<Error>,
}

impl<'a> PartialBench<'a> {
    pub fn new(report: &'a BenchReport, outputs: &'a BenchOutputs) -> Self {
        PartialBench {
            report,
            outputs,
            error: None,
        }
    }

    pub fn write(&mut self, results: &[edgebench_core::schema::VariantResult]) {
        use edgebench_core::schema::Status;
        if self.error.is_some() || results.iter().all(|r| r.status == Status::Failed) {
            return;
        }
        let mut partial = self.report.clone();
        partial.results = results.to_vec();
        if let Err(e) = write_bench(&partial, self.outputs) {
            self.error = Some(e);
        }
    }

    /// The first failure to write, if any.
    pub fn finish(self) -> Result<(), Error> {
        self.error.map_or(Ok(()), Err)
    }
}

/// Writes into study folder `dir` the report files its config asks for
/// (`[output] formats`), each atomically, and returns their paths in that order.
pub fn write_study(dir: &Path, s: &StudySummary) -> Result<Vec<PathBuf>, Error> {
    let mut written = vec![];
    for f in &s.config.output.formats {
        let p = dir.join(f.file());
        let bytes = match f {
            Format::Json => to_json(s, &p)?,
            Format::Csv => study_csv::render(s)
                .map_err(|e| rendering(&p, "CSV", e))?
                .into_bytes(),
            Format::Md => study_md::render(s).into_bytes(),
            Format::Html => html::render(s).into_bytes(),
        };
        write_atomic(&p, &bytes)?;
        written.push(p);
    }
    Ok(written)
}

fn to_json<T: serde::Serialize>(doc: &T, path: &Path) -> Result<Vec<u8>, Error> {
    serde_json::to_vec_pretty(doc).map_err(|e| rendering(path, "JSON", e))
}

fn rendering(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Write {
        path: path.to_owned(),
        reason: format!("rendering {what}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> StudySummary {
        edgebench_core::analysis::analyse(&edgebench_core::fixtures::known_answers()).unwrap()
    }

    #[test]
    fn a_study_writes_the_formats_its_config_asks_for_in_order() {
        let mut s = summary();
        s.config.output.formats = vec![Format::Md, Format::Json];
        let dir = tempfile::tempdir().unwrap();
        let written = write_study(dir.path(), &s).unwrap();
        assert_eq!(
            written,
            vec![
                dir.path().join("report.md"),
                dir.path().join("summary.json")
            ]
        );
        let back: StudySummary =
            serde_json::from_slice(&std::fs::read(&written[1]).unwrap()).unwrap();
        assert_eq!(back.config.name, s.config.name);
        assert_eq!(
            std::fs::read_to_string(&written[0]).unwrap(),
            study_md::render(&s)
        );
        assert!(!dir.path().join("report.html").exists());
    }

    #[test]
    fn the_known_study_has_one_gate_failure_and_nothing_else_uncounted() {
        let counts = summary().failure_counts();
        assert_eq!(
            counts,
            edgebench_core::schema::study::FailureCounts {
                failed: 0,
                gate_failed: 1,
                unverified: 0
            }
        );
        assert!(counts.any());
        assert!(!edgebench_core::schema::study::FailureCounts::default().any());
    }

    #[test]
    fn a_study_folder_that_cannot_be_written_is_a_write_error_naming_the_file() {
        let s = summary();
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-folder");
        match write_study(&missing, &s) {
            Err(Error::Write { path, .. }) => assert!(path.starts_with(&missing)),
            other => panic!("expected a write error, got {other:?}"),
        }
    }

    #[test]
    fn bench_exports_go_only_where_asked() {
        let dir = tempfile::tempdir().unwrap();
        let report = crate::table::tests::report([None, None]);
        let outputs = BenchOutputs {
            csv: Some(dir.path().join("r.csv")),
            ..Default::default()
        };
        assert!(outputs.any());
        write_bench(&report, &outputs).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("r.csv")).unwrap(),
            csv_export::bench_csv(&report).unwrap()
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(!BenchOutputs::default().any());
    }
}
