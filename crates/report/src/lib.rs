//! Views of edgebench's result documents: terminal tables, CSV, Markdown, the study's HTML
//! page (a fleet's too: `fleet`, several devices side by side), and writing them into files
//! (`write`: a bench run's exports, a study folder's reports, atomically). Formatting only:
//! nothing here measures or decides.

pub mod bench_progress;
pub mod compare_view;
pub mod csv_export;
pub mod energy;
pub mod engines_view;
pub mod fleet;
pub mod fmt;
pub mod html;
pub mod inspect_view;
pub mod markdown;
pub mod roofline_chart;
pub mod scenario_view;
pub mod sensors_view;
pub mod study_csv;
pub mod study_md;
pub mod study_progress;
pub mod svg;
pub mod table;
pub mod tables;
pub mod write;

pub use write::{write_atomic, write_bench, write_study, BenchOutputs, PartialBench};
