//! The real-time rule: the one definition `bench`, the study and the video pipeline use.
//!
//! A model keeps up with a camera of `target_fps` frames per second when one inference takes
//! no longer than the frames it consumes take to arrive:
//!
//! ```text
//! deadline_ms = 1000 x frames_per_inference / target_fps
//! ```
//!
//! How many new frames one inference consumes ([`frames_per_inference`]):
//!
//! - an image model: one frame per batch item;
//! - a video model, recognized by its first input of rank 5, `(N, C, T, H, W)`: one clip of
//!   `T` frames per batch item, where consecutive clips start `stride` frames apart, so each
//!   clip brings `stride` new frames. The stride defaults to `T` (clips that do not overlap,
//!   as `edgebench video` cuts them by default and as clip-level accuracy is usually
//!   reported); a study sets it with `realtime.clip_stride`, `edgebench video` with `--stride`.
//!
//! The verdict ([`judge`]): it meets the target when the median latency is within the
//! deadline; the miss share is the share of samples over it.

use crate::schema::Realtime;
use crate::tensor::ConcreteSpec;

/// The frame rate a model must keep up with unless told otherwise (a common camera rate).
pub const DEFAULT_TARGET_FPS: f64 = 30.0;

/// Frames in one clip of a video model: `T` of its first input when that input has rank 5
/// `(N, C, T, H, W)`; `None` for any other model.
pub fn clip_length(inputs: &[ConcreteSpec]) -> Option<usize> {
    inputs
        .first()
        .filter(|i| i.shape.len() == 5)
        .map(|i| i.shape[2])
}

/// New frames one inference of `batch` items consumes: `batch` for an image model,
/// `batch x stride` for a video model, the stride being `clip_stride` or else the clip
/// length. At least 1.
pub fn frames_per_inference(
    inputs: &[ConcreteSpec],
    batch: usize,
    clip_stride: Option<usize>,
) -> usize {
    let per_item = match clip_length(inputs) {
        Some(t) => clip_stride.unwrap_or(t),
        None => 1,
    };
    per_item.max(1) * batch.max(1)
}

/// The time `frames` frames take to arrive at `target_fps`, in ms: one inference's budget.
pub fn deadline_ms(target_fps: f64, frames: usize) -> f64 {
    1e3 * frames as f64 / target_fps
}

/// The real-time verdict over one variant's latency samples (ms per inference). `None` when
/// there are no samples or the target is not a positive frame rate.
pub fn judge(samples_ms: &[f64], target_fps: f64, frames_per_inference: usize) -> Option<Realtime> {
    if samples_ms.is_empty() || !(target_fps.is_finite() && target_fps > 0.0) {
        return None;
    }
    let frames = frames_per_inference.max(1);
    let deadline_ms = deadline_ms(target_fps, frames);
    let median = crate::stats::median(samples_ms);
    let misses = samples_ms.iter().filter(|&&x| x > deadline_ms).count();
    Some(Realtime {
        target_fps,
        frames_per_inference: frames,
        deadline_ms,
        meets: median <= deadline_ms,
        miss_share: misses as f64 / samples_ms.len() as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::DType;

    fn input(shape: &[usize]) -> Vec<ConcreteSpec> {
        vec![ConcreteSpec {
            name: "input".into(),
            dtype: DType::F32,
            shape: shape.to_vec(),
        }]
    }

    #[test]
    fn images_consume_a_frame_per_item_and_clips_their_stride() {
        assert_eq!(frames_per_inference(&input(&[1, 3, 224, 224]), 1, None), 1);
        assert_eq!(
            frames_per_inference(&input(&[4, 3, 224, 224]), 4, Some(8)),
            4
        );
        // r3d_18: 16-frame clips that do not overlap, unless a stride is given.
        let clip = input(&[1, 3, 16, 112, 112]);
        assert_eq!(clip_length(&clip), Some(16));
        assert_eq!(frames_per_inference(&clip, 1, None), 16);
        assert_eq!(frames_per_inference(&clip, 2, None), 32);
        assert_eq!(frames_per_inference(&clip, 1, Some(4)), 4);
        assert_eq!(frames_per_inference(&clip, 0, Some(0)), 1);
    }

    #[test]
    fn the_verdict_compares_the_median_with_the_frames_arrival_time() {
        // 16 frames at 32 fps arrive in 500 ms.
        let rt = judge(&[400.0, 450.0, 600.0, 490.0], 32.0, 16).unwrap();
        assert_eq!(rt.deadline_ms, 500.0);
        assert_eq!(rt.frames_per_inference, 16);
        assert!(rt.meets);
        assert_eq!(rt.miss_share, 0.25);
        // The same samples, one frame per inference: 31.25 ms, every sample misses.
        let rt = judge(&[400.0, 450.0, 600.0, 490.0], 32.0, 1).unwrap();
        assert!(!rt.meets);
        assert_eq!(rt.miss_share, 1.0);
        assert_eq!(judge(&[], 30.0, 1), None);
        assert_eq!(judge(&[1.0], 0.0, 1), None);
    }
}
