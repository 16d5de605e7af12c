//! The pipeline: a frame thread (decode, pacing, preprocess, clip assembly) and the calling
//! thread (inference and postprocessing), joined by a [`ClipQueue`]. Every stage is timed;
//! nothing here prints.
//!
//! Paced: frame `i` is released at `start + i / fps`, as a camera would deliver it, whatever
//! inference is doing; clips that arrive while inference is busy wait or are dropped
//! (`DropPolicy`). End-to-end latency runs from the release of a clip's last frame to its
//! prediction. Unpaced: frames are decoded as fast as the queue accepts them, so decoding
//! overlaps inference and nothing is dropped.

use crate::clip::{ClipAssembler, ClipWindow, ModelPlan};
use crate::error::{Result, VideoError};
use crate::preprocess::{PreprocessConfig, Preprocessor};
use crate::queue::{ClipQueue, DropPolicy, Mode, Pushed};
use crate::source::FrameSource;
use edgebench_core::engine::Session;
use edgebench_core::telemetry::{Energy, Telemetry};
use edgebench_core::tensor::{HostTensor, TensorData};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to run the stream.
#[derive(Debug, Clone)]
pub struct VideoRunOptions {
    pub paced: bool,
    pub drop: DropPolicy,
    /// Clips that may wait for inference under [`DropPolicy::Oldest`] (and, unpaced, before
    /// decoding blocks).
    pub queue_depth: usize,
    pub stride: usize,
    /// End-to-end latency above this is a deadline miss (paced runs).
    pub deadline_ms: f64,
    /// Inferences before the stream starts (at least one: it checks the output).
    pub warmup_runs: usize,
    /// Class names, index = class.
    pub labels: Option<Vec<String>>,
    /// The device's telemetry, recorded over the whole run; `None` turns it off.
    pub telemetry: Option<Arc<Telemetry>>,
}

/// One clip's outcome: a prediction, or dropped before inference. One JSON line each in
/// `--predictions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub clip: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Media time of the clip's first frame and of the end of its last frame, in seconds.
    pub start_s: f64,
    pub end_s: f64,
    pub dropped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Softmax probability of the top class (the output itself if it already sums to 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// Seconds from the start of the stream to the prediction (or to the drop).
    pub at_s: f64,
    /// End-to-end latency: the clip's last frame released -> prediction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_wait_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline_missed: Option<bool>,
}

/// Raw timings of one run, in milliseconds, in stream order.
#[derive(Debug, Default)]
pub struct RawRun {
    pub frames: u64,
    /// Per frame: waiting for the decoder (ffmpeg decodes in its own process; this is the
    /// time to get the next frame out of it), image decoding, or pattern generation.
    pub decode_ms: Vec<f64>,
    /// Per frame: resize, crop, normalize.
    pub preprocess_ms: Vec<f64>,
    /// Per clip: copying T frames into the input tensor.
    pub assemble_ms: Vec<f64>,
    /// Per predicted clip.
    pub queue_wait_ms: Vec<f64>,
    /// Per predicted clip: `set_inputs` + `outputs`.
    pub transfer_ms: Vec<f64>,
    /// Per predicted clip: `run` + `synchronize`, as `edgebench bench` times it.
    pub inference_ms: Vec<f64>,
    pub postprocess_ms: Vec<f64>,
    pub end_to_end_ms: Vec<f64>,
    /// Paced: how long after its due time each frame was released (>= 0).
    pub release_lateness_ms: Vec<f64>,
    /// Every clip, predicted or dropped, by clip index.
    pub predictions: Vec<Prediction>,
    pub first_run_ms: f64,
    pub warmup_runs: usize,
    pub max_queue_len: usize,
    /// From the first frame request to the last prediction.
    pub wall_s: f64,
    /// Engine calls made while streaming (the predicted clips, and the one that failed if
    /// inference failed).
    pub inference_calls: usize,
    /// Power, energy and throttling over the same span as `wall_s`
    /// ([`crate::energy::pipeline_energy`]); `None` without telemetry.
    pub energy: Option<Energy>,
    /// Why the stream ended early: the decoder failed, or inference failed.
    pub error: Option<String>,
    pub decoder_failed: bool,
    /// Decoder messages that did not stop it.
    pub diagnostics: Vec<String>,
}

impl RawRun {
    /// An error when the run measured nothing to report: no frame at all (the decoder's
    /// error, else [`VideoError::ZeroFrames`]), or too few frames for one clip and no error
    /// ([`VideoError::TooFewFrames`]). A run that ended early but predicted is reported.
    pub fn check_measured(&self, source_name: &str, clip_frames: usize) -> Result<()> {
        if self.frames == 0 {
            return Err(match &self.error {
                Some(e) => VideoError::InvalidArgument(e.clone()),
                None => VideoError::ZeroFrames {
                    source_name: source_name.to_owned(),
                },
            });
        }
        if self.predictions.is_empty() && self.error.is_none() {
            return Err(VideoError::TooFewFrames {
                source_name: source_name.to_owned(),
                frames: self.frames,
                needed: clip_frames,
            });
        }
        Ok(())
    }
}

struct Clip {
    window: ClipWindow,
    tensor: HostTensor,
    released: Instant,
    enqueued: Instant,
}

#[derive(Default)]
struct ProducerOut {
    frames: u64,
    decode_ms: Vec<f64>,
    preprocess_ms: Vec<f64>,
    assemble_ms: Vec<f64>,
    lateness_ms: Vec<f64>,
    dropped: Vec<(ClipWindow, Instant)>,
    error: Option<String>,
    diagnostics: Vec<String>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Top class and its score from a model output.
pub fn top1(out: &HostTensor) -> Result<(usize, f32)> {
    let values: Vec<f32> = match &out.data {
        TensorData::F32(v) => v.clone(),
        other => other.to_f64().into_iter().map(|x| x as f32).collect(),
    };
    let leading_ones = out.shape.iter().rev().skip(1).all(|&d| d == 1);
    if values.is_empty() || !leading_ones || values.iter().any(|x| !x.is_finite()) {
        return Err(VideoError::BadOutput {
            output: out.name.clone(),
            got: format!(
                "{} ({} values{})",
                edgebench_core::tensor::shape_string(&out.shape),
                values.len(),
                if values.iter().any(|x| !x.is_finite()) {
                    ", some not finite"
                } else {
                    ""
                }
            ),
        });
    }
    let (best, &max) = values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .ok_or_else(|| VideoError::BadOutput {
            output: out.name.clone(),
            got: "no values".into(),
        })?;
    let sum: f32 = values.iter().sum();
    let probabilities =
        values.iter().all(|&x| (0.0..=1.0).contains(&x)) && (sum - 1.0).abs() < 1e-3;
    let score = if probabilities {
        max
    } else {
        let z: f32 = values.iter().map(|&x| (x - max).exp()).sum();
        1.0 / z
    };
    Ok((best, score))
}

/// Deterministic stand-in input for the warm-up: values spread like normalized pixels.
fn warmup_tensor(plan: &ModelPlan) -> HostTensor {
    let n: usize = plan.shape.iter().product();
    let mut x: u32 = 0x9e37_79b9;
    let data = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32) * 4.0 - 2.0
        })
        .collect();
    HostTensor {
        name: plan.input.clone(),
        shape: plan.shape.clone(),
        data: TensorData::F32(data),
    }
}

fn infer(session: &mut dyn Session, input: HostTensor) -> Result<(HostTensor, f64, f64)> {
    let t0 = Instant::now();
    session.set_inputs(std::slice::from_ref(&input))?;
    let t1 = Instant::now();
    session.run()?;
    session.synchronize()?;
    let t2 = Instant::now();
    let mut outs = session.outputs()?;
    let t3 = Instant::now();
    if outs.is_empty() {
        return Err(VideoError::BadOutput {
            output: "(none)".into(),
            got: "no outputs".into(),
        });
    }
    let out = outs.swap_remove(0);
    Ok((out, ms(t1 - t0) + ms(t3 - t2), ms(t2 - t1)))
}

/// Warms the session up and checks its output against the labels. Returns the first run's
/// time in ms. Errors here happen before any frame is read.
pub fn warm_up(session: &mut dyn Session, plan: &ModelPlan, opts: &VideoRunOptions) -> Result<f64> {
    let mut first = 0.0;
    for i in 0..opts.warmup_runs.max(1) {
        let (out, transfer, run) = infer(session, warmup_tensor(plan))?;
        if i == 0 {
            first = transfer + run;
            let classes = out.data.len();
            top1(&out)?;
            if let Some(labels) = &opts.labels {
                if labels.len() != classes {
                    return Err(VideoError::InvalidArgument(format!(
                        "--labels has {} labels but the model gives {classes} class scores: give one label per line, in class order",
                        labels.len()
                    )));
                }
            }
        }
    }
    Ok(first)
}

/// Runs the stream through a warmed-up session. `on_clip` sees every clip's outcome as it
/// happens (for progress). Errors while streaming end the run early and are recorded in
/// [`RawRun::error`] with everything measured up to then.
pub fn run_stream(
    session: &mut dyn Session,
    source: Box<dyn FrameSource>,
    pre: &PreprocessConfig,
    plan: &ModelPlan,
    opts: &VideoRunOptions,
    on_clip: &mut dyn FnMut(&Prediction),
) -> Result<RawRun> {
    let info = source.info().clone();
    let fps = info.fps;
    let preprocessor =
        Preprocessor::new(pre, info.width as usize, info.height as usize, &info.input)?;
    let mode = match (opts.paced, opts.drop) {
        (true, DropPolicy::Oldest) => Mode::Drop {
            depth: opts.queue_depth.max(1),
        },
        (true, DropPolicy::Queue) => Mode::Unbounded,
        (false, _) => Mode::Block {
            depth: opts.queue_depth.max(1),
        },
    };
    let queue: ClipQueue<Clip> = ClipQueue::new(mode);
    // The sampler takes its first reading before the run starts and its last after it ends,
    // so both ends of the window lie between readings.
    let recording = opts.telemetry.as_deref().map(Telemetry::start);
    let start = Instant::now();
    let media = |f: u64| f as f64 / fps;
    let mut raw = RawRun {
        warmup_runs: opts.warmup_runs.max(1),
        ..Default::default()
    };

    let producer_out = std::thread::scope(|scope| {
        let producer =
            scope.spawn(|| produce(source, preprocessor, pre, plan, opts, &queue, start));

        while let Some(clip) = queue.pop() {
            let dequeued = Instant::now();
            raw.inference_calls += 1;
            let result = infer(session, clip.tensor).and_then(|(out, transfer, run)| {
                let p0 = Instant::now();
                let (class, score) = top1(&out)?;
                let label = opts.labels.as_ref().and_then(|l| l.get(class).cloned());
                Ok((class, score, label, transfer, run, ms(p0.elapsed())))
            });
            match result {
                Ok((class, score, label, transfer, run, post)) => {
                    let done = Instant::now();
                    let e2e = ms(done - clip.released);
                    let wait = ms(dequeued - clip.enqueued);
                    raw.queue_wait_ms.push(wait);
                    raw.transfer_ms.push(transfer);
                    raw.inference_ms.push(run);
                    raw.postprocess_ms.push(post);
                    raw.end_to_end_ms.push(e2e);
                    let p = Prediction {
                        clip: clip.window.index,
                        first_frame: clip.window.first_frame,
                        last_frame: clip.window.last_frame,
                        start_s: media(clip.window.first_frame),
                        end_s: media(clip.window.last_frame + 1),
                        dropped: false,
                        class: Some(class),
                        label,
                        score: Some(score),
                        at_s: (done - start).as_secs_f64(),
                        latency_ms: Some(e2e),
                        queue_wait_ms: Some(wait),
                        inference_ms: Some(run),
                        deadline_missed: opts.paced.then_some(e2e > opts.deadline_ms),
                    };
                    on_clip(&p);
                    raw.predictions.push(p);
                }
                Err(e) => {
                    raw.error = Some(format!(
                        "inference failed on clip {} (frames {}-{}): {e}",
                        clip.window.index, clip.window.first_frame, clip.window.last_frame
                    ));
                    queue.abandon();
                    break;
                }
            }
        }
        producer.join()
    });
    let end = Instant::now();
    let trace = recording.map(|r| r.stop());
    raw.wall_s = (end - start).as_secs_f64();
    raw.max_queue_len = queue.max_len();
    let out = producer_out.map_err(|_| {
        VideoError::InvalidArgument("the frame thread panicked; please report this as a bug".into())
    })?;
    for (w, at) in &out.dropped {
        let p = Prediction {
            clip: w.index,
            first_frame: w.first_frame,
            last_frame: w.last_frame,
            start_s: media(w.first_frame),
            end_s: media(w.last_frame + 1),
            dropped: true,
            class: None,
            label: None,
            score: None,
            at_s: (*at - start).as_secs_f64(),
            latency_ms: None,
            queue_wait_ms: None,
            inference_ms: None,
            deadline_missed: None,
        };
        on_clip(&p);
        raw.predictions.push(p);
    }
    raw.predictions.sort_by_key(|p| p.clip);
    raw.frames = out.frames;
    raw.decode_ms = out.decode_ms;
    raw.preprocess_ms = out.preprocess_ms;
    raw.assemble_ms = out.assemble_ms;
    raw.release_lateness_ms = out.lateness_ms;
    raw.diagnostics = out.diagnostics;
    if raw.error.is_none() {
        raw.decoder_failed = out.error.is_some();
        raw.error = out.error;
    }
    // A run that ended early still gets the energy of what ran.
    if let (Some(t), Some(trace)) = (opts.telemetry.as_deref(), trace) {
        let labelled = raw.inference_ms.len() * opts.stride;
        raw.energy = Some(crate::energy::pipeline_energy(
            t,
            &trace,
            start,
            end,
            raw.inference_calls,
            labelled as f64 / raw.wall_s.max(1e-9),
        ));
    }
    Ok(raw)
}

fn produce(
    mut source: Box<dyn FrameSource>,
    mut preprocessor: Preprocessor,
    pre: &PreprocessConfig,
    plan: &ModelPlan,
    opts: &VideoRunOptions,
    queue: &ClipQueue<Clip>,
    start: Instant,
) -> ProducerOut {
    let mut out = ProducerOut::default();
    let fps = source.info().fps;
    let input = source.info().input.clone();
    let mut assembler: ClipAssembler<Arc<Vec<f32>>> = ClipAssembler::new(plan.frames, opts.stride);
    loop {
        let d0 = Instant::now();
        let frame = match source.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                out.error = Some(e.to_string());
                break;
            }
        };
        out.decode_ms.push(ms(d0.elapsed()));
        let released = if opts.paced {
            let due = start + Duration::from_secs_f64(frame.index as f64 / fps);
            let now = Instant::now();
            if now < due {
                std::thread::sleep(due - now);
            }
            let released = Instant::now();
            out.lateness_ms
                .push(ms(released.saturating_duration_since(due)));
            released
        } else {
            Instant::now()
        };
        out.frames += 1;
        let p0 = Instant::now();
        let (w, h) = (frame.width as usize, frame.height as usize);
        if preprocessor.source_size() != (w, h) {
            // Image folders may mix sizes: plan again for the new one.
            match Preprocessor::new(pre, w, h, &input) {
                Ok(p) => preprocessor = p,
                Err(e) => {
                    out.error = Some(format!("frame {}: {e}", frame.index));
                    break;
                }
            }
        }
        let mut buf = vec![0f32; preprocessor.output_len()];
        preprocessor.run(&frame.rgb, &mut buf);
        out.preprocess_ms.push(ms(p0.elapsed()));
        if let Some((window, frames)) = assembler.push(Arc::new(buf)) {
            let a0 = Instant::now();
            let tensor = plan.tensor(&frames.iter().map(|f| f.as_slice()).collect::<Vec<_>>());
            out.assemble_ms.push(ms(a0.elapsed()));
            let clip = Clip {
                window,
                tensor,
                released,
                enqueued: Instant::now(),
            };
            match queue.push(clip) {
                Pushed::Queued => {}
                Pushed::Displaced(old) => out.dropped.push((old.window, Instant::now())),
                Pushed::Closed => break,
            }
        }
    }
    // A failed decoder's messages are already in its error.
    if out.error.is_none() {
        out.diagnostics = source.diagnostics();
    }
    drop(source);
    queue.close();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], v: Vec<f32>) -> HostTensor {
        HostTensor {
            name: "logits".into(),
            shape: shape.to_vec(),
            data: TensorData::F32(v),
        }
    }

    #[test]
    fn top1_softmaxes_logits_and_keeps_probabilities() {
        let (c, s) = top1(&t(&[1, 3], vec![0.0, 2.0, 0.0])).unwrap();
        let e2 = 2f32.exp();
        assert_eq!(c, 1);
        assert!((s - e2 / (e2 + 2.0)).abs() < 1e-6);
        let (c, s) = top1(&t(&[1, 4], vec![0.1, 0.2, 0.6, 0.1])).unwrap();
        assert_eq!((c, s), (2, 0.6));
        assert!(top1(&t(&[2, 2], vec![0.0; 4])).is_err());
        assert!(top1(&t(&[1, 0], vec![])).is_err());
        assert!(top1(&t(&[1, 2], vec![f32::NAN, 1.0])).is_err());
    }
}
