//! The matrix runner: each job in its own child process with a time limit, each finished job
//! appended to `results.jsonl` at once, the accuracy gate applied against the reference's
//! stored outputs. Progress goes to a callback; nothing here prints.
//!
//! Study folder layout: `results.jsonl` (the truth), `outputs/` (the gate reference's outputs
//! per model and batch, so a resumed study can still gate), `work/` (one job's files while it
//! runs).

use crate::lock::StudyLock;
use crate::results::{self, Appender};
use crate::worker::{self, JobTelemetry, WorkerJob, WorkerResult};
use crate::{io_err, Error, Result};
use edgebench_core::bench::round_options;
use edgebench_core::engine::EngineSpec;
use edgebench_core::gate::{compare, Tolerance};
use edgebench_core::host::HostInfo;
use edgebench_core::measure::{MeasureOptions, Progress};
use edgebench_core::process::spawn_in_group;
use edgebench_core::schema::study::{
    Job, Loaded, Plan, Shard, StudyConfig, StudyMeasurement, StudySession,
};
use edgebench_core::schema::{ModelInfo, Status, ToolInfo, VariantResult};
use edgebench_core::SCHEMA_VERSION;
use sha2::{Digest, Sha256};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How to start a worker and where the study lives.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub dir: PathBuf,
    pub resume: bool,
    /// The program that runs one job: `EXE ARGS... --job FILE`.
    pub worker_exe: PathBuf,
    pub worker_args: Vec<String>,
    pub tool: ToolInfo,
    /// Telemetry every child samples (`None`: off), and the least sampling time its sensors need.
    pub telemetry: Option<JobTelemetry>,
    pub min_sampling_s: f64,
    /// Run only this part of the plan (`study --shard I/N`); `None`: all of it.
    pub shard: Option<Shard>,
    /// The device label (`study --device`); with a shard and no label, the host name.
    pub device: Option<String>,
}

impl RunOptions {
    /// The device the measurements are recorded under: the label, else (in a shard) the
    /// host's name, else `unknown`; `None` in a plain study (one device, none named).
    pub fn device_of(&self, host: &HostInfo) -> Option<String> {
        if self.device.is_none() && self.shard.is_none() {
            return None;
        }
        Some(
            self.device
                .clone()
                .or_else(|| host.hostname.clone())
                .unwrap_or_else(|| "unknown".to_owned()),
        )
    }
}

/// What the runner reports while it works.
#[derive(Debug)]
pub enum Event<'a> {
    /// Before the first job: how many jobs in all (in a shard: the shard's), how many
    /// already in results.jsonl.
    Start {
        total: usize,
        already_done: usize,
        torn_line_ignored: bool,
    },
    JobStart {
        index: usize,
        job: &'a Job,
        label: &'a str,
    },
    Worker(Progress),
    JobDone {
        index: usize,
        measurement: &'a StudyMeasurement,
    },
    /// A later round of a variant whose earlier round failed: not run (it could only fail
    /// again), nothing recorded.
    JobSkipped {
        index: usize,
        job: &'a Job,
        label: &'a str,
        reason: String,
    },
}

/// The results file of a study folder, checked for `--resume`: refuses to start over a
/// study without `--resume`, to resume one made with a different config or as another shard
/// (`shard`: the one this run measures), and to add to a merged study
/// ([`crate::merge::is_merged`]).
pub fn open_dir(
    dir: &Path,
    resume: bool,
    cfg: &StudyConfig,
    shard: Option<Shard>,
) -> Result<Loaded> {
    let path = dir.join(results::RESULTS_FILE);
    if !path.exists() {
        return Ok(Loaded::default());
    }
    let loaded = results::load(&path)?;
    if crate::merge::is_merged(dir, &loaded) {
        return Err(Error::MergedStudy {
            dir: dir.display().to_string(),
        });
    }
    if !resume && (!loaded.measurements.is_empty() || !loaded.sessions.is_empty()) {
        return Err(Error::Invalid(format!(
            "{} already holds a study: add --resume to finish it, `edgebench report {}` to rebuild its reports, or choose another --out",
            dir.display(),
            dir.display()
        )));
    }
    if let Some(last) = loaded.sessions.last() {
        if last.config != *cfg {
            return Err(Error::Invalid(format!(
                "--resume: {} was started with a different config (study `{}`); resume it with the same --preset/--config and flags, or choose another --out",
                dir.display(),
                last.config.name
            )));
        }
        if last.shard != shard {
            let part =
                |s: Option<Shard>| s.map_or("the whole plan".to_owned(), |s| format!("shard {s}"));
            return Err(Error::OtherShard {
                dir: dir.display().to_string(),
                found: part(last.shard),
                given: part(shard),
                flag: last
                    .shard
                    .map_or("no --shard".to_owned(), |s| format!("--shard {s}")),
            });
        }
    }
    Ok(loaded)
}

/// Runs every job of the plan that `results.jsonl` does not hold yet. `lock` is the study
/// folder's lock ([`StudyLock::acquire`] on `opts.dir`), taken by the caller so that it can
/// cover the reports written after the run as well.
pub fn run(
    cfg: &StudyConfig,
    plan: &Plan,
    opts: &RunOptions,
    lock: &StudyLock,
    on_event: &mut dyn FnMut(Event),
) -> Result<Loaded> {
    if lock.dir() != opts.dir {
        return Err(Error::Invalid(format!(
            "the study lock is for {}, not {}: take the lock of the folder the study writes",
            lock.dir().display(),
            opts.dir.display()
        )));
    }
    std::fs::create_dir_all(&opts.dir).map_err(|e| io_err(&opts.dir, e))?;
    let outputs_dir = opts.dir.join("outputs");
    let work_dir = opts.dir.join("work");
    for d in [&outputs_dir, &work_dir] {
        std::fs::create_dir_all(d).map_err(|e| io_err(d, e))?;
    }
    let path = opts.dir.join(results::RESULTS_FILE);
    let mut loaded = open_dir(&opts.dir, opts.resume, cfg, opts.shard)?;
    let mut out = Appender::open(&path, loaded.valid_len)?;
    let host = HostInfo::detect();
    let device = opts.device_of(&host);
    let session = StudySession {
        schema_version: SCHEMA_VERSION,
        started_unix: results::now_unix(),
        resumed: !loaded.sessions.is_empty(),
        tool: opts.tool.clone(),
        host,
        config: cfg.clone(),
        plan: plan.clone(),
        shard: opts.shard,
        device: device.clone(),
    };
    // What is kept in memory is what `load` reads back from the file (see `Appender::append`),
    // so that the summary made from it is the one `edgebench report` makes.
    loaded.sessions.push(out.append_session(session)?);
    let mine: std::collections::HashSet<&str> = match opts.shard {
        Some(s) => s.jobs(plan).into_iter().map(|j| j.key.as_str()).collect(),
        None => plan.jobs.iter().map(|j| j.key.as_str()).collect(),
    };
    let done: std::collections::HashSet<String> =
        loaded.measurements.iter().map(|m| m.key.clone()).collect();
    let already = mine.iter().filter(|k| done.contains(**k)).count();
    on_event(Event::Start {
        total: mine.len(),
        already_done: already,
        torn_line_ignored: loaded.torn,
    });
    for (index, job) in plan.jobs.iter().enumerate() {
        if !mine.contains(job.key.as_str()) || done.contains(&job.key) {
            continue;
        }
        let model = &plan.models[job.model];
        let earlier = earlier_rounds(&loaded, plan, job);
        if let Some(bad) = earlier.iter().find(|m| m.result.status != Status::Ok) {
            on_event(Event::JobSkipped {
                index,
                job,
                label: &model.label,
                reason: format!(
                    "round {} not run: round {} of this variant did not pass",
                    job.round,
                    plan_round(plan, &bad.key)
                ),
            });
            continue;
        }
        let measure = round_measure(
            cfg,
            job.round,
            opts.min_sampling_s,
            earlier.first().copied(),
        );
        let reference_failure = reference_failure(&loaded, plan, job);
        on_event(Event::JobStart {
            index,
            job,
            label: &model.label,
        });
        let mut m = run_job(
            cfg,
            plan,
            job,
            opts,
            &measure,
            reference_failure,
            (&work_dir, &outputs_dir),
            on_event,
        )?;
        m.device = device.clone();
        let m = out.append_measurement(m)?;
        on_event(Event::JobDone {
            index,
            measurement: &m,
        });
        loaded.measurements.push(m);
    }
    let _ = std::fs::remove_dir(&work_dir);
    Ok(loaded)
}

fn short_hash(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Where the gate reference's outputs for a model and batch are kept.
pub fn reference_outputs_path(outputs_dir: &Path, plan: &Plan, job: &Job) -> PathBuf {
    let m = &plan.models[job.model];
    let key = edgebench_core::schema::study::job_key(&m.label, &m.source, job.batch, &m.reference);
    outputs_dir.join(format!("{}.json", short_hash(&key)))
}

/// The measurements of `job`'s variant in the rounds before its own, in round order.
fn earlier_rounds<'a>(loaded: &'a Loaded, plan: &Plan, job: &Job) -> Vec<&'a StudyMeasurement> {
    (1..job.round)
        .filter_map(|r| {
            let key = job.key_of_round(plan, r);
            loaded.measurements.iter().rev().find(|m| m.key == key)
        })
        .collect()
}

fn plan_round(plan: &Plan, key: &str) -> usize {
    plan.jobs
        .iter()
        .find(|j| j.key == key)
        .map_or(1, |j| j.round)
}

/// Why the gate reference of `job`'s model and batch has no outputs to compare with: its
/// first round failed (`None` when it passed or has not run).
fn reference_failure(loaded: &Loaded, plan: &Plan, job: &Job) -> Option<String> {
    let m = &plan.models[job.model];
    let key = edgebench_core::schema::study::job_key(&m.label, &m.source, job.batch, &m.reference);
    let r = loaded.measurements.iter().rev().find(|x| x.key == key)?;
    (r.result.status != Status::Ok).then(|| {
        r.result
            .error
            .clone()
            .unwrap_or_else(|| format!("status {:?}", r.result.status))
    })
}

/// Least samples a round of a slow variant gets after its first round (point 4 of the
/// method: a speed-up over one sample ignores the baseline's uncertainty).
pub const MIN_ROUND_SAMPLES: usize = 3;

/// The sampling limits of one round's child (`round` from 1). The whole measurement
/// (`[measure]`, with `min_sampling_s`, the least window the power sensors need) is shared
/// out over the rounds by [`round_options`], except:
///
/// - every round warms up in full: each is a fresh process, cold caches and all;
/// - the round with the sensors' window may sample twice that window: a limit no longer than
///   the window leaves the confidence rule no time to stop sampling, and every variant stops
///   at the limit;
/// - when the variant's first round took fewer than [`MIN_ROUND_SAMPLES`] samples (a slow
///   variant), this round gets the time for that many, from the first round's sample time,
///   within the child's time limit (`measure.timeout_s`, less what the first child spent
///   loading, preparing and warming up).
pub fn round_measure(
    cfg: &StudyConfig,
    round: usize,
    min_sampling_s: f64,
    first: Option<&StudyMeasurement>,
) -> MeasureOptions {
    let rounds = cfg.measure.rounds.max(1);
    let whole = MeasureOptions {
        min_time_s: min_sampling_s,
        ..measure_options(cfg)
    };
    let mut o = round_options(&whole, round.clamp(1, rounds) - 1, rounds);
    o.warmup_s = whole.warmup_s;
    o.min_warmup_runs = whole.min_warmup_runs;
    if o.min_time_s > 0.0 {
        o.max_time_s = o.max_time_s.max(2.0 * o.min_time_s);
    }
    let slow = first
        .map(|f| &f.result.raw_ms)
        .filter(|raw| !raw.is_empty() && raw.len() < MIN_ROUND_SAMPLES);
    if let (Some(raw), Some(f)) = (slow, first) {
        let sample_s = edgebench_core::stats::median(raw) / 1e3;
        let sampled_s = raw.iter().sum::<f64>() / 1e3;
        let overhead_s = (f.wall_s - sampled_s).max(0.0);
        // The limit is checked after each sample: the last one may run past it.
        let budget_s = 0.9 * cfg.measure.timeout_s - overhead_s - sample_s;
        let wanted_s = sample_s * (MIN_ROUND_SAMPLES as f64 - 0.5);
        o.max_time_s = o.max_time_s.max(wanted_s.min(budget_s));
        o.min_samples = o.min_samples.max(MIN_ROUND_SAMPLES);
        o.max_samples = o.max_samples.max(MIN_ROUND_SAMPLES);
    }
    o
}

pub fn measure_options(cfg: &StudyConfig) -> MeasureOptions {
    let m = &cfg.measure;
    MeasureOptions {
        warmup_s: m.warmup_s,
        min_warmup_runs: m.min_warmup_runs.max(1),
        min_samples: m.min_samples,
        max_samples: m.max_samples.max(1),
        max_time_s: m.max_time_s,
        target_rel_ci: m.target_ci_pct / 100.0,
        min_time_s: 0.0,
    }
}

#[allow(clippy::too_many_arguments)]
fn run_job(
    cfg: &StudyConfig,
    plan: &Plan,
    job: &Job,
    opts: &RunOptions,
    measure: &MeasureOptions,
    reference_failure: Option<String>,
    (work_dir, outputs_dir): (&Path, &Path),
    on_event: &mut dyn FnMut(Event),
) -> Result<StudyMeasurement> {
    let model = &plan.models[job.model];
    let h = short_hash(&job.key);
    let job_path = work_dir.join(format!("{h}.job.json"));
    let result_path = work_dir.join(format!("{h}.result.json"));
    let outputs_path = work_dir.join(format!("{h}.outputs.json"));
    let stderr_path = work_dir.join(format!("{h}.stderr"));
    for p in [&result_path, &outputs_path] {
        let _ = std::fs::remove_file(p);
    }
    let wjob = WorkerJob {
        label: model.label.clone(),
        source: model.source.clone(),
        task: model.task,
        shapes: model.shapes.clone(),
        batch: job.batch,
        spec: job.spec.clone(),
        threads: cfg.threads,
        seed: cfg.seed,
        measure: measure.clone(),
        target_fps: cfg.realtime.fps,
        clip_stride: cfg.realtime.clip_stride,
        gate_inputs: cfg.measure.gate_inputs,
        result_path: result_path.clone(),
        outputs_path: outputs_path.clone(),
        telemetry: opts.telemetry.clone(),
    };
    worker::write_json(&job_path, &wjob)?;
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| io_err(&stderr_path, e))?;

    let started = Instant::now();
    // The child leads a process group of its own, killed as a whole at the time limit or
    // when this function leaves early (the guard's drop). It watches its stdin and exits
    // when it closes, killing the groups it started, so a study killed with SIGKILL leaves
    // no worker behind either.
    let mut child = spawn_in_group(
        Command::new(&opts.worker_exe)
            .args(&opts.worker_args)
            .arg("--job")
            .arg(&job_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr)),
    )
    .map_err(|e| {
        Error::Invalid(format!(
            "cannot start the worker {}: {e}",
            opts.worker_exe.display()
        ))
    })?;
    let (tx, rx) = std::sync::mpsc::channel::<Progress>();
    let stdin = child.take_stdin();
    let reader = child.take_stdout().map(|stdout| {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(|l| l.ok())
            {
                if let Ok(p) = serde_json::from_str::<Progress>(&line) {
                    if tx.send(p).is_err() {
                        break;
                    }
                }
            }
        })
    });
    let limit = Duration::from_secs_f64(cfg.measure.timeout_s);
    let mut timed_out = false;
    let status = loop {
        while let Ok(p) = rx.try_recv() {
            on_event(Event::Worker(p));
        }
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(_) => break None,
        }
        if started.elapsed() > limit {
            timed_out = true;
            break child.kill().ok();
        }
        if let Ok(p) = rx.recv_timeout(Duration::from_millis(50)) {
            on_event(Event::Worker(p));
        }
    };
    drop(stdin);
    drop(child);
    if let Some(r) = reader {
        let _ = r.join();
    }
    let wall_s = started.elapsed().as_secs_f64();

    let spec = EngineSpec::parse(&job.spec)?;
    let mut facts = ModelInfo::unloaded(&model.label, &model.source, Some(model.task));
    let parsed: Option<WorkerResult> = if timed_out {
        None
    } else {
        std::fs::read(&result_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    };
    let mut result = match parsed {
        Some(w) => {
            facts = w.model;
            w.result
        }
        None => {
            let reason = if timed_out {
                format!(
                    "timed out after {:.0} s (measure.timeout_s): the variant was killed; raise the limit or lower measure.max_time_s",
                    cfg.measure.timeout_s
                )
            } else {
                crash_reason(status, &stderr_path)
            };
            VariantResult::failed(&spec, reason)
        }
    };

    let reference_path = reference_outputs_path(outputs_dir, plan, job);
    // The reference's first round keeps its outputs for every other variant and round.
    if job.is_reference {
        if result.status == Status::Ok && job.round <= 1 {
            std::fs::rename(&outputs_path, &reference_path)
                .map_err(|e| io_err(&reference_path, e))?;
        }
    } else if result.status == Status::Ok {
        let model = &plan.models[job.model];
        let compared = match (
            worker::read_outputs(&reference_path),
            worker::read_outputs(&outputs_path),
        ) {
            (Ok(reference), Ok(candidate)) => {
                let precision = result
                    .session
                    .as_ref()
                    .map(|s| s.precision.clone())
                    .unwrap_or_else(|| "f32".into());
                Ok(compare(
                    &reference,
                    &candidate,
                    Tolerance::resolve(&precision, &cfg.gate),
                ))
            }
            (Err(e), _) => Err(match reference_failure {
                Some(why) => format!(
                    "not verified: the gate reference {} failed for this model, so nothing checks this variant's outputs ({why})",
                    model.reference
                ),
                None => format!(
                    "not verified: the outputs of the gate reference {} cannot be read ({e}); rerun the study into a new --out",
                    model.reference
                ),
            }),
            (_, Err(e)) => Err(format!(
                "not verified: this variant's outputs cannot be read ({e})"
            )),
        };
        match compared {
            Ok(agreement) => {
                if !agreement.passed {
                    result.status = Status::GateFailed;
                }
                result.accuracy = Some(agreement);
            }
            Err(why) => {
                result.status = Status::Unverified;
                result.error = Some(why);
            }
        }
    }
    for p in [&job_path, &result_path, &outputs_path, &stderr_path] {
        let _ = std::fs::remove_file(p);
    }
    Ok(StudyMeasurement {
        schema_version: SCHEMA_VERSION,
        key: job.key.clone(),
        model: facts,
        batch: job.batch,
        spec: spec.to_string(),
        is_baseline: job.is_baseline,
        is_reference: job.is_reference,
        result,
        wall_s,
        finished_unix: results::now_unix(),
        device: None,
    })
}

/// Why a child ended without a result: its signal or exit code and the last line it wrote.
fn crash_reason(status: Option<std::process::ExitStatus>, stderr: &Path) -> String {
    let last = std::fs::read_to_string(stderr)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(|l| l.chars().take(300).collect::<String>());
    let how = match status {
        None => "the worker could not be waited for".to_owned(),
        Some(s) => {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(sig) = s.signal() {
                    format!("the worker was killed by signal {sig}")
                } else {
                    format!("the worker exited with code {}", s.code().unwrap_or(-1))
                }
            }
            #[cfg(not(unix))]
            {
                format!("the worker exited with code {}", s.code().unwrap_or(-1))
            }
        }
    };
    match last {
        Some(l) => format!("{how} without a result: {l}"),
        None => format!("{how} without a result"),
    }
}
