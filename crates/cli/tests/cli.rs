//! End-to-end runs of the binary: bad input fails cleanly (one line, exit 2, no files), good
//! input produces the documented JSON.

mod common;

use common::{edgebench, write_model, FAST};
use edgebench_core::testmodel::{encode, move_to_external_data, tiny_cnn, tiny_cnn_bytes, TinyCnn};

/// Runs and expects exit 2 with one stderr line containing every `needles`; checks that the
/// export file was not created.
fn fails_cleanly(args: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let mut cmd = edgebench();
    cmd.args(args);
    if args[0] == "bench" {
        cmd.arg("--export-json").arg(&out).args(FAST);
    }
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "args {args:?}: stderr {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(stderr.starts_with("edgebench: error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "`{n}` not in: {stderr}");
    }
    assert!(!out.exists(), "an export was written on error");
    assert!(
        o.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn missing_file() {
    fails_cleanly(
        &["bench", "/no/such/model.onnx"],
        &["/no/such/model.onnx", "does not exist"],
    );
}

#[test]
fn directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    fails_cleanly(&["bench", d], &[d, "directory"]);
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), "empty.onnx", b"");
    fails_cleanly(&["bench", p.to_str().unwrap()], &["empty.onnx", "empty"]);
}

#[test]
fn not_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(
        dir.path(),
        "notes.onnx",
        b"this is a text file, not a model\n",
    );
    fails_cleanly(
        &["bench", p.to_str().unwrap()],
        &["notes.onnx", "not an ONNX model"],
    );
}

#[test]
fn truncated_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = tiny_cnn_bytes(&TinyCnn::default());
    let p = write_model(dir.path(), "cut.onnx", &bytes[..bytes.len() / 2]);
    fails_cleanly(&["bench", p.to_str().unwrap()], &["cut.onnx", "truncated"]);
    fails_cleanly(
        &["inspect", p.to_str().unwrap()],
        &["cut.onnx", "truncated"],
    );
}

#[test]
fn unsupported_operator_names_op_and_node() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(
        dir.path(),
        "odd.onnx",
        &tiny_cnn_bytes(&TinyCnn {
            unknown_op: true,
            ..Default::default()
        }),
    );
    fails_cleanly(
        &["bench", p.to_str().unwrap()],
        &["NoSuchOp", "mystery", "tract"],
    );
}

#[test]
fn wrong_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    let m = p.to_str().unwrap();
    fails_cleanly(
        &["bench", m, "--shape", "input:1x3x64x64"],
        &["input", "1x3x32x32", "1x3x64x64"],
    );
    fails_cleanly(
        &["bench", m, "--shape", "input:1x3x32"],
        &["input", "dimensions"],
    );
    fails_cleanly(
        &["bench", m, "--shape", "image:1x3x32x32"],
        &["image", "input"],
    );
    fails_cleanly(&["bench", m, "--batch", "4"], &["fixed batch", "input"]);
}

#[test]
fn shape_that_does_not_fit_the_graph() {
    // Height and width are declared dynamic, but the classifier takes a fixed number of
    // features: only 32x32 fits, and tract's shape inference says so.
    let dir = tempfile::tempdir().unwrap();
    let o = TinyCnn {
        dynamic_batch: true,
        dynamic_spatial: true,
        no_global_pool: true,
        ..Default::default()
    };
    let p = write_model(dir.path(), "dyn.onnx", &tiny_cnn_bytes(&o));
    let m = p.to_str().unwrap();
    fails_cleanly(
        &["bench", m, "--shape", "input:1x4x32x32"],
        &["input", "Nx3xHxW", "1x4x32x32"],
    );
    fails_cleanly(
        &["bench", m, "--shape", "input:1x3x16x16"],
        &["does not accept", "input:1x3x16x16"],
    );
    edgebench()
        .args(["bench", m, "--shape", "input:2x3x32x32"])
        .args(FAST)
        .assert()
        .success();
}

#[test]
fn dynamic_dimension_without_shape_names_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(
        dir.path(),
        "dyn.onnx",
        &tiny_cnn_bytes(&TinyCnn {
            dynamic_batch: true,
            dynamic_spatial: true,
            ..Default::default()
        }),
    );
    fails_cleanly(
        &["bench", p.to_str().unwrap()],
        &["input", "dynamic dimension", "--shape input:"],
    );
}

#[test]
fn unknown_engine_lists_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    fails_cleanly(
        &["bench", p.to_str().unwrap(), "--engine", "warp-drive"],
        &["warp-drive", "unknown engine", "tract"],
    );
    fails_cleanly(
        &["bench", p.to_str().unwrap(), "--engine", "tract:turbo"],
        &["turbo", "reference", "optimized"],
    );
}

#[test]
fn external_data_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = tiny_cnn(&TinyCnn::default());
    move_to_external_data(&mut m, "conv2.weight", "weights.bin");
    let p = write_model(dir.path(), "ext.onnx", &encode(&m));
    fails_cleanly(
        &["bench", p.to_str().unwrap()],
        &["conv2.weight", "weights.bin", "missing"],
    );
}

#[test]
fn external_data_outside_the_model_folder_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let models = root.path().join("models");
    std::fs::create_dir(&models).unwrap();
    let mut m = tiny_cnn(&TinyCnn::default());
    let raw = move_to_external_data(&mut m, "conv2.weight", "../secret.bin");
    std::fs::write(root.path().join("secret.bin"), &raw).unwrap();
    let p = write_model(&models, "evil.onnx", &encode(&m));
    fails_cleanly(
        &["bench", p.to_str().unwrap()],
        &["../secret.bin", "outside"],
    );
    let mut m = tiny_cnn(&TinyCnn::default());
    move_to_external_data(&mut m, "conv2.weight", "/etc/passwd");
    let p = write_model(&models, "evil2.onnx", &encode(&m));
    fails_cleanly(
        &["inspect", p.to_str().unwrap()],
        &["/etc/passwd", "outside"],
    );
}

#[test]
fn external_data_inside_the_folder_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = tiny_cnn(&TinyCnn::default());
    let raw = move_to_external_data(&mut m, "conv2.weight", "weights.bin");
    std::fs::write(dir.path().join("weights.bin"), &raw).unwrap();
    let p = write_model(dir.path(), "ext.onnx", &encode(&m));
    edgebench()
        .args(["bench", p.to_str().unwrap()])
        .args(FAST)
        .assert()
        .success();
}

#[test]
fn bench_json_has_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    let csv = dir.path().join("r.csv");
    let md = dir.path().join("r.md");
    let o = edgebench()
        .args(["bench", p.to_str().unwrap(), "--json", "--seed", "5"])
        .args(FAST)
        .arg("--export-csv")
        .arg(&csv)
        .arg("--export-markdown")
        .arg(&md)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is pure JSON");
    assert_eq!(v["schema_version"], edgebench_core::SCHEMA_VERSION);
    assert_eq!(v["tool"]["name"], "edgebench");
    assert!(v["host"]["logical_cpus"].as_u64().unwrap() >= 1);
    assert_eq!(v["model"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        v["model"]["inputs"][0]["shape"],
        serde_json::json!([1, 3, 32, 32])
    );
    // The one `model` object (schema 2): named as a study names a file, with inspect's counts.
    let model = &v["model"];
    assert_eq!(model["label"], "m", "{model}");
    assert_eq!(model["source"], p.to_str().unwrap());
    assert_eq!(model["path"], p.to_str().unwrap());
    assert!(model["task"].is_null(), "{model}");
    let (macs, flops) = (
        model["macs"].as_u64().unwrap(),
        model["flops"].as_u64().unwrap(),
    );
    assert!(macs > 0 && flops == 2 * macs, "{model}");
    assert!(model["params"].as_u64().unwrap() > 0, "{model}");
    // The roofline's bytes: at least the weights (4 bytes a parameter) and the input.
    assert!(
        model["bytes_moved"].as_u64().unwrap() > 4 * model["params"].as_u64().unwrap(),
        "{model}"
    );
    assert_eq!(v["settings"]["seed"], 5);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["spec"], "tract:reference");
    assert_eq!(results[1]["spec"], "tract:optimized");
    for r in results {
        assert_eq!(r["status"], "ok");
        for k in [
            "mean",
            "std",
            "median",
            "p90",
            "p95",
            "p99",
            "min",
            "max",
            "ci95_low",
            "ci95_high",
        ] {
            assert!(r["latency_ms"][k].as_f64().unwrap() > 0.0, "{k}");
        }
        let raw = r["raw_ms"].as_array().unwrap();
        assert_eq!(raw.len() as u64, r["samples"].as_u64().unwrap());
        assert!(raw.len() >= 3);
        assert!(r["prepare_ms"].as_f64().unwrap() > 0.0);
        assert!(r["first_run_ms"].as_f64().unwrap() > 0.0);
        assert!(r["throughput_per_s"].as_f64().unwrap() > 0.0);
        assert!(r["warnings"].is_array());
    }
    assert!(results[1]["speedup"]["ratio"].as_f64().unwrap() > 0.0);
    assert_eq!(results[1]["accuracy"]["passed"], true);
    assert!(results[1]["accuracy"]["max_abs_err"].as_f64().unwrap() < 1e-4);
    let csv = std::fs::read_to_string(csv).unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(csv.starts_with("model,engine,variant,spec,status,median_ms"));
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("| tract:optimized | ok |"), "{md}");
}

#[test]
fn same_seed_same_outputs_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    let run = || {
        let o = edgebench()
            .args([
                "bench",
                p.to_str().unwrap(),
                "--json",
                "--engine",
                "tract:reference",
                "--engine",
                "tract:reference",
            ])
            .args(FAST)
            .output()
            .unwrap();
        assert!(o.status.success());
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["results"][1]["accuracy"]["max_abs_err"].as_f64().unwrap()
    };
    // The same engine on the same seed computes bit-identical outputs.
    assert_eq!(run(), 0.0);
}

#[test]
fn inspect_json_counts() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    let o = edgebench()
        .args(["inspect", p.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["params"], 906);
    assert_eq!(v["macs"], 1024 * 8 * 27 + 256 * 8 * 72 + 80);
    assert_eq!(v["flops"], 2 * (1024 * 8 * 27 + 256 * 8 * 72 + 80));
    assert!(v["per_node"].as_array().unwrap().len() >= 3);
}

#[test]
fn inspect_defaults_a_dynamic_batch_to_one() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(
        dir.path(),
        "m.onnx",
        &tiny_cnn_bytes(&TinyCnn {
            dynamic_batch: true,
            ..Default::default()
        }),
    );
    let o = edgebench()
        .args(["inspect", p.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["inputs"][0]["shape"], serde_json::json!([1, 3, 32, 32]));
    let o = edgebench()
        .args(["inspect", p.to_str().unwrap(), "--json", "--batch", "2"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["macs"], 2 * (1024 * 8 * 27 + 256 * 8 * 72 + 80));
}

#[test]
fn dynamic_batch_with_batch_flag_reports_per_item() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(
        dir.path(),
        "m.onnx",
        &tiny_cnn_bytes(&TinyCnn {
            dynamic_batch: true,
            ..Default::default()
        }),
    );
    let o = edgebench()
        .args([
            "bench",
            p.to_str().unwrap(),
            "--json",
            "--batch",
            "4",
            "--engine",
            "tract",
        ])
        .args(FAST)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &v["results"][0];
    let median = r["latency_ms"]["median"].as_f64().unwrap();
    assert!((r["per_item_ms"].as_f64().unwrap() - median / 4.0).abs() < 1e-9);
    assert!((r["throughput_per_s"].as_f64().unwrap() - 4000.0 / median).abs() < 1e-6);
    assert_eq!(v["settings"]["batch"], 4);
}

#[test]
fn export_into_missing_folder_fails_before_measuring() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    let o = edgebench()
        .args([
            "bench",
            p.to_str().unwrap(),
            "--export-csv",
            "/no/such/dir/r.csv",
        ])
        .args(FAST)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/no/such/dir"));
}

#[test]
fn engines_lists_tract() {
    let o = edgebench().args(["engines", "--json"]).output().unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tract = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "tract")
        .unwrap();
    assert_eq!(tract["availability"]["status"], "available");
}

/// Issue 8: every measured variant carries its telemetry. This machine's sensors decide what
/// is in it; whatever they are, no power figure is ever a zero standing in for a missing
/// counter, and a missing total says why.
#[test]
fn bench_json_carries_energy_or_the_reason_it_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    let o = edgebench()
        .args([
            "bench",
            p.to_str().unwrap(),
            "--json",
            "-e",
            "tract:optimized",
        ])
        .args(["--idle-time", "0.2", "--energy-min-time", "0.3"])
        .args(["--grid-gco2-per-kwh", "400"])
        .args(FAST)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = &v["results"][0]["energy"];
    assert!(e.is_object(), "energy missing: {e}");
    assert_eq!(e["window"]["kind"], "sampling");
    // Energy is measured over the last interleaved round: its window holds exactly that
    // round's timed runs.
    let last_round = v["results"][0]["rounds"]
        .as_array()
        .and_then(|r| r.last().cloned())
        .unwrap_or_else(|| v["results"][0]["samples"].clone());
    assert_eq!(
        e["window"]["inferences"], last_round,
        "the window holds exactly the last round's timed runs"
    );
    assert!(e["sampler"]["readings"].as_u64().unwrap() >= 2);
    assert!(e["sampler"]["busy_pct"].as_f64().unwrap() < 5.0);
    match e["total"].as_object() {
        None => {
            let why = e["total_na"]
                .as_str()
                .expect("a reason when there is no total");
            assert!(why.contains("no power sensor"), "{why}");
            assert!(!e["unavailable"].as_array().unwrap().is_empty());
        }
        Some(t) => {
            for k in ["avg_power_w", "energy_j", "energy_per_inference_j"] {
                assert!(t[k].as_f64().unwrap() > 0.0, "{k} in {t:?}");
            }
            assert!(t["co2_g_per_1000_inferences"].as_f64().unwrap() > 0.0);
        }
    }
    assert!(["ok", "throttled", "clocks_dropped", "unknown"]
        .contains(&e["throttle"]["verdict"].as_str().unwrap()));
    assert!(!e["throttle"]["detail"].as_str().unwrap().is_empty());

    // Turned off, it is absent rather than empty.
    let o = edgebench()
        .args(["bench", p.to_str().unwrap(), "--json", "--no-telemetry"])
        .args(FAST)
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["results"][0]["energy"].is_null());
}

#[test]
fn bad_telemetry_flags_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_model(dir.path(), "m.onnx", &tiny_cnn_bytes(&TinyCnn::default()));
    let m = p.to_str().unwrap();
    fails_cleanly(
        &["bench", m, "--grid-gco2-per-kwh", "-5"],
        &["--grid-gco2-per-kwh", "non-negative"],
    );
    fails_cleanly(
        &["bench", m, "--telemetry-period", "0"],
        &["--telemetry-period", "positive"],
    );
    fails_cleanly(&["bench", m, "--idle-time", "nan"], &["--idle-time"]);
}

/// `edgebench sensors` accounts for every source: each one either reads channels or says why
/// it cannot, never silently absent.
#[test]
fn sensors_lists_every_source_or_why_not() {
    let o = edgebench().args(["sensors", "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let channels = v["channels"].as_array().unwrap();
    let unavailable = v["unavailable"].as_array().unwrap();
    for source in ["nvml", "rapl", "cpufreq", "jetson"] {
        let reads = channels.iter().any(|c| {
            let s = c["source"].as_str().unwrap();
            s == source || (source == "jetson" && (s == "ina3221" || s == "devfreq"))
        });
        let why = unavailable
            .iter()
            .find(|u| u["source"] == source)
            .and_then(|u| u["reason"].as_str());
        assert!(
            reads != why.is_some(),
            "{source}: reads {reads}, reason {why:?}"
        );
        assert!(why.is_none_or(|w| !w.is_empty()));
    }
    let text = edgebench().arg("sensors").output().unwrap();
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    for u in unavailable {
        assert!(text.contains(u["reason"].as_str().unwrap()), "{text}");
    }
}

/// Runs and expects the I/O exit code (3) with one stderr line naming `path`, and nothing on
/// stdout. `/proc` is a folder (so the up-front check of the output path passes) in which no
/// one, root included, can create a file: the write itself fails, as on a full disk.
fn io_failure(cmd: &mut assert_cmd::Command, path: &str) {
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("edgebench: error: "), "{stderr}");
    assert!(stderr.contains(path), "`{path}` not in: {stderr}");
    assert!(
        o.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn an_output_that_cannot_be_written_exits_with_the_io_code() {
    let dir = tempfile::tempdir().unwrap();
    let m = common::tiny_model(dir.path());
    let out = "/proc/edgebench-cannot-write.json";
    io_failure(
        edgebench()
            .args([
                "bench",
                m.to_str().unwrap(),
                "--no-telemetry",
                "--export-json",
                out,
            ])
            .args(FAST),
        out,
    );
    let img = write_model(
        dir.path(),
        "img.onnx",
        &edgebench_video::testclip::tiny_image_model(32, 32, 3),
    );
    let csv = "/proc/edgebench-cannot-write.csv";
    io_failure(
        edgebench().args([
            "video",
            img.to_str().unwrap(),
            "--input",
            "synthetic:64x48@30",
            "--max-frames",
            "3",
            "--no-telemetry",
            "-q",
            "--export-csv",
            csv,
        ]),
        csv,
    );
    let study = "/proc/edgebench-cannot-write";
    io_failure(
        edgebench().args([
            "study",
            "--quick",
            "--quiet",
            "--no-telemetry",
            "--out",
            study,
        ]),
        study,
    );
}

#[test]
fn bad_input_exits_2_and_the_help_lists_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    // A missing model, an output folder that does not exist, a bench file that is not one.
    let missing = dir.path().join("missing.onnx");
    fails_cleanly(&["bench", missing.to_str().unwrap()], &["missing.onnx"]);
    let m = common::tiny_model(dir.path());
    fails_cleanly(
        &[
            "bench",
            m.to_str().unwrap(),
            "--export-csv",
            "/no/such/folder/r.csv",
        ],
        &["--export-csv", "/no/such/folder"],
    );
    let not_bench = write_model(dir.path(), "x.json", b"{\"kind\": \"something else\"}");
    fails_cleanly(
        &[
            "compare",
            not_bench.to_str().unwrap(),
            not_bench.to_str().unwrap(),
        ],
        &["x.json", "is not a bench JSON file"],
    );
    let o = edgebench().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    for line in ["Exit codes:", "  1  ", "  2  bad usage", "  3  an I/O"] {
        assert!(help.contains(line), "`{line}` not in --help: {help}");
    }
}
