//! Number formatting shared by every view: `edgebench_core::fmt`, the one home of these rules
//! (the video pipeline's tables use them too).

pub use edgebench_core::fmt::{bytes, ms, si, sig};
