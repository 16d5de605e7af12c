//! tract's CUDA runtime (`tract-cuda`): the typed tract model, rewritten for the GPU and
//! compiled with NVRTC at prepare time. Needs nothing at build time; at run time it needs the
//! NVIDIA driver and the CUDA 13 libraries (cudart, NVRTC, cuBLAS, cuDNN) on the loader path.
//! Where they are missing it reports "not available" with the reason, never a panic: the
//! libraries are probed before cudarc touches them (cudarc panics on a missing library).

use edgebench_core::engine::{
    check_spec, Availability, Engine, EngineSpec, PrepareOptions, Session, SessionInfo, VariantInfo,
};
use edgebench_core::error::{one_line, Error, Result};
use edgebench_core::model::Model;
use edgebench_core::tensor::HostTensor;
use edgebench_core::tract_support::{guard, typed_model};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use tract_onnx::prelude::*;

pub const FIX: &str = "run on a machine with an NVIDIA GPU, driver >= 580 (CUDA 13) and the CUDA 13 runtime, NVRTC, cuBLAS and cuDNN 9 libraries on LD_LIBRARY_PATH (e.g. `python3 -m pip install nvidia-cuda-runtime nvidia-cuda-nvrtc nvidia-cublas nvidia-cudnn-cu13`)";

pub struct TractCuda;

static CHECK: OnceLock<std::result::Result<&'static dyn Runtime, String>> = OnceLock::new();

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

/// The CUDA runtime, once its libraries are known to be there.
fn cuda_runtime() -> std::result::Result<&'static dyn Runtime, &'static str> {
    CHECK
        .get_or_init(|| {
            // Referencing the crate keeps its `register_runtime!` entry in the binary.
            let _ = std::any::type_name::<tract_cuda::CudaTransform>();
            let rt = guard(|| runtime_for_name("cuda"))
                .map_err(|e| short_reason(&e))?
                .ok_or_else(|| {
                    "tract's cuda runtime is not registered in this build".to_string()
                })?;
            guard(|| rt.check()).map_err(|e| short_reason(&e))?;
            Ok(rt)
        })
        .as_ref()
        .copied()
        .map_err(String::as_str)
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
            Err(reason) => Availability::Unavailable {
                reason: reason.to_owned(),
                fix: FIX.into(),
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
        let rt = cuda_runtime().map_err(|reason| Error::EngineUnavailable {
            engine: label.clone(),
            reason: reason.to_owned(),
            fix: FIX.into(),
        })?;
        let typed = typed_model(model, &opts.inputs, &label)?;
        let engine_err = |reason: String| Error::Engine {
            engine: label.clone(),
            reason,
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
    fn reasons_are_one_short_line() {
        let r = super::short_reason("cuda runtime supported dependencies not found.: CUDA driver validation failed: CUDA driver library not found. Tried: [\"libcuda.so\"]. Is an NVIDIA driver installed");
        assert!(!r.contains('\n'));
        assert!(r.starts_with("no usable CUDA"), "{r}");
        assert!(!r.contains("Tried"), "{r}");
    }
}
