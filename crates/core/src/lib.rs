//! edgebench-core: everything between an ONNX file and a measured result, with no printing.
//!
//! Data flow: [`model::Model`] (intake and validation) -> [`inspect`] (counts) ->
//! [`engine::Engine::prepare`] -> [`measure::measure`] (warm-up and sampling) ->
//! [`stats::Summary`] -> [`schema`] (the versioned result document).

pub mod analysis;
pub mod bench;
pub mod cache;
pub mod change;
pub mod engine;
pub mod error;
pub mod fixtures;
pub mod fmt;
pub mod gate;
pub mod host;
pub mod inputs;
pub mod inspect;
pub mod measure;
pub mod memory;
pub mod model;
pub mod precision;
pub mod process;
pub mod race;
pub mod realtime;
pub mod roofline;
pub mod scenario;
pub mod schema;
pub mod stats;
pub mod tensor;
pub mod testing;
pub mod testmodel;
pub mod tract_support;
pub mod write;

pub use edgebench_telemetry as telemetry;
pub use error::Error;
pub use write::write_atomic;

/// Version of the JSON result schema written by every export. Bump it on any breaking change.
/// 2: one `model` object in every document ([`schema::ModelInfo`]; `docs/schema.md`).
pub const SCHEMA_VERSION: u32 = 2;
