//! tract's CUDA runtime (`tract-cuda`): the typed tract model, rewritten for the GPU and
//! compiled with NVRTC at prepare time. Needs nothing at build time; at run time it needs the
//! NVIDIA driver and the CUDA 13 libraries (cudart, NVRTC, cuBLAS, cuDNN) on the loader path.
//! Where they are missing it reports "not available" with the reason, never a panic: the
//! libraries are probed before cudarc touches them (cudarc panics on a missing library).
//! An older CUDA (a Jetson Nano's 10.2, JetPack 5's 11.4, JetPack 6's 12.x) is named in one
//! line before anything else is tried: the driver's version from `cuDriverGetVersion`, the
//! runtime library's from `cudaRuntimeGetVersion`.

use edgebench_core::engine::{
    check_spec, Availability, Engine, EngineSpec, PrepareOptions, Session, SessionInfo, VariantInfo,
};
use edgebench_core::error::{one_line, EngineError, Error, Result};
use edgebench_core::model::Model;
use edgebench_core::tensor::HostTensor;
use edgebench_core::tract_support::{guard, typed_model, TractFailure};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use tract_onnx::prelude::*;

pub const FIX: &str = "run on a machine with an NVIDIA GPU, driver >= 580 (CUDA 13) and the CUDA 13 runtime, NVRTC, cuBLAS and cuDNN 9 libraries on LD_LIBRARY_PATH (e.g. `python3 -m pip install nvidia-cuda-runtime nvidia-cuda-nvrtc nvidia-cublas nvidia-cudnn-cu13`)";

/// What to do where the CUDA here is older than the one this build needs.
pub const FIX_VERSION: &str = "run tract-cuda where the NVIDIA driver supports CUDA 13 (driver >= 580) with the CUDA 13 libraries; on an older CUDA (e.g. a Jetson on JetPack 4 to 6) use the tensorrt, ort or tract engines";

/// The CUDA API version this build's tract-cuda and cudarc are compiled for (cudarc's
/// `cuda-13000` feature), as `cuDriverGetVersion` and `cudaRuntimeGetVersion` report
/// versions: 1000 x major + 10 x minor.
pub const REQUIRED_CUDA: i32 = 13000;

/// Names the NVIDIA driver library goes by (tract-cuda's own list).
const DRIVER_LIBS: &[&str] = &["libcuda.so.1", "libcuda.so"];

pub struct TractCuda;

/// Why tract-cuda cannot run here (one line) and what to do.
type Unusable = (EngineError, &'static str);

static CHECK: OnceLock<std::result::Result<&'static dyn Runtime, Unusable>> = OnceLock::new();

/// `13000` -> `13.0`, `10020` -> `10.2`.
fn cuda_version_text(v: i32) -> String {
    format!("{}.{}", v / 1000, (v % 1000) / 10)
}

/// The decision: one line saying why CUDA `found` (where it came from: `what`) cannot run
/// this build's tract-cuda, or None when it is new enough.
pub fn version_problem(what: &str, found: i32) -> Option<String> {
    (found < REQUIRED_CUDA).then(|| {
        format!(
            "tract-cuda needs CUDA {} or newer (built for cudarc's cuda-{REQUIRED_CUDA}), and {what} CUDA {}",
            cuda_version_text(REQUIRED_CUDA),
            cuda_version_text(found)
        )
    })
}

/// Loads the first of `names` that the dynamic loader finds and asks it for its CUDA version
/// through `symbol` (`cuDriverGetVersion` or `cudaRuntimeGetVersion`: `int f(int *)`, 0 on
/// success). None when none loads, the symbol is missing or the call fails: the library
/// check that follows reports those.
fn library_version<S: AsRef<str>>(names: &[S], symbol: &[u8]) -> Option<(String, i32)> {
    type GetVersion = unsafe extern "C" fn(*mut std::ffi::c_int) -> std::ffi::c_int;
    names.iter().find_map(|name| {
        let name = name.as_ref();
        // SAFETY: loading a CUDA library runs only its initializers; the symbol has the
        // signature the CUDA documentation gives, and needs no initialized driver.
        unsafe {
            let lib = libloading::Library::new(name).ok()?;
            let f = lib.get::<GetVersion>(symbol).ok()?;
            let mut v: std::ffi::c_int = 0;
            (f(&mut v) == 0).then(|| (name.to_owned(), v))
        }
    })
}

/// The driver's and then the runtime library's CUDA version against [`REQUIRED_CUDA`],
/// looked up in `driver` and `runtime` (library names or paths, in the loader's order).
fn version_check<S: AsRef<str>, T: AsRef<str>>(driver: &[S], runtime: &[T]) -> Option<String> {
    if let Some((lib, v)) = library_version(driver, b"cuDriverGetVersion\0") {
        if let Some(p) = version_problem(&format!("the NVIDIA driver here ({lib}) supports"), v) {
            return Some(p);
        }
    }
    let (lib, v) = library_version(runtime, b"cudaRuntimeGetVersion\0")?;
    version_problem(&format!("the CUDA runtime library found ({lib}) is"), v)
}

/// GPU 0's name and compute capability, asked only after the libraries were found present.
fn gpu() -> Option<&'static (String, (i32, i32))> {
    static GPU: OnceLock<Option<(String, (i32, i32))>> = OnceLock::new();
    GPU.get_or_init(|| {
        cuda_runtime().ok()?;
        crate::catch(|| {
            cudarc::driver::result::init().ok()?;
            let dev = cudarc::driver::result::device::get(0).ok()?;
            let name = cudarc::driver::result::device::get_name(dev).ok()?;
            use cudarc::driver::sys::CUdevice_attribute as A;
            // SAFETY: `dev` is a valid device handle from the initialized driver.
            let cc = unsafe {
                (
                    cudarc::driver::result::device::get_attribute(
                        dev,
                        A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                    )
                    .ok()?,
                    cudarc::driver::result::device::get_attribute(
                        dev,
                        A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                    )
                    .ok()?,
                )
            };
            Some((name, cc))
        })
        .ok()
        .flatten()
    })
    .as_ref()
}

/// The precision f32 models compute in: tract-cuda's f32 matrix tiles use TF32 tensor-core
/// instructions (`mma...f32.tf32.tf32.f32`) and cuDNN's default math allows TF32 on
/// compute capability 8.0 and later, so there the result is TF32-accurate, not f32.
pub fn precision_for(compute_capability: Option<(i32, i32)>) -> &'static str {
    match compute_capability {
        Some((major, _)) if major >= 8 => "tf32",
        _ => "f32",
    }
}

/// The CUDA runtime, once its libraries are known to be there and new enough.
fn cuda_runtime() -> std::result::Result<&'static dyn Runtime, (&'static EngineError, &'static str)>
{
    CHECK
        .get_or_init(|| {
            // The versions first: cudarc would load an older CUDA's libraries by their
            // generic names and fail (or panic) later on a symbol that CUDA lacks.
            let cudart = cudarc::get_lib_name_candidates("cudart");
            if let Some(reason) = version_check(DRIVER_LIBS, &cudart) {
                return Err((EngineError::NotFound(reason), FIX_VERSION));
            }
            // Referencing the crate keeps its `register_runtime!` entry in the binary.
            let _ = std::any::type_name::<tract_cuda::CudaTransform>();
            let rt = guard(|| runtime_for_name("cuda"))
                .map_err(|e| (EngineError::NotFound(short_reason(&e.to_string())), FIX))?
                .ok_or_else(|| {
                    (
                        EngineError::NotFound(
                            "tract's cuda runtime is not registered in this build".to_string(),
                        ),
                        FIX,
                    )
                })?;
            guard(|| rt.check())
                .map_err(|e| (EngineError::NotFound(short_reason(&e.to_string())), FIX))?;
            Ok(rt)
        })
        .as_ref()
        .copied()
        .map_err(|(reason, fix)| (reason, *fix))
}

/// tract-cuda's probe messages are long and multi-line; keep the first sentence.
fn short_reason(e: &str) -> String {
    let e = e
        .trim_start_matches("cuda runtime supported dependencies not found. ")
        .trim_start_matches("cuda runtime supported dependencies not found.: ");
    let first = e.split(". ").next().unwrap_or(e);
    format!("no usable CUDA: {}", first.trim_end_matches('.'))
}

impl Engine for TractCuda {
    fn name(&self) -> &'static str {
        "tract-cuda"
    }

    fn availability(&self) -> Availability {
        match cuda_runtime() {
            Ok(_) => Availability::Available {
                version: crate::tract::TRACT_VERSION.into(),
                devices: vec![match gpu() {
                    Some((name, (ma, mi))) => format!("cuda:0 ({name}, compute {ma}.{mi})"),
                    None => "cuda:0".into(),
                }],
            },
            Err((reason, fix)) => Availability::Unavailable {
                reason: reason.to_string(),
                fix: fix.into(),
            },
        }
    }

    fn variants(&self) -> Vec<VariantInfo> {
        vec![VariantInfo {
            spec: "tract-cuda:f32".into(),
            description: "tract's CUDA runtime (kernels compiled by NVRTC on first use; the first prepare can take a minute)".into(),
        }]
    }

    fn validate(&self, spec: &EngineSpec) -> Result<()> {
        check_spec(spec, &["f32"], &[], &[])
    }

    fn prepare(
        &self,
        model: &Model,
        spec: &EngineSpec,
        opts: &PrepareOptions,
    ) -> Result<Box<dyn Session>> {
        self.validate(spec)?;
        let label = spec.to_string();
        let rt = cuda_runtime().map_err(|(e, fix)| e.clone().unavailable(label.clone(), fix))?;
        let typed = typed_model(model, &opts.inputs, &label)?;
        let engine_err = |reason: TractFailure| Error::Engine {
            engine: label.clone(),
            reason: reason.to_string(),
        };
        let runnable = guard(|| rt.prepare(typed)).map_err(engine_err)?;
        let state = guard(|| runnable.spawn()).map_err(engine_err)?;
        let output_names = runnable
            .typed_model()
            .map(|m| {
                m.output_outlets()
                    .map(|outs| {
                        outs.iter()
                            .map(|o| m.outlet_label(*o).map(str::to_owned).unwrap_or_default())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let mut details = BTreeMap::new();
        details.insert("runtime".into(), "cuda".into());
        if let Some((name, (ma, mi))) = gpu() {
            details.insert("gpu".into(), name.clone());
            details.insert("compute_capability".into(), format!("{ma}.{mi}"));
        }
        let precision = precision_for(gpu().map(|g| g.1));
        Ok(Box::new(CudaSession {
            label,
            _runnable: runnable,
            state,
            inputs: tvec![],
            outputs: tvec![],
            output_names,
            details,
            precision,
        }))
    }
}

struct CudaSession {
    label: String,
    _runnable: Box<dyn Runnable>,
    state: Box<dyn State>,
    inputs: TVec<TValue>,
    outputs: TVec<TValue>,
    output_names: Vec<String>,
    details: BTreeMap<String, String>,
    precision: &'static str,
}

impl Session for CudaSession {
    fn set_inputs(&mut self, inputs: &[HostTensor]) -> Result<()> {
        self.inputs = inputs
            .iter()
            .map(|t| crate::tract::to_tract(t).map(|t| t.into_tvalue()))
            .collect::<TractResult<_>>()
            .map_err(|e| Error::Engine {
                engine: self.label.clone(),
                reason: one_line(&e),
            })?;
        Ok(())
    }

    /// The plan ends by copying outputs back to the host, so a returned run is a finished one.
    fn run(&mut self) -> Result<()> {
        match self.state.run(self.inputs.clone()) {
            Ok(out) => {
                self.outputs = out;
                Ok(())
            }
            Err(e) => Err(Error::Engine {
                engine: self.label.clone(),
                reason: one_line(&e),
            }),
        }
    }

    fn outputs(&mut self) -> Result<Vec<HostTensor>> {
        self.outputs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let name = self
                    .output_names
                    .get(i)
                    .filter(|n| !n.is_empty())
                    .cloned()
                    .unwrap_or_else(|| format!("output{i}"));
                crate::tract::from_tract(name, t)
            })
            .collect::<TractResult<_>>()
            .map_err(|e| Error::Engine {
                engine: self.label.clone(),
                reason: one_line(&e),
            })
    }

    fn info(&self) -> SessionInfo {
        SessionInfo {
            engine_version: crate::tract::TRACT_VERSION.into(),
            threads: None,
            device: "cuda:0".into(),
            precision: self.precision.into(),
            details: self.details.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tf32_from_ampere_on() {
        assert_eq!(super::precision_for(Some((9, 0))), "tf32");
        assert_eq!(super::precision_for(Some((8, 7))), "tf32");
        assert_eq!(super::precision_for(Some((7, 5))), "f32");
        assert_eq!(super::precision_for(None), "f32");
    }

    #[test]
    fn a_cuda_older_than_13_is_named_in_one_line() {
        // A Jetson Nano (JetPack 4.6), JetPack 5, JetPack 6, and CUDA 13.0 / 13.1.
        for (found, text) in [
            (10020, "10.2"),
            (11040, "11.4"),
            (12020, "12.2"),
            (12090, "12.9"),
        ] {
            let p = super::version_problem("the NVIDIA driver here (libcuda.so.1) supports", found)
                .unwrap();
            assert!(!p.contains('\n'), "{p}");
            assert!(
                p.starts_with("tract-cuda needs CUDA 13.0 or newer")
                    && p.ends_with(&format!("supports CUDA {text}")),
                "{p}"
            );
        }
        assert_eq!(super::version_problem("x", 13000), None);
        assert_eq!(super::version_problem("x", 13010), None);
    }

    /// A stand-in libcuda / libcudart (built with the C compiler cargo links with) that
    /// reports the given version, in a fresh folder.
    fn fake_library(dir: &std::path::Path, file: &str, symbol: &str, version: i32) -> String {
        let c = dir.join(format!("{file}.c"));
        std::fs::write(
            &c,
            format!("int {symbol}(int *v) {{ *v = {version}; return 0; }}\n"),
        )
        .unwrap();
        let so = dir.join(file);
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        match std::process::Command::new(&cc)
            .args(["-shared", "-fPIC", "-o"])
            .arg(&so)
            .arg(&c)
            .status()
        {
            Ok(s) if s.success() => {}
            other => panic!("{cc} could not build {}: {other:?}", so.display()),
        }
        so.display().to_string()
    }

    #[test]
    fn the_driver_s_and_the_runtime_s_versions_are_read_from_the_libraries() {
        let dir = tempfile::tempdir().unwrap();
        let nano = fake_library(dir.path(), "libcuda.so.1", "cuDriverGetVersion", 10020);
        let new_driver = fake_library(dir.path(), "libcuda13.so", "cuDriverGetVersion", 13000);
        let old_rt = fake_library(
            dir.path(),
            "libcudart.so.12",
            "cudaRuntimeGetVersion",
            12020,
        );
        let new_rt = fake_library(
            dir.path(),
            "libcudart.so.13",
            "cudaRuntimeGetVersion",
            13000,
        );
        let missing = dir.path().join("libcuda.so.404").display().to_string();

        assert_eq!(
            super::library_version(&[missing.as_str(), nano.as_str()], b"cuDriverGetVersion\0"),
            Some((nano.clone(), 10020))
        );
        // The wrong symbol: not a driver.
        assert_eq!(
            super::library_version(&[old_rt.as_str()], b"cuDriverGetVersion\0"),
            None
        );
        let p = super::version_check(&[nano.as_str()], &[new_rt.as_str()]).unwrap();
        assert!(
            p.contains(&nano) && p.ends_with("supports CUDA 10.2"),
            "{p}"
        );
        let p = super::version_check(&[new_driver.as_str()], &[old_rt.as_str()]).unwrap();
        assert!(
            p.contains("runtime library found") && p.ends_with("is CUDA 12.2"),
            "{p}"
        );
        assert_eq!(
            super::version_check(&[new_driver.as_str()], &[new_rt.as_str()]),
            None
        );
        // Nothing loads: the library check that follows reports it.
        assert_eq!(
            super::version_check(&[missing.as_str()], &[missing.as_str()]),
            None
        );
    }

    #[test]
    fn reasons_are_one_short_line() {
        let r = super::short_reason("cuda runtime supported dependencies not found.: CUDA driver validation failed: CUDA driver library not found. Tried: [\"libcuda.so\"]. Is an NVIDIA driver installed");
        assert!(!r.contains('\n'));
        assert!(r.starts_with("no usable CUDA"), "{r}");
        assert!(!r.contains("Tried"), "{r}");
    }
}
