//! `edgebench prune SOURCE --ratio 0.2,0.4 -o DIR`: structured channel pruning of a PyTorch
//! source with Torch-Pruning (`MetaPruner`, L1 magnitude importance, the classifier left
//! whole), optionally fine-tuned on a labelled folder, one ONNX file per ratio in DIR
//! (`<name>-prune0.2.onnx`) beside the unpruned export (`<name>.onnx`), and a summary
//! (`prune.json`, rewritten after each ratio) with parameters and MACs before and after,
//! counted by edgebench's own `core::inspect` on the exported files, as the study counts them.
//!
//! With a bench setup, each pruned model is measured against the unpruned one through the
//! same engine, in interleaved rounds (`core::bench::run_variants`), and the report gives per
//! ratio the MAC ratio, the measured speed-up with its interval and the pruning efficiency:
//! speed-up / MAC ratio (1 when the time falls as the MACs do).

use crate::export::ExportInput;
use crate::qat::check_image_input;
use crate::source::{meta, weights_for, TorchSource};
use crate::tuning::{self, EpochStats, Script, TrainSettings, TuningError};
use edgebench_core::bench::{run_variants, speedup, BenchOptions, RoundProgress};
use edgebench_core::engine::{
    Availability, Engine, EngineSpec, PrepareOptions, Session, VariantInfo,
};
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::schema::{Speedup, VariantResult};
use prost::Message;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tract_onnx::pb;

/// The pruning script, embedded so that the binary stays self-contained.
pub const SCRIPT: &str = include_str!("../../../python/edgebench_quant/prune.py");
/// The summary written into the output folder.
pub const SUMMARY_FILE: &str = "prune.json";
/// The ONNX metadata key of a pruned file: how it was pruned, as JSON.
pub const META_PRUNE: &str = "edgebench.pruning";
/// The opset of the exports (edgebench's default export opset).
pub const PRUNE_OPSET: i64 = crate::export::DEFAULT_OPSET;

/// Parses `--ratio 0.2,0.4`: each the share of channels removed, in (0, 1), each once.
pub fn parse_ratios(s: &str) -> Result<Vec<f64>, TuningError> {
    let mut out: Vec<f64> = vec![];
    for part in s.split(',').map(str::trim) {
        let r: f64 = part.parse().map_err(|_| {
            TuningError::Invalid(format!(
                "--ratio {s}: `{part}` is not a number; give shares of channels to remove, e.g. --ratio 0.2,0.4"
            ))
        })?;
        if !(r > 0.0 && r < 1.0) {
            return Err(TuningError::Invalid(format!(
                "--ratio {s}: {part} is outside (0, 1); give the share of channels to remove, e.g. 0.4"
            )));
        }
        if out.contains(&r) {
            return Err(TuningError::Invalid(format!(
                "--ratio {s}: {part} is given twice"
            )));
        }
        out.push(r);
    }
    Ok(out)
}

/// The file of a pruned model: `resnet18-prune0.4.onnx`.
pub fn file_name(name: &str, ratio: f64) -> String {
    format!("{name}-prune{ratio}.onnx")
}

/// How to measure the pruned models against the unpruned one.
pub struct BenchSetup<'a> {
    pub engine: &'a dyn Engine,
    pub spec: EngineSpec,
    pub options: BenchOptions,
}

/// What to prune and where to put it.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    pub source: TorchSource,
    /// The model's one image input (N x 3 x H x W).
    pub input: ExportInput,
    /// The output folder (created with its first file if missing).
    pub dir: PathBuf,
    pub ratios: Vec<f64>,
    /// Fine-tune each pruned model on a labelled folder.
    pub finetune: Option<TrainSettings>,
    /// torch's intra-op threads; `None`: torch's default.
    pub threads: Option<usize>,
    /// Kill the script after this long.
    pub timeout: Duration,
}

/// One ONNX file's counts, from `core::inspect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCounts {
    pub path: PathBuf,
    pub sha256: String,
    pub params: u64,
    pub macs: u64,
}

/// A pruned model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrunedModel {
    pub ratio: f64,
    #[serde(flatten)]
    pub counts: ModelCounts,
    /// MACs before / after: how many times fewer multiply-accumulates.
    pub mac_ratio: f64,
    /// Parameters after / before.
    pub params_kept: f64,
    pub prune_s: f64,
    /// Fine-tuning epochs (empty without `--finetune`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epochs: Vec<EpochStats>,
}

/// One pruned model measured against the unpruned one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrunedBench {
    pub ratio: f64,
    pub mac_ratio: f64,
    /// Median latency of the unpruned and the pruned model, ms.
    pub baseline_ms: Option<f64>,
    pub median_ms: Option<f64>,
    /// Unpruned median / pruned median, across the interleaved rounds; `None` when either
    /// side failed (see `error`).
    pub speedup: Option<Speedup>,
    /// speedup / mac_ratio, with the speed-up's interval divided likewise.
    pub efficiency: Option<f64>,
    pub efficiency_ci95_low: Option<f64>,
    pub efficiency_ci95_high: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The bench part of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PruneBenchReport {
    pub spec: String,
    pub rounds: usize,
    pub threads: Option<usize>,
    pub rows: Vec<PrunedBench>,
    /// Every variant as measured, the unpruned model first: engine, session, samples.
    pub variants: Vec<VariantResult>,
}

/// What `prune` did; also written as `prune.json` in the output folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PruneReport {
    /// The source as edgebench names it.
    pub model: String,
    pub dir: PathBuf,
    pub tool: String,
    pub importance: String,
    /// The shapes the counts were computed at.
    pub input: ExportInput,
    pub original: ModelCounts,
    pub pruned: Vec<PrunedModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finetune: Option<TrainSettings>,
    pub initial_weights: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<PruneBenchReport>,
    pub python_path: PathBuf,
    /// python, torch, torchvision, torch_pruning (the package's own version string).
    pub versions: serde_json::Map<String, Value>,
    pub elapsed_s: f64,
}

/// What `prune` reports while it runs.
#[derive(Debug, Clone)]
pub enum PruneEvent<'a> {
    Epoch(&'a EpochStats),
    Pruned(&'a PrunedModel),
    Bench(RoundProgress),
}

/// An engine that prepares its own model whatever it is given: the way one
/// `core::bench::run_variants` call measures several models through one engine.
struct FixedModel<'a> {
    engine: &'a dyn Engine,
    model: &'a Model,
}

impl Engine for FixedModel<'_> {
    fn name(&self) -> &'static str {
        self.engine.name()
    }
    fn availability(&self) -> Availability {
        self.engine.availability()
    }
    fn availability_for(&self, spec: &EngineSpec) -> Availability {
        self.engine.availability_for(spec)
    }
    fn variants(&self) -> Vec<VariantInfo> {
        self.engine.variants()
    }
    fn validate(&self, spec: &EngineSpec) -> edgebench_core::error::Result<()> {
        self.engine.validate(spec)
    }
    fn prepare(
        &self,
        _model: &Model,
        spec: &EngineSpec,
        opts: &PrepareOptions,
    ) -> edgebench_core::error::Result<Box<dyn Session>> {
        self.engine.prepare(self.model, spec, opts)
    }
}

fn counts_of(path: &Path, model: &Model) -> Result<ModelCounts, TuningError> {
    let inputs = model
        .resolve_inputs(&ShapeRequest::default())
        .map_err(|e| TuningError::Invalid(format!("{}: {e}", path.display())))?;
    let i = edgebench_core::inspect::inspect(model, &inputs)
        .map_err(|e| TuningError::Invalid(format!("{}: {e}", path.display())))?;
    Ok(ModelCounts {
        path: path.to_owned(),
        sha256: model.sha256.clone(),
        params: i.params,
        macs: i.macs,
    })
}

/// Prunes `opts.source` at every ratio, writing each model into `opts.dir` as it is made
/// (atomically) and the summary after each; then, with `bench`, measures them. `on_event`
/// gets the progress.
pub fn prune(
    opts: &PruneOptions,
    bench: Option<BenchSetup>,
    on_event: &mut dyn FnMut(PruneEvent),
) -> Result<PruneReport, TuningError> {
    let start = Instant::now();
    if opts.ratios.is_empty() {
        return Err(TuningError::Invalid(
            "--ratio: give at least one ratio, e.g. --ratio 0.2,0.4".into(),
        ));
    }
    check_image_input(&opts.input, &opts.source)?;
    if let Some(t) = &opts.finetune {
        t.check("--finetune")?;
    }
    let werr = |path: &Path, e: &dyn std::fmt::Display| TuningError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    if opts.dir.exists() && !opts.dir.is_dir() {
        return Err(werr(
            &opts.dir,
            &"it is a file; give a folder for the pruned models",
        ));
    }
    let python = tuning::python()?;
    let scratch = tempfile::Builder::new()
        .prefix("edgebench-prune-")
        .tempdir()
        .map_err(|e| werr(&std::env::temp_dir(), &e))?;
    let d = scratch.path();
    let seed = opts.finetune.as_ref().map_or(0, |t| t.seed);
    let (source, weights) =
        weights_for(&opts.source, seed, std::slice::from_ref(&opts.input.shape));
    let weights_req = weights.request(&Default::default(), d)?;
    let name = opts.source.short_name();
    let request = json!({
        "source": source,
        "label": opts.source.label(),
        "seed": seed,
        "weights": weights_req,
        "input": opts.input,
        "ratios": opts.ratios,
        "finetune": opts.finetune.as_ref().map(TrainSettings::absolute),
        "original": d.join("original.onnx"),
        "outputs": d,
        "opset": PRUNE_OPSET,
        "threads": opts.threads,
    });
    let script = Script {
        name: "prune.py",
        text: SCRIPT,
        dir: d,
        timeout: opts.timeout,
    };
    let source_json = serde_json::to_string(&source).unwrap_or_default();
    let mut report = PruneReport {
        model: opts.source.label(),
        dir: opts.dir.clone(),
        tool: "torch_pruning.pruner.MetaPruner".into(),
        importance: "MagnitudeImportance(p=1) (L1 norm of each channel)".into(),
        input: opts.input.clone(),
        original: ModelCounts {
            path: PathBuf::new(),
            sha256: String::new(),
            params: 0,
            macs: 0,
        },
        pruned: vec![],
        finetune: opts.finetune.clone(),
        initial_weights: weights.label().into(),
        bench: None,
        python_path: python.path.clone(),
        versions: Default::default(),
        elapsed_s: 0.0,
    };
    let mut models: Vec<Model> = vec![];
    let mut epochs: Vec<EpochStats> = vec![];
    let summary = opts.dir.join(SUMMARY_FILE);
    // Each file the script writes is given its metadata, checked, counted and moved into the
    // output folder as soon as the script reports it.
    let mut take = |v: &Value, report: &mut PruneReport| -> Result<(), TuningError> {
        if let Some(e) = tuning::epoch_of(v) {
            on_event(PruneEvent::Epoch(&e));
            epochs.push(e);
            return Ok(());
        }
        let event = v.get("event").and_then(Value::as_str).unwrap_or("");
        let file = PathBuf::from(v.get("file").and_then(Value::as_str).unwrap_or(""));
        let ratio = v.get("ratio").and_then(Value::as_f64);
        let (target, provenance) = match (event, ratio) {
            ("original", _) => (opts.dir.join(format!("{name}.onnx")), None),
            ("pruned", Some(r)) => (
                opts.dir.join(file_name(&name, r)),
                Some(json!({
                    "tool": "torch_pruning.pruner.MetaPruner",
                    "importance": "l1",
                    "ratio": r,
                    "finetune": opts.finetune,
                })),
            ),
            _ => return Ok(()),
        };
        let bad = |reason: String| TuningError::BadOutput {
            script: "prune.py".into(),
            path: file.clone(),
            reason,
        };
        let bytes = std::fs::read(&file).map_err(|e| bad(e.to_string()))?;
        let mut proto = pb::ModelProto::decode(&bytes[..]).map_err(|e| bad(e.to_string()))?;
        let mut entries = vec![
            (meta::SOURCE, source_json.clone()),
            (meta::OPSET, PRUNE_OPSET.to_string()),
            (meta::TOOL, env!("CARGO_PKG_VERSION").to_owned()),
        ];
        if let Some(p) = provenance {
            entries.push((META_PRUNE, p.to_string()));
        }
        crate::export::set_metadata(&mut proto, entries);
        let encoded = proto.encode_to_vec();
        let mut model = Model::from_bytes(&target.display().to_string(), encoded.clone())
            .map_err(|e| bad(e.to_string()))?;
        model.path = Some(target.clone());
        let counts = counts_of(&target, &model)?;
        // Created with the first file, so that a run that fails early leaves nothing.
        std::fs::create_dir_all(&opts.dir).map_err(|e| werr(&opts.dir, &e))?;
        edgebench_core::write::write_atomic(&target, &encoded).map_err(|e| werr(&target, &e))?;
        match ratio.filter(|_| event == "pruned") {
            None => report.original = counts,
            Some(r) => {
                let before = &report.original;
                let row = PrunedModel {
                    ratio: r,
                    mac_ratio: before.macs as f64 / counts.macs.max(1) as f64,
                    params_kept: counts.params as f64 / before.params.max(1) as f64,
                    counts,
                    prune_s: v.get("prune_s").and_then(Value::as_f64).unwrap_or(0.0),
                    epochs: std::mem::take(&mut epochs),
                };
                on_event(PruneEvent::Pruned(&row));
                report.pruned.push(row);
            }
        }
        models.push(model);
        write_summary(&summary, report)
    };
    let answer = {
        let report = &mut report;
        tuning::run_script(&python.path, &script, &request, &mut |v| {
            take(v, &mut *report)
        })?
    };
    if let Value::Object(m) = &answer {
        for k in ["python", "torch", "torchvision", "torch_pruning"] {
            if let Some(v) = m.get(k) {
                report.versions.insert(k.into(), v.clone());
            }
        }
    }
    if let Some(w) = answer.get("weights").and_then(Value::as_str) {
        report.initial_weights = w.into();
    }
    if report.pruned.len() != opts.ratios.len() || models.len() != opts.ratios.len() + 1 {
        return Err(TuningError::Crashed {
            script: "prune.py".into(),
            status: format!(
                "it answered ok after {} of {} pruned models",
                report.pruned.len(),
                opts.ratios.len()
            ),
            stderr: String::new(),
        });
    }
    if let Some(b) = bench {
        report.bench = Some(measure(&b, &models, &report.pruned, &mut |p| {
            on_event(PruneEvent::Bench(p))
        })?);
    }
    report.elapsed_s = start.elapsed().as_secs_f64();
    write_summary(&summary, &report)?;
    Ok(report)
}

fn write_summary(path: &Path, report: &PruneReport) -> Result<(), TuningError> {
    let text = serde_json::to_vec_pretty(report).map_err(|e| TuningError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    edgebench_core::write::write_atomic(path, &text).map_err(|e| TuningError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Measures `models` (the unpruned first, then one per row of `pruned`) through one engine in
/// interleaved rounds.
fn measure(
    b: &BenchSetup,
    models: &[Model],
    pruned: &[PrunedModel],
    progress: &mut dyn FnMut(RoundProgress),
) -> Result<PruneBenchReport, TuningError> {
    let engines: Vec<FixedModel> = models
        .iter()
        .map(|model| FixedModel {
            engine: b.engine,
            model,
        })
        .collect();
    let variants: Vec<(&dyn Engine, &EngineSpec)> = engines
        .iter()
        .map(|e| (e as &dyn Engine, &b.spec))
        .collect();
    let runs = run_variants(&variants, &models[0], &b.options, progress, None);
    let results: Vec<VariantResult> = runs.into_iter().map(|r| r.result).collect();
    let base = &results[0];
    let rows = pruned
        .iter()
        .zip(&results[1..])
        .enumerate()
        .map(|(i, (p, r))| {
            let error = base
                .error
                .clone()
                .map(|e| format!("the unpruned model failed: {e}"))
                .or_else(|| r.error.clone());
            let s = if error.is_none() {
                speedup(
                    base,
                    r,
                    b.options.measure.min_samples,
                    b.options.seed + i as u64,
                )
            } else {
                None
            };
            let eff = |x: Option<f64>| x.map(|x| x / p.mac_ratio);
            PrunedBench {
                ratio: p.ratio,
                mac_ratio: p.mac_ratio,
                baseline_ms: base.median_ms(),
                median_ms: r.median_ms(),
                efficiency: eff(s.as_ref().map(|s| s.ratio)),
                efficiency_ci95_low: eff(s.as_ref().and_then(|s| s.ci95_low)),
                efficiency_ci95_high: eff(s.as_ref().and_then(|s| s.ci95_high)),
                speedup: s,
                error,
            }
        })
        .collect();
    Ok(PruneBenchReport {
        spec: b.spec.to_string(),
        rounds: b.options.rounds,
        threads: b.options.threads,
        rows,
        variants: results,
    })
}

impl PruneReport {
    /// The report as `edgebench prune` prints it.
    pub fn text(&self) -> String {
        use edgebench_core::fmt::sig;
        let r = self;
        let g = |macs: u64| format!("{} GMACs", sig(macs as f64 / 1e9));
        let m = |p: u64| format!("{} M params", sig(p as f64 / 1e6));
        let mut s = format!(
            "pruned {} with Torch-Pruning {} ({}), weights {}\n  unpruned: {} ({}, {})\n",
            r.model,
            r.versions
                .get("torch_pruning")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            r.importance,
            r.initial_weights,
            r.original.path.display(),
            g(r.original.macs),
            m(r.original.params),
        );
        for p in &r.pruned {
            s += &format!(
                "  ratio {}: {} ({}, {}): {}x fewer MACs, {}% of the parameters\n",
                p.ratio,
                p.counts.path.display(),
                g(p.counts.macs),
                m(p.counts.params),
                sig(p.mac_ratio),
                sig(p.params_kept * 100.0)
            );
            if let Some(e) = p.epochs.last() {
                s += &format!(
                    "    fine-tuned {} epochs: last loss {:.4}, accuracy {:.1}%\n",
                    e.epochs,
                    e.loss,
                    e.accuracy * 100.0
                );
            }
        }
        if let Some(b) = &r.bench {
            s += &format!(
                "  measured on {} ({} interleaved rounds{}):\n",
                b.spec,
                b.rounds,
                b.threads
                    .map(|t| format!(", {t} threads"))
                    .unwrap_or_default()
            );
            for row in &b.rows {
                let ms = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{} ms", sig(x)));
                match (&row.speedup, &row.error) {
                    (Some(sp), _) => {
                        let ci = match (row.efficiency_ci95_low, row.efficiency_ci95_high) {
                            (Some(lo), Some(hi)) => format!(" [{:.2}, {:.2}]", lo, hi),
                            _ => String::new(),
                        };
                        s += &format!(
                            "    ratio {}: {} -> {}, MAC ratio {:.2}x, speed-up {}, efficiency {:.2}{ci}\n",
                            row.ratio,
                            ms(row.baseline_ms),
                            ms(row.median_ms),
                            row.mac_ratio,
                            sp.label(),
                            row.efficiency.unwrap_or(f64::NAN),
                        );
                    }
                    (None, e) => {
                        s += &format!(
                            "    ratio {}: not measured: {}\n",
                            row.ratio,
                            e.as_deref().unwrap_or("too few samples")
                        );
                    }
                }
            }
        }
        s += &format!(
            "  summary: {} ({:.1} s in all)\n",
            r.dir.join(SUMMARY_FILE).display(),
            r.elapsed_s
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_shares_in_the_open_interval_each_once() {
        assert_eq!(parse_ratios("0.2, 0.4").unwrap(), [0.2, 0.4]);
        for (bad, needle) in [
            ("0", "outside (0, 1)"),
            ("1", "outside (0, 1)"),
            ("1.5", "outside (0, 1)"),
            ("-0.2", "outside (0, 1)"),
            ("nan", "outside (0, 1)"),
            ("0.2,x", "`x` is not a number"),
            ("", "is not a number"),
            ("0.2,0.2", "given twice"),
        ] {
            let e = parse_ratios(bad).unwrap_err().to_string();
            assert!(e.starts_with("--ratio") && e.contains(needle), "{bad}: {e}");
        }
        assert_eq!(file_name("resnet18", 0.4), "resnet18-prune0.4.onnx");
    }
}
