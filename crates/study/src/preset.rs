//! Built-in studies: `paper`, the published study on this device, and its `--quick` smoke
//! version.

use edgebench_core::schema::study::{MeasureSettings, ModelConfig, StudyConfig, Task};

/// Names accepted by `--preset`.
pub const PRESETS: &[&str] = &["paper", "paper-gpu"];

/// Classes of the paper's classification heads and action-recognition heads.
pub const PAPER_CLASSIFICATION_CLASSES: usize = 2;
pub const PAPER_ACTION_CLASSES: usize = 4;

/// Models of the quick smoke run: the smallest of each kind, so that every variant takes
/// seconds even unoptimized.
pub const QUICK_MODELS: &[&str] = &["mobilenet_v3_small", "squeezenet1_1", "ae3d"];

/// The models of `paper-gpu`: one of each family the published study benchmarked (AlexNet,
/// VGG, ResNet, ResNet-V2, SqueezeNet, DenseNet, ShuffleNet-V2, MobileNet-V2) and its three
/// custom action-recognition architectures.
pub const GPU_MODELS: &[&str] = &[
    "alexnet",
    "vgg16",
    "resnet18",
    "resnet50",
    "resnet50v2",
    "squeezenet1_1",
    "densenet121",
    "shufflenet_v2_x1_0",
    "mobilenet_v2",
    "c3d_small",
    "ae3d",
    "densenet3d_121",
];

/// The baseline of `paper-gpu`: PyTorch eager, fp32 (TF32 off), on the first CUDA device.
pub const GPU_BASELINE: &str = "torch:eager,device=cuda";

/// `paper-gpu`: the study's models on an NVIDIA GPU. Baseline PyTorch eager fp32 on CUDA;
/// candidates PyTorch fp16 with CUDA graphs, then `auto` (tract on CUDA and the optimized CPU
/// engines that are available). Models PyTorch cannot run fall back to the least optimized
/// CPU variant, said in the report. `--quick` keeps two small models.
pub fn paper_gpu(quick: bool) -> StudyConfig {
    // Models from the whole zoo (the quick paper preset keeps other ones), measurement from
    // the paper preset of the same speed.
    let base = StudyConfig {
        measure: paper(quick).measure,
        ..paper(false)
    };
    let keep: &[&str] = if quick {
        &["mobilenet_v2", "resnet18"]
    } else {
        GPU_MODELS
    };
    // A GPU runs a small model in well under a millisecond: no sample cap short of what the
    // power sensors' window (`--energy-min-time`, in the last round) needs. That window gets
    // as long again for the confidence rule to stop sampling in (`runner::round_measure`):
    // with a limit no longer than the window, every variant stopped at the time limit.
    let measure = MeasureSettings {
        max_samples: 200_000,
        ..base.measure.clone()
    };
    StudyConfig {
        measure,
        name: if quick {
            "paper-gpu (quick)"
        } else {
            "paper-gpu"
        }
        .into(),
        baseline: GPU_BASELINE.into(),
        variants: vec![
            "torch:eager,device=cuda,dtype=fp16,cuda_graph".into(),
            "auto".into(),
        ],
        models: base
            .models
            .into_iter()
            .filter(|m| m.label.as_deref().is_some_and(|l| keep.contains(&l)))
            .collect(),
        ..base
    }
}

/// The `paper` preset: every zoo model (classification with a 2-class head, action
/// recognition with a 4-class head), baseline and variants chosen from what is available.
///
/// The measurement settings are modest so the whole matrix fits in about 15 minutes on a
/// 2-core machine: three interleaved rounds per model (one child per variant per round), each
/// with a 0.25 s warm-up (at least one run) and a third of the 2 s of sampling, stopping
/// early once the median is known to ±2%; at least 5 samples over the rounds, a 5-minute
/// limit per child, and the accuracy gate on the measured inputs only (no extra runs). A slow
/// variant (an unoptimized 3D CNN takes tens of seconds per clip on such a machine) may get
/// a single sample in its first round; its later rounds get the time for three each
/// ([`crate::runner::round_measure`]). `--quick`: two rounds of 0.25 s.
pub fn paper(quick: bool) -> StudyConfig {
    let models = edgebench_zoo::list()
        .into_iter()
        .filter(|e| !quick || QUICK_MODELS.contains(&e.name))
        .map(|e| {
            let classes = if e.task == Task::ActionRecognition {
                PAPER_ACTION_CLASSES
            } else {
                PAPER_CLASSIFICATION_CLASSES
            };
            ModelConfig {
                source: format!("zoo:{}?classes={classes}", e.name),
                label: Some(e.name.to_owned()),
                task: None,
                shapes: vec![],
                declared_at: "preset paper".into(),
            }
        })
        .collect();
    let measure = if quick {
        MeasureSettings {
            warmup_s: 0.1,
            min_warmup_runs: 1,
            min_samples: 5,
            max_samples: 1000,
            max_time_s: 0.5,
            target_ci_pct: 5.0,
            timeout_s: 120.0,
            gate_inputs: 2,
            rounds: 2,
        }
    } else {
        MeasureSettings {
            warmup_s: 0.25,
            min_warmup_runs: 1,
            min_samples: 5,
            max_samples: 2000,
            max_time_s: 2.0,
            target_ci_pct: 2.0,
            timeout_s: 300.0,
            gate_inputs: 1,
            rounds: 3,
        }
    };
    StudyConfig {
        name: if quick { "paper (quick)" } else { "paper" }.into(),
        measure,
        models,
        ..StudyConfig::default()
    }
}
