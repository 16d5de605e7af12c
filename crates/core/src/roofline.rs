//! The roofline: how far a result is from what this device can do through the same engine.
//!
//! Two roofs, both measured through the engine and precision of the result they judge (never
//! a vendor's peak figure): the compute roof, FLOP/s of a large matrix product
//! ([`testmodel::matmul_roof`]), and the bandwidth roof, bytes/s of a large elementwise
//! operator ([`testmodel::elementwise_roof`]). A model that does `F` FLOPs and moves `B` bytes
//! per inference (`inspect::bytes_moved`) in a median `t` seconds:
//!
//! ```text
//! achieved   = F / t                                   FLOP/s
//! intensity  = F / B                                   FLOP/byte
//! attainable = min(compute roof, bandwidth roof x intensity)
//! % of roof  = 100 x achieved / attainable
//! bound      = memory when bandwidth roof x intensity < compute roof, else compute
//! ```
//!
//! Roofs are cached per host (CPU model, cores), engine spec, engine version and threads in
//! the user's cache folder ([`RoofCache`]); views look them up and never measure.

use crate::bench::{run_variant, BenchOptions};
use crate::engine::{Availability, Engine, EngineSpec};
use crate::host::HostInfo;
use crate::measure::MeasureOptions;
use crate::model::{Model, ShapeRequest};
use crate::schema::Status;
use crate::testmodel;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::PathBuf;

/// Version of a cached roof's document; an entry of another version is measured again.
pub const ROOF_SCHEMA_VERSION: u32 = 1;

/// The two roofs of one engine spec on one host.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Roofs {
    /// FLOP/s of the large matrix product.
    pub compute_flops_per_s: f64,
    /// Bytes/s of the large elementwise operator.
    pub bandwidth_bytes_per_s: f64,
}

impl Roofs {
    /// The intensity (FLOP/byte) where the two roofs meet: below it a model is memory-bound.
    pub fn ridge(&self) -> f64 {
        self.compute_flops_per_s / self.bandwidth_bytes_per_s
    }

    /// The most FLOP/s a model of this intensity can reach.
    pub fn attainable(&self, intensity: f64) -> f64 {
        self.compute_flops_per_s
            .min(self.bandwidth_bytes_per_s * intensity)
    }

    /// Which roof bounds a model of this intensity.
    pub fn bound(&self, intensity: f64) -> Bound {
        if self.bandwidth_bytes_per_s * intensity < self.compute_flops_per_s {
            Bound::Memory
        } else {
            Bound::Compute
        }
    }
}

/// Which roof bounds a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Compute,
    Memory,
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Bound::Compute => "compute",
            Bound::Memory => "memory",
        })
    }
}

/// A result placed under its roofs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// FLOPs per inference over the median latency.
    pub achieved_flops_per_s: f64,
    /// FLOPs over bytes moved; `None` when the bytes are not known (a study row), and then
    /// `attainable_flops_per_s` is the compute roof, so that `percent_of_roof` is a lower
    /// bound of the percentage of the attainable roof.
    pub intensity: Option<f64>,
    pub attainable_flops_per_s: f64,
    pub percent_of_roof: f64,
    /// `None` when the intensity is not known.
    pub bound: Option<Bound>,
}

/// FLOPs per inference over the median latency; `None` for no FLOPs or no positive latency.
pub fn achieved_flops_per_s(flops: u64, median_ms: f64) -> Option<f64> {
    (flops > 0 && median_ms.is_finite() && median_ms > 0.0)
        .then(|| flops as f64 / (median_ms / 1e3))
}

/// FLOPs per byte moved; `None` when either is zero.
pub fn intensity(flops: u64, bytes: u64) -> Option<f64> {
    (flops > 0 && bytes > 0).then(|| flops as f64 / bytes as f64)
}

/// Places a result (`flops` per inference, `bytes` moved per inference when known, its
/// median latency) under `roofs`; `None` when it did no counted work or has no latency.
pub fn place(flops: u64, bytes: Option<u64>, median_ms: f64, roofs: &Roofs) -> Option<Placement> {
    let achieved = achieved_flops_per_s(flops, median_ms)?;
    let intensity = bytes.and_then(|b| intensity(flops, b));
    let attainable = match intensity {
        Some(i) => roofs.attainable(i),
        None => roofs.compute_flops_per_s,
    };
    (attainable > 0.0).then(|| Placement {
        achieved_flops_per_s: achieved,
        intensity,
        attainable_flops_per_s: attainable,
        percent_of_roof: 100.0 * achieved / attainable,
        bound: intensity.map(|i| roofs.bound(i)),
    })
}

/// The sizes of the two roof models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoofSizes {
    /// The matrix product is `n x n` by `n x n`.
    pub matmul_n: usize,
    /// Values in each operand of the elementwise Add.
    pub elements: usize,
}

impl Default for RoofSizes {
    /// 2048³ (17.2 GFLOP, 48 MiB: compute-bound on every CPU and GPU) and 64 Mi floats per
    /// operand (768 MiB moved: far beyond any cache).
    fn default() -> Self {
        RoofSizes {
            matmul_n: 2048,
            elements: 64 << 20,
        }
    }
}

/// Which roof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoofKind {
    Compute,
    Bandwidth,
}

impl fmt::Display for RoofKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RoofKind::Compute => "compute",
            RoofKind::Bandwidth => "bandwidth",
        })
    }
}

/// One roof model's measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoofRun {
    /// What ran, e.g. `MatMul 2048x2048 x 2048x2048 f32`.
    pub model: String,
    pub flops: u64,
    pub bytes: u64,
    pub median_ms: f64,
    pub ci95_low_ms: f64,
    pub ci95_high_ms: f64,
    pub samples: usize,
}

/// What a cached roof is valid for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoofKey {
    pub cpu: String,
    pub physical_cores: Option<usize>,
    pub logical_cpus: usize,
    /// The engine spec, normalized (`EngineSpec`'s display).
    pub spec: String,
    pub engine_version: String,
    /// Threads the engine was given.
    pub threads: usize,
}

impl RoofKey {
    pub fn new(host: &HostInfo, spec: &str, engine_version: &str, threads: usize) -> RoofKey {
        RoofKey {
            cpu: host.cpu.clone(),
            physical_cores: host.physical_cores,
            logical_cpus: host.logical_cpus,
            spec: spec.to_owned(),
            engine_version: engine_version.to_owned(),
            threads,
        }
    }

    /// The cache file's name: a hash of the key.
    fn file_name(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let hex: String = Sha256::digest(&json)
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{hex}.json")
    }
}

/// Measured roofs, as cached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoofEntry {
    pub schema_version: u32,
    pub key: RoofKey,
    /// The precision that ran, as the engine's session recorded it.
    pub precision: String,
    /// Where it ran (`cpu`, `cuda:0`, ...), as the session recorded it.
    pub device: String,
    /// The devices the engine saw (a GPU's name where it names one).
    pub devices: Vec<String>,
    pub roofs: Roofs,
    pub compute: RoofRun,
    pub bandwidth: RoofRun,
    pub sizes: RoofSizes,
    pub measured_unix: f64,
}

/// Why roofs could not be had.
#[derive(Debug, thiserror::Error)]
pub enum RooflineError {
    #[error("engine {spec} is not available: {reason}")]
    Unavailable { spec: String, reason: String },
    #[error("engine {spec} could not run the {roof} roof's model ({model}): {reason}")]
    Failed {
        spec: String,
        roof: RoofKind,
        model: String,
        reason: String,
    },
    #[error("--roof-sizes: {0}")]
    Sizes(String),
    #[error(transparent)]
    Core(#[from] crate::Error),
}

/// The folder of cached roofs: one JSON file per [`RoofKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoofCache {
    pub dir: PathBuf,
}

impl Default for RoofCache {
    /// `roofline/` under the user's cache root (`core::cache::root`).
    fn default() -> Self {
        RoofCache {
            dir: crate::cache::root().join("roofline"),
        }
    }
}

impl RoofCache {
    pub fn at(dir: impl Into<PathBuf>) -> RoofCache {
        RoofCache { dir: dir.into() }
    }

    /// The cached roofs of `key`; `None` when missing, unreadable or of another version.
    pub fn load(&self, key: &RoofKey) -> Option<RoofEntry> {
        let bytes = std::fs::read(self.dir.join(key.file_name())).ok()?;
        let entry: RoofEntry = serde_json::from_slice(&bytes).ok()?;
        (entry.schema_version == ROOF_SCHEMA_VERSION && &entry.key == key).then_some(entry)
    }

    /// The cached roofs of a result measured on `host` through `spec` at `engine_version`
    /// with `threads` threads (`None`: the default, one per physical core).
    pub fn lookup(
        &self,
        host: &HostInfo,
        spec: &str,
        engine_version: &str,
        threads: Option<usize>,
    ) -> Option<RoofEntry> {
        let threads = threads.or(host.physical_cores).unwrap_or(host.logical_cpus);
        self.load(&RoofKey::new(host, spec, engine_version, threads))
    }

    /// Writes `entry` atomically; returns its path.
    pub fn store(&self, entry: &RoofEntry) -> Result<PathBuf, RooflineError> {
        let path = self.dir.join(entry.key.file_name());
        std::fs::create_dir_all(&self.dir).map_err(|e| crate::Error::Write {
            path: self.dir.clone(),
            reason: e.to_string(),
        })?;
        let json = serde_json::to_vec_pretty(entry).map_err(|e| crate::Error::Write {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        crate::write::write_atomic(&path, &json)?;
        Ok(path)
    }
}

/// Settings of [`run`].
#[derive(Debug, Clone)]
pub struct RoofOptions {
    pub sizes: RoofSizes,
    /// Threads for the engine; `None`: one per physical core, as `bench`.
    pub threads: Option<usize>,
    pub measure: MeasureOptions,
    /// Measure even where the cache holds roofs.
    pub refresh: bool,
    pub seed: u64,
}

impl Default for RoofOptions {
    fn default() -> Self {
        RoofOptions {
            sizes: RoofSizes::default(),
            threads: None,
            measure: MeasureOptions {
                warmup_s: 1.0,
                min_warmup_runs: 2,
                min_samples: 5,
                max_samples: 1000,
                max_time_s: 10.0,
                target_rel_ci: 0.02,
                min_time_s: 0.0,
            },
            refresh: false,
            seed: 1,
        }
    }
}

/// Where [`run`] is, for a progress display.
#[derive(Debug, Clone, PartialEq)]
pub enum RoofProgress {
    Measuring { spec: String, roof: RoofKind },
}

/// One spec's roofs: from the cache or measured now (and then cached at `path`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoofReport {
    pub entry: RoofEntry,
    pub cached: bool,
    pub path: PathBuf,
}

/// Each spec's roofs, in order; a spec that fails does not stop the others. Roofs found in
/// `cache` are used unless `opts.refresh`; measured ones are cached as soon as measured.
pub fn run(
    variants: &[(&dyn Engine, &EngineSpec)],
    host: &HostInfo,
    cache: &RoofCache,
    opts: &RoofOptions,
    on_progress: &mut dyn FnMut(RoofProgress),
) -> Vec<(String, Result<RoofReport, RooflineError>)> {
    variants
        .iter()
        .map(|(engine, spec)| {
            let shown = spec.to_string();
            let got = roofs_of(*engine, spec, host, cache, opts, on_progress);
            (shown, got)
        })
        .collect()
}

fn roofs_of(
    engine: &dyn Engine,
    spec: &EngineSpec,
    host: &HostInfo,
    cache: &RoofCache,
    opts: &RoofOptions,
    on_progress: &mut dyn FnMut(RoofProgress),
) -> Result<RoofReport, RooflineError> {
    let shown = spec.to_string();
    let (version, devices) = match engine.availability_for(spec) {
        Availability::Available { version, devices } => (version, devices),
        other => {
            return Err(RooflineError::Unavailable {
                reason: other.refusal(&shown).unwrap_or_default(),
                spec: shown,
            })
        }
    };
    let threads = opts.threads.unwrap_or_else(crate::bench::default_threads);
    let key = RoofKey::new(host, &shown, &version, threads);
    if !opts.refresh {
        if let Some(entry) = cache.load(&key) {
            let path = cache.dir.join(key.file_name());
            return Ok(RoofReport {
                entry,
                cached: true,
                path,
            });
        }
    }
    let measured = measure(engine, spec, key, devices, opts, on_progress)?;
    let path = cache.store(&measured)?;
    Ok(RoofReport {
        entry: measured,
        cached: false,
        path,
    })
}

/// Measures both roofs of `spec` now.
fn measure(
    engine: &dyn Engine,
    spec: &EngineSpec,
    key: RoofKey,
    devices: Vec<String>,
    opts: &RoofOptions,
    on_progress: &mut dyn FnMut(RoofProgress),
) -> Result<RoofEntry, RooflineError> {
    let RoofSizes { matmul_n, elements } = opts.sizes;
    if matmul_n == 0 || elements == 0 {
        return Err(RooflineError::Sizes(format!(
            "sizes must be at least 1 (got matmul {matmul_n}, elements {elements})"
        )));
    }
    let n = matmul_n as u64;
    let (compute, info) = measure_one(
        engine,
        spec,
        RoofKind::Compute,
        &testmodel::matmul_roof(matmul_n),
        format!("MatMul {matmul_n}x{matmul_n} x {matmul_n}x{matmul_n} f32"),
        2u64.saturating_mul(n).saturating_mul(n).saturating_mul(n),
        key.threads,
        opts,
        on_progress,
    )?;
    let (bandwidth, _) = measure_one(
        engine,
        spec,
        RoofKind::Bandwidth,
        &testmodel::elementwise_roof(elements),
        format!("Add of two {elements}-float vectors f32"),
        elements as u64,
        key.threads,
        opts,
        on_progress,
    )?;
    let seconds = |r: &RoofRun| r.median_ms / 1e3;
    let roofs = Roofs {
        compute_flops_per_s: compute.flops as f64 / seconds(&compute),
        bandwidth_bytes_per_s: bandwidth.bytes as f64 / seconds(&bandwidth),
    };
    Ok(RoofEntry {
        schema_version: ROOF_SCHEMA_VERSION,
        key,
        precision: info.precision,
        device: info.device,
        devices,
        roofs,
        compute,
        bandwidth,
        sizes: opts.sizes,
        measured_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0),
    })
}

/// Runs one roof model through `spec` as `bench` runs a variant (one round, one gate input
/// set: its outputs are not compared).
#[allow(clippy::too_many_arguments)]
fn measure_one(
    engine: &dyn Engine,
    spec: &EngineSpec,
    roof: RoofKind,
    proto: &tract_onnx::pb::ModelProto,
    label: String,
    flops: u64,
    threads: usize,
    opts: &RoofOptions,
    on_progress: &mut dyn FnMut(RoofProgress),
) -> Result<(RoofRun, crate::engine::SessionInfo), RooflineError> {
    on_progress(RoofProgress::Measuring {
        spec: spec.to_string(),
        roof,
    });
    let failed = |reason: String| RooflineError::Failed {
        spec: spec.to_string(),
        roof,
        model: label.clone(),
        reason,
    };
    let model = Model::from_bytes(&format!("roof_{roof}.onnx"), testmodel::encode(proto))?;
    let inputs = model.resolve_inputs(&ShapeRequest::default())?;
    let bytes = crate::inspect::bytes_moved(&model, &inputs)?.total();
    let bench = BenchOptions {
        inputs,
        batch: 1,
        threads: Some(threads),
        seed: opts.seed,
        measure: opts.measure.clone(),
        rounds: 1,
        target_fps: 30.0,
        gate_input_sets: 1,
        telemetry: None,
        scenario: None,
    };
    let run = run_variant(engine, &model, spec, &bench, &mut |_| {});
    let r = run.result;
    if r.status == Status::Failed {
        return Err(failed(r.error.unwrap_or_else(|| "failed".into())));
    }
    let (Some(latency), Some(info)) = (r.latency_ms, r.session) else {
        return Err(failed("no latency was measured".into()));
    };
    if latency.median <= 0.0 {
        return Err(failed(format!(
            "its median latency is {} ms, too short to time: use larger roof models",
            latency.median
        )));
    }
    Ok((
        RoofRun {
            model: label,
            flops,
            bytes,
            median_ms: latency.median,
            ci95_low_ms: latency.ci95_low,
            ci95_high_ms: latency.ci95_high,
            samples: r.samples,
        },
        info,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roofs() -> Roofs {
        // 100 GFLOP/s, 10 GB/s: ridge at 10 FLOP/byte
        Roofs {
            compute_flops_per_s: 100e9,
            bandwidth_bytes_per_s: 10e9,
        }
    }

    #[test]
    fn ridge_and_attainable() {
        let r = roofs();
        assert_eq!(r.ridge(), 10.0);
        assert_eq!(r.attainable(1.0), 10e9);
        assert_eq!(r.attainable(10.0), 100e9);
        assert_eq!(r.attainable(50.0), 100e9);
        assert_eq!(r.bound(1.0), Bound::Memory);
        assert_eq!(r.bound(10.0), Bound::Compute);
        assert_eq!(r.bound(50.0), Bound::Compute);
    }

    #[test]
    fn memory_bound_model() {
        // 2 GFLOP over 1 GB (intensity 2) in 500 ms: 4 GFLOP/s of an attainable 20
        let p = place(2_000_000_000, Some(1_000_000_000), 500.0, &roofs()).unwrap();
        assert_eq!(p.achieved_flops_per_s, 4e9);
        assert_eq!(p.intensity, Some(2.0));
        assert_eq!(p.attainable_flops_per_s, 20e9);
        assert!((p.percent_of_roof - 20.0).abs() < 1e-9);
        assert_eq!(p.bound, Some(Bound::Memory));
    }

    #[test]
    fn compute_bound_model() {
        // 10 GFLOP over 100 MB (intensity 100) in 200 ms: 50 GFLOP/s of 100
        let p = place(10_000_000_000, Some(100_000_000), 200.0, &roofs()).unwrap();
        assert_eq!(p.achieved_flops_per_s, 50e9);
        assert_eq!(p.intensity, Some(100.0));
        assert_eq!(p.attainable_flops_per_s, 100e9);
        assert!((p.percent_of_roof - 50.0).abs() < 1e-9);
        assert_eq!(p.bound, Some(Bound::Compute));
    }

    #[test]
    fn unknown_bytes_use_the_compute_roof() {
        let p = place(1_000_000_000, None, 100.0, &roofs()).unwrap();
        assert_eq!(p.achieved_flops_per_s, 10e9);
        assert_eq!(p.intensity, None);
        assert_eq!(p.attainable_flops_per_s, 100e9);
        assert!((p.percent_of_roof - 10.0).abs() < 1e-9);
        assert_eq!(p.bound, None);
        // bytes of zero say nothing either
        assert_eq!(
            place(1_000_000_000, Some(0), 100.0, &roofs())
                .unwrap()
                .intensity,
            None
        );
    }

    #[test]
    fn nothing_to_place() {
        assert_eq!(place(0, Some(10), 1.0, &roofs()), None);
        assert_eq!(place(10, Some(10), 0.0, &roofs()), None);
        assert_eq!(place(10, Some(10), f64::NAN, &roofs()), None);
        assert_eq!(achieved_flops_per_s(10, -1.0), None);
        assert_eq!(intensity(10, 0), None);
    }

    fn host() -> HostInfo {
        crate::fixtures::host()
    }

    fn entry(key: RoofKey) -> RoofEntry {
        let run = |flops, bytes, ms| RoofRun {
            model: "m".into(),
            flops,
            bytes,
            median_ms: ms,
            ci95_low_ms: ms,
            ci95_high_ms: ms,
            samples: 5,
        };
        RoofEntry {
            schema_version: ROOF_SCHEMA_VERSION,
            key,
            precision: "f32".into(),
            device: "cpu".into(),
            devices: vec!["cpu".into()],
            roofs: roofs(),
            compute: run(100, 12, 1.0),
            bandwidth: run(1, 12, 1.0),
            sizes: RoofSizes::default(),
            measured_unix: 0.0,
        }
    }

    #[test]
    fn cache_round_trip_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RoofCache::at(dir.path());
        let h = host();
        let key = RoofKey::new(&h, "ort:all", "1.24.4", 2);
        assert_eq!(cache.load(&key), None);
        let e = entry(key.clone());
        cache.store(&e).unwrap();
        assert_eq!(cache.load(&key), Some(e.clone()));
        assert_eq!(cache.lookup(&h, "ort:all", "1.24.4", Some(2)), Some(e));
        // another version, spec or thread count is another roof
        assert_eq!(cache.lookup(&h, "ort:all", "1.25.0", Some(2)), None);
        assert_eq!(cache.lookup(&h, "ort:disable", "1.24.4", Some(2)), None);
        assert_eq!(cache.lookup(&h, "ort:all", "1.24.4", Some(1)), None);
        // another host
        let mut other = h.clone();
        other.cpu = "another cpu".into();
        assert_eq!(cache.lookup(&other, "ort:all", "1.24.4", Some(2)), None);
    }

    #[test]
    fn a_corrupt_cache_file_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RoofCache::at(dir.path());
        let key = RoofKey::new(&host(), "tract:optimized", "0.23.9", 2);
        std::fs::write(dir.path().join(key.file_name()), b"{not json").unwrap();
        assert_eq!(cache.load(&key), None);
    }
}
