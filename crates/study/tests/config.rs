//! Config errors name the file, the line and the key, on one line; good configs parse.

use edgebench_core::schema::study::{Format, Task};
use edgebench_study::config;
use edgebench_study::{plan, preset};
use std::path::Path;

fn err(text: &str) -> String {
    let e = config::parse(text, "s.toml", Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\n'), "not one line: {e}");
    e
}

const MODEL: &str = "[[model]]\nsource = \"zoo:resnet18?classes=2\"\n";

#[test]
fn example_config_parses() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/study.toml");
    let c = config::load(&p).unwrap();
    assert!(!c.models.is_empty());
    plan::resolve(&c).unwrap();
}

#[test]
fn unset_settings_are_benchs_defaults() {
    let c = config::parse(MODEL, "s.toml", Path::new(".")).unwrap();
    // The study samples exactly as `bench` does unless the config says otherwise.
    assert_eq!(
        edgebench_study::runner::measure_options(&c),
        edgebench_core::measure::MeasureOptions::default()
    );
    assert_eq!(c.realtime.fps, edgebench_core::realtime::DEFAULT_TARGET_FPS);
}

#[test]
fn a_full_config_parses() {
    let text = r#"
name = "mine"
baseline = "tract:reference"
variants = ["tract:optimized"]
batch = [1, 2]
seed = 7
[measure]
warmup_s = 0.2
max_time_s = 1.5
timeout_s = 60
[realtime]
fps = 25
clip_stride = 8
[output]
formats = ["md", "html"]
[[model]]
source = "zoo:r3d_18?classes=4"
label = "R3D"
[[model]]
source = "zoo:resnet18?classes=2"
task = "other"
"#;
    let c = config::parse(text, "s.toml", Path::new(".")).unwrap();
    assert_eq!(c.batch, vec![1, 2]);
    assert_eq!(c.measure.max_time_s, 1.5);
    assert_eq!(c.realtime.clip_stride, Some(8));
    assert_eq!(c.output.formats, vec![Format::Md, Format::Html]);
    assert_eq!(c.models[0].label.as_deref(), Some("R3D"));
    assert_eq!(c.models[1].task, Some(Task::Other));
    let p = plan::resolve(&c).unwrap();
    assert_eq!(p.baseline, "tract:reference");
    assert_eq!(p.variants, vec!["tract:optimized"]);
    // 2 models x 2 batch sizes x 2 variants x 3 rounds, the reference first for each model,
    // batch and round.
    assert_eq!(c.measure.rounds, 3);
    assert_eq!(p.jobs.len(), 24);
    assert!(p.jobs[0].is_reference && p.jobs[0].is_baseline);
    assert_eq!(p.models[0].task, Task::ActionRecognition);
}

#[test]
fn errors_name_line_and_key() {
    let e = err(&format!("name = \"x\"\nbogus = 1\n{MODEL}"));
    assert!(e.starts_with("s.toml:2:") && e.contains("bogus"), "{e}");

    let e = err(&format!("[measure]\nwarmup_s = \"long\"\n{MODEL}"));
    assert!(e.starts_with("s.toml:2:") && e.contains("warmup_s"), "{e}");

    let e = err(&format!("[measure]\nmax_time_s = -1.0\n{MODEL}"));
    assert!(
        e.starts_with("s.toml:2:") && e.contains("measure.max_time_s"),
        "{e}"
    );

    let e = err("variants = [\"tract:optimized\"]\n[[model]]\nsource = \"zoo:resnet81\"\n");
    assert!(
        e.starts_with("s.toml:3:") && e.contains("model.source") && e.contains("resnet18"),
        "{e}"
    );

    let e = err(&format!(
        "variants = [\"tract:optimized\", \"nosuch:fast\"]\n{MODEL}"
    ));
    assert!(
        e.starts_with("s.toml:1:") && e.contains("variants") && e.contains("nosuch"),
        "{e}"
    );

    let e = err(&format!("\nbaseline = \"tract:fastest\"\n{MODEL}"));
    assert!(
        e.starts_with("s.toml:2:") && e.contains("baseline") && e.contains("fastest"),
        "{e}"
    );

    let e = err(&format!("batch = [1, 0]\n{MODEL}"));
    assert!(e.starts_with("s.toml:1:") && e.contains("batch"), "{e}");

    let e = err(&format!("[output]\nformats = [\"pdf\"]\n{MODEL}"));
    assert!(e.starts_with("s.toml:2:") && e.contains("pdf"), "{e}");

    let e = err("[[model]]\nsource = \"missing/model.onnx\"\n");
    assert!(
        e.starts_with("s.toml:2:") && e.contains("model.source"),
        "{e}"
    );

    let e = err("[[model]]\nsource = \"zoo:resnet18\"\ntask = \"detection\"\n");
    assert!(
        e.starts_with("s.toml:3:") && e.contains("model.task"),
        "{e}"
    );

    let e = err("name = \"no models\"\n");
    assert!(e.contains("[[model]]"), "{e}");

    let e = err("name = \"unclosed\n");
    assert!(e.starts_with("s.toml:1:"), "{e}");

    let e = err(&format!("{MODEL}{MODEL}"));
    assert!(e.starts_with("s.toml:4:") && e.contains("twice"), "{e}");
}

#[test]
fn presets_resolve_here() {
    let c = preset::paper(false);
    assert_eq!(c.models.len(), edgebench_zoo::list().len());
    assert!(c
        .models
        .iter()
        .all(|m| m.source.ends_with("classes=2") || m.source.ends_with("classes=4")));
    let p = plan::resolve(&c).unwrap();
    // tract is always compiled in and needs nothing, so the fallback baseline is known.
    if !p.baseline.starts_with("torch") {
        assert_eq!(p.baseline, "tract:reference");
        assert!(p.baseline_note.contains("standing in for PyTorch eager"));
    }
    assert!(p.variants.contains(&"tract:optimized".to_string()));
    let q = preset::paper(true);
    assert_eq!(q.models.len(), preset::QUICK_MODELS.len());
    assert!(q.measure.max_time_s < c.measure.max_time_s);
}

/// A PyTorch engine that is "available" but never prepares anything: enough to plan with.
struct FakeTorch;

impl edgebench_core::engine::Engine for FakeTorch {
    fn name(&self) -> &'static str {
        "torch"
    }
    fn availability(&self) -> edgebench_core::engine::Availability {
        edgebench_core::engine::Availability::Available {
            version: "fake".into(),
            devices: vec!["cpu".into()],
        }
    }
    fn variants(&self) -> Vec<edgebench_core::engine::VariantInfo> {
        vec![edgebench_core::engine::VariantInfo {
            spec: "torch:eager".into(),
            description: "fake".into(),
        }]
    }
    fn validate(
        &self,
        spec: &edgebench_core::engine::EngineSpec,
    ) -> edgebench_core::error::Result<()> {
        edgebench_core::engine::check_spec(spec, &["eager"], &["cuda_graph"], &["device", "dtype"])
    }
    fn prepare(
        &self,
        _: &edgebench_core::model::Model,
        _: &edgebench_core::engine::EngineSpec,
        _: &edgebench_core::engine::PrepareOptions,
    ) -> edgebench_core::error::Result<Box<dyn edgebench_core::engine::Session>> {
        Err(edgebench_core::Error::InvalidArgument("fake".into()))
    }
}

#[test]
fn torch_baseline_falls_back_per_model_for_models_pytorch_cannot_run() {
    // A plain ONNX file: no PyTorch source is known for it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tiny.onnx"),
        edgebench_core::testmodel::tiny_cnn_bytes(&Default::default()),
    )
    .unwrap();
    let text = "variants = [\"tract:optimized\"]\n[[model]]\nsource = \"zoo:resnet18?classes=2\"\n[[model]]\nsource = \"zoo:c3d_small?classes=4\"\n[[model]]\nsource = \"tiny.onnx\"\nlabel = \"tiny\"\n";
    let c = config::parse(text, "s.toml", dir.path()).unwrap();
    let engines: Vec<Box<dyn edgebench_core::engine::Engine>> = vec![
        Box::new(FakeTorch),
        edgebench_engines::find("tract").unwrap(),
    ];
    let p = plan::resolve_with(&c, &engines).unwrap();
    assert_eq!(p.baseline, "torch:eager");
    assert_eq!(p.variants, vec!["tract:optimized"]);
    let specs = |label: &str| -> Vec<(String, bool, bool)> {
        p.jobs
            .iter()
            .filter(|j| p.models[j.model].label == label && j.round == 1)
            .map(|j| (j.spec.clone(), j.is_baseline, j.is_reference))
            .collect()
    };
    assert_eq!(
        specs("resnet18"),
        vec![
            ("torch:eager".to_string(), true, true),
            ("tract:optimized".to_string(), false, false)
        ]
    );
    // c3d_small has no torchvision twin but edgebench's own PyTorch definition: PyTorch
    // eager is its baseline too.
    assert_eq!(
        specs("c3d_small"),
        vec![
            ("torch:eager".to_string(), true, true),
            ("tract:optimized".to_string(), false, false)
        ]
    );
    // A plain ONNX file has no PyTorch source: tract:reference is its baseline and
    // reference, torch:eager does not run for it, and the notes say so.
    assert_eq!(
        specs("tiny"),
        vec![
            ("tract:reference".to_string(), true, true),
            ("tract:optimized".to_string(), false, false)
        ]
    );
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("PyTorch cannot run tiny") && !n.contains("c3d_small")));
    // `auto` adds no torch variant (PyTorch is the baseline engine).
    assert!(!plan::auto_variants(&engines)
        .iter()
        .any(|v| v.starts_with("torch")));
}

#[test]
fn paper_gpu_preset_runs_pytorch_on_every_model() {
    let c = preset::paper_gpu(false);
    assert_eq!(c.models.len(), preset::GPU_MODELS.len());
    assert_eq!(c.baseline, preset::GPU_BASELINE);
    assert!(c.measure.max_samples > preset::paper(false).measure.max_samples);
    let engines: Vec<Box<dyn edgebench_core::engine::Engine>> = vec![
        Box::new(FakeTorch),
        edgebench_engines::find("tract").unwrap(),
    ];
    let p = plan::resolve_with(&c, &engines).unwrap();
    let fp16 = "torch:eager,cuda_graph,device=cuda,dtype=fp16";
    assert_eq!(p.variants, vec![fp16, "tract:optimized"]);
    let specs = |label: &str| -> Vec<String> {
        p.jobs
            .iter()
            .filter(|j| p.models[j.model].label == label && j.round == 1)
            .map(|j| j.spec.clone())
            .collect()
    };
    assert_eq!(
        specs("resnet50"),
        vec!["torch:eager,device=cuda", fp16, "tract:optimized"]
    );
    // No torchvision twin but edgebench's own PyTorch definition: the same jobs, and no
    // model is skipped.
    assert_eq!(
        specs("ae3d"),
        vec!["torch:eager,device=cuda", fp16, "tract:optimized"]
    );
    assert!(!p
        .notes
        .iter()
        .any(|n| n.contains("PyTorch cannot run") || n.starts_with("the PyTorch variants skip")));
    assert_eq!(preset::paper_gpu(true).models.len(), 2);
}
