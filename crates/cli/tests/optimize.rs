//! `edgebench optimize` end to end on the tiny test models, tract only, tiny budgets: the
//! report's structure, the search log, `--resume`, and every refusal of bad input. No
//! timing is asserted.

mod common;

use common::{edgebench, refused_with, tiny_model, write_model};
use edgebench_core::testmodel::{tiny_cnn_bytes, TinyCnn};
use serde_json::Value;
use std::path::Path;

fn optimize(model: &Path, out: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut c = edgebench();
    c.arg("optimize")
        .arg(model)
        .args(["-e", "tract", "--no-telemetry", "--json", "--out"])
        .arg(out)
        .args(extra);
    c
}

fn json_of(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("stdout is one JSON document")
}

fn log_lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("search.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_tract_search_names_a_winner_bench_accepts_and_logs_every_trial() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let out = tmp.path().join("search");
    let o = optimize(&model, &out, &["--budget", "3"]).output().unwrap();
    let r = json_of(&o);

    let winner = &r["winner"];
    let spec = winner["spec"].as_str().unwrap();
    assert!(spec.starts_with("tract:optimized"), "{spec}");
    assert_eq!(winner["batch"], 1);
    assert!(winner["command"]
        .as_str()
        .unwrap()
        .contains(&format!("-e {spec} --threads {}", winner["threads"])));
    // best is a bench result of that spec, checked against the reference.
    assert_eq!(r["best"]["spec"], spec);
    assert_eq!(r["best"]["status"], "ok");
    assert!(r["best"]["accuracy"]["passed"].as_bool().unwrap());
    assert!(r["best"]["samples"].as_u64().unwrap() > 0);
    assert!(r["reference"]
        .as_str()
        .unwrap()
        .starts_with("tract:optimized"));
    assert_eq!(r["unit"], "ms/item");

    // Every candidate has a fate; the winner survived and is on the Pareto front.
    let cands = r["candidates"].as_array().unwrap();
    assert!(!cands.is_empty());
    for c in cands {
        assert!(c["fate"]["fate"].is_string(), "{c}");
        assert!(c["spec"].as_str().unwrap().starts_with("tract:"), "{c}");
    }
    let won = cands
        .iter()
        .find(|c| c["spec"] == spec && c["threads"] == winner["threads"])
        .unwrap();
    assert_eq!(won["fate"]["fate"], "racing");
    assert_eq!(won["gate_passed"], true);
    assert!(cands.iter().any(|c| c["on_pareto_front"] == true));

    // The log: a start line, then gate and trial lines; the report file is the document.
    let lines = log_lines(&out);
    assert_eq!(lines[0]["kind"], "start");
    assert_eq!(
        lines[0]["candidates"].as_array().unwrap().len(),
        cands.len()
    );
    let trials = lines.iter().filter(|l| l["kind"] == "trial").count();
    assert!(trials >= cands.len().min(1), "{trials}");
    assert!(lines.iter().any(|l| l["kind"] == "gate"));
    let saved: Value =
        serde_json::from_slice(&std::fs::read(out.join("optimize.json")).unwrap()).unwrap();
    assert_eq!(saved["winner"], r["winner"]);
    assert_eq!(r["replayed_trials"], 0);
}

#[test]
fn resume_replays_the_logged_trials_and_refuses_another_model() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let out = tmp.path().join("search");
    let first = json_of(&optimize(&model, &out, &["--budget", "2"]).output().unwrap());
    let logged = log_lines(&out)
        .iter()
        .filter(|l| l["kind"] == "trial")
        .count();

    // The same search resumed: every trial comes from the log, the race ends the same way.
    let again = json_of(
        &optimize(&model, &out, &["--budget", "2", "--resume"])
            .output()
            .unwrap(),
    );
    assert_eq!(again["replayed_trials"].as_u64().unwrap() as usize, logged);
    assert_eq!(again["winner"]["spec"], first["winner"]["spec"]);
    assert_eq!(again["stop"], first["stop"]);
    let after = log_lines(&out)
        .iter()
        .filter(|l| l["kind"] == "trial")
        .count();
    assert_eq!(after, logged, "nothing was measured again");

    // Another model, other settings, or no --resume: one line, exit 2, the log untouched.
    let before = std::fs::read(out.join("search.jsonl")).unwrap();
    let other = write_model(
        tmp.path(),
        "other.onnx",
        &tiny_cnn_bytes(&TinyCnn {
            seed: 99,
            ..TinyCnn::default()
        }),
    );
    refused_with(
        &mut optimize(&other, &out, &["--budget", "2", "--resume"]),
        &["--resume", "another model"],
    );
    refused_with(
        &mut optimize(&model, &out, &["--budget", "5", "--resume"]),
        &["--resume", "other settings", "--budget 2"],
    );
    refused_with(
        &mut optimize(&model, &out, &["--budget", "2"]),
        &["already holds a search", "--resume"],
    );
    assert_eq!(std::fs::read(out.join("search.jsonl")).unwrap(), before);
}

#[test]
fn throughput_tries_batch_sizes_of_a_dynamic_batch_model() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_model(
        tmp.path(),
        "dyn.onnx",
        &tiny_cnn_bytes(&TinyCnn {
            dynamic_batch: true,
            ..TinyCnn::default()
        }),
    );
    let out = tmp.path().join("search");
    let r = json_of(
        &optimize(
            &model,
            &out,
            &[
                "--budget",
                "4",
                "--objective",
                "throughput",
                "--max-batch",
                "2",
            ],
        )
        .output()
        .unwrap(),
    );
    let batches: Vec<u64> = r["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["batch"].as_u64().unwrap())
        .collect();
    assert!(batches.contains(&1) && batches.contains(&2), "{batches:?}");
    assert_eq!(r["settings"]["objective"], "throughput");
    let b = r["winner"]["batch"].as_u64().unwrap();
    assert_eq!(r["best"]["batch"].as_u64().unwrap_or(b), b);
}

#[test]
fn bad_input_is_one_line_exit_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tiny_model(tmp.path());
    let out = tmp.path().join("never");
    let missing = tmp.path().join("missing.onnx");
    refused_with(&mut optimize(&missing, &out, &[]), &["missing.onnx"]);
    refused_with(
        &mut optimize(&model, &out, &["--objective", "speed"]),
        &["--objective", "latency"],
    );
    for b in ["0", "-1", "nan"] {
        refused_with(&mut optimize(&model, &out, &["--budget", b]), &["--budget"]);
    }
    refused_with(
        &mut optimize(&model, &out, &["--max-accuracy-drop", "1.5"]),
        &["--max-accuracy-drop"],
    );
    refused_with(
        &mut optimize(&model, &out, &["--objective", "energy"]),
        &["--objective energy", "--no-telemetry"],
    );
    // An engine that does not exist, and one that cannot run here (no trtexec).
    let mut c = edgebench();
    c.args(["optimize"])
        .arg(&model)
        .args(["-e", "nosuch", "--no-telemetry", "--out"])
        .arg(&out);
    refused_with(&mut c, &["--engine nosuch", "tract"]);
    let mut c = edgebench();
    c.args(["optimize"])
        .arg(&model)
        .args(["-e", "tensorrt", "--no-telemetry", "--out"])
        .arg(&out)
        .env("PATH", "/nonexistent");
    refused_with(&mut c, &["no candidate can run here", "tensorrt"]);
    // --resume on a folder that holds no search.
    refused_with(
        &mut optimize(&model, &out, &["--resume"]),
        &["--resume", "no search log"],
    );
    // Nothing was left behind but, for --resume, the folder and its lock.
    let left: Vec<String> = std::fs::read_dir(&out)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "study.lock")
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
