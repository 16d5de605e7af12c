//! Atomic file writes (temporary file, then rename), shared with the engines through core.

pub use edgebench_core::write_file_atomic as write_atomic;
