//! TensorRT's version as trtexec prints it, and what each version accepts.

use std::fmt;

/// A TensorRT release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrtVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl TrtVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> TrtVersion {
        TrtVersion {
            major,
            minor,
            patch,
        }
    }

    /// Decodes `NV_TENSORRT_VERSION`, the number in trtexec's `[TensorRT vNNNN]`. Up to 9.x
    /// it is `major * 1000 + minor * 100 + patch` (`kNV_TENSORRT_VERSION_IMPL` in
    /// NvInferRuntimeCommon.h of 8.2, NvInferRuntimeBase.h of 8.6 and 9.3: 8.2.5 is 8205,
    /// 8.6.1 is 8601); from 10.0 it is `major * 10000 + minor * 100 + patch`
    /// (`NV_TENSORRT_VERSION_INT`: 10.16.0 is 101600, 11.1.0 is 110100). The smallest new-style
    /// number, 10.0.0, is 100000; the largest old-style one is below 10000.
    pub fn from_encoded(n: u64) -> TrtVersion {
        let (major, rest) = if n >= 100_000 {
            (n / 10_000, n % 10_000)
        } else {
            (n / 1000, n % 1000)
        };
        TrtVersion::new(major as u32, (rest / 100) as u32, (rest % 100) as u32)
    }

    /// TensorRT 11 builds strongly typed networks only: `--fp16`, `--int8`, `--best` are
    /// gone from trtexec (sampleOptions.cpp of 11.x); the precision comes from the model.
    pub fn strongly_typed_only(self) -> bool {
        self.major >= 11
    }

    /// `--skipInference` appeared in 8.6; before, `--buildOnly` did the same.
    pub fn skip_inference_flag(self) -> &'static str {
        if self >= TrtVersion::new(8, 6, 0) {
            "--skipInference"
        } else {
            "--buildOnly"
        }
    }

    /// `--warmUp` and `--duration` are parsed as integers (`std::stoi`) before 8.5, as
    /// floats from 8.5 on (sampleOptions.h).
    pub fn fractional_durations(self) -> bool {
        self >= TrtVersion::new(8, 5, 0)
    }

    /// INT64 bindings exist from TensorRT 10; 8.x casts INT64 inputs of an ONNX model to
    /// INT32, so `--loadInputs` files hold 4-byte integers there.
    pub fn int64_bindings(self) -> bool {
        self.major >= 10
    }
}

impl fmt::Display for TrtVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The version in trtexec's first line, `&&&& RUNNING TensorRT.trtexec [TensorRT v101600]
/// [b72] # trtexec ...` (logging.h `defineTest`).
pub fn parse_version(text: &str) -> Option<TrtVersion> {
    let start = text.find("[TensorRT v")? + "[TensorRT v".len();
    let digits: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    if !text[start + digits.len()..].starts_with(']') {
        return None;
    }
    digits.parse().ok().map(TrtVersion::from_encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings() {
        let v = |s: &str| parse_version(s).map(|v| v.to_string());
        assert_eq!(v("[TensorRT v8205]").as_deref(), Some("8.2.5"));
        assert_eq!(v("[TensorRT v8601]").as_deref(), Some("8.6.1"));
        assert_eq!(v("[TensorRT v8510]").as_deref(), Some("8.5.10"));
        assert_eq!(v("[TensorRT v9300]").as_deref(), Some("9.3.0"));
        assert_eq!(v("[TensorRT v100000]").as_deref(), Some("10.0.0"));
        assert_eq!(v("[TensorRT v100300] [b17]").as_deref(), Some("10.3.0"));
        assert_eq!(v("[TensorRT v101600] [b72]").as_deref(), Some("10.16.0"));
        assert_eq!(v("[TensorRT v110100] [b106]").as_deref(), Some("11.1.0"));
        assert_eq!(v("nothing"), None);
        assert_eq!(v("[TensorRT v12x]"), None);
    }

    #[test]
    fn what_each_version_accepts() {
        let v86 = TrtVersion::new(8, 6, 1);
        let v82 = TrtVersion::new(8, 2, 5);
        assert_eq!(v86.skip_inference_flag(), "--skipInference");
        assert_eq!(v82.skip_inference_flag(), "--buildOnly");
        assert!(!v82.fractional_durations() && v86.fractional_durations());
        assert!(!v86.int64_bindings() && TrtVersion::new(10, 0, 0).int64_bindings());
        assert!(!TrtVersion::new(10, 16, 0).strongly_typed_only());
        assert!(TrtVersion::new(11, 0, 0).strongly_typed_only());
    }
}
