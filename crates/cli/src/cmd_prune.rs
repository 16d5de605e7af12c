//! `edgebench prune SOURCE --ratio 0.2,0.4 -o DIR`: structured channel pruning with
//! Torch-Pruning (`edgebench_torch::prune`), optionally fine-tuned, optionally measured
//! against the unpruned model through one engine (`--bench SPEC`).

use crate::shared::MeasureArgs;
use anyhow::{bail, Result};
use clap::Args;
use edgebench_core::bench::{BenchOptions, RoundProgress};
use edgebench_core::engine::EngineSpec;
use edgebench_torch::prune::{parse_ratios, prune, BenchSetup, PruneEvent, PruneOptions};
use edgebench_torch::source::ModelSource;
use edgebench_torch::tuning::{TrainSettings, DEFAULT_BATCH, DEFAULT_LR};
use edgebench_torch::worker::Timeouts;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// A PyTorch source: tv:NAME or path/to/file.py:factory.
    pub source: String,
    /// Shares of channels to remove, each in (0, 1): one pruned model per ratio.
    #[arg(long, value_name = "R[,R...]")]
    pub ratio: String,
    /// The folder for the models (`<name>.onnx`, `<name>-prune<R>.onnx`) and `prune.json`.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: PathBuf,
    /// The input shape (default: the torchvision model's; required for file.py:factory).
    #[arg(long, value_name = "1x3xHxW")]
    pub shape: Option<String>,
    /// Fine-tune each pruned model on a labelled folder (one subfolder per class).
    #[arg(long, value_name = "DIR")]
    pub finetune: Option<PathBuf>,
    /// Fine-tuning epochs.
    #[arg(long, default_value_t = 1, requires = "finetune")]
    pub epochs: u32,
    /// Fine-tuning learning rate (SGD, momentum 0.9).
    #[arg(long, default_value_t = DEFAULT_LR, requires = "finetune")]
    pub lr: f64,
    /// Fine-tuning batch size.
    #[arg(long = "train-batch", default_value_t = DEFAULT_BATCH, requires = "finetune")]
    pub train_batch: usize,
    /// Measure each pruned model against the unpruned one through this engine variant
    /// (e.g. ort:all), in interleaved rounds: MAC ratio, speed-up, efficiency.
    #[arg(long, value_name = "SPEC")]
    pub bench: Option<String>,
    /// Threads of the engine in --bench, and of torch while pruning and fine-tuning.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Print the report as JSON on stdout and nothing else.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: PruneArgs) -> Result<ExitCode> {
    a.measure.check()?;
    let ratios = parse_ratios(&a.ratio).map_err(edgebench_core::Error::from)?;
    let source = match ModelSource::parse(&a.source, None)? {
        ModelSource::Pytorch(s) => s,
        _ => bail!(
            "{}: prune needs a PyTorch source (tv:NAME or path/to/file.py:factory); an ONNX or zoo model has no PyTorch graph to prune",
            a.source
        ),
    };
    let input = crate::source::one_image_input(&source, a.shape.as_deref())?;
    let threads = a.threads.map(|t| t as usize);
    let bench = match &a.bench {
        None => None,
        Some(s) => {
            let spec = EngineSpec::parse(s)?;
            Some((edgebench_engines::ready(&spec)?, spec))
        }
    };
    let finetune = a.finetune.as_ref().map(|folder| TrainSettings {
        folder: folder.clone(),
        epochs: a.epochs,
        lr: a.lr,
        batch: a.train_batch,
        seed: 0,
    });
    let specs = vec![edgebench_core::tensor::ConcreteSpec {
        name: input.name.clone(),
        dtype: edgebench_core::tensor::DType::F32,
        shape: input.shape.clone(),
    }];
    let setup = bench.as_ref().map(|(engine, spec)| BenchSetup {
        engine: engine.as_ref(),
        spec: spec.clone(),
        options: BenchOptions {
            batch: input.shape[0],
            inputs: specs.clone(),
            threads: Some(threads.unwrap_or_else(edgebench_core::bench::default_threads)),
            seed: 0,
            measure: a.measure.options(),
            rounds: a.measure.rounds,
            target_fps: a.measure.fps,
            gate_input_sets: 1,
            telemetry: None,
            scenario: None,
        },
    });
    let quiet = a.json;
    let report = prune(
        &PruneOptions {
            source,
            input,
            dir: a.output.clone(),
            ratios,
            finetune,
            threads,
            timeout: Timeouts::from_env().export,
        },
        setup,
        &mut |e| {
            if quiet {
                return;
            }
            match e {
                PruneEvent::Epoch(e) => eprintln!(
                    "edgebench: fine-tuning ratio {}: epoch {}/{}: loss {:.4}, accuracy {:.1}%",
                    e.ratio.unwrap_or(0.0),
                    e.epoch,
                    e.epochs,
                    e.loss,
                    e.accuracy * 100.0
                ),
                PruneEvent::Pruned(p) => eprintln!(
                    "edgebench: wrote {} ({:.2}x fewer MACs)",
                    p.counts.path.display(),
                    p.mac_ratio
                ),
                PruneEvent::Bench(RoundProgress::Preparing { variant }) => {
                    eprintln!("edgebench: preparing model {}", variant + 1)
                }
                PruneEvent::Bench(_) => {}
            }
        },
    )
    .map_err(edgebench_core::Error::from)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    Ok(ExitCode::SUCCESS)
}
