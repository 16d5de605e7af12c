//! OpenVINO through the `openvino` crate with run-time linking: `openvino:f32`,
//! `openvino:bf16`, `openvino:f16` set the inference precision hint; `openvino:native` lets
//! the device choose (bf16 on CPUs with AVX512-BF16 or AMX). `quant=int8[,calib=DIR]` runs
//! the model quantized to QDQ int8 (`crate::lowp`, in `prepare`).
//!
//! The precision that ran is read from OpenVINO itself: at prepare, the compiled model's
//! inference precision; after measurement (`Session::read_back`), one run of a second compile
//! with performance counters on, whose executed primitives name their precision
//! (`crate::proof::openvino_counters`). The counters are what is recorded.

use crate::libfind::{self, Found, LibProbe, LibSearch};
use edgebench_core::engine::{
    check_spec, Availability, Engine, EngineSpec, PrepareOptions, Session, SessionInfo, VariantInfo,
};
use edgebench_core::error::{one_line, EngineError, Error, Result};
use edgebench_core::model::Model;
use edgebench_core::tensor::{HostTensor, TensorData};
use openvino::{
    Core, DeviceType, ElementType, InferRequest, PartialShape, PropertyKey, RwPropertyKey, Shape,
    Tensor,
};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The openvino wheel edgebench is tested with (`.ci/requirements.txt`).
pub const TESTED_VERSION: &str = "2026.4.1";
pub const FIX: &str = "install it with `python3 -m pip install openvino==2026.4.1` (or give --openvino-lib PATH / OPENVINO_LIB)";

const VARIANTS: &[&str] = &["f32", "bf16", "f16", "native"];
const KEYS: &[&str] = &["device", "hint", "threads", "streams", "quant", "calib"];
const DEVICES: &[&str] = &["CPU", "GPU", "NPU", "AUTO"];

pub struct OpenVino;

/// Everything a spec asks of OpenVINO, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OvConfig {
    /// Requested inference precision (None: the device's choice).
    pub precision: Option<&'static str>,
    pub device: String,
    /// `LATENCY` or `THROUGHPUT`.
    pub hint: &'static str,
    pub threads: Option<usize>,
    pub streams: Option<usize>,
    /// `quant=int8[,calib=DIR]`: run the model quantized to QDQ int8.
    pub quant: Option<crate::lowp::QuantRequest>,
}

impl OvConfig {
    pub fn from_spec(spec: &EngineSpec, threads: Option<usize>) -> Result<OvConfig> {
        check_spec(spec, VARIANTS, &[], KEYS)?;
        let shown = spec.to_string();
        let bad = |msg: String| Error::InvalidArgument(format!("--engine {shown}: {msg}"));
        let precision = match spec.variant().unwrap_or("f32") {
            "native" => None,
            v => VARIANTS.iter().find(|x| **x == v).copied(),
        };
        let device = spec
            .options
            .get("device")
            .map(|d| d.to_ascii_uppercase())
            .unwrap_or_else(|| "CPU".into());
        let base = device.split('.').next().unwrap_or("");
        if !DEVICES.contains(&base) {
            return Err(bad(format!(
                "unknown device `{device}`; valid: CPU, GPU, GPU.1, NPU, AUTO"
            )));
        }
        let hint = match spec.options.get("hint").map(String::as_str) {
            None | Some("latency") => "LATENCY",
            Some("throughput") => "THROUGHPUT",
            Some(h) => {
                return Err(bad(format!(
                    "hint={h}: valid hints are latency, throughput"
                )))
            }
        };
        let positive = |k: &str| -> Result<Option<usize>> {
            spec.options
                .get(k)
                .map(|v| {
                    v.parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| bad(format!("{k}={v} must be a positive integer")))
                })
                .transpose()
        };
        Ok(OvConfig {
            precision,
            device,
            hint,
            threads: positive("threads")?.or(threads),
            streams: positive("streams")?,
            quant: crate::lowp::quant_request(spec)?,
        })
    }

    /// The properties edgebench sets on the device before compiling, in order.
    pub fn properties(&self) -> Vec<(RwPropertyKey, String)> {
        let mut p = vec![(RwPropertyKey::HintPerformanceMode, self.hint.to_string())];
        if let Some(pr) = self.precision {
            p.push((RwPropertyKey::HintInferencePrecision, pr.to_string()));
        }
        if let Some(n) = self.threads {
            p.push((RwPropertyKey::InferenceNumThreads, n.to_string()));
        }
        if let Some(n) = self.streams {
            p.push((RwPropertyKey::NumStreams, n.to_string()));
        }
        p
    }
}

struct Runtime {
    version: String,
    found: Found,
    devices: Vec<String>,
}

static RUNTIME: OnceLock<std::result::Result<Runtime, EngineError>> = OnceLock::new();

fn search() -> LibSearch {
    LibSearch {
        engine: "openvino",
        flag: "--openvino-lib",
        flag_value: crate::library_paths().openvino,
        env_var: "OPENVINO_LIB",
        python_module: "openvino",
        python_subdir: "libs",
        file: "libopenvino_c.so",
        extra_dirs: &[
            "/opt/intel/openvino/runtime/lib/intel64",
            "/opt/intel/openvino/runtime/lib/aarch64",
        ],
    }
}

fn runtime() -> std::result::Result<&'static Runtime, &'static EngineError> {
    RUNTIME.get_or_init(load).as_ref()
}

fn load() -> std::result::Result<Runtime, EngineError> {
    let found =
        libfind::find(&search(), &LibProbe::real()).map_err(|e| EngineError::NotFound(e.reason))?;
    let path = found.path.clone();
    // The crate's own search finds only an unversioned libopenvino_c.so: load the file found.
    crate::catch(|| openvino_sys::library::load_from(path))
        .map_err(|e| e.to_string())
        .and_then(|r| r)
        .map_err(|e| EngineError::Load {
            path: found.path.clone(),
            reason: one_line(&e),
        })?;
    let version = crate::catch(|| openvino::version().build_number).map_err(|e| {
        EngineError::NotFound(format!(
            "{} does not report a version: {e}",
            found.path.display()
        ))
    })?;
    let version = version.split('-').next().unwrap_or(&version).to_owned();
    let devices = crate::catch(|| -> std::result::Result<Vec<String>, EngineError> {
        let core = Core::new().map_err(|e| EngineError::Run(e.to_string()))?;
        let devices = core
            .available_devices()
            .map_err(|e| EngineError::Run(e.to_string()))?;
        Ok(devices.iter().map(|d| d.as_ref().to_owned()).collect())
    })
    .and_then(|r| r)
    .map_err(|e| {
        EngineError::NotFound(format!(
            "OpenVINO {version} at {} cannot start: {e}",
            found.path.display()
        ))
    })?;
    Ok(Runtime {
        version,
        found,
        devices,
    })
}

/// Where the library came from, for `edgebench engines`.
pub fn library() -> Option<String> {
    runtime()
        .ok()
        .map(|r| format!("{} ({})", r.found.path.display(), r.found.source))
}

impl Engine for OpenVino {
    fn name(&self) -> &'static str {
        "openvino"
    }

    fn availability(&self) -> Availability {
        match runtime() {
            Ok(r) => Availability::Available {
                version: r.version.clone(),
                devices: r.devices.clone(),
            },
            Err(reason) => Availability::Unavailable {
                reason: reason.to_string(),
                fix: FIX.into(),
            },
        }
    }

    fn variants(&self) -> Vec<VariantInfo> {
        let v = |spec: &str, d: &str| VariantInfo {
            spec: spec.into(),
            description: d.into(),
        };
        vec![
            v("openvino:f32", "inference precision f32 (the default)"),
            v(
                "openvino:bf16",
                "inference precision bf16 (AVX512-BF16 / AMX CPUs; else f32 runs and is recorded)",
            ),
            v(
                "openvino:f16",
                "inference precision f16 (GPU, NPU, some CPUs)",
            ),
            v(
                "openvino:native",
                "the device's own choice of precision (recorded)",
            ),
            v(
                "openvino:f32,device=GPU,hint=throughput",
                "device=CPU|GPU|NPU|AUTO, hint=latency|throughput, threads=N, streams=N",
            ),
        ]
    }

    fn validate(&self, spec: &EngineSpec) -> Result<()> {
        OvConfig::from_spec(spec, None).map(|_| ())
    }

    fn prepare(
        &self,
        model: &Model,
        spec: &EngineSpec,
        opts: &PrepareOptions,
    ) -> Result<Box<dyn Session>> {
        let cfg = OvConfig::from_spec(spec, opts.threads)?;
        let label = spec.to_string();
        let rt = runtime().map_err(|e| e.clone().unavailable(label.clone(), FIX))?;
        let base = cfg.device.split('.').next().unwrap_or("CPU").to_owned();
        if base != "AUTO" && !rt.devices.iter().any(|d| d.starts_with(&base)) {
            return Err(Error::EngineUnavailable {
                engine: label,
                reason: format!(
                    "OpenVINO sees no {} device here (it sees {})",
                    cfg.device,
                    rt.devices.join(", ")
                ),
                fix: "install the device's driver (GPU: intel-opencl-icd; NPU: the intel NPU driver) or use device=CPU".into(),
            });
        }
        let err = |reason: String| Error::Engine {
            engine: label.clone(),
            reason: format!("cannot prepare {}: {}", model.name, one_line(&reason)),
        };
        // The variant's model: quantized here, so that it counts in prepare_ms.
        let transformed = match &cfg.quant {
            Some(q) => Some(crate::lowp::quantize(
                model,
                &opts.inputs,
                q,
                edgebench_torch::quantize::Activations::U8,
            )?),
            None => None,
        };
        let mut details = BTreeMap::new();
        if let Some(p) = cfg.precision {
            details.insert(edgebench_core::precision::ASKED.into(), p.to_owned());
        }
        if let Some(t) = &transformed {
            details.extend(t.details.clone());
        }
        let model = transformed
            .map(|t| t.model)
            .unwrap_or_else(|| model.clone());
        let model = &model;
        let inputs = opts.inputs.clone();
        let prepared = crate::catch(|| -> std::result::Result<_, EngineError> {
            let s = |e: openvino::InferenceError| EngineError::Run(e.to_string());
            let refused = |e: openvino::InferenceError| EngineError::ModelRefused(e.to_string());
            let mut core = Core::new().map_err(|e| EngineError::Run(e.to_string()))?;
            let device = DeviceType::from(cfg.device.as_str()).to_owned();
            for (k, v) in cfg.properties() {
                core.set_property(&device, &k, &v)
                    .map_err(|e| EngineError::Unsupported(format!("{} = {v}: {e}", k.as_ref())))?;
            }
            let mut ov_model = match &model.path {
                Some(p) => core.read_model_from_file(&p.to_string_lossy(), ""),
                None => core.read_model_from_buffer(&model.bytes, None),
            }
            .map_err(refused)?;
            let shapes: Vec<(String, PartialShape)> = inputs
                .iter()
                .map(|i| {
                    let dims: Vec<i64> = i.shape.iter().map(|&d| d as i64).collect();
                    PartialShape::new_static(dims.len() as i64, &dims).map(|p| (i.name.clone(), p))
                })
                .collect::<std::result::Result<_, _>>()
                .map_err(refused)?;
            if ov_model.is_dynamic() {
                let refs: Vec<(&str, &PartialShape)> =
                    shapes.iter().map(|(n, p)| (n.as_str(), p)).collect();
                ov_model.reshape(&refs).map_err(refused)?;
            }
            let mut compiled = core.compile_model(&ov_model, device).map_err(refused)?;
            let prop = |k: RwPropertyKey| {
                compiled
                    .get_property(&PropertyKey::Rw(k))
                    .map(|v| v.into_owned())
                    .ok()
            };
            let precision = prop(RwPropertyKey::HintInferencePrecision);
            let threads = prop(RwPropertyKey::InferenceNumThreads);
            let streams = prop(RwPropertyKey::NumStreams);
            let n_out = compiled.get_output_size().map_err(s)?;
            let output_names = (0..n_out)
                .map(|i| {
                    compiled
                        .get_output_by_index(i)
                        .and_then(|n| n.get_name())
                        .unwrap_or_else(|_| format!("output{i}"))
                })
                .collect::<Vec<_>>();
            let request = compiled.create_infer_request().map_err(s)?;
            let recipe = CountersRecipe {
                core,
                model: ov_model,
                device: cfg.device.clone(),
            };
            Ok((request, output_names, precision, threads, streams, recipe))
        })
        .and_then(|r| r)
        .map_err(|e| err(e.to_string()))?;
        let (request, output_names, precision, threads, streams, recipe) = prepared;

        let ran = precision
            .as_deref()
            .map(normalize_precision)
            .unwrap_or("f32")
            .to_owned();
        details.insert("library".into(), rt.found.path.display().to_string());
        details.insert("performance_hint".into(), cfg.hint.into());
        details.insert(
            "requested_precision".into(),
            cfg.precision.unwrap_or("native").into(),
        );
        if let Some(p) = &precision {
            details.insert("inference_precision_hint".into(), p.clone());
        }
        if let Some(s) = streams {
            details.insert("num_streams".into(), s);
        }
        let threads_ran = threads.as_deref().and_then(|t| t.parse::<usize>().ok());
        Ok(Box::new(OvSession {
            label,
            request,
            output_names,
            inputs: vec![],
            counters: Some(recipe),
            info: SessionInfo {
                engine_version: rt.version.clone(),
                // 0 means "all the cores OpenVINO chose"; record what was asked then.
                threads: threads_ran.filter(|&n| n > 0).or(cfg.threads),
                device: cfg.device.to_ascii_lowercase(),
                precision: ran,
                details,
            },
        }))
    }
}

/// OpenVINO's precision names (`f32`, `bf16`, `f16`, sometimes upper case) as edgebench's.
pub fn normalize_precision(p: &str) -> &'static str {
    match p.to_ascii_lowercase().as_str() {
        "bf16" => "bf16",
        "f16" | "fp16" => "f16",
        "i8" | "u8" | "int8" => "int8",
        _ => "f32",
    }
}

struct OvSession {
    label: String,
    request: InferRequest,
    output_names: Vec<String>,
    /// The measured inputs, for the read-back's run.
    inputs: Vec<HostTensor>,
    /// What `read_back` compiles again with performance counters on; taken when it runs.
    counters: Option<CountersRecipe>,
    info: SessionInfo,
}

/// The core (with the variant's properties set) and the reshaped model of a session.
struct CountersRecipe {
    core: Core,
    model: openvino::Model,
    device: String,
}

// `openvino` 0.11.1 (pinned: `=0.11.1`) keeps an `InferRequest`'s C handle private and has no
// wrapper for `ov_infer_request_get_profiling_info`; the struct is that one pointer.
const _: () = assert!(
    std::mem::size_of::<InferRequest>()
        == std::mem::size_of::<*mut openvino_sys::ov_infer_request_t>()
);

/// OpenVINO's performance counters of one run of `recipe`'s model, compiled again with
/// `PERF_COUNT` on (so that the measured compile never pays for the counters).
fn perf_counters(
    recipe: &mut CountersRecipe,
    inputs: &[HostTensor],
) -> std::result::Result<Vec<crate::proof::OvCounter>, EngineError> {
    let e = |e: openvino::InferenceError| EngineError::Run(e.to_string());
    let device = DeviceType::from(recipe.device.as_str()).to_owned();
    recipe
        .core
        .set_property(&device, &RwPropertyKey::EnableProfiling, "YES")
        .map_err(e)?;
    let mut compiled = recipe
        .core
        .compile_model(&recipe.model, device)
        .map_err(e)?;
    let mut request = compiled.create_infer_request().map_err(e)?;
    for t in inputs {
        request.set_tensor(&t.name, &to_tensor(t)?).map_err(e)?;
    }
    request.infer().map_err(e)?;
    // SAFETY: `InferRequest` is its handle (size checked above); the handle stays valid while
    // `request` lives, and the list is freed by OpenVINO's own function after it is copied.
    unsafe {
        let handle =
            *(std::ptr::addr_of!(request) as *const *const openvino_sys::ov_infer_request_t);
        let mut list = openvino_sys::ov_profiling_info_list_t {
            profiling_infos: std::ptr::null_mut(),
            size: 0,
        };
        let status = openvino_sys::ov_infer_request_get_profiling_info(handle, &mut list);
        if status != openvino_sys::ov_status_e::OK || list.profiling_infos.is_null() {
            return Err(EngineError::Run(format!(
                "ov_infer_request_get_profiling_info failed ({status:?})"
            )));
        }
        let text = |p: *const std::os::raw::c_char| {
            if p.is_null() {
                String::new()
            } else {
                std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        let counters = std::slice::from_raw_parts(list.profiling_infos, list.size)
            .iter()
            .map(|i| crate::proof::OvCounter {
                node_type: text(i.node_type),
                exec_type: text(i.exec_type),
                executed: i.status == openvino_sys::ov_profiling_info_t_Status::EXECUTED,
            })
            .collect();
        openvino_sys::ov_profiling_info_list_free(&mut list);
        Ok(counters)
    }
}

impl OvSession {
    fn err(&self, reason: String) -> Error {
        Error::Engine {
            engine: self.label.clone(),
            reason,
        }
    }
}

impl Session for OvSession {
    fn set_inputs(&mut self, inputs: &[HostTensor]) -> Result<()> {
        if self.counters.is_some() {
            self.inputs = inputs.to_vec();
        }
        for t in inputs {
            let tensor = to_tensor(t).map_err(|e| self.err(format!("input `{}`: {e}", t.name)))?;
            self.request
                .set_tensor(&t.name, &tensor)
                .map_err(|e| self.err(format!("input `{}`: {e}", t.name)))?;
        }
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        match self.request.infer() {
            Ok(()) => Ok(()),
            Err(e) => Err(self.err(e.to_string())),
        }
    }

    fn outputs(&mut self) -> Result<Vec<HostTensor>> {
        (0..self.output_names.len())
            .map(|i| {
                let t = self
                    .request
                    .get_output_tensor_by_index(i)
                    .map_err(|e| EngineError::Run(e.to_string()))?;
                from_tensor(&self.output_names[i], &t)
            })
            .collect::<std::result::Result<_, EngineError>>()
            .map_err(|e| self.err(e.to_string()))
    }

    fn info(&self) -> SessionInfo {
        self.info.clone()
    }

    fn read_back(&mut self) {
        let Some(mut recipe) = self.counters.take() else {
            return;
        };
        let inputs = std::mem::take(&mut self.inputs);
        let done = crate::catch(|| perf_counters(&mut recipe, &inputs))
            .and_then(|r| r)
            .and_then(|c| {
                crate::proof::openvino_counters(
                    &c,
                    "openvino performance counters of one run after measurement (the model compiled again with PERF_COUNT)",
                )
            });
        match done {
            Ok(evidence) => evidence.record(&mut self.info),
            Err(e) => {
                self.info.details.insert(
                    edgebench_core::precision::PROOF.into(),
                    format!("the counted run failed: {}", one_line(&e)),
                );
            }
        }
    }
}

fn to_tensor(t: &HostTensor) -> std::result::Result<Tensor, EngineError> {
    let dims: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
    let shape = Shape::new(&dims).map_err(|e| EngineError::Run(e.to_string()))?;
    fn fill<T: Copy>(
        ty: ElementType,
        shape: &Shape,
        v: &[T],
    ) -> std::result::Result<Tensor, EngineError> {
        let e = |e: openvino::InferenceError| EngineError::Run(e.to_string());
        let mut tensor = Tensor::new(ty, shape).map_err(e)?;
        tensor.get_data_mut::<T>().map_err(e)?.copy_from_slice(v);
        Ok(tensor)
    }
    match &t.data {
        TensorData::F32(v) => fill(ElementType::F32, &shape, v),
        TensorData::F64(v) => fill(ElementType::F64, &shape, v),
        TensorData::I64(v) => fill(ElementType::I64, &shape, v),
        TensorData::I32(v) => fill(ElementType::I32, &shape, v),
        TensorData::I8(v) => fill(ElementType::I8, &shape, v),
        TensorData::U8(v) => fill(ElementType::U8, &shape, v),
        TensorData::Bool(v) => fill(ElementType::Boolean, &shape, v),
    }
}

fn from_tensor(name: &str, t: &Tensor) -> std::result::Result<HostTensor, EngineError> {
    let e = |e: openvino::InferenceError| EngineError::Run(e.to_string());
    let shape: Vec<usize> = t
        .get_shape()
        .map_err(e)?
        .get_dimensions()
        .iter()
        .map(|&d| d as usize)
        .collect();
    let data = match t.get_element_type().map_err(e)? {
        ElementType::F32 => TensorData::F32(t.get_data::<f32>().map_err(e)?.to_vec()),
        ElementType::F64 => TensorData::F64(t.get_data::<f64>().map_err(e)?.to_vec()),
        ElementType::I64 => TensorData::I64(t.get_data::<i64>().map_err(e)?.to_vec()),
        ElementType::I32 => TensorData::I32(t.get_data::<i32>().map_err(e)?.to_vec()),
        ElementType::I8 => TensorData::I8(t.get_data::<i8>().map_err(e)?.to_vec()),
        ElementType::U8 => TensorData::U8(t.get_data::<u8>().map_err(e)?.to_vec()),
        ElementType::Boolean => TensorData::Bool(
            t.get_data::<u8>()
                .map_err(e)?
                .iter()
                .map(|&b| b != 0)
                .collect(),
        ),
        other => {
            return Err(EngineError::Unsupported(format!(
                "output `{name}` has element type {other:?}, which edgebench cannot compare yet"
            )))
        }
    };
    Ok(HostTensor {
        name: name.to_owned(),
        shape,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(s: &str) -> Result<OvConfig> {
        OvConfig::from_spec(&EngineSpec::parse(s).unwrap(), None)
    }

    #[test]
    fn specs() {
        let c = cfg("openvino").unwrap();
        assert_eq!(
            (c.precision, c.device.as_str(), c.hint),
            (Some("f32"), "CPU", "LATENCY")
        );
        assert_eq!(cfg("openvino:native").unwrap().precision, None);
        let c = cfg("openvino:bf16,device=gpu,hint=throughput,threads=4").unwrap();
        assert_eq!(
            c.properties(),
            vec![
                (RwPropertyKey::HintPerformanceMode, "THROUGHPUT".to_string()),
                (RwPropertyKey::HintInferencePrecision, "bf16".into()),
                (RwPropertyKey::InferenceNumThreads, "4".into()),
            ]
        );
        assert_eq!(c.device, "GPU");
        assert!(cfg("openvino:int4")
            .unwrap_err()
            .to_string()
            .contains("f32"));
        assert!(cfg("openvino:f32,device=TPU")
            .unwrap_err()
            .to_string()
            .contains("NPU"));
        assert!(cfg("openvino:f32,hint=fast").is_err());
        assert!(cfg("openvino:f32,threads=x").is_err());
        assert_eq!(normalize_precision("BF16"), "bf16");
        assert_eq!(normalize_precision("f32"), "f32");
    }
}
