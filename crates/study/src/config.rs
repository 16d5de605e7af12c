//! The study config: TOML read into a raw form that keeps every value's position, checked
//! into a [`StudyConfig`] (`edgebench_core::schema::study`), so that every error names the file, the line and the key. The format
//! is documented in `docs/study.md` and `examples/study.toml`.

use crate::{Error, Result};
use edgebench_core::schema::study::{Format, ModelConfig, StudyConfig, Task};
use edgebench_torch::source::SourceKind;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

// ---- the raw, positioned form ----

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: Option<S<String>>,
    baseline: Option<S<String>>,
    variants: Option<S<Vec<S<String>>>>,
    reference: Option<S<String>>,
    batch: Option<S<Vec<S<i64>>>>,
    threads: Option<S<i64>>,
    seed: Option<S<i64>>,
    measure: Option<RawMeasure>,
    realtime: Option<RawRealtime>,
    gate: Option<RawGate>,
    analysis: Option<RawAnalysis>,
    output: Option<RawOutput>,
    model: Option<S<Vec<RawModel>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeasure {
    warmup_s: Option<S<f64>>,
    min_warmup_runs: Option<S<i64>>,
    min_samples: Option<S<i64>>,
    max_samples: Option<S<i64>>,
    max_time_s: Option<S<f64>>,
    target_ci_pct: Option<S<f64>>,
    timeout_s: Option<S<f64>>,
    gate_inputs: Option<S<i64>>,
    rounds: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRealtime {
    fps: Option<S<f64>>,
    clip_stride: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    atol: Option<S<f64>>,
    rtol: Option<S<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnalysis {
    exception_sd: Option<S<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    formats: Option<S<Vec<S<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    source: S<String>,
    label: Option<S<String>>,
    task: Option<S<String>>,
    shapes: Option<Vec<S<String>>>,
}

/// Reads and checks a config file.
pub fn load(path: &Path) -> Result<StudyConfig> {
    // A config that cannot be read is bad input (exit 2), not an I/O failure during a run.
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Invalid(format!(
            "{}: cannot read the config ({e}): check the --config path",
            path.display()
        ))
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    parse(&text, &path.display().to_string(), &base)
}

/// Parses and checks config text. `file` names it in errors; relative model paths are
/// resolved against `base`.
pub fn parse(text: &str, file: &str, base: &Path) -> Result<StudyConfig> {
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let start = e.span().map(|s| s.start).unwrap_or(0);
        let (line, key) = locate(text, start);
        Error::Config {
            file: file.into(),
            line,
            key: key.map(|k| format!("{k}: ")).unwrap_or_default(),
            message: first_line(e.message()),
        }
    })?;
    let c = Checker { text, file };
    let mut cfg = StudyConfig::default();
    if let Some(v) = raw.name {
        cfg.name = v.get_ref().clone();
    }
    if let Some(v) = &raw.baseline {
        c.spec("baseline", v, true)?;
        cfg.baseline = v.get_ref().trim().to_owned();
    }
    if let Some(v) = &raw.variants {
        if v.get_ref().is_empty() {
            return Err(c.err(
                v,
                "variants",
                "the list is empty; name at least one engine spec, or \"auto\"",
            ));
        }
        cfg.variants = vec![];
        for s in v.get_ref() {
            c.spec("variants", s, true)?;
            let spec = s.get_ref().trim().to_owned();
            if cfg.variants.contains(&spec) {
                return Err(c.err(
                    s,
                    "variants",
                    &format!("`{spec}` is listed twice; list it once"),
                ));
            }
            cfg.variants.push(spec);
        }
    }
    if let Some(v) = &raw.reference {
        c.spec("reference", v, false)?;
        cfg.reference = Some(v.get_ref().trim().to_owned());
    }
    if let Some(v) = &raw.batch {
        if v.get_ref().is_empty() {
            return Err(c.err(
                v,
                "batch",
                "the list is empty; give batch sizes, e.g. batch = [1]",
            ));
        }
        cfg.batch = v
            .get_ref()
            .iter()
            .map(|b| c.count("batch", b, 1, 4096))
            .collect::<Result<_>>()?;
    }
    if let Some(v) = &raw.threads {
        cfg.threads = Some(c.count("threads", v, 1, 1024)?);
    }
    if let Some(v) = &raw.seed {
        if *v.get_ref() < 0 {
            return Err(c.err(v, "seed", "must be 0 or more"));
        }
        cfg.seed = *v.get_ref() as u64;
    }
    if let Some(m) = &raw.measure {
        let d = &mut cfg.measure;
        if let Some(v) = &m.warmup_s {
            d.warmup_s = c.number("measure.warmup_s", v, true)?;
        }
        if let Some(v) = &m.min_warmup_runs {
            d.min_warmup_runs = c.count("measure.min_warmup_runs", v, 1, 1_000_000)?;
        }
        if let Some(v) = &m.min_samples {
            d.min_samples = c.count("measure.min_samples", v, 1, 10_000_000)?;
        }
        if let Some(v) = &m.max_samples {
            d.max_samples = c.count("measure.max_samples", v, 1, 10_000_000)?;
            if d.min_samples > d.max_samples {
                return Err(c.err(
                    v,
                    "measure.max_samples",
                    &format!(
                        "{} is less than measure.min_samples ({}): raise it or lower min_samples",
                        d.max_samples, d.min_samples
                    ),
                ));
            }
        }
        if let Some(v) = &m.max_time_s {
            d.max_time_s = c.number("measure.max_time_s", v, false)?;
        }
        if let Some(v) = &m.target_ci_pct {
            d.target_ci_pct = c.number("measure.target_ci_pct", v, false)?;
        }
        if let Some(v) = &m.timeout_s {
            d.timeout_s = c.number("measure.timeout_s", v, false)?;
        }
        if let Some(v) = &m.gate_inputs {
            d.gate_inputs = c.count("measure.gate_inputs", v, 1, 100)?;
        }
        if let Some(v) = &m.rounds {
            d.rounds = c.count("measure.rounds", v, 1, 100)?;
        }
    }
    if let Some(r) = &raw.realtime {
        if let Some(v) = &r.fps {
            cfg.realtime.fps = c.number("realtime.fps", v, false)?;
        }
        if let Some(v) = &r.clip_stride {
            cfg.realtime.clip_stride = Some(c.count("realtime.clip_stride", v, 1, 1_000_000)?);
        }
    }
    if let Some(g) = &raw.gate {
        if let Some(v) = &g.atol {
            cfg.gate.atol = Some(c.number("gate.atol", v, true)?);
        }
        if let Some(v) = &g.rtol {
            cfg.gate.rtol = Some(c.number("gate.rtol", v, true)?);
        }
    }
    if let Some(a) = &raw.analysis {
        if let Some(v) = &a.exception_sd {
            cfg.analysis.exception_sd = c.number("analysis.exception_sd", v, false)?;
        }
    }
    if let Some(o) = &raw.output {
        if let Some(v) = &o.formats {
            cfg.output.formats = vec![];
            for f in v.get_ref() {
                let fmt = Format::ALL
                    .into_iter()
                    .find(|x| x.name() == f.get_ref())
                    .ok_or_else(|| {
                        c.err(
                            f,
                            "output.formats",
                            &format!(
                                "unknown format `{}`; valid formats: json, csv, md, html (results.jsonl is always written)",
                                f.get_ref()
                            ),
                        )
                    })?;
                if !cfg.output.formats.contains(&fmt) {
                    cfg.output.formats.push(fmt);
                }
            }
        }
    }
    match &raw.model {
        None => {
            return Err(Error::Config {
                file: file.into(),
                line: 1,
                key: String::new(),
                message: "no models: add at least one [[model]] table with source = \"zoo:NAME\" or the path of an .onnx file".into(),
            })
        }
        Some(models) => {
            for m in models.get_ref() {
                cfg.models.push(c.model(m, base)?);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (m, raw_m) in cfg
        .models
        .iter()
        .zip(raw.model.iter().flat_map(|m| m.get_ref()))
    {
        if !seen.insert((m.source.clone(), m.label.clone())) {
            return Err(c.err(
                &raw_m.source,
                "model.source",
                &format!(
                    "model `{}` is listed twice; list it once (or give each a different label)",
                    m.source
                ),
            ));
        }
    }
    Ok(cfg)
}

struct Checker<'a> {
    text: &'a str,
    file: &'a str,
}

impl Checker<'_> {
    fn err<T>(&self, at: &Spanned<T>, key: &str, message: &str) -> Error {
        Error::Config {
            file: self.file.into(),
            line: line_of(self.text, at.span().start),
            key: format!("{key}: "),
            message: message.into(),
        }
    }

    fn number(&self, key: &str, v: &Spanned<f64>, zero_ok: bool) -> Result<f64> {
        let x = *v.get_ref();
        if !x.is_finite() || x < 0.0 || (!zero_ok && x == 0.0) {
            return Err(self.err(
                v,
                key,
                &format!(
                    "{x} is not allowed; give a {} number",
                    if zero_ok { "non-negative" } else { "positive" }
                ),
            ));
        }
        Ok(x)
    }

    fn count(&self, key: &str, v: &Spanned<i64>, min: i64, max: i64) -> Result<usize> {
        let x = *v.get_ref();
        if x < min || x > max {
            return Err(self.err(
                v,
                key,
                &format!("{x} is out of range; give an integer from {min} to {max}"),
            ));
        }
        Ok(x as usize)
    }

    fn spec(&self, key: &str, v: &Spanned<String>, auto_ok: bool) -> Result<()> {
        let s = v.get_ref().trim();
        if auto_ok && s == "auto" {
            return Ok(());
        }
        let clean = |e: &dyn std::fmt::Display| e.to_string().replace("--engine ", "");
        let spec = edgebench_core::engine::EngineSpec::parse(s)
            .map_err(|e| self.err(v, key, &clean(&e)))?;
        let engine =
            edgebench_engines::find(&spec.engine).map_err(|e| self.err(v, key, &clean(&e)))?;
        engine
            .validate(&spec)
            .map_err(|e| self.err(v, key, &clean(&e)))
    }

    fn model(&self, m: &RawModel, base: &Path) -> Result<ModelConfig> {
        let src = m.source.get_ref().trim();
        let source = if let Some(rest) = edgebench_torch::source::zoo_query(src) {
            let spec = edgebench_zoo::ZooSpec::parse(rest)
                .map_err(|e| self.err(&m.source, "model.source", &e.to_string()))?;
            if spec.batch.is_some() {
                return Err(self.err(
                    &m.source,
                    "model.source",
                    "give the batch in the top-level `batch = [..]` list, not in the zoo spec",
                ));
            }
            format!("zoo:{spec}")
        } else if src.starts_with("torch:") {
            return Err(self.err(
                &m.source,
                "model.source",
                "a source is a model, not an engine: give zoo:NAME, tv:NAME, path/to/file.py:factory or an .onnx file, and put torch:... in `baseline` or `variants`",
            ));
        } else if let Some(source) = pytorch_source(src, base) {
            // A PyTorch model: `edgebench study` exports it to ONNX before planning.
            let source = source.map_err(|e| self.err(&m.source, "model.source", &e.to_string()))?;
            source.label()
        } else if src.is_empty() {
            return Err(self.err(
                &m.source,
                "model.source",
                "empty; give zoo:NAME or the path of an .onnx file",
            ));
        } else {
            let p = Path::new(src);
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            };
            if !p.is_file() {
                return Err(self.err(
                    &m.source,
                    "model.source",
                    &format!("{} is not a file; give zoo:NAME or the path of an .onnx file (relative to the config's folder)", p.display()),
                ));
            }
            p.display().to_string()
        };
        let task = match &m.task {
            None => None,
            Some(t) => Some(Task::parse(t.get_ref()).ok_or_else(|| {
                self.err(
                    t,
                    "model.task",
                    &format!(
                        "unknown task `{}`; valid tasks: classification, action-recognition, other",
                        t.get_ref()
                    ),
                )
            })?),
        };
        let mut shapes = vec![];
        for s in m.shapes.iter().flatten() {
            edgebench_core::model::ShapeRequest::parse_shape(s.get_ref())
                .map_err(|e| self.err(s, "model.shapes", &e.to_string().replace("--shape ", "")))?;
            shapes.push(s.get_ref().clone());
        }
        if let Some(l) = &m.label {
            if l.get_ref().trim().is_empty() {
                return Err(self.err(l, "model.label", "empty; leave it out or give a name"));
            }
        }
        Ok(ModelConfig {
            source,
            label: m.label.as_ref().map(|l| l.get_ref().trim().to_owned()),
            task,
            shapes,
            declared_at: format!(
                "{}:{}",
                self.file,
                line_of(self.text, m.source.span().start)
            ),
        })
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line of an offset, and the key written on that line (`key = value`), if any.
fn locate(text: &str, offset: usize) -> (usize, Option<String>) {
    let line = line_of(text, offset);
    let key = text.lines().nth(line - 1).and_then(|l| {
        let (k, _) = l.split_once('=')?;
        let k = k.trim();
        (!k.is_empty() && !k.starts_with('#') && !k.starts_with('[')).then(|| k.to_owned())
    });
    (line, key)
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// `tv:NAME[?num_classes=N]` or `path/to/file.py:factory` (relative to the config's folder):
/// `None` when `src` is neither.
fn pytorch_source(
    src: &str,
    base: &Path,
) -> Option<std::result::Result<edgebench_torch::TorchSource, edgebench_torch::TorchError>> {
    let resolved = if SourceKind::of(src) == SourceKind::Torchvision {
        src.to_owned()
    } else {
        let (file, factory) = src.rsplit_once(':')?;
        if SourceKind::of(src) != SourceKind::PythonFactory {
            return None;
        }
        let p = Path::new(file);
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        };
        format!("{}:{factory}", p.display())
    };
    Some(edgebench_torch::TorchSource::parse(&resolved, None))
}
