//! Frame preprocessing: resize (bilinear, half-pixel centres, as PyTorch's `interpolate`
//! without antialiasing), center crop, and mean/std normalization, in one pass that computes
//! only the pixels inside the crop. The output is one frame as planar float32, C x H x W.

use crate::error::{Result, VideoError};
use serde::{Deserialize, Serialize};

/// Mean of torchvision's video classification models (Kinetics-400), RGB.
pub const VIDEO_MEAN: [f32; 3] = [0.43216, 0.394666, 0.37645];
/// Standard deviation of torchvision's video classification models, RGB.
pub const VIDEO_STD: [f32; 3] = [0.22803, 0.22145, 0.216989];
/// ImageNet mean, used by torchvision's image classification models.
pub const IMAGE_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet standard deviation.
pub const IMAGE_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// How a frame is resized before the center crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resize {
    /// To exactly this height and width (torchvision video: 128 x 171 for a 112 crop).
    Exact { height: usize, width: usize },
    /// The shorter side to this length, keeping the aspect ratio (torchvision image: 256).
    ShortSide(usize),
}

impl Resize {
    /// Parses `--resize HxW` or `--resize N` (shorter side).
    pub fn parse(s: &str) -> Result<Resize> {
        let bad = || {
            VideoError::InvalidArgument(format!(
                "--resize {s}: expected HEIGHTxWIDTH (e.g. 128x171) or one number for the shorter side (e.g. 256)"
            ))
        };
        let num = |v: &str| {
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| (1..=16384).contains(&n))
                .ok_or_else(bad)
        };
        match s.split_once(['x', 'X']) {
            Some((h, w)) => Ok(Resize::Exact {
                height: num(h)?,
                width: num(w)?,
            }),
            None => Ok(Resize::ShortSide(num(s)?)),
        }
    }

    /// The torchvision default for a model of this kind and crop: video models resize to
    /// 128 x 171 for a 112 x 112 crop (scaled with the crop); image models resize the
    /// shorter side to 256 for a 224 crop (scaled with the crop).
    pub fn default_for(video: bool, crop_h: usize, crop_w: usize) -> Resize {
        if video {
            Resize::Exact {
                height: (crop_h as f64 * 128.0 / 112.0).round() as usize,
                width: (crop_w as f64 * 171.0 / 112.0).round() as usize,
            }
        } else {
            Resize::ShortSide((crop_h.max(crop_w) as f64 * 256.0 / 224.0).round() as usize)
        }
    }

    /// The resized height and width of a `src_h` x `src_w` frame.
    pub fn target(&self, src_h: usize, src_w: usize) -> (usize, usize) {
        match *self {
            Resize::Exact { height, width } => (height, width),
            Resize::ShortSide(s) => {
                if src_h <= src_w {
                    (
                        s,
                        ((src_w as f64) * s as f64 / src_h as f64).round() as usize,
                    )
                } else {
                    (
                        ((src_h as f64) * s as f64 / src_w as f64).round() as usize,
                        s,
                    )
                }
            }
        }
    }
}

/// The whole preprocessing configuration, recorded in the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    pub resize: Resize,
    pub crop_h: usize,
    pub crop_w: usize,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl PreprocessConfig {
    /// The configuration for `plan`'s crop: `--resize`, `--mean` and `--std` as given, else
    /// torchvision's defaults for a video or an image model.
    pub fn for_plan(
        plan: &crate::clip::ModelPlan,
        resize: Option<&str>,
        mean: Option<&str>,
        std: Option<&str>,
    ) -> Result<Self> {
        let video = plan.is_video();
        Ok(PreprocessConfig {
            resize: match resize {
                Some(r) => Resize::parse(r)?,
                None => Resize::default_for(video, plan.height, plan.width),
            },
            crop_h: plan.height,
            crop_w: plan.width,
            mean: match mean {
                Some(m) => parse_triple("--mean", m, false)?,
                None if video => VIDEO_MEAN,
                None => IMAGE_MEAN,
            },
            std: match std {
                Some(s) => parse_triple("--std", s, true)?,
                None if video => VIDEO_STD,
                None => IMAGE_STD,
            },
        })
    }
}

/// One axis of the sampling plan: for every output position, the two source indices and
/// the weight of the second.
#[derive(Debug, Clone)]
struct Axis {
    lo: Vec<usize>,
    hi: Vec<usize>,
    frac: Vec<f32>,
}

/// Bilinear sampling positions (align_corners = false) of `out` crop positions starting at
/// `offset` in an axis resized from `src` to `dst`.
fn axis(src: usize, dst: usize, offset: usize, out: usize) -> Axis {
    let scale = src as f64 / dst as f64;
    let mut a = Axis {
        lo: Vec::with_capacity(out),
        hi: Vec::with_capacity(out),
        frac: Vec::with_capacity(out),
    };
    for i in 0..out {
        let s = ((offset + i) as f64 + 0.5) * scale - 0.5;
        let s = s.clamp(0.0, (src - 1) as f64);
        let lo = s.floor() as usize;
        a.lo.push(lo);
        a.hi.push((lo + 1).min(src - 1));
        a.frac.push((s - lo as f64) as f32);
    }
    a
}

/// A preprocessing plan for one source frame size.
#[derive(Debug, Clone)]
pub struct Preprocessor {
    cfg: PreprocessConfig,
    src: (usize, usize),
    ys: Axis,
    xs: Axis,
    scale: [f32; 3],
    bias: [f32; 3],
}

impl Preprocessor {
    /// Plans preprocessing of `src_w` x `src_h` frames. Fails when the frame or the resized
    /// frame is smaller than the crop.
    pub fn new(cfg: &PreprocessConfig, src_w: usize, src_h: usize, source: &str) -> Result<Self> {
        if src_w < cfg.crop_w || src_h < cfg.crop_h {
            return Err(VideoError::FrameTooSmall {
                source_name: source.to_owned(),
                width: src_w as u32,
                height: src_h as u32,
                crop_w: cfg.crop_w,
                crop_h: cfg.crop_h,
            });
        }
        let (rh, rw) = cfg.resize.target(src_h, src_w);
        if rh < cfg.crop_h || rw < cfg.crop_w {
            return Err(VideoError::InvalidArgument(format!(
                "--resize gives {rh}x{rw} (height x width), smaller than the model's {}x{} crop: resize to at least the crop size",
                cfg.crop_h, cfg.crop_w
            )));
        }
        // torchvision's center_crop: int(round((size - crop) / 2)), Python rounding half to even.
        let top = ((rh - cfg.crop_h) as f64 / 2.0).round_ties_even() as usize;
        let left = ((rw - cfg.crop_w) as f64 / 2.0).round_ties_even() as usize;
        let mut scale = [0f32; 3];
        let mut bias = [0f32; 3];
        for c in 0..3 {
            scale[c] = 1.0 / (255.0 * cfg.std[c]);
            bias[c] = -cfg.mean[c] / cfg.std[c];
        }
        Ok(Preprocessor {
            cfg: cfg.clone(),
            src: (src_w, src_h),
            ys: axis(src_h, rh, top, cfg.crop_h),
            xs: axis(src_w, rw, left, cfg.crop_w),
            scale,
            bias,
        })
    }

    /// The source frame size (width, height) this plan is for.
    pub fn source_size(&self) -> (usize, usize) {
        self.src
    }

    /// Floats in one output frame: 3 x crop_h x crop_w.
    pub fn output_len(&self) -> usize {
        3 * self.cfg.crop_h * self.cfg.crop_w
    }

    /// Preprocesses one packed RGB24 frame into `out` (planar C x H x W).
    pub fn run(&self, rgb: &[u8], out: &mut [f32]) {
        let (w, _) = self.src;
        let (ch, cw) = (self.cfg.crop_h, self.cfg.crop_w);
        let plane = ch * cw;
        debug_assert_eq!(out.len(), 3 * plane);
        for oy in 0..ch {
            let (y0, y1, fy) = (self.ys.lo[oy], self.ys.hi[oy], self.ys.frac[oy]);
            let r0 = &rgb[y0 * w * 3..(y0 + 1) * w * 3];
            let r1 = &rgb[y1 * w * 3..(y1 + 1) * w * 3];
            for ox in 0..cw {
                let (x0, x1, fx) = (self.xs.lo[ox], self.xs.hi[ox], self.xs.frac[ox]);
                let o = oy * cw + ox;
                for c in 0..3 {
                    let p00 = r0[x0 * 3 + c] as f32;
                    let p01 = r0[x1 * 3 + c] as f32;
                    let p10 = r1[x0 * 3 + c] as f32;
                    let p11 = r1[x1 * 3 + c] as f32;
                    let top = p00 + (p01 - p00) * fx;
                    let bot = p10 + (p11 - p10) * fx;
                    let v = top + (bot - top) * fy;
                    out[c * plane + o] = v * self.scale[c] + self.bias[c];
                }
            }
        }
    }
}

/// Parses `--mean`/`--std`: three comma-separated numbers (std must be positive).
pub fn parse_triple(flag: &str, s: &str, positive: bool) -> Result<[f32; 3]> {
    let bad = || {
        VideoError::InvalidArgument(format!(
            "{flag} {s}: expected three comma-separated numbers for R,G,B{}, e.g. {flag} 0.485,0.456,0.406",
            if positive { ", all above 0" } else { "" }
        ))
    };
    let v: Vec<f32> = s
        .split(',')
        .map(|t| t.trim().parse::<f32>().ok().filter(|x| x.is_finite()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    if v.len() != 3 || (positive && v.iter().any(|&x| x <= 0.0)) {
        return Err(bad());
    }
    Ok([v[0], v[1], v[2]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(resize: Resize, crop: usize) -> PreprocessConfig {
        PreprocessConfig {
            resize,
            crop_h: crop,
            crop_w: crop,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }

    #[test]
    fn defaults_match_torchvision() {
        assert_eq!(
            Resize::default_for(true, 112, 112),
            Resize::Exact {
                height: 128,
                width: 171
            }
        );
        assert_eq!(Resize::default_for(false, 224, 224), Resize::ShortSide(256));
        assert_eq!(Resize::ShortSide(256).target(240, 320), (256, 341));
        assert_eq!(Resize::ShortSide(256).target(640, 480), (341, 256));
        assert_eq!(
            Resize::parse("128x171").unwrap(),
            Resize::Exact {
                height: 128,
                width: 171
            }
        );
        assert_eq!(Resize::parse("256").unwrap(), Resize::ShortSide(256));
        assert!(Resize::parse("12x").is_err());
        assert!(Resize::parse("0").is_err());
    }

    #[test]
    fn identity_resize_and_crop_pick_the_centre() {
        // 4x4 frame, no resize, crop 2: the centre 2x2 pixels, values / 255.
        let (w, h) = (4usize, 4usize);
        let rgb: Vec<u8> = (0..w * h)
            .flat_map(|i| [i as u8, (i * 2) as u8, 7])
            .collect();
        let p = Preprocessor::new(
            &cfg(
                Resize::Exact {
                    height: 4,
                    width: 4,
                },
                2,
            ),
            w,
            h,
            "t",
        )
        .unwrap();
        let mut out = vec![0.0; p.output_len()];
        p.run(&rgb, &mut out);
        let expect_r: Vec<f32> = [5, 6, 9, 10].iter().map(|&v| v as f32 / 255.0).collect();
        for (a, b) in out[..4].iter().zip(&expect_r) {
            assert!((a - b).abs() < 1e-6, "{out:?}");
        }
        assert!((out[4] - 10.0 / 255.0).abs() < 1e-6);
        assert!((out[8] - 7.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn downscale_by_two_averages_pairs() {
        // 4x1 -> 2x1 with half-pixel centres samples at 0.5 and 2.5: mean of neighbours.
        let rgb: Vec<u8> = [0u8, 100, 200, 250]
            .iter()
            .flat_map(|&v| [v, v, v])
            .collect();
        let c = PreprocessConfig {
            resize: Resize::Exact {
                height: 1,
                width: 2,
            },
            crop_h: 1,
            crop_w: 1,
            mean: [0.5; 3],
            std: [0.25; 3],
        };
        let p = Preprocessor::new(&c, 4, 1, "t").unwrap();
        let mut out = vec![0.0; 3];
        p.run(&rgb, &mut out);
        // Centre crop of width 1 from 2 columns: offset round(0.5) = 0 as in Python, so
        // column 0, which samples source position 0.5: (0 + 100) / 2 = 50.
        let v = 50.0 / 255.0;
        assert!((out[0] - (v - 0.5) / 0.25).abs() < 1e-5, "{out:?}");
    }

    #[test]
    fn frame_smaller_than_crop_is_refused() {
        let e = Preprocessor::new(&cfg(Resize::ShortSide(128), 112), 100, 80, "small.mp4")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("small.mp4") && e.contains("100x80") && e.contains("112x112"),
            "{e}"
        );
        let e = Preprocessor::new(
            &cfg(
                Resize::Exact {
                    height: 64,
                    width: 64,
                },
                112,
            ),
            320,
            240,
            "s",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--resize") && e.contains("64x64"), "{e}");
    }

    #[test]
    fn parses_mean_and_std() {
        assert_eq!(
            parse_triple("--mean", "0.1, 0.2,0.3", false).unwrap(),
            [0.1, 0.2, 0.3]
        );
        assert!(parse_triple("--std", "0.1,0,0.3", true).is_err());
        assert!(parse_triple("--mean", "0.1,0.2", false).is_err());
        assert!(parse_triple("--mean", "a,b,c", false)
            .unwrap_err()
            .to_string()
            .contains("--mean a,b,c"));
    }
}
