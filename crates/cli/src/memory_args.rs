//! `--max-memory GIB`: the most memory a run may need before anything is allocated (default:
//! the memory available now). The rule itself is `edgebench_core::memory`.

use clap::Args;
use edgebench_core::memory::Limit;

#[derive(Debug, Clone, Default, Args)]
pub struct MemoryArgs {
    /// Refuse, before anything is allocated, a run that would need more than GIB of memory
    /// (inputs, weights, the largest activation, the gate's outputs; default: the memory
    /// available now). Raise it when you know the memory is there.
    #[arg(long, value_name = "GIB", value_parser = Limit::parse_gib)]
    pub max_memory: Option<f64>,
}

impl MemoryArgs {
    pub fn limit(&self) -> Limit {
        Limit::new(self.max_memory)
    }
}
