//! Clips: what the model's input asks for (a clip of T frames or one image), the sliding
//! window that turns a frame stream into clips every `stride` frames, and the layout of a
//! clip in the input tensor.
//!
//! Clip `k` holds frames `k * stride ..= k * stride + T - 1`; a stream of `n` frames gives
//! `(n - T) / stride + 1` clips when `n >= T`, none otherwise.

use crate::error::{Result, VideoError};
use edgebench_core::tensor::{shape_string, ConcreteSpec, DType, HostTensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Where time and channels sit in the model's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// N x C x T x H x W: torchvision's video models.
    Ncthw,
    /// N x T x C x H x W.
    Ntchw,
    /// N x C x H x W: image models, run frame by frame (T = 1).
    Nchw,
}

/// How frames map onto the model's single input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPlan {
    pub input: String,
    pub shape: Vec<usize>,
    pub layout: Layout,
    /// Frames per clip (T); 1 for image models.
    pub frames: usize,
    pub height: usize,
    pub width: usize,
}

impl ModelPlan {
    /// Reads the plan from the model's resolved inputs: exactly one float32 input of shape
    /// 1 x 3 x T x H x W, 1 x T x 3 x H x W or 1 x 3 x H x W.
    pub fn from_inputs(inputs: &[ConcreteSpec]) -> Result<ModelPlan> {
        let [input] = inputs else {
            return Err(VideoError::TooManyInputs {
                count: inputs.len(),
                names: inputs
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let unsupported = || VideoError::UnsupportedModelInput {
            input: input.name.clone(),
            shape: format!("{} ({})", shape_string(&input.shape), input.dtype),
        };
        if input.dtype != DType::F32 {
            return Err(unsupported());
        }
        let s = &input.shape;
        let (layout, frames, height, width) = match s.as_slice() {
            [1, 3, t, h, w] => (Layout::Ncthw, *t, *h, *w),
            [1, t, 3, h, w] => (Layout::Ntchw, *t, *h, *w),
            [1, 3, h, w] => (Layout::Nchw, 1, *h, *w),
            _ => return Err(unsupported()),
        };
        Ok(ModelPlan {
            input: input.name.clone(),
            shape: s.clone(),
            layout,
            frames,
            height,
            width,
        })
    }

    /// Buffers of the pipeline whose size comes from the model's input and the source's
    /// frame size, for the run's memory check (`edgebench_core::memory`): source frames
    /// (one being decoded, one being preprocessed), the clip's preprocessed frames and the
    /// next one, and the clips waiting in the queue or being assembled. The input tensor
    /// the engine gets, and the warm-up's, are counted by the check itself.
    pub fn buffers(
        &self,
        frame_w: u32,
        frame_h: u32,
        queue_depth: usize,
    ) -> Result<Vec<(String, u64)>> {
        let input = edgebench_core::memory::tensor_bytes(&self.input, &self.shape, DType::F32)?;
        let frame = (frame_w as u64)
            .saturating_mul(frame_h as u64)
            .saturating_mul(3);
        let preprocessed = input / self.frames.max(1) as u64;
        let clips = queue_depth.saturating_add(1) as u64;
        let human = edgebench_core::memory::human;
        Ok(vec![
            (
                format!("source frames {frame_w}x{frame_h} {} x2", human(frame)),
                frame.saturating_mul(2),
            ),
            (
                format!(
                    "preprocessed frames {} x{}",
                    human(preprocessed),
                    self.frames + 1
                ),
                preprocessed.saturating_mul(self.frames as u64 + 1),
            ),
            (
                format!("clips in the queue {} x{clips}", human(input)),
                input.saturating_mul(clips),
            ),
        ])
    }

    pub fn is_video(&self) -> bool {
        self.layout != Layout::Nchw
    }

    /// Builds the input tensor from `frames` preprocessed frames, each planar 3 x H x W.
    pub fn tensor<F: AsRef<[f32]>>(&self, frames: &[F]) -> HostTensor {
        let plane = self.height * self.width;
        let mut data = Vec::with_capacity(3 * plane * frames.len());
        match self.layout {
            Layout::Ncthw => {
                for c in 0..3 {
                    for f in frames {
                        data.extend_from_slice(&f.as_ref()[c * plane..(c + 1) * plane]);
                    }
                }
            }
            Layout::Ntchw | Layout::Nchw => {
                for f in frames {
                    data.extend_from_slice(f.as_ref());
                }
            }
        }
        HostTensor {
            name: self.input.clone(),
            shape: self.shape.clone(),
            data: TensorData::F32(data),
        }
    }
}

/// One clip's place in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipWindow {
    pub index: u64,
    pub first_frame: u64,
    pub last_frame: u64,
}

/// Clip `k` of a window of `t` frames moved by `stride`.
pub fn clip_window(k: u64, t: usize, stride: usize) -> ClipWindow {
    let first = k * stride as u64;
    ClipWindow {
        index: k,
        first_frame: first,
        last_frame: first + t as u64 - 1,
    }
}

/// Number of complete clips in `frames` frames.
pub fn clip_count(frames: u64, t: usize, stride: usize) -> u64 {
    if frames < t as u64 {
        0
    } else {
        (frames - t as u64) / stride as u64 + 1
    }
}

/// The sliding window: push frames in stream order, get a clip each time one is complete.
/// Holds at most `t` frames.
#[derive(Debug)]
pub struct ClipAssembler<F> {
    t: usize,
    stride: usize,
    held: VecDeque<F>,
    pushed: u64,
    next: ClipWindow,
}

impl<F: Clone> ClipAssembler<F> {
    /// `t` and `stride` must be at least 1.
    pub fn new(t: usize, stride: usize) -> ClipAssembler<F> {
        let (t, stride) = (t.max(1), stride.max(1));
        ClipAssembler {
            t,
            stride,
            held: VecDeque::with_capacity(t),
            pushed: 0,
            next: clip_window(0, t, stride),
        }
    }

    /// Adds the next frame; returns the clip it completes, frames in order.
    pub fn push(&mut self, frame: F) -> Option<(ClipWindow, Vec<F>)> {
        let index = self.pushed;
        self.pushed += 1;
        if self.held.len() == self.t {
            self.held.pop_front();
        }
        self.held.push_back(frame);
        if index != self.next.last_frame {
            return None;
        }
        let clip = self.next;
        self.next = clip_window(clip.index + 1, self.t, self.stride);
        Some((clip, self.held.iter().cloned().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(shape: &[usize], dtype: DType) -> ConcreteSpec {
        ConcreteSpec {
            name: "x".into(),
            dtype,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn reads_layouts() {
        let p = ModelPlan::from_inputs(&[spec(&[1, 3, 16, 112, 112], DType::F32)]).unwrap();
        assert_eq!(
            (p.layout, p.frames, p.height, p.width),
            (Layout::Ncthw, 16, 112, 112)
        );
        let p = ModelPlan::from_inputs(&[spec(&[1, 8, 3, 64, 96], DType::F32)]).unwrap();
        assert_eq!(
            (p.layout, p.frames, p.height, p.width),
            (Layout::Ntchw, 8, 64, 96)
        );
        let p = ModelPlan::from_inputs(&[spec(&[1, 3, 224, 224], DType::F32)]).unwrap();
        assert_eq!((p.layout, p.frames), (Layout::Nchw, 1));
        for bad in [
            &[1usize, 10][..],
            &[1, 1, 224, 224],
            &[2, 3, 224, 224],
            &[1, 4, 8, 8, 8],
        ] {
            let e = ModelPlan::from_inputs(&[spec(bad, DType::F32)])
                .unwrap_err()
                .to_string();
            assert!(e.contains("`x`") && e.contains(&shape_string(bad)), "{e}");
        }
        assert!(ModelPlan::from_inputs(&[spec(&[1, 3, 8, 8], DType::U8)]).is_err());
        let e = ModelPlan::from_inputs(&[spec(&[1, 3, 8, 8], DType::F32), spec(&[1], DType::F32)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 inputs"), "{e}");
    }

    #[test]
    fn buffers_count_frames_clip_length_resolution_and_queue() {
        let p = ModelPlan::from_inputs(&[spec(&[1, 3, 16, 112, 112], DType::F32)]).unwrap();
        let b = p.buffers(320, 240, 2).unwrap();
        let clip = 3 * 16 * 112 * 112 * 4u64;
        let bytes: Vec<u64> = b.iter().map(|x| x.1).collect();
        // two source frames, T + 1 preprocessed frames, queue depth + 1 clips
        assert_eq!(bytes, [2 * 320 * 240 * 3, clip / 16 * 17, clip * 3]);
        let huge = ModelPlan::from_inputs(&[spec(&[1, 3, 1 << 31, 1 << 31, 1 << 31], DType::F32)]);
        let e = huge.unwrap().buffers(64, 48, 1).unwrap_err().to_string();
        assert!(e.contains("64 bits"), "{e}");
    }

    #[test]
    fn layouts_place_channels_and_time() {
        // 2 frames of 3 x 1 x 2: frame f, channel c, pixel p has value 100 f + 10 c + p.
        let frames: Vec<Vec<f32>> = (0..2)
            .map(|f| {
                (0..6)
                    .map(|i| (100 * f + 10 * (i / 2) + i % 2) as f32)
                    .collect()
            })
            .collect();
        let mut p = ModelPlan::from_inputs(&[spec(&[1, 3, 2, 1, 2], DType::F32)]).unwrap();
        let TensorData::F32(v) = p.tensor(&frames).data else {
            unreachable!()
        };
        assert_eq!(
            v,
            [0., 1., 100., 101., 10., 11., 110., 111., 20., 21., 120., 121.]
        );
        p.layout = Layout::Ntchw;
        let TensorData::F32(v) = p.tensor(&frames).data else {
            unreachable!()
        };
        assert_eq!(&v[..7], &[0., 1., 10., 11., 20., 21., 100.]);
    }

    #[test]
    fn stride_arithmetic() {
        assert_eq!(clip_count(15, 16, 8), 0);
        assert_eq!(clip_count(16, 16, 8), 1);
        assert_eq!(clip_count(23, 16, 8), 1);
        assert_eq!(clip_count(24, 16, 8), 2);
        assert_eq!(clip_count(300, 16, 16), 18);
        assert_eq!(clip_count(10, 1, 1), 10);
        assert_eq!(clip_count(10, 2, 5), 2);
        assert_eq!(
            clip_window(3, 16, 4),
            ClipWindow {
                index: 3,
                first_frame: 12,
                last_frame: 27
            }
        );
    }

    #[test]
    fn assembler_emits_every_stride_frames() {
        for (t, stride, n) in [
            (4usize, 2usize, 11u64),
            (4, 4, 12),
            (3, 5, 20),
            (1, 1, 5),
            (16, 8, 40),
        ] {
            let mut a = ClipAssembler::new(t, stride);
            let mut clips = vec![];
            for i in 0..n {
                if let Some((w, frames)) = a.push(i) {
                    assert_eq!(frames, (w.first_frame..=w.last_frame).collect::<Vec<_>>());
                    assert_eq!(w.last_frame, i);
                    clips.push(w);
                }
            }
            assert_eq!(
                clips.len() as u64,
                clip_count(n, t, stride),
                "t={t} stride={stride}"
            );
            for (k, w) in clips.iter().enumerate() {
                assert_eq!(*w, clip_window(k as u64, t, stride));
            }
        }
    }
}
