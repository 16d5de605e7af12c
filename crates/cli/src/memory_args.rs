//! `--max-memory GIB`: the most memory a run may need before anything is allocated (default:
//! the memory available now). The rule itself is `edgebench_core::memory`.

use crate::shared::MeasureArgs;
use anyhow::Result;
use clap::Args;
use edgebench_core::engine::EngineSpec;
use edgebench_core::memory::{self, Limit, Run};
use edgebench_core::model::Model;
use edgebench_core::tensor::ConcreteSpec;
use edgebench_torch::export::ExportInput;

#[derive(Debug, Clone, Default, Args)]
pub struct MemoryArgs {
    /// Refuse, before anything is allocated, a run that would need more than GIB of memory
    /// (inputs, weights, the largest activation, the gate's outputs; default: the memory
    /// available now). Raise it when you know the memory is there.
    #[arg(long, value_name = "GIB", value_parser = parse_gib)]
    pub max_memory: Option<f64>,
}

fn parse_gib(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a size in GiB: give a positive number, e.g. --max-memory 16"
        )),
    }
}

impl MemoryArgs {
    pub fn limit(&self) -> Limit {
        Limit::new(self.max_memory)
    }

    /// Refuses a `bench` or `pipeline` run of `model` at `inputs` that one of `specs` could
    /// not hold in memory, with the output sets of `measure`'s accuracy gate.
    pub fn check(
        &self,
        model: &Model,
        inputs: &[ConcreteSpec],
        specs: &[EngineSpec],
        measure: &MeasureArgs,
    ) -> Result<()> {
        let gate_sets = measure.gate_inputs;
        let runs: Vec<(String, Run)> = specs
            .iter()
            .map(|s| (s.to_string(), Run::bench(s, gate_sets)))
            .collect();
        memory::check(model, inputs, &runs, &self.limit())?;
        Ok(())
    }

    /// Refuses inputs that PyTorch could not hold while exporting (checked before Python
    /// allocates them).
    pub fn check_export(&self, inputs: &[ExportInput]) -> Result<()> {
        edgebench_study::run::check_export_memory(inputs, &self.limit())?;
        Ok(())
    }
}
