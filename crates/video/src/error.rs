//! Every failure a user can cause, with the input it concerns and the fix in its message.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("--input {spec}: {reason}; write it as a video file, an image folder or synthetic:WxH@FPS (e.g. synthetic:320x240@30)")]
    BadSource { spec: String, reason: String },
    #[error("--input {}: no such file or folder; check the path", path.display())]
    NotFound { path: PathBuf },
    #[error("`{program}` was not found on PATH: it decodes video files; install it (Debian/Ubuntu: apt-get install ffmpeg) or use an image folder or synthetic:WxH@FPS")]
    FfmpegMissing { program: String },
    #[error("cannot start `{program}`: {reason}")]
    FfmpegFailed { program: String, reason: String },
    #[error("--input {}: not a video ffmpeg can read ({reason}); the file is corrupt, truncated or not a video: check it with `ffprobe {}`", path.display(), path.display())]
    NotAVideo { path: PathBuf, reason: String },
    #[error("--input {}: it has no video stream; give a file with video in it", path.display())]
    NoVideoStream { path: PathBuf },
    #[error("--input {}: the frame rate is unknown; give it with --fps", path.display())]
    UnknownFrameRate { path: PathBuf },
    #[error("--input {}: no PNG or JPEG images in the folder; put frames in it named in order (frame_0001.png, ...)", path.display())]
    EmptyFolder { path: PathBuf },
    #[error("--input {source_name}: image {} cannot be decoded: {reason}; replace or remove it", path.display())]
    BadImage {
        source_name: String,
        path: PathBuf,
        reason: String,
    },
    #[error("--input {source_name}: the decoder stopped after {frames} frames: {reason}")]
    DecoderDied {
        source_name: String,
        frames: u64,
        reason: String,
    },
    #[error("--input {source_name}: no frames could be read; check the file with `ffmpeg -v error -i FILE -f null -`")]
    ZeroFrames { source_name: String },
    #[error("--input {source_name}: {frames} frames, fewer than the {needed} one clip of this model needs; use a longer input or a model with fewer frames")]
    TooFewFrames {
        source_name: String,
        frames: u64,
        needed: usize,
    },
    #[error("--input {source_name}: frame {width}x{height} is smaller than the model's {crop_w}x{crop_h} crop (width x height); use a larger source: upscaling would invent detail")]
    FrameTooSmall {
        source_name: String,
        width: u32,
        height: u32,
        crop_w: usize,
        crop_h: usize,
    },
    #[error("model input `{input}` has shape {shape}: `video` needs one float32 clip input N x 3 x T x H x W (or N x T x 3 x H x W) or one image input N x 3 x H x W, with N = 1")]
    UnsupportedModelInput { input: String, shape: String },
    #[error("the model has {count} inputs ({names}): `video` feeds one clip or image input; export a model with a single input")]
    TooManyInputs { count: usize, names: String },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("--labels {}: {reason}", path.display())]
    BadLabels { path: PathBuf, reason: String },
    #[error("model output `{output}` has {got} values, expected class scores of shape 1 x classes; use a classification model")]
    BadOutput { output: String, got: String },
    /// The engine could not prepare the model (boxed: the engine's error is large).
    #[error(transparent)]
    Prepare(Box<PrepareError>),
    #[error(transparent)]
    Core(#[from] edgebench_core::Error),
}

/// The engine could not prepare the model: its error is the source, so that exit codes follow
/// the engine's error as they do for [`VideoError::Core`].
#[derive(Debug, thiserror::Error)]
#[error("preparing {model} on {spec}")]
pub struct PrepareError {
    pub model: String,
    pub spec: String,
    #[source]
    pub source: edgebench_core::Error,
}

pub type Result<T, E = VideoError> = std::result::Result<T, E>;
