//! edgebench-video: from a video stream to a label, every stage measured.
//!
//! Data flow: [`source`] (ffmpeg subprocess, image folder or synthetic pattern: RGB24 frames)
//! -> [`preprocess`] (resize, center crop, normalize) -> [`clip`] (sliding window of T frames
//! every `stride` frames, laid out as the model's input) -> [`queue`] (drop oldest, queue, or
//! block) -> inference on any [`edgebench_core::engine::Session`] -> top-1 label
//! ([`run`], with the device's telemetry recorded over the run: [`energy`]) -> [`report`]
//! (per-stage statistics, paced figures, verdict, energy) -> [`export`] and [`view`].
//!
//! Invariants: nothing here prints; user input never panics; frames and clips are processed
//! in stream order; a run that ends early keeps everything measured before the failure.

pub mod calibration;
pub mod clip;
pub mod energy;
pub mod error;
pub mod export;
pub mod job;
pub mod preprocess;
pub mod queue;
pub mod report;
pub mod run;
pub mod source;
pub mod testclip;
pub mod view;

pub use error::VideoError;
