//! The engine abstraction: an [`Engine`] prepares a model into a [`Session`], and a session
//! runs it on inputs loaded beforehand, so the timed call does nothing but inference.

use crate::error::{Error, Result};
use crate::model::Model;
use crate::tensor::{ConcreteSpec, HostTensor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A parsed `--engine` argument: `NAME[:TOKEN[,TOKEN|KEY=VALUE]...]`, for example
/// `tract:optimized`, `ort:all,threads=4`, `openvino:f32`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSpec {
    pub engine: String,
    /// Bare tokens, in order (the first one is usually the variant name).
    pub flags: Vec<String>,
    /// `key=value` options.
    pub options: BTreeMap<String, String>,
}

impl EngineSpec {
    pub fn parse(s: &str) -> Result<EngineSpec> {
        let s = s.trim();
        let (engine, rest) = s.split_once(':').unwrap_or((s, ""));
        let valid_name = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if !valid_name(engine) {
            return Err(Error::InvalidArgument(format!(
                "--engine {s}: expected NAME[:VARIANT][,KEY=VALUE...], e.g. tract:optimized; see `edgebench engines`"
            )));
        }
        let mut flags = vec![];
        let mut options = BTreeMap::new();
        for tok in rest.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match tok.split_once('=') {
                Some((k, v)) if valid_name(k) && !v.is_empty() => {
                    options.insert(k.to_owned(), v.to_owned());
                }
                None if valid_name(tok) => flags.push(tok.to_owned()),
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "--engine {s}: `{tok}` is not a variant name or KEY=VALUE option"
                    )))
                }
            }
        }
        Ok(EngineSpec {
            engine: engine.to_owned(),
            flags,
            options,
        })
    }

    /// The first bare token, the variant.
    pub fn variant(&self) -> Option<&str> {
        self.flags.first().map(String::as_str)
    }
}

impl fmt::Display for EngineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.engine)?;
        let mut toks: Vec<String> = self.flags.clone();
        toks.extend(self.options.iter().map(|(k, v)| format!("{k}={v}")));
        if !toks.is_empty() {
            write!(f, ":{}", toks.join(","))?;
        }
        Ok(())
    }
}

/// Whether an engine can run here, and if not, why and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Availability {
    Available {
        version: String,
        devices: Vec<String>,
    },
    /// Compiled in, but something it needs is missing on this machine.
    Unavailable { reason: String, fix: String },
    /// Left out of this build (a cargo feature).
    NotCompiled { feature: String },
}

impl Availability {
    /// How to get an engine that was left out of this build: the `edgebench` package's cargo
    /// feature of that name (crates/cli/Cargo.toml passes each one on to edgebench-engines).
    pub fn not_compiled_fix(feature: &str) -> String {
        format!("rebuild with `cargo build --release --features {feature}`")
    }

    /// What to do to make the engine available here; `None` when it is.
    pub fn fix(&self) -> Option<String> {
        match self {
            Availability::Available { .. } => None,
            Availability::Unavailable { fix, .. } => Some(fix.clone()),
            Availability::NotCompiled { feature } => Some(Self::not_compiled_fix(feature)),
        }
    }

    /// Why `spec` cannot run here and the fix, as one line for an error; `None` when it can.
    pub fn refusal(&self, spec: &str) -> Option<String> {
        match self {
            Availability::Available { .. } => None,
            Availability::Unavailable { reason, fix } => {
                Some(format!("engine {spec} is not available: {reason}; {fix}"))
            }
            Availability::NotCompiled { feature } => Some(format!(
                "engine {spec} is not compiled into this build: {}",
                Self::not_compiled_fix(feature)
            )),
        }
    }
}

/// A variant an engine offers, for `edgebench engines`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantInfo {
    pub spec: String,
    pub description: String,
}

/// What is known about how preparation went: what actually ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub engine_version: String,
    /// Threads the engine was told to use (None: its own default).
    pub threads: Option<usize>,
    /// Where it runs: "cpu", "cuda:0", ...
    pub device: String,
    /// Precision that actually ran: "f32", "f16", "bf16", "int8".
    pub precision: String,
    /// Anything else worth recording (execution provider, optimization level...).
    pub details: BTreeMap<String, String>,
}

/// Settings every engine receives.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareOptions {
    /// Concrete input shapes and types (already resolved against the model).
    pub inputs: Vec<ConcreteSpec>,
    /// `--threads`: None leaves the engine's default.
    pub threads: Option<usize>,
}

/// An inference engine. Few required methods; everything engine-specific goes in the spec.
pub trait Engine: Send + Sync {
    /// The name used in `--engine NAME:...`.
    fn name(&self) -> &'static str;
    /// Whether it can run here; cheap, never panics.
    fn availability(&self) -> Availability;
    /// Whether `spec` can run here: engines whose spec names what they need (a tool's path)
    /// look there; the others answer as [`Engine::availability`].
    fn availability_for(&self, spec: &EngineSpec) -> Availability {
        let _ = spec;
        self.availability()
    }
    /// The variants it offers.
    fn variants(&self) -> Vec<VariantInfo>;
    /// Checks a spec without preparing anything (unknown variant or option -> error).
    fn validate(&self, spec: &EngineSpec) -> Result<()>;
    /// Builds a runnable session: parsing, optimization, compilation. Timed as `prepare_ms`.
    fn prepare(
        &self,
        model: &Model,
        spec: &EngineSpec,
        opts: &PrepareOptions,
    ) -> Result<Box<dyn Session>>;
}

/// A prepared model. `set_inputs` converts inputs to the engine's own form outside the timed
/// region; `run` is the timed call.
pub trait Session {
    fn set_inputs(&mut self, inputs: &[HostTensor]) -> Result<()>;
    /// One inference on the loaded inputs. Outputs stay inside the session.
    fn run(&mut self) -> Result<()>;
    /// Waits for asynchronous device work to finish (GPUs); CPU engines return at once.
    fn synchronize(&mut self) -> Result<()> {
        Ok(())
    }
    /// The outputs of the last `run`, for the accuracy gate.
    fn outputs(&mut self) -> Result<Vec<HostTensor>>;
    fn info(&self) -> SessionInfo;
    /// Called once after measurement, outside the timed region: an engine that reads back
    /// what ran from the engine itself (a profiled extra run, performance counters; see
    /// `core::precision`) does it here, and `info` reports it from then on. A read-back that
    /// fails is recorded in `info`, never an error of the variant.
    fn read_back(&mut self) {}
    /// Engines that must time themselves (a worker process, a vendor tool) run the whole
    /// warm-up and sampling procedure of `opts` on their side and return the raw measurement;
    /// the statistics are then computed exactly as for every other engine. `None` (the
    /// default) means the harness times `run` itself.
    fn measure_self(
        &mut self,
        opts: &crate::measure::MeasureOptions,
    ) -> Option<Result<crate::measure::Measurement>> {
        let _ = opts;
        None
    }
}

/// Checks bare tokens and option keys against what an engine accepts.
pub fn check_spec(
    spec: &EngineSpec,
    variants: &[&str],
    flags: &[&str],
    keys: &[&str],
) -> Result<()> {
    let shown = spec.to_string();
    if let Some(v) = spec.variant() {
        if !variants.contains(&v) && !flags.contains(&v) {
            return Err(Error::InvalidArgument(format!(
                "--engine {shown}: unknown variant `{v}` of {}; valid variants: {}",
                spec.engine,
                variants.join(", ")
            )));
        }
    }
    for f in spec.flags.iter().skip(1) {
        if !flags.contains(&f.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "--engine {shown}: unknown flag `{f}`; valid flags: {}",
                if flags.is_empty() {
                    "none".to_string()
                } else {
                    flags.join(", ")
                }
            )));
        }
    }
    for k in spec.options.keys() {
        if !keys.contains(&k.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "--engine {shown}: unknown option `{k}`; valid options: {}",
                if keys.is_empty() {
                    "none".to_string()
                } else {
                    keys.join(", ")
                }
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let s = EngineSpec::parse("ort:all,threads=4,fallback").unwrap();
        assert_eq!(s.engine, "ort");
        assert_eq!(s.variant(), Some("all"));
        assert_eq!(s.flags, vec!["all", "fallback"]);
        assert_eq!(s.options.get("threads").map(String::as_str), Some("4"));
        assert_eq!(s.to_string(), "ort:all,fallback,threads=4");
        assert_eq!(EngineSpec::parse("tract").unwrap().variant(), None);
        assert!(EngineSpec::parse("").is_err());
        assert!(EngineSpec::parse("tr act").is_err());
        assert!(EngineSpec::parse("ort:x=").is_err());
    }

    #[test]
    fn check_spec_names_the_bad_part() {
        let s = EngineSpec::parse("tract:fast").unwrap();
        let e = check_spec(&s, &["reference", "optimized"], &[], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("fast") && e.contains("optimized"), "{e}");
        let s = EngineSpec::parse("tract:optimized,speed=2").unwrap();
        let e = check_spec(&s, &["optimized"], &[], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("speed"), "{e}");
    }
}
