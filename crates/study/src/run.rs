//! `edgebench study` as one call: [`run`] exports the config's PyTorch sources, resolves the
//! plan, takes the folder's lock, opens the sensors, starts the children with their arguments,
//! then rebuilds the summary from `results.jsonl` (as `edgebench report` does) and writes the
//! reports the config asks for. Nothing here prints: what happens is told through [`Event`].

use crate::lock::StudyLock;
use crate::worker::JobTelemetry;
use crate::{plan, runner, Error, Result};
use edgebench_core::engine::EngineSpec;
use edgebench_core::memory::{self, Limit, Run};
use edgebench_core::model::ShapeRequest;
use edgebench_core::schema::study::{Job, Plan, Shard, StudyConfig, StudySummary, Task};
use edgebench_core::schema::ToolInfo;
use edgebench_core::telemetry::{ProbeOptions, Telemetry, TelemetrySettings};
use edgebench_core::tensor::{ConcreteSpec, DType};
use edgebench_torch::export::{export_cached, input_names, ExportInput};
use edgebench_torch::TorchSource;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How a study runs (the config says what it measures).
#[derive(Debug, Clone)]
pub struct StudyOptions {
    /// The study folder.
    pub out: PathBuf,
    /// Finish an interrupted study: skip what `results.jsonl` already holds.
    pub resume: bool,
    /// Resolve the plan and stop: nothing is measured, written or locked.
    pub dry_run: bool,
    /// `--max-memory` in GiB (`None`: the memory available now), checked before PyTorch
    /// exports and passed on to every child.
    pub max_memory_gib: Option<f64>,
    /// The program whose `worker` subcommand runs one job (the edgebench binary).
    pub worker_exe: PathBuf,
    pub tool: ToolInfo,
    /// The sensors' settings (`None`: no telemetry).
    pub telemetry: Option<TelemetrySettings>,
    /// Measure only this part of the plan (`--shard I/N`); `None`: all of it.
    pub shard: Option<Shard>,
    /// The device label recorded with every measurement (`--device`; in a shard without it,
    /// the host name).
    pub device: Option<String>,
}

/// What [`run`] reports while it works, in order.
#[derive(Debug)]
pub enum Event<'a> {
    /// A PyTorch source is being exported to ONNX (cached after the first time).
    Exporting { label: String },
    /// The plan is resolved and the folder is ready (a dry run ends after this).
    Planned {
        config: &'a StudyConfig,
        plan: &'a Plan,
        /// The part of the plan this run measures (`None`: all of it).
        shard: Option<Shard>,
    },
    /// Idle power is being measured for this long, before any child runs.
    MeasuringIdle { seconds: f64 },
    /// The sensors opened (idle power measured where there is a power sensor).
    Telemetry(&'a Telemetry),
    /// The runner's own events, job by job.
    Run(runner::Event<'a>),
}

/// A `study --device` label that is empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("give the device a name, e.g. --device jetson-orin")]
pub struct EmptyDeviceLabel;

/// A device label (`study --device`): any text but an empty one, trimmed.
pub fn device_label(s: &str) -> std::result::Result<String, EmptyDeviceLabel> {
    let label = s.trim();
    if label.is_empty() {
        return Err(EmptyDeviceLabel);
    }
    Ok(label.to_owned())
}

/// How [`run`] ended.
#[derive(Debug)]
pub enum StudyOutcome {
    /// `dry_run`: the plan, nothing measured.
    DryRun(Box<Planned>),
    Finished(Box<Finished>),
}

/// A study's plan and the part of it a run measures.
#[derive(Debug)]
pub struct Planned {
    /// The whole plan.
    pub plan: Plan,
    pub shard: Option<Shard>,
}

impl Planned {
    /// The jobs this run measures: the shard's, else every job of the plan; in plan order.
    pub fn jobs(&self) -> Vec<&Job> {
        match self.shard {
            Some(s) => s.jobs(&self.plan),
            None => self.plan.jobs.iter().collect(),
        }
    }
}

/// A study that ran to its end.
#[derive(Debug)]
pub struct Finished {
    /// The analysis of the folder's `results.jsonl`, as written.
    pub summary: StudySummary,
    /// The report files written, in the config's order.
    pub written: Vec<PathBuf>,
    /// Seconds from the first job to the last.
    pub elapsed_s: f64,
}

/// Runs the study `cfg` into `opts.out`. Errors before any child starts leave the folder as
/// it was; an interrupted study keeps every measurement made (`resume` finishes it).
pub fn run(
    mut cfg: StudyConfig,
    opts: &StudyOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<StudyOutcome> {
    let limit = Limit::new(opts.max_memory_gib);
    export_pytorch_models(&mut cfg, &limit, on_event)?;
    let plan = plan::resolve(&cfg)?;
    if opts.out.exists() && !opts.out.is_dir() {
        return Err(Error::Invalid(format!(
            "--out {}: it is a file; give a folder",
            opts.out.display()
        )));
    }
    // One writer per study folder, from here until its reports are written: a second study
    // (or `edgebench report`) on the same folder is refused and writes nothing. A dry run
    // writes nothing and takes no lock.
    let lock = if opts.dry_run {
        None
    } else {
        Some(StudyLock::acquire(&opts.out, "edgebench study")?)
    };
    // Refuse a folder that holds another study before anything runs.
    runner::open_dir(&opts.out, opts.resume, &cfg, opts.shard)?;
    on_event(Event::Planned {
        config: &cfg,
        plan: &plan,
        shard: opts.shard,
    });
    let Some(lock) = lock else {
        return Ok(StudyOutcome::DryRun(Box::new(Planned {
            plan,
            shard: opts.shard,
        })));
    };

    // The parent opens the sensors once, before any child runs, to measure idle power; each
    // child samples its own variant.
    let telemetry = opts.telemetry.as_ref().map(|settings| {
        let mut t = Telemetry::open(settings, &ProbeOptions::default());
        if t.has_power() && settings.idle_s > 0.0 {
            on_event(Event::MeasuringIdle {
                seconds: settings.idle_s,
            });
            t.measure_idle(Duration::from_secs_f64(settings.idle_s));
        }
        on_event(Event::Telemetry(&t));
        (settings.clone(), t)
    });
    let run_opts = runner::RunOptions {
        dir: opts.out.clone(),
        resume: opts.resume,
        worker_exe: opts.worker_exe.clone(),
        worker_args: worker_args(opts.max_memory_gib),
        tool: opts.tool.clone(),
        min_sampling_s: telemetry.as_ref().map_or(0.0, |(s, t)| t.min_sampling_s(s)),
        telemetry: telemetry.map(|(settings, t)| JobTelemetry {
            settings,
            idle: t.idle,
        }),
        shard: opts.shard,
        device: opts.device.clone(),
    };

    let started = Instant::now();
    // What the runner hands back is results.jsonl as `edgebench report` reads it (every line
    // it appended is parsed back from the bytes written), so the reports below are the ones
    // `edgebench report` rebuilds, without reading the file a second time.
    let loaded = runner::run(&cfg, &plan, &run_opts, &lock, &mut |ev| {
        on_event(Event::Run(ev))
    })?;
    let elapsed_s = started.elapsed().as_secs_f64();
    let summary = crate::summary::analyse(&loaded, &opts.out.join(crate::results::RESULTS_FILE))?;
    let written = edgebench_report::write_study(&opts.out, &summary)?;
    drop(lock);
    Ok(StudyOutcome::Finished(Box::new(Finished {
        summary,
        written,
        elapsed_s,
    })))
}

/// The arguments every child gets before `--job FILE`: the engine libraries and the Python
/// this process found (so that every child uses the same ones), then the `worker` subcommand
/// with the memory limit.
fn worker_args(max_memory_gib: Option<f64>) -> Vec<String> {
    let mut args = vec![];
    let libs = edgebench_engines::library_paths();
    if let Some(p) = libs.ort {
        args.push("--ort-lib".to_owned());
        args.push(p.display().to_string());
    }
    if let Some(p) = libs.openvino {
        args.push("--openvino-lib".to_owned());
        args.push(p.display().to_string());
    }
    if let Some(p) = edgebench_torch::python::python_flag() {
        args.push("--python".to_owned());
        args.push(p.display().to_string());
    }
    args.push("worker".to_owned());
    if let Some(g) = max_memory_gib {
        args.push("--max-memory".into());
        args.push(g.to_string());
    }
    args
}

/// PyTorch sources in a config (`tv:NAME`, `file.py:factory`) are exported to ONNX once (into
/// the cache folder) and studied as that file; the export records the source, so PyTorch
/// eager is their baseline.
fn export_pytorch_models(
    cfg: &mut StudyConfig,
    limit: &Limit,
    on_event: &mut dyn FnMut(Event),
) -> Result<()> {
    let dynamic_batch = cfg.batch.iter().any(|&b| b != 1);
    let mut python = None;
    for m in &mut cfg.models {
        if !edgebench_torch::source::SourceKind::of(&m.source).is_pytorch() {
            continue;
        }
        let source = TorchSource::parse(&m.source, None)?;
        let given: Vec<(String, Vec<usize>)> = m
            .shapes
            .iter()
            .map(|s| ShapeRequest::parse_shape(s))
            .collect::<std::result::Result<_, _>>()?;
        let inputs: Vec<ExportInput> = if given.is_empty() {
            let Some(shape) = source.default_input_shape() else {
                return Err(Error::Invalid(format!(
                    "{}: model {} needs its input shape: add shapes = [\"input:1x3x224x224\"] to its [[model]]",
                    m.declared_at,
                    source.label()
                )));
            };
            input_names(1)
                .into_iter()
                .map(|name| ExportInput {
                    name,
                    shape: shape.clone(),
                })
                .collect()
        } else {
            given
                .into_iter()
                .map(|(name, shape)| ExportInput { name, shape })
                .collect()
        };
        // PyTorch allocates these inputs: the same memory rule as every other path.
        check_export_memory(&inputs, limit)?;
        let py = match &python {
            Some(p) => p,
            None => python.insert(edgebench_torch::python::discover()?),
        };
        on_event(Event::Exporting {
            label: source.label(),
        });
        let file = export_cached(py, &source, inputs, cfg.seed, dynamic_batch)?;
        if m.label.is_none() {
            m.label = Some(source.short_name());
        }
        if m.task.is_none() {
            // The task follows from the source's own input: a clip (N x 3 x T x H x W) or an
            // image; a module of unknown input is `other`.
            m.task = Some(match source.default_input_shape().map(|s| s.len()) {
                Some(5) => Task::ActionRecognition,
                Some(_) => Task::Classification,
                None => Task::Other,
            });
        }
        m.source = file.display().to_string();
    }
    Ok(())
}

/// Refuses export inputs that PyTorch could not hold in memory under `limit` (checked before
/// Python allocates them, as float32 tensors); `pipeline`'s exports use it too.
pub fn check_export_memory(
    inputs: &[ExportInput],
    limit: &Limit,
) -> std::result::Result<(), edgebench_core::Error> {
    let spec = EngineSpec::parse("torch:eager")?;
    let run = [(spec.to_string(), Run::bench(&spec, 1))];
    let specs: Vec<ConcreteSpec> = inputs
        .iter()
        .map(|i| ConcreteSpec {
            name: i.name.clone(),
            dtype: DType::F32,
            shape: i.shape.clone(),
        })
        .collect();
    memory::check_inputs(&specs, &run, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_get_the_worker_subcommand_and_the_memory_limit() {
        let args = worker_args(Some(1.5));
        let worker = args.iter().position(|a| a == "worker").unwrap();
        assert_eq!(&args[worker + 1..], ["--max-memory", "1.5"]);
        assert!(!worker_args(None).iter().any(|a| a == "--max-memory"));
    }

    #[test]
    fn export_inputs_beyond_the_limit_are_refused_before_python_runs() {
        let huge = [ExportInput {
            name: "input".into(),
            shape: vec![1024, 3, 1024, 1024],
        }];
        let limit = Limit::new(Some(1.0));
        assert!(check_export_memory(&huge, &limit).is_err());
        let small = [ExportInput {
            name: "input".into(),
            shape: vec![1, 3, 8, 8],
        }];
        assert!(check_export_memory(&small, &limit).is_ok());
    }

    #[test]
    fn a_file_given_as_the_folder_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let opts = StudyOptions {
            out: file.clone(),
            resume: false,
            dry_run: false,
            max_memory_gib: None,
            worker_exe: PathBuf::from("edgebench"),
            tool: edgebench_core::fixtures::tool(),
            telemetry: None,
            shard: None,
            device: None,
        };
        let mut events = 0;
        let err = run(crate::preset::paper(true), &opts, &mut |_| events += 1).unwrap_err();
        assert!(err.to_string().contains("it is a file"), "{err}");
        assert_eq!(events, 0);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    }
}
