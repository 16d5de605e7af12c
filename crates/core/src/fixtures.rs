//! Made-up studies for tests: the one set of fixtures that the tests of the study's analysis
//! (`crates/study/tests/analysis.rs`) and of its views (`crates/report`) build their
//! `results.jsonl` contents from, without running or resolving any engine. A [`Study`] plans
//! its jobs the way the study's planner does for engines that all run (reference first, then
//! the baseline, then the variants, in `measure.rounds` rounds), with fixed provenance (tool,
//! host, times), so that rendered views are the same on every machine.

use crate::engine::EngineSpec;
use crate::gate::{Agreement, GateRule, Tolerance};
use crate::host::HostInfo;
use crate::schema::study::{
    round_key, Job, Loaded, ModelConfig, Plan, PlannedModel, StudyConfig, StudyMeasurement,
    StudySession, Task,
};
use crate::schema::{ModelInfo, Status, ToolInfo, VariantResult};
use crate::telemetry::energy::{
    DevicePower, Energy, EnergyMethod, SamplerCost, Throttle, ThrottleVerdict, Totals, WindowInfo,
    WindowKind,
};
use crate::tensor::{ConcreteSpec, DType};

/// Why a fixture has no energy figures: what the telemetry says on a machine without RAPL.
pub const NO_SENSOR: &str = "no power sensor: rapl: no /sys/class/powercap";

/// A test machine.
pub fn host() -> HostInfo {
    HostInfo {
        cpu: "test cpu".into(),
        physical_cores: Some(2),
        logical_cpus: 2,
        memory_bytes: 1 << 30,
        os: "test".into(),
        kernel: "0".into(),
        arch: "x86_64".into(),
        board: None,
        hostname: None,
    }
}

/// A fixed tool version, so that rendered views do not change with each commit.
pub fn tool() -> ToolInfo {
    ToolInfo {
        name: "edgebench".into(),
        version: "0".into(),
        git_commit: "test".into(),
    }
}

/// A measured variant: status ok, its statistics computed from `raw` (ms).
pub fn measured(spec: &str, raw: Vec<f64>) -> VariantResult {
    let spec = EngineSpec::parse(spec).expect("fixtures take valid engine specs");
    let mut r = VariantResult::failed(&spec, String::new());
    r.status = Status::Ok;
    r.error = None;
    r.latency_ms = crate::stats::summarize(&raw, 0);
    r.throughput_per_s = r.latency_ms.as_ref().map(|s| 1e3 / s.median);
    r.samples = raw.len();
    r.raw_ms = raw;
    r
}

/// The accuracy gate's verdict on a variant: exact agreement, or an output that differs.
pub fn agreement(passed: bool) -> Agreement {
    Agreement {
        max_abs_err: if passed { 0.0 } else { 1.0 },
        max_rel_err: 0.0,
        min_cosine: 1.0,
        top1: None,
        top5: None,
        input_sets: 1,
        tolerance: Tolerance::for_precision("f32"),
        passed,
        reason: (!passed).then(|| "output `logits` differs".to_string()),
        decided_by: Some(if passed {
            GateRule::Cosine
        } else {
            GateRule::Elementwise
        }),
        top1_rows: None,
        outputs: vec![],
    }
}

/// Telemetry of a run over 100 inferences in 2 s: `j_per_inference` joules per inference
/// from the counters of `devices` (shared equally), their sampled power giving 5% more, idle
/// 10 W, a grid of 400 gCO2/kWh; `None`: no power sensor ([`NO_SENSOR`]). `throttle`: the
/// detail of a throttle verdict, `None` for none.
pub fn energy(j_per_inference: Option<f64>, devices: &[&str], throttle: Option<&str>) -> Energy {
    let n = 100.0;
    let total = j_per_inference.map(|j| Totals {
        devices: devices.iter().map(|d| d.to_string()).collect(),
        avg_power_w: j * n / 2.0,
        peak_power_w: Some(j * 60.0),
        energy_j: j * n,
        energy_per_inference_j: j,
        inferences_per_j: 1.0 / j,
        fps_per_w: Some(1.0 / j),
        idle_power_w: Some(10.0),
        energy_per_inference_above_idle_j: Some(j - 0.2),
        grid_gco2_per_kwh: Some(400.0),
        co2_g_per_1000_inferences: Some(j * 1000.0 / 3.6e6 * 400.0),
    });
    let share = devices.len().max(1) as f64;
    let devices = match &total {
        None => vec![],
        Some(t) => devices
            .iter()
            .map(|d| DevicePower {
                device: d.to_string(),
                source: "nvml".into(),
                in_total: true,
                avg_power_w: Some(t.avg_power_w / share * 1.05),
                peak_power_w: t.peak_power_w,
                energy_j: Some(t.energy_j / share),
                method: Some(EnergyMethod::Counter),
                power_x_time_j: Some(t.energy_j / share * 1.05),
                idle_power_w: Some(10.0),
                temperature_max_c: None,
                utilization_mean_pct: None,
                memory_used_max_mib: None,
            })
            .collect(),
    };
    Energy {
        window: WindowInfo {
            kind: WindowKind::Sampling,
            duration_s: 2.0,
            inferences: 100,
            samples: 40,
        },
        devices,
        total_na: total.is_none().then(|| NO_SENSOR.to_owned()),
        total,
        clocks: vec![],
        throttle: match throttle {
            Some(detail) => Throttle {
                verdict: ThrottleVerdict::Throttled,
                reasons: vec!["gpu0: sw_power_cap".into()],
                detail: detail.into(),
            },
            None => Throttle {
                verdict: ThrottleVerdict::Ok,
                reasons: vec![],
                detail: "no throttle reason fired".into(),
            },
        },
        unavailable: vec![],
        sampler: SamplerCost {
            period_ms: 50.0,
            readings: 50,
            mean_read_ms: 0.1,
            max_read_ms: 0.2,
            busy_pct: 0.2,
        },
        notes: vec![],
        work_unmeasured: None,
    }
}

/// A model of a made-up study, with what its worker would have found.
#[derive(Debug, Clone)]
pub struct FixtureModel {
    pub label: String,
    pub source: String,
    pub task: Task,
    /// FLOPs per inference at batch 1.
    pub flops: u64,
    /// The input's shape at batch 1 (rank 5: a video model).
    pub shape: Vec<usize>,
}

impl FixtureModel {
    pub fn new(label: &str, source: &str, task: Task, flops: u64, shape: &[usize]) -> FixtureModel {
        FixtureModel {
            label: label.into(),
            source: source.into(),
            task,
            flops,
            shape: shape.to_vec(),
        }
    }
}

/// A made-up study: its config, its plan and its models' facts.
#[derive(Debug, Clone)]
pub struct Study {
    pub config: StudyConfig,
    pub plan: Plan,
    pub models: Vec<FixtureModel>,
}

impl Study {
    /// A study of `models` at batch 1 with the default settings (three rounds), `baseline`
    /// as the gate's reference, planned as if every engine ran.
    pub fn new(name: &str, baseline: &str, variants: &[&str], models: Vec<FixtureModel>) -> Study {
        let config = StudyConfig {
            name: name.into(),
            baseline: baseline.into(),
            variants: variants.iter().map(|v| v.to_string()).collect(),
            models: models
                .iter()
                .map(|m| ModelConfig {
                    source: m.source.clone(),
                    label: Some(m.label.clone()),
                    task: Some(m.task),
                    shapes: vec![],
                    declared_at: String::new(),
                })
                .collect(),
            ..StudyConfig::default()
        };
        let plan = Self::plan(&config, &models);
        Study {
            config,
            plan,
            models,
        }
    }

    /// The plan the study's planner makes of `config` when every engine runs every model.
    fn plan(config: &StudyConfig, models: &[FixtureModel]) -> Plan {
        let baseline = config.baseline.clone();
        let variants: Vec<String> = config
            .variants
            .iter()
            .filter(|v| **v != baseline)
            .cloned()
            .collect();
        let planned: Vec<PlannedModel> = models
            .iter()
            .map(|m| PlannedModel {
                label: m.label.clone(),
                source: m.source.clone(),
                task: m.task,
                shapes: vec![],
                known_macs: None,
                baseline: baseline.clone(),
                reference: baseline.clone(),
                baseline_note: None,
            })
            .collect();
        let mut jobs = vec![];
        for (mi, m) in planned.iter().enumerate() {
            let order: Vec<&String> = std::iter::once(&baseline).chain(&variants).collect();
            for &batch in &config.batch {
                for round in 1..=config.measure.rounds.max(1) {
                    for spec in &order {
                        jobs.push(Job {
                            key: round_key(&m.label, &m.source, batch, spec, round),
                            model: mi,
                            batch,
                            spec: spec.to_string(),
                            is_baseline: **spec == baseline,
                            is_reference: **spec == baseline,
                            round,
                        });
                    }
                }
            }
        }
        Plan {
            baseline_note: format!("baseline: {baseline}, as the config says"),
            reference: baseline.clone(),
            baseline,
            variants,
            notes: vec![],
            engines: vec![],
            models: planned,
            jobs,
        }
    }

    /// The `session` line of `results.jsonl`.
    pub fn session(&self) -> StudySession {
        StudySession {
            schema_version: crate::SCHEMA_VERSION,
            started_unix: 0.0,
            resumed: false,
            tool: tool(),
            host: host(),
            config: self.config.clone(),
            plan: self.plan.clone(),
            shard: None,
            device: None,
        }
    }

    /// The model of a job.
    pub fn model(&self, job: &Job) -> &FixtureModel {
        &self.models[job.model]
    }

    /// The `measurement` line of `job` with `result`.
    pub fn measurement(&self, job: &Job, result: VariantResult) -> StudyMeasurement {
        let m = self.model(job);
        let mut shape = m.shape.clone();
        shape[0] = job.batch;
        let flops = m.flops * job.batch as u64;
        StudyMeasurement {
            schema_version: crate::SCHEMA_VERSION,
            key: job.key.clone(),
            model: ModelInfo {
                inputs: vec![ConcreteSpec {
                    name: "input".into(),
                    dtype: DType::F32,
                    shape,
                }],
                params: Some(1000),
                macs: Some(flops / 2),
                flops: Some(flops),
                ..ModelInfo::unloaded(&m.label, &m.source, Some(m.task))
            },
            batch: job.batch,
            spec: job.spec.clone(),
            is_baseline: job.is_baseline,
            is_reference: job.is_reference,
            result,
            wall_s: 1.0,
            finished_unix: 0.0,
            device: None,
        }
    }

    /// `results.jsonl` as read: this study's session line and `measurements`.
    pub fn loaded(&self, measurements: Vec<StudyMeasurement>) -> Loaded {
        Loaded {
            sessions: vec![self.session()],
            measurements,
            torn: false,
            valid_len: 0,
        }
    }
}

/// A study whose findings are known (`crates/study/tests/analysis.rs` works them out):
/// `tract:optimized` against `tract:reference` on mobilenet_v3_small (1e8 FLOPs, 4x faster),
/// resnet18 (1e9, 2x), vgg11 (1e10, 1x) and c3d_small (1e11, a video model, 3x but fails the
/// gate), three rounds each, every sample of a variant the same: baselines 10 ms
/// (c3d_small 500 ms per clip). No telemetry.
pub fn known_answers() -> Loaded {
    let image = [1, 3, 224, 224];
    let clip = [1, 3, 16, 112, 112];
    let classification = Task::Classification;
    let models = vec![
        FixtureModel::new(
            "mobilenet_v3_small",
            "zoo:mobilenet_v3_small?classes=2",
            classification,
            100_000_000,
            &image,
        ),
        FixtureModel::new(
            "resnet18",
            "zoo:resnet18?classes=2",
            classification,
            1_000_000_000,
            &image,
        ),
        FixtureModel::new(
            "vgg11",
            "zoo:vgg11?classes=2",
            classification,
            10_000_000_000,
            &image,
        ),
        FixtureModel::new(
            "c3d_small",
            "zoo:c3d_small?classes=4",
            Task::ActionRecognition,
            100_000_000_000,
            &clip,
        ),
    ];
    let study = Study::new(
        "known answers",
        "tract:reference",
        &["tract:optimized"],
        models,
    );
    let ratios = [4.0, 2.0, 1.0, 3.0];
    let mut measurements = vec![];
    for job in &study.plan.jobs {
        let m = study.model(job);
        let base_ms = if m.label == "c3d_small" { 500.0 } else { 10.0 };
        let raw = if job.is_baseline {
            vec![base_ms; 21]
        } else {
            vec![base_ms / ratios[job.model]; 21]
        };
        let mut result = measured(&job.spec, raw);
        if !job.is_reference {
            let pass = m.label != "c3d_small";
            result.accuracy = Some(agreement(pass));
            if !pass {
                result.status = Status::GateFailed;
            }
        }
        measurements.push(study.measurement(job, result));
    }
    study.loaded(measurements)
}

/// The devices of [`fleet`], in the order its summary lists them.
pub const FLEET_DEVICES: [&str; 2] = ["orin-nano", "rack-h100"];

/// A made-up fleet, as `edgebench merge` writes it: the study "fleet" (`tract:optimized` and
/// `onnxruntime:all` against `tract:reference` on mobilenet_v3_small, resnet18 and vgg11, three
/// rounds) sharded in two and measured on two devices, each session and measurement naming its
/// device. Every sample of a variant is the same, so its speed-up is exact:
///
/// | device | baseline ms | tract:optimized | onnxruntime:all | J per inference |
/// | --- | --- | --- | --- | --- |
/// | orin-nano | 40, 80, 400 | 4x, 2x, 1x | 2x, 2x, 2x | baseline 0.8 J, variants 0.4 J |
/// | rack-h100 | 2, 4, 8 | 1x, 2x, 8x | 1.6x, fails the gate, not measured | none (no sensor) |
///
/// rack-h100 did not measure vgg11's `onnxruntime:all` (its missing cells: three rounds).
/// Each device's measurements follow its sessions, shard by shard, as `edgebench merge`
/// writes them.
pub fn fleet() -> Loaded {
    let image = [1, 3, 224, 224];
    let models = vec![
        FixtureModel::new(
            "mobilenet_v3_small",
            "zoo:mobilenet_v3_small?classes=2",
            Task::Classification,
            100_000_000,
            &image,
        ),
        FixtureModel::new(
            "resnet18",
            "zoo:resnet18?classes=2",
            Task::Classification,
            1_000_000_000,
            &image,
        ),
        FixtureModel::new(
            "vgg11",
            "zoo:vgg11?classes=2",
            Task::Classification,
            10_000_000_000,
            &image,
        ),
    ];
    let study = Study::new(
        "fleet",
        "tract:reference",
        &["tract:optimized", "onnxruntime:all"],
        models,
    );
    // (baseline ms per model, speed-up per model of each variant, J per inference or none)
    type Device = ([f64; 3], [[f64; 3]; 2], Option<(f64, f64)>);
    let devices: [Device; 2] = [
        (
            [40.0, 80.0, 400.0],
            [[4.0, 2.0, 1.0], [2.0, 2.0, 2.0]],
            Some((0.8, 0.4)),
        ),
        ([2.0, 4.0, 8.0], [[1.0, 2.0, 8.0], [1.6, 2.0, 1.0]], None),
    ];
    let mut sessions = vec![];
    let mut measurements = vec![];
    for (di, (name, (base, ratios, joules))) in FLEET_DEVICES.iter().zip(devices).enumerate() {
        let mut host = host();
        host.hostname = Some(name.to_string());
        if di == 0 {
            host.cpu = "ARMv8 Processor rev 1 (v8l)".into();
            host.arch = "aarch64".into();
        }
        for index in 1..=2 {
            let shard = crate::schema::study::Shard { index, count: 2 };
            let mut session = study.session();
            session.host = host.clone();
            session.shard = Some(shard);
            session.device = Some(name.to_string());
            sessions.push(session);
            for job in shard.jobs(&study.plan) {
                let m = job.model;
                let missing = di == 1 && m == 2 && job.spec == "onnxruntime:all";
                if missing {
                    continue;
                }
                let ms = match study.plan.variants.iter().position(|v| *v == job.spec) {
                    None => base[m],
                    Some(v) => base[m] / ratios[v][m],
                };
                let mut r = measured(&job.spec, vec![ms; 21]);
                r.energy = Some(match joules {
                    Some((b, v)) => {
                        energy(Some(if job.is_baseline { b } else { v }), &["VDD_IN"], None)
                    }
                    None => energy(None, &[], None),
                });
                if !job.is_reference {
                    let pass = !(di == 1 && m == 1 && job.spec == "onnxruntime:all");
                    r.accuracy = Some(agreement(pass));
                    if !pass {
                        r.status = Status::GateFailed;
                    }
                }
                let mut line = study.measurement(job, r);
                line.device = Some(name.to_string());
                measurements.push(line);
            }
        }
    }
    Loaded {
        sessions,
        measurements,
        torn: false,
        valid_len: 0,
    }
}
