//! Config errors name the file, the line and the key, on one line; good configs parse.

use edgebench_study::config::{self, Format, Task};
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
    // 2 models x 2 batch sizes x 2 variants, the reference first for each model and batch.
    assert_eq!(p.jobs.len(), 8);
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
