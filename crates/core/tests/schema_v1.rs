//! One `model` object (`ModelInfo`) in every document: the same keys in the same order in a
//! bench document and a study's `results.jsonl` line, unknowns written as `null`; documents of
//! schema version 1 (copied under `tests/fixtures/schema-v1` from `results/vm-2core`, written
//! before the merge) still load, as `compare`, `report`, `merge` and `study --resume` read them.

use edgebench_core::inspect::inspect;
use edgebench_core::model::{Model, ShapeRequest};
use edgebench_core::schema::study::{Line, Task};
use edgebench_core::schema::{BenchReport, ModelInfo};
use edgebench_core::testmodel::{tiny_cnn_bytes, TinyCnn};

const KEYS: [&str; 14] = [
    "label",
    "source",
    "task",
    "path",
    "sha256",
    "opset",
    "load_ms",
    "declared_inputs",
    "inputs",
    "outputs",
    "params",
    "macs",
    "flops",
    "bytes_moved",
];

/// The keys of a serialized `model` object, in the order written.
fn keys_in_order(info: &ModelInfo) -> Vec<String> {
    let text = serde_json::to_string(info).unwrap();
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<(usize, String)> = object
        .keys()
        .map(|k| (text.find(&format!("\"{k}\":")).unwrap(), k.clone()))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

fn tiny() -> (Model, Vec<edgebench_core::tensor::ConcreteSpec>) {
    let model = Model::from_bytes("tiny.onnx", tiny_cnn_bytes(&TinyCnn::default())).unwrap();
    let inputs = model.resolve_inputs(&ShapeRequest::default()).unwrap();
    (model, inputs)
}

#[test]
fn a_loaded_and_an_unloaded_model_write_the_same_keys_in_the_same_order() {
    let (model, inputs) = tiny();
    let loaded = ModelInfo::new(&model, inputs);
    let unloaded = ModelInfo::unloaded("resnet18", "zoo:resnet18", Some(Task::Classification));
    assert_eq!(keys_in_order(&loaded), KEYS);
    assert_eq!(keys_in_order(&unloaded), KEYS);
    let v = serde_json::to_value(&unloaded).unwrap();
    for k in [
        "sha256",
        "opset",
        "load_ms",
        "declared_inputs",
        "outputs",
        "params",
        "flops",
        "bytes_moved",
    ] {
        assert!(v[k].is_null(), "{k}: {v}");
    }
    assert_eq!(v["path"], "zoo:resnet18");
    assert_eq!(v["task"], "classification");
}

#[test]
fn a_loaded_model_carries_the_counts_of_inspect() {
    let (model, inputs) = tiny();
    let counts = inspect(&model, &inputs).unwrap();
    let info = ModelInfo::new(&model, inputs);
    assert_eq!(info.params, Some(counts.params));
    assert_eq!(info.macs, Some(counts.macs));
    assert_eq!(info.flops, Some(counts.flops));
    assert!(counts.flops > 0);
    let bytes = edgebench_core::inspect::bytes_moved(&model, &info.inputs).unwrap();
    assert_eq!(info.bytes_moved, Some(bytes.total()));
    assert_eq!(info.sha256.as_deref(), Some(model.sha256.as_str()));
    assert_eq!((info.label.as_str(), info.task), ("tiny.onnx", None));
}

#[test]
fn a_schema_1_bench_document_still_loads() {
    let text = include_str!("fixtures/schema-v1/bench.json");
    let old: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(old["schema_version"], 1);
    assert!(old["model"].get("flops").is_none(), "a schema-1 fixture");
    let r: BenchReport = serde_json::from_str(text).unwrap();
    let m = &r.model;
    assert_eq!(m.path, old["model"]["path"].as_str().unwrap());
    // What the old document could not say is unknown, and the names stand in for each other.
    assert_eq!(
        (m.source.as_str(), m.label.as_str()),
        (m.path.as_str(), m.path.as_str())
    );
    assert_eq!(
        (m.task, m.params, m.macs, m.flops),
        (None, None, None, None)
    );
    assert_eq!(m.sha256.as_deref(), old["model"]["sha256"].as_str());
    assert_eq!(m.opset, old["model"]["opset"].as_i64());
    assert!(m.outputs.as_ref().is_some_and(|o| !o.is_empty()));
    assert_eq!(r.results.len(), old["results"].as_array().unwrap().len());
    // Written again, it has every key.
    assert_eq!(keys_in_order(m), KEYS);
}

#[test]
fn a_schema_1_study_line_still_loads() {
    let text = include_str!("fixtures/schema-v1/results.jsonl");
    let mut n = 0;
    for line in text.lines() {
        let old: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(old["schema_version"], 1);
        let Line::Measurement(m) = serde_json::from_str(line).unwrap() else {
            panic!("a measurement line: {line}");
        };
        let model = &m.model;
        assert_eq!(model.label, old["model"]["label"].as_str().unwrap());
        assert_eq!(model.path, model.source, "a study's path is its source");
        assert_eq!(model.task, Some(Task::Classification));
        assert_eq!(model.flops, old["model"]["flops"].as_u64());
        assert!(model.flops.is_some());
        assert_eq!(
            (
                model.opset,
                model.load_ms,
                &model.declared_inputs,
                &model.outputs
            ),
            (None, None, &None, &None)
        );
        assert_eq!(keys_in_order(model), KEYS);
        n += 1;
    }
    assert_eq!(n, 2);
}
