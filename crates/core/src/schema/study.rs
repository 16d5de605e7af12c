//! The study's documents: its config as checked, its plan, the lines of `results.jsonl`
//! ([`Line`]: a [`StudySession`] each time a study starts or resumes, a [`StudyMeasurement`]
//! per finished variant) and `summary.json` ([`StudySummary`], computed by
//! [`crate::analysis`]). Data only: reading the TOML config, resolving the plan against the
//! engines and running the study are the study crate's job; every view of a study (the
//! report crate) needs only these types. Versioned by [`crate::SCHEMA_VERSION`], like every
//! other document edgebench writes.

use crate::engine::Availability;
use crate::gate::Agreement;
use crate::host::HostInfo;
use crate::measure::MeasureOptions;
use crate::realtime::DEFAULT_TARGET_FPS;
use crate::schema::{ModelInfo, Realtime, Speedup, Status, ToolInfo, VariantResult};
use crate::telemetry::energy::{ThrottleVerdict, WindowKind};
use serde::{Deserialize, Serialize};

// ---- config ----

/// A checked study config. Engine specs and model sources are checked for syntax here and
/// against this build's engines and zoo by the study's plan (`edgebench_study::plan`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyConfig {
    pub name: String,
    /// `auto`, or an engine spec. `auto`: `torch:eager` when that engine is available, else
    /// the least optimized variant available.
    pub baseline: String,
    /// Engine specs to compare with the baseline; `auto` stands for the optimized variant of
    /// every available engine.
    pub variants: Vec<String>,
    /// Whose outputs the accuracy gate compares against (default: the baseline).
    pub reference: Option<String>,
    pub batch: Vec<usize>,
    pub threads: Option<usize>,
    pub seed: u64,
    pub measure: MeasureSettings,
    pub realtime: RealtimeSettings,
    /// Overrides of the gate's per-precision tolerances (`[gate] atol, rtol`).
    pub gate: crate::gate::ToleranceOverride,
    pub analysis: AnalysisSettings,
    pub output: OutputSettings,
    pub models: Vec<ModelConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureSettings {
    pub warmup_s: f64,
    pub min_warmup_runs: usize,
    pub min_samples: usize,
    pub max_samples: usize,
    pub max_time_s: f64,
    /// Stop sampling once the 95% CI of the median is within this many percent.
    pub target_ci_pct: f64,
    /// Time limit of one variant's child process (loading, preparing, measuring).
    pub timeout_s: f64,
    /// Random input sets the accuracy gate compares.
    pub gate_inputs: usize,
    /// Interleaved rounds: each model's variants are measured `rounds` times in turn
    /// (baseline, v1, v2, baseline, v1, v2, ...), one child per variant per round, each round
    /// sampling `max_time_s / rounds`; the speed-up's interval comes from the rounds
    /// (docs/study.md). Studies recorded before rounds existed measured one.
    #[serde(default = "one_round")]
    pub rounds: usize,
}

fn one_round() -> usize {
    1
}

impl Default for MeasureSettings {
    /// The measurement settings of `bench` ([`MeasureOptions::default`]), so that a study and
    /// a bench of the same model sample the same way unless told otherwise.
    fn default() -> Self {
        let m = MeasureOptions::default();
        MeasureSettings {
            warmup_s: m.warmup_s,
            min_warmup_runs: m.min_warmup_runs,
            min_samples: m.min_samples,
            max_samples: m.max_samples,
            max_time_s: m.max_time_s,
            target_ci_pct: m.target_rel_ci * 100.0,
            timeout_s: 600.0,
            gate_inputs: crate::bench::DEFAULT_GATE_INPUT_SETS,
            rounds: crate::bench::DEFAULT_ROUNDS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealtimeSettings {
    /// Target frame rate of the camera or video.
    pub fps: f64,
    /// Frames between the starts of two clips of a video model (default: the clip length,
    /// that is, windows that do not overlap). A video model keeps up when it runs at least
    /// `fps / clip_stride` clips per second.
    pub clip_stride: Option<usize>,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        RealtimeSettings {
            fps: DEFAULT_TARGET_FPS,
            clip_stride: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisSettings {
    /// A model breaks the FLOPs trend when its residual exceeds this many residual standard
    /// deviations.
    pub exception_sd: f64,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        AnalysisSettings { exception_sd: 2.0 }
    }
}

/// Report files written besides `results.jsonl` (always written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
    Md,
    Html,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Json, Format::Csv, Format::Md, Format::Html];
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Md => "md",
            Format::Html => "html",
        }
    }
    /// The file it writes in the study folder.
    pub fn file(self) -> &'static str {
        match self {
            Format::Json => "summary.json",
            Format::Csv => "results.csv",
            Format::Md => "report.md",
            Format::Html => "report.html",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputSettings {
    pub formats: Vec<Format>,
}

impl Default for OutputSettings {
    fn default() -> Self {
        OutputSettings {
            formats: Format::ALL.to_vec(),
        }
    }
}

/// What a model is for; decides the real-time rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    Classification,
    ActionRecognition,
    Other,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::ActionRecognition => "action-recognition",
            Task::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Task> {
        match s {
            "classification" => Some(Task::Classification),
            "action-recognition" => Some(Task::ActionRecognition),
            "other" => Some(Task::Other),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// `zoo:NAME[?classes=N&seed=N]` or the path of an ONNX file (relative paths are relative
    /// to the config file's folder; stored absolute).
    pub source: String,
    /// Shown in reports (default: the zoo name or the file stem).
    pub label: Option<String>,
    /// Default: the zoo's task, `other` for files.
    pub task: Option<Task>,
    /// `NAME:DIMS` for dynamic inputs, as `bench --shape`.
    pub shapes: Vec<String>,
    /// Where it was declared, for error messages (`study.toml:12`).
    #[serde(default)]
    pub declared_at: String,
}

impl Default for StudyConfig {
    fn default() -> Self {
        StudyConfig {
            name: "study".into(),
            baseline: "auto".into(),
            variants: vec!["auto".into()],
            reference: None,
            batch: vec![1],
            threads: None,
            seed: 0,
            measure: MeasureSettings::default(),
            realtime: RealtimeSettings::default(),
            gate: Default::default(),
            analysis: AnalysisSettings::default(),
            output: OutputSettings::default(),
            models: vec![],
        }
    }
}

// ---- plan ----
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineStatus {
    pub name: String,
    pub availability: Availability,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedModel {
    pub label: String,
    pub source: String,
    pub task: Task,
    pub shapes: Vec<String>,
    /// MACs known before running (zoo models, default head), for the time estimate only.
    pub known_macs: Option<u64>,
    /// This model's baseline: the study's, or the fallback when PyTorch cannot run it.
    /// (Empty in files written before per-model baselines: read as the study's.)
    #[serde(default)]
    pub baseline: String,
    /// This model's accuracy-gate reference.
    #[serde(default)]
    pub reference: String,
    /// Set when the model's baseline differs from the study's: why.
    #[serde(default)]
    pub baseline_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Unique within a study; what `--resume` matches on.
    pub key: String,
    pub model: usize,
    pub batch: usize,
    pub spec: String,
    pub is_baseline: bool,
    /// The accuracy gate's reference: runs first for its model and batch.
    pub is_reference: bool,
    /// The interleaved round, from 1 (plans written before rounds have only round 1).
    #[serde(default = "first_round")]
    pub round: usize,
}

fn first_round() -> usize {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub baseline: String,
    /// How the baseline was chosen, in a sentence for the report.
    pub baseline_note: String,
    pub reference: String,
    /// Candidate variants (the baseline excluded), in run order.
    pub variants: Vec<String>,
    /// Engines left out and why.
    pub notes: Vec<String>,
    pub engines: Vec<EngineStatus>,
    pub models: Vec<PlannedModel>,
    pub jobs: Vec<Job>,
}

impl Plan {
    /// Fills per-model fields that older files left out.
    pub fn fill_defaults(&mut self) {
        for m in &mut self.models {
            if m.baseline.is_empty() {
                m.baseline = self.baseline.clone();
            }
            if m.reference.is_empty() {
                m.reference = self.reference.clone();
            }
        }
    }
}

/// The key of a variant (model, batch, engine spec), and of its first round.
pub fn job_key(label: &str, source: &str, batch: usize, spec: &str) -> String {
    format!("{label}|{source}|batch={batch}|{spec}")
}

/// The key `--resume` matches measurements on: [`job_key`] for round 1 (so a study measured
/// before rounds existed resumes as its first round), `|round=K` added for later rounds.
pub fn round_key(label: &str, source: &str, batch: usize, spec: &str, round: usize) -> String {
    let key = job_key(label, source, batch, spec);
    if round <= 1 {
        key
    } else {
        format!("{key}|round={round}")
    }
}

impl Job {
    /// The key of this job's variant in another round.
    pub fn key_of_round(&self, plan: &Plan, round: usize) -> String {
        let m = &plan.models[self.model];
        round_key(&m.label, &m.source, self.batch, &self.spec, round)
    }
}

// ---- results.jsonl ----
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Session(Box<StudySession>),
    Measurement(Box<StudyMeasurement>),
}

/// Written when a study starts or resumes: where and how the measurements that follow were
/// taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySession {
    pub schema_version: u32,
    pub started_unix: f64,
    pub resumed: bool,
    pub tool: ToolInfo,
    pub host: HostInfo,
    pub config: StudyConfig,
    /// The whole plan, also in a shard (whose jobs are [`Shard::jobs`] of it).
    pub plan: Plan,
    /// The part of the plan this folder measures (`study --shard I/N`); absent: all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// The device these measurements describe (`study --device LABEL`, else the host name);
    /// absent in studies recorded before fleets existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// One part of a study's plan, `index` of `count` (from 1), as `study --shard I/N` names it.
///
/// The unit of the partition is a model at a batch size (its gate reference, baseline,
/// variants and every round), so that a shard can gate and compute speed-ups on its own. The
/// units are sorted by key and dealt out in turn: the partition depends only on the plan
/// (stable when the plan is made again on another machine), and together the shards hold
/// every job of the plan exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The key of the partition's unit `job` belongs to.
    pub fn unit_key(plan: &Plan, job: &Job) -> String {
        let m = &plan.models[job.model];
        format!("{}|{}|batch={}", m.label, m.source, job.batch)
    }

    /// Whether `job` of `plan` is in this shard.
    pub fn contains(&self, plan: &Plan, job: &Job) -> bool {
        self.holds(&Shard::units(plan), &Shard::unit_key(plan, job))
    }

    /// The jobs of `plan` in this shard, in plan order.
    pub fn jobs<'a>(&self, plan: &'a Plan) -> Vec<&'a Job> {
        let units = Shard::units(plan);
        plan.jobs
            .iter()
            .filter(|j| self.holds(&units, &Shard::unit_key(plan, j)))
            .collect()
    }

    /// The plan's units, sorted and without repeats.
    fn units(plan: &Plan) -> Vec<String> {
        let mut units: Vec<String> = plan.jobs.iter().map(|j| Shard::unit_key(plan, j)).collect();
        units.sort();
        units.dedup();
        units
    }

    /// Units are dealt out in turn: the i-th (from 0) goes to shard `i mod count + 1`.
    fn holds(&self, units: &[String], key: &str) -> bool {
        units
            .binary_search_by(|u| u.as_str().cmp(key))
            .is_ok_and(|i| i % self.count.max(1) + 1 == self.index)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Text that is not a shard `I/N` with 1 <= I <= N.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a shard: write I/N with 1 <= I <= N, e.g. --shard 2/3")]
pub struct BadShard(pub String);

impl std::str::FromStr for Shard {
    type Err = BadShard;

    /// `I/N` with 1 <= I <= N.
    fn from_str(s: &str) -> Result<Shard, BadShard> {
        let bad = || BadShard(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Plan {
    /// A digest of the plan's jobs (their keys, in order): shards of one study have the same.
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for j in &self.jobs {
            h.update(j.key.as_bytes());
            h.update(b"\n");
        }
        h.finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl StudyConfig {
    /// A digest of the config as checked: shards of one study have the same.
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&json)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// One finished variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyMeasurement {
    pub schema_version: u32,
    pub key: String,
    /// The model as the worker that loaded it saw it (label, source and task from the plan).
    pub model: ModelInfo,
    pub batch: usize,
    pub spec: String,
    pub is_baseline: bool,
    pub is_reference: bool,
    /// Status `failed` with the reason when the child crashed, hung or could not run it;
    /// `gate_failed` when its outputs disagree with the reference's.
    pub result: VariantResult,
    /// Wall time of the child process.
    pub wall_s: f64,
    pub finished_unix: f64,
    /// The device it was measured on, in a study run with `--shard` or `--device` and in a
    /// merged fleet study (`edgebench merge`); absent in a plain study (one device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// The content of a results file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    pub sessions: Vec<StudySession>,
    pub measurements: Vec<StudyMeasurement>,
    /// A torn last line was found (and ignored).
    pub torn: bool,
    /// Length in bytes of the valid part (everything before a torn line).
    pub valid_len: u64,
}

impl Loaded {
    /// The latest measurement of each key, in file order of first appearance.
    pub fn latest(&self) -> Vec<&StudyMeasurement> {
        let mut order: Vec<&str> = vec![];
        let mut by_key: std::collections::HashMap<&str, &StudyMeasurement> = Default::default();
        for m in &self.measurements {
            if by_key.insert(&m.key, m).is_none() {
                order.push(&m.key);
            }
        }
        order.iter().map(|k| by_key[k]).collect()
    }
}

// ---- summary.json ----
/// Name of the pseudo-variant "the fastest gate-passing variant of each model".
pub const BEST: &str = "best";

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySummary {
    pub schema_version: u32,
    pub name: String,
    pub tool: ToolInfo,
    /// Every distinct host the measurements came from (more than one: a resumed study moved).
    pub hosts: Vec<HostInfo>,
    pub sessions: usize,
    pub started_unix: f64,
    pub baseline: String,
    pub baseline_note: String,
    pub reference: String,
    pub variants: Vec<String>,
    pub notes: Vec<String>,
    pub engines: Vec<EngineStatus>,
    pub config: StudyConfig,
    pub rows: Vec<Row>,
    pub averages: Vec<Average>,
    pub trends: Vec<Trend>,
    pub failures: Vec<Failure>,
    /// Jobs of the plan with no measurement yet (an interrupted study). In a shard's folder
    /// (`study --shard I/N`), only that shard's jobs; in a fleet, every device's missing cells
    /// of the whole plan, each as `DEVICE: KEY`.
    pub pending: Vec<String>,
    /// A fleet (the measurements name more than one device, as `edgebench merge` writes
    /// them): the analysis of each device on its own, by device label. Empty for one device,
    /// and then `rows` .. `pending` above are that device's. In a fleet, `rows` and
    /// `failures` above hold every device's, each tagged with its device, and `averages` and
    /// `trends` are empty: never an average across devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceSummary>,
    /// A fleet: each model at each batch size on each device (baseline, best gate-passing
    /// variant, energy per inference). Empty for one device.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cross_device: Vec<CrossDevice>,
}

/// One device of a fleet, analysed on its own (its sessions and measurements only) exactly as
/// a study measured on that device alone would be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceSummary {
    /// The label (`study --device`, else the host name).
    pub device: String,
    /// The hosts its measurements came from.
    pub hosts: Vec<HostInfo>,
    pub sessions: usize,
    /// The shards measured on it (`study --shard`), sorted; empty: not sharded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<Shard>,
    /// Its plan's (the engines a device has decide its variants).
    pub baseline: String,
    pub baseline_note: String,
    pub reference: String,
    pub variants: Vec<String>,
    pub notes: Vec<String>,
    pub engines: Vec<EngineStatus>,
    pub rows: Vec<Row>,
    pub averages: Vec<Average>,
    pub trends: Vec<Trend>,
    pub failures: Vec<Failure>,
    /// Jobs of the whole plan not measured on this device (the fleet's missing cells).
    pub pending: Vec<String>,
}

/// One model at one batch size across the devices of a fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossDevice {
    pub model: String,
    pub task: Task,
    pub batch: usize,
    /// One per device of the fleet, in the order of [`StudySummary::devices`]; a device that
    /// did not measure the model has every figure `None`.
    pub devices: Vec<DeviceCell>,
}

/// A model on one device: its baseline and its fastest gate-passing variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceCell {
    pub device: String,
    /// The baseline's spec and median latency, when it ran.
    pub baseline: Option<String>,
    pub baseline_ms: Option<f64>,
    /// Joules per inference of the baseline, where measured (and attributable to it).
    pub baseline_energy_j: Option<f64>,
    /// The counted variant (not the baseline) with the lowest median latency.
    pub best: Option<String>,
    pub best_ms: Option<f64>,
    /// Its speed-up over this device's baseline, when there is one.
    pub best_speedup: Option<f64>,
    pub best_energy_j: Option<f64>,
}

impl StudySummary {
    /// The variants that are listed in the report and not counted, by why.
    pub fn failure_counts(&self) -> FailureCounts {
        let count = |status| self.failures.iter().filter(|f| f.status == status).count();
        FailureCounts {
            failed: count(Status::Failed),
            gate_failed: count(Status::GateFailed),
            unverified: count(Status::Unverified),
        }
    }

    /// Whether the measurements name more than one device (the summary of a merged fleet).
    pub fn is_fleet(&self) -> bool {
        !self.devices.is_empty()
    }

    /// One device of a fleet as a summary of its own: what each view renders for it, exactly
    /// as for a study measured on that device alone.
    pub fn device_view(&self, d: &DeviceSummary) -> StudySummary {
        StudySummary {
            schema_version: self.schema_version,
            name: self.name.clone(),
            tool: self.tool.clone(),
            hosts: d.hosts.clone(),
            sessions: d.sessions,
            started_unix: self.started_unix,
            baseline: d.baseline.clone(),
            baseline_note: d.baseline_note.clone(),
            reference: d.reference.clone(),
            variants: d.variants.clone(),
            notes: d.notes.clone(),
            engines: d.engines.clone(),
            config: self.config.clone(),
            rows: d.rows.clone(),
            averages: d.averages.clone(),
            trends: d.trends.clone(),
            failures: d.failures.clone(),
            pending: d.pending.clone(),
            devices: vec![],
            cross_device: vec![],
        }
    }
}

/// [`StudySummary::failure_counts`]: variants that failed to run, failed the accuracy gate, or
/// could not be verified (their gate reference failed or their outputs were unreadable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureCounts {
    pub failed: usize,
    pub gate_failed: usize,
    pub unverified: usize,
}

impl FailureCounts {
    /// Whether any variant did not count: the study's exit code is then 1.
    pub fn any(&self) -> bool {
        self.failed + self.gate_failed + self.unverified > 0
    }
}

/// One model x batch x variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub model: String,
    pub task: Task,
    pub batch: usize,
    pub source: String,
    /// Per inference (`batch` items).
    pub flops: Option<u64>,
    pub params: Option<u64>,
    /// Bytes one inference moves ([`crate::schema::ModelInfo::bytes_moved`]): the roofline's
    /// intensity. `None` for rows of schema 1 and models that could not be counted.
    #[serde(default)]
    pub bytes_moved: Option<u64>,
    pub spec: String,
    pub is_baseline: bool,
    pub status: Status,
    /// Counted in speed-ups and averages: measured and passed the gate (or is the reference).
    pub counted: bool,
    /// Why not counted, or the failure reason.
    pub note: Option<String>,
    pub engine_version: Option<String>,
    pub precision: Option<String>,
    pub median_ms: Option<f64>,
    pub ci95_low_ms: Option<f64>,
    pub ci95_high_ms: Option<f64>,
    /// Items per second at the median (frames for images, clips for video).
    pub fps: Option<f64>,
    pub samples: usize,
    /// Samples of each interleaved round, in order (one entry: measured in one round).
    #[serde(default)]
    pub rounds: Vec<usize>,
    /// 0th, 5th, ..., 100th percentile of the samples (21 values), for distribution charts.
    pub quantiles_ms: Vec<f64>,
    pub speedup: Option<Speedup>,
    pub realtime: Option<Realtime>,
    /// What `fps` counts: "frames" or "clips".
    pub unit: String,
    /// Items per second needed for real time (clips: fps / clip stride).
    pub required_per_s: f64,
    pub accuracy: Option<Agreement>,
    pub warnings: Vec<String>,
    /// The telemetry's figures over the sampling window; `None` when no telemetry was
    /// recorded (the variant did not run, or the study ran with `--no-telemetry`).
    #[serde(default)]
    pub energy: Option<RowEnergy>,
    /// Why there is no energy per inference (no power sensor, no telemetry, did not run);
    /// `None` when there is one. Never a zero in its place.
    #[serde(default)]
    pub energy_na: Option<String>,
    /// Baseline energy per inference / this variant's: above 1, the variant uses less energy
    /// for the same work. Only for counted variants whose baseline passed, with energy on both
    /// sides measured over the same devices.
    #[serde(default)]
    pub energy_ratio: Option<f64>,
    /// The device it was measured on, in a fleet (more than one device); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// A row's energy figures: the totals of the telemetry summary (`docs/energy.md`) over the
/// devices that count, per inference (one call, `batch` items).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowEnergy {
    pub window: WindowKind,
    pub window_s: f64,
    /// Inferences run inside the window.
    pub inferences: usize,
    /// The devices summed in the totals.
    pub devices: Vec<String>,
    pub avg_power_w: Option<f64>,
    pub peak_power_w: Option<f64>,
    /// The same devices at rest, measured before the run.
    pub idle_power_w: Option<f64>,
    pub energy_per_inference_j: Option<f64>,
    /// With the idle power subtracted: what the work itself cost.
    pub energy_per_inference_above_idle_j: Option<f64>,
    pub inferences_per_j: Option<f64>,
    pub fps_per_w: Option<f64>,
    pub grid_gco2_per_kwh: Option<f64>,
    pub co2_g_per_1000_inferences: Option<f64>,
    /// The independent check, over the counted devices that have both an energy counter and
    /// sampled power (`check_devices`): their average sampled power x window / inferences ...
    pub power_x_time_j: Option<f64>,
    /// ... next to what their counters say per inference. The gap is the power sensor's
    /// averaging and the readings' spacing (`docs/energy.md`).
    pub counter_j: Option<f64>,
    pub check_devices: Vec<String>,
    pub throttle: ThrottleVerdict,
    /// The numbers behind the verdict, in words.
    pub throttle_detail: String,
    /// Caveats about these numbers (a window shorter than the sensors, idle above load, an
    /// energy ratio that could not be formed).
    pub notes: Vec<String>,
    /// Why the figures are not this variant's energy (the device that did the work has no
    /// sensor among those summed), as the telemetry said.
    #[serde(default)]
    pub work_unmeasured: Option<String>,
}

impl RowEnergy {
    /// The variant slowed down while it was sampled.
    pub fn throttled(&self) -> bool {
        self.throttle.slowed()
    }

    /// The check's gap in percent: (power x time - counter) / counter x 100.
    pub fn check_gap_pct(&self) -> Option<f64> {
        match (self.power_x_time_j, self.counter_j) {
            (Some(p), Some(c)) if c > 0.0 => Some((p - c) / c * 100.0),
            _ => None,
        }
    }
}

/// Average speed-up of one variant over the models of one task (None: all tasks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Average {
    pub variant: String,
    pub task: Option<Task>,
    pub batch: usize,
    pub n: usize,
    /// Arithmetic mean of the per-model percentages, (ratio - 1) x 100: what the study reports.
    pub mean_percent: Option<f64>,
    /// Geometric mean of the per-model ratios: the right average for ratios.
    pub geomean_ratio: Option<f64>,
    pub models: Vec<String>,
    /// Of those models, the ones with an energy ratio (energy measured on both sides).
    #[serde(default)]
    pub energy_n: usize,
    /// Geometric mean of their energy ratios (baseline J per inference / variant's).
    #[serde(default)]
    pub energy_geomean_ratio: Option<f64>,
    #[serde(default)]
    pub energy_models: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub model: String,
    pub task: Task,
    /// Per item.
    pub flops: f64,
    pub log10_flops: f64,
    pub ratio: f64,
    pub fitted: Option<f64>,
    pub residual: Option<f64>,
    /// Residual / residual standard deviation.
    pub std_residual: Option<f64>,
    pub exception: bool,
}

/// Does a variant gain more on smaller models?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub variant: String,
    pub task: Option<Task>,
    pub batch: usize,
    pub n: usize,
    pub spearman: Option<f64>,
    pub pearson: Option<f64>,
    /// Speed-up = intercept + slope x log10(FLOPs per item).
    pub slope: Option<f64>,
    pub intercept: Option<f64>,
    pub residual_sd: Option<f64>,
    pub exception_sd: f64,
    pub points: Vec<TrendPoint>,
    pub exceptions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub model: String,
    pub batch: usize,
    pub spec: String,
    pub status: Status,
    pub reason: String,
    /// The device, in a fleet; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}
